/**
 * A drill's result rendered: result.json (for programs), junit.xml (for CI pipelines), report.md (for a person, in a
 * repository or a ticket) and report.html (one self-contained page: inline CSS and SVG, no script, nothing fetched),
 * and the few lines `drill run` prints at its end. Plain string building, no dependency: this module is part of the
 * single executable.
 *
 * Every string in a result may come from a drill file or from what a probe read (names, commands, messages, error
 * texts): each format escapes it its own way (XML, HTML, Markdown table cells, the terminal).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs, fileProblem } from '../errors';
import { oneLine } from '../util/terminal';
import { DRILL_EXIT, DrillPoints, DrillResult, DrillStatus, FaultWindow, Sample, Series } from './types';

// ---- shared: times, numbers, words ------------------------------------------------------------------------------

/** An epoch-ms time as ISO 8601 (UTC); null when absent or not a time. */
function iso(t: number | undefined | null): string | null {
  if (t === undefined || t === null || !Number.isFinite(t)) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A number as a person reads it: 3 significant digits or so, no trailing zeros. */
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a === 0 ? 0 : 3;
  const s = v.toFixed(digits);
  const t = s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  return t === '-0' ? '0' : t;
}

/** A duration in ms as a person reads it: 850 ms, 2.1 s, 1 min 05 s. */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${neg}${Math.round(a)} ms`;
  if (a < 60_000) return `${neg}${fmtNum(a / 1000)} s`;
  const s = Math.round(a / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${neg}${h} h ${String(m).padStart(2, '0')} min` : `${neg}${m} min ${sec} s`;
}

/** Seconds since the drill's start: "+12.3 s". */
function rel(r: DrillResult, t: number | undefined): string {
  if (t === undefined || !Number.isFinite(t)) return '—';
  const s = (t - r.started) / 1000;
  return `${s < 0 ? '-' : '+'}${fmtNum(Math.abs(s))} s`;
}

/** A time of day (UTC) with milliseconds: 12:00:05.250Z. */
function clock(t: number | undefined): string {
  const s = iso(t);
  return s ? s.slice(11) : '—';
}

const withUnit = (v: number | null | undefined, unit: string): string => {
  const n = fmtNum(v);
  return n === '—' || !unit ? n : unit === '%' ? `${n} %` : `${n} ${unit}`;
};

const STATUS_WORDS: Record<DrillStatus, string> = {
  running: 'running',
  passed: 'passed',
  'not-steady': 'not in steady state',
  'no-effect': 'effect never seen',
  'not-detected': 'not detected',
  'not-recovered': 'not recovered',
  aborted: 'aborted',
  error: 'error',
};
const statusWord = (s: DrillStatus): string => STATUS_WORDS[s] ?? String(s);
const exitCode = (s: DrillStatus): number | null => (s === 'running' ? null : (DRILL_EXIT[s] ?? null));

const DURATIONS = [
  { key: 'effect_ms', label: 'Time to effect', what: 'first inject → effect seen' },
  { key: 'detect_ms', label: 'Time to detect', what: 'first inject → detection' },
  { key: 'recover_ms', label: 'Time to recover', what: 'last fault recovered → back to baseline' },
] as const;

/** The markers drawn on every chart, in legend order. */
const MARKERS: Array<{ point: keyof DrillPoints; cls: string; label: string }> = [
  { point: 'effect', cls: 'marker-effect', label: 'effect' },
  { point: 'detection', cls: 'marker-detection', label: 'detection' },
  { point: 'recovery', cls: 'marker-recovery', label: 'recovery' },
  { point: 'abort', cls: 'marker-abort', label: 'abort' },
];

interface SeriesStats {
  samples: number;
  failed: number;
  min: number | null;
  max: number | null;
  last: number | null;
  baseline: number | null;
}

function stats(r: DrillResult, s: Series): SeriesStats {
  let min: number | null = null;
  let max: number | null = null;
  let last: number | null = null;
  let failed = 0;
  for (const x of s.samples) {
    if (!x.ok) failed++;
    if (x.value === null || !Number.isFinite(x.value)) continue;
    min = min === null ? x.value : Math.min(min, x.value);
    max = max === null ? x.value : Math.max(max, x.value);
    last = x.value;
  }
  const b = Object.prototype.hasOwnProperty.call(r.baseline, s.name) ? r.baseline[s.name] : null;
  return { samples: s.samples.length, failed, min, max, last, baseline: b ?? null };
}

// ---- result.json ------------------------------------------------------------------------------------------------

/** What result.json holds: times as ISO strings, durations in ms and s; keys always in this order. */
export function resultJson(r: DrillResult): Record<string, unknown> {
  const points: Record<string, string> = {};
  for (const k of ['steady', 'inject', 'effect', 'detection', 'recovered', 'recovery', 'abort'] as const) {
    const v = iso(r.points[k]);
    if (v !== null) points[k] = v;
  }
  const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
  const sec = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v / 1000);
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    exit_code: exitCode(r.status),
    message: r.message,
    phase: r.phase,
    started: iso(r.started),
    ended: iso(r.ended),
    points,
    durations: {
      effect_ms: ms(r.durations.effect_ms),
      detect_ms: ms(r.durations.detect_ms),
      recover_ms: ms(r.durations.recover_ms),
      effect_s: sec(r.durations.effect_ms),
      detect_s: sec(r.durations.detect_ms),
      recover_s: sec(r.durations.recover_ms),
    },
    expectations: r.expectations.map((e) => ({ name: e.name, passed: e.passed, message: e.message, at: iso(e.at) })),
    baseline: { ...r.baseline },
    faults: r.faults.map((f) => ({
      lane: f.lane,
      step: f.step,
      uid: f.uid,
      target: f.target,
      fault: f.fault,
      where: f.where,
      command: f.command,
      start: iso(f.start),
      end: iso(f.end),
      state: f.state,
      message: f.message ?? null,
    })),
    series: r.series.map((s) => {
      const errors = s.samples.filter((x) => x.error !== undefined).map((x) => [iso(x.t), x.error]);
      return {
        name: s.name,
        kind: s.kind,
        unit: s.unit,
        samples: s.samples.map((x) => [iso(x.t), x.value, x.ok]),
        ...(errors.length ? { errors } : {}),
      };
    }),
    events: r.events.map((e) => [iso(e.t), e.text]),
    runner: { ...r.runner },
  };
}

// ---- junit.xml --------------------------------------------------------------------------------------------------

/** Characters XML 1.0 cannot hold at all (C0 controls but tab, LF, CR; lone surrogates; U+FFFE, U+FFFF): dropped. */
const XML_INVALID =
  // eslint-disable-next-line no-control-regex
  /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function xmlText(s: unknown): string {
  return String(s).replace(XML_INVALID, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
function xmlAttr(s: unknown): string {
  return xmlText(s)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

const secs = (ms: number | undefined): string =>
  ms !== undefined && Number.isFinite(ms) ? (ms / 1000).toFixed(3) : '0';

/** JUnit XML: one testsuite (the drill), one testcase per expectation, the three durations as properties. */
export function junitXml(r: DrillResult): string {
  const cases: string[] = [];
  const timeOf: Record<string, number | undefined> = {
    effect: r.durations.effect_ms,
    detection: r.durations.detect_ms,
    recovery: r.durations.recover_ms,
  };
  const classname = `drill.${r.name}`;
  let failures = 0;
  let skipped = 0;
  for (const e of r.expectations) {
    const head = `    <testcase name="${xmlAttr(e.name)}" classname="${xmlAttr(classname)}" time="${secs(timeOf[e.name])}"`;
    if (e.passed) {
      cases.push(`${head}>\n      <system-out>${xmlText(e.message)}</system-out>\n    </testcase>`);
    } else {
      failures++;
      const type = xmlAttr(r.status === 'passed' || r.status === 'running' ? 'failed' : r.status);
      cases.push(
        `${head}>\n      <failure message="${xmlAttr(e.message)}" type="${type}">${xmlText(e.message)}</failure>\n    </testcase>`,
      );
    }
  }
  // a verdict no expectation explains (an error, an abort before any expectation): its own failed case, so CI fails
  if (r.status === 'running') {
    skipped++;
    cases.push(
      `    <testcase name="status" classname="${xmlAttr(classname)}" time="0">\n` +
        `      <skipped message="the drill is still running"/>\n    </testcase>`,
    );
  } else if (r.status !== 'passed' && failures === 0) {
    failures++;
    cases.push(
      `    <testcase name="status" classname="${xmlAttr(classname)}" time="0">\n` +
        `      <failure message="${xmlAttr(`${statusWord(r.status)}: ${r.message}`)}" type="${xmlAttr(r.status)}">` +
        `${xmlText(r.message)}</failure>\n    </testcase>`,
    );
  }
  const duration = r.ended !== undefined ? secs(r.ended - r.started) : '0';
  const props: Array<[string, unknown]> = [
    ['drill.id', r.id],
    ['drill.status', r.status],
    ['drill.exit_code', exitCode(r.status) ?? ''],
    ['effect_ms', r.durations.effect_ms ?? ''],
    ['detect_ms', r.durations.detect_ms ?? ''],
    ['recover_ms', r.durations.recover_ms ?? ''],
  ];
  const log = r.events.map((e) => `${iso(e.t) ?? ''} ${e.text}`).join('\n');
  const suite = `drill ${r.name}`;
  const n = cases.length;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="chaosmetad drills" tests="${n}" failures="${failures}" errors="0" skipped="${skipped}" time="${duration}">\n` +
    `  <testsuite name="${xmlAttr(suite)}" tests="${n}" failures="${failures}" errors="0" skipped="${skipped}" ` +
    `time="${duration}" timestamp="${xmlAttr(iso(r.started) ?? '')}" hostname="${xmlAttr(r.runner.host)}">\n` +
    `    <properties>\n` +
    props.map(([k, v]) => `      <property name="${xmlAttr(k)}" value="${xmlAttr(v)}"/>\n`).join('') +
    `    </properties>\n` +
    cases.map((c) => `${c}\n`).join('') +
    `    <system-out>${xmlText(log)}</system-out>\n` +
    `  </testsuite>\n` +
    `</testsuites>\n`
  );
}

// ---- report.md --------------------------------------------------------------------------------------------------

/** Text in a Markdown table cell (or a line): no line break, `|` escaped, and no Markdown or HTML made of it. */
export function mdCell(s: unknown): string {
  return String(s)
    .replace(XML_INVALID, '')
    .replace(/\r\n|[\r\n\t]/g, ' ')
    .replace(/[\\`*_[\]<>|~]/g, (c) => `\\${c}`);
}

/** A code span (commands): a fence longer than any run of backticks inside; `|` escaped (GFM tables split on it). */
function mdCode(s: string): string {
  const text = s.replace(XML_INVALID, '').replace(/\r\n|[\r\n\t]/g, ' ');
  const longest = (text.match(/`+/g) ?? []).reduce((a, m) => Math.max(a, m.length), 0);
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || text.startsWith(' ') ? ' ' : '';
  return `${fence}${pad}${text.replace(/\|/g, '\\|')}${pad}${fence}`;
}

const STATUS_ICON: Record<DrillStatus, string> = {
  running: '⏳',
  passed: '✅',
  'not-steady': '⚠️',
  'no-effect': '❌',
  'not-detected': '❌',
  'not-recovered': '❌',
  aborted: '🛑',
  error: '💥',
};

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => ' --- ').join('|')}|`,
    ...rows.map((c) => `| ${c.join(' | ')} |`),
  ];
}

/** report.md: a page a person reads. */
export function markdown(r: DrillResult): string {
  const out: string[] = [];
  const code = exitCode(r.status);
  out.push(`# Drill ${mdCell(r.name)}`, '');
  out.push(
    `${STATUS_ICON[r.status] ?? ''} **${mdCell(statusWord(r.status))}**${code === null ? '' : ` (exit ${code})`}` +
      ` — ${mdCell(r.message)}`,
    '',
  );
  out.push(
    `Drill \`${r.id.replace(/`/g, '')}\` · started ${iso(r.started) ?? '—'} · ` +
      (r.ended !== undefined
        ? `ended ${iso(r.ended) ?? '—'} (${fmtDuration(r.ended - r.started)})`
        : `phase ${r.phase}`) +
      ` · on ${mdCell(r.runner.host)}${r.runner.server ? ` through ${mdCell(r.runner.server)}` : ''}`,
    '',
  );
  out.push('## Durations', '');
  out.push(
    ...table(
      ['', 'Duration', 'Measured'],
      DURATIONS.map((d) => [`**${d.label}**`, fmtDuration(r.durations[d.key]), d.what]),
    ),
    '',
  );
  out.push('## Expectations', '');
  if (r.expectations.length)
    out.push(
      ...table(
        ['', 'Expectation', 'What was seen', 'At'],
        r.expectations.map((e) => [
          e.passed ? '✅' : '❌',
          mdCell(e.name),
          mdCell(e.message),
          e.at === undefined ? '—' : `${rel(r, e.at)} (${clock(e.at)})`,
        ]),
      ),
      '',
    );
  else out.push('No expectation was judged.', '');
  out.push('## Faults', '');
  if (r.faults.length)
    out.push(
      ...table(
        ['Lane', 'Step', 'Command', 'Start', 'End', 'State'],
        r.faults.map((f) => [
          mdCell(f.lane),
          String(f.step),
          mdCode(f.command),
          f.start === undefined ? '—' : `${rel(r, f.start)} (${clock(f.start)})`,
          f.end === undefined ? '—' : `${rel(r, f.end)} (${clock(f.end)})`,
          mdCell(f.state) + (f.message ? `: ${mdCell(f.message)}` : ''),
        ]),
      ),
      '',
    );
  else out.push('No fault was injected.', '');
  out.push('## Series', '');
  if (r.series.length)
    out.push(
      ...table(
        ['Series', 'Unit', 'Samples', 'Failed', 'Baseline', 'Min', 'Max', 'Last'],
        r.series.map((s) => {
          const st = stats(r, s);
          return [
            mdCell(s.name),
            mdCell(s.unit),
            String(st.samples),
            String(st.failed),
            fmtNum(st.baseline),
            fmtNum(st.min),
            fmtNum(st.max),
            fmtNum(st.last),
          ];
        }),
      ),
      '',
    );
  else out.push('No series was sampled.', '');
  out.push('## Event log', '');
  if (r.events.length) {
    const lines = r.events.map((e) => `${rel(r, e.t).padStart(9)}  ${clock(e.t)}  ${oneLine(e.text)}`);
    const longest = lines.reduce((a, l) => (l.match(/`+/g) ?? []).reduce((b, m) => Math.max(b, m.length), a), 2);
    const fence = '`'.repeat(longest + 1);
    out.push(`${fence}text`, ...lines, fence, '');
  } else out.push('Nothing was logged.', '');
  return out.join('\n');
}

// ---- the terminal's summary -------------------------------------------------------------------------------------

/** The lines `drill run` prints at its end: the verdict, the three durations, each expectation. */
export function summaryLines(r: DrillResult): string[] {
  const code = exitCode(r.status);
  const lines = [
    `drill ${oneLine(r.name)}: ${statusWord(r.status)}${code === null ? '' : ` (exit ${code})`} — ${oneLine(r.message)}`,
    `  time to effect ${fmtDuration(r.durations.effect_ms)} · to detect ${fmtDuration(r.durations.detect_ms)}` +
      ` · to recover ${fmtDuration(r.durations.recover_ms)}`,
  ];
  for (const e of r.expectations) lines.push(`  ${e.passed ? '✔' : '✘'} ${oneLine(e.name)}: ${oneLine(e.message)}`);
  return lines;
}

// ---- report.html ------------------------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const HTML_DROP = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
/** Text or an attribute value in HTML (and inline SVG): & < > " ' escaped, control characters dropped. */
export function h(s: unknown): string {
  return String(s)
    .replace(HTML_DROP, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A coordinate in the SVG: two decimals at most. */
const c = (v: number): string => String(Math.round(v * 100) / 100);

/** "Nice" ticks over [lo, hi], about `count` of them at 1, 2 or 5 × 10^n; the domain widened to the outer ones. */
function ticks(lo: number, hi: number, count: number): { lo: number; hi: number; values: number[] } {
  if (!(hi > lo)) return { lo, hi: lo + 1, values: [lo, lo + 1] };
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const err = raw / mag;
  const step = (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1) * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last; k++) values.push(k * step);
  return { lo: first * step, hi: last * step, values };
}

/** Time ticks in seconds: steps of 1, 2, 5, 10, 15, 30 s, then minutes (1, 2, 5, 10, 15, 30), then hours. */
function timeTicks(spanS: number, count: number): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400];
  const step = steps.find((s) => spanS / s <= count) ?? Math.ceil(spanS / count / 86_400) * 86_400;
  const out: number[] = [];
  for (let v = 0; v <= spanS + 1e-9; v += step) out.push(v);
  return out;
}
const timeLabel = (s: number): string =>
  s >= 3600 && s % 3600 === 0
    ? `${s / 3600} h`
    : s >= 60 && s % 60 === 0
      ? `${s / 60} min`
      : s >= 60
        ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
        : `${s} s`;

/** The time range every chart shares: the drill's start to its end (or the last thing it saw). */
function timeRange(r: DrillResult): [number, number] {
  const ts: number[] = [r.started];
  if (r.ended !== undefined) ts.push(r.ended);
  for (const s of r.series) for (const x of s.samples) ts.push(x.t);
  for (const f of r.faults) ts.push(...[f.start, f.end].filter((t): t is number => t !== undefined));
  for (const k of Object.keys(r.points) as Array<keyof DrillPoints>) {
    const t = r.points[k];
    if (t !== undefined) ts.push(t);
  }
  const fin = ts.filter((t) => Number.isFinite(t));
  const lo = r.started;
  const hi = fin.reduce((a, t) => Math.max(a, t), lo);
  return [lo, hi > lo ? hi : lo + 1000];
}

const W = 960;
/** the plot's height; above it a strip with a row per lane (its fault windows as bars, labelled), below the axis */
const PH = 190;
const LEFT = 64;
const PW = W - LEFT - 18;
const BOTTOM = 34;

function laneIndex(r: DrillResult): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of r.faults) if (!m.has(f.lane)) m.set(f.lane, m.size);
  return m;
}

/** One series as an inline SVG chart over the drill's time range. */
function chart(r: DrillResult, s: Series, idx: number, range: [number, number], lanes: Map<string, number>): string {
  const [t0, t1] = range;
  const M = { left: LEFT, top: Math.max(26, 10 + lanes.size * 16) };
  const H = M.top + PH + BOTTOM;
  const x = (t: number) => M.left + (Math.min(Math.max(t, t0), t1) - t0) * (PW / (t1 - t0));
  const st = stats(r, s);
  const vals = s.samples.map((p) => p.value).filter((v): v is number => v !== null && Number.isFinite(v));
  if (st.baseline !== null && Number.isFinite(st.baseline)) vals.push(st.baseline);
  // (no spread: a day's samples are more arguments than a call takes)
  let lo = vals.length ? vals.reduce((a, v) => Math.min(a, v), Infinity) : 0;
  let hi = vals.length ? vals.reduce((a, v) => Math.max(a, v), -Infinity) : 1;
  if (lo >= 0 && lo <= hi * 0.35) lo = 0;
  if (hi === lo) {
    const pad = Math.abs(hi) * 0.1 || 1;
    hi += pad;
    lo = lo === 0 ? 0 : lo - pad;
  }
  const nice = ticks(lo, hi, 4);
  const yt = nice.values;
  lo = nice.lo;
  hi = nice.hi;
  const y = (v: number) => M.top + PH - ((v - lo) / (hi - lo)) * PH;
  const parts: string[] = [];
  const id = `s${idx}`;

  parts.push(`<rect class="plot-area" x="${M.left}" y="${M.top}" width="${PW}" height="${PH}"/>`);
  // fault windows, under everything; each lane its own colour and label row
  for (const f of r.faults) {
    if (f.start === undefined) continue;
    const li = lanes.get(f.lane) ?? 0;
    const x0 = x(f.start);
    const x1 = Math.max(x(f.end ?? t1), x0 + 1);
    const full = `${f.lane}: ${f.fault}`;
    const label = full.length > 48 ? `${full.slice(0, 47)}…` : full;
    const tip = `${f.lane} step ${f.step}: ${f.command} (${rel(r, f.start)} → ${f.end === undefined ? 'still in place' : rel(r, f.end)}, ${f.state})`;
    parts.push(
      `<rect class="fault-window lane-${li % 6}" x="${c(x0)}" y="${M.top}" width="${c(x1 - x0)}" ` +
        `height="${PH}"><title>${h(tip)}</title></rect>`,
      `<rect class="fault-bar lane-${li % 6}" x="${c(x0)}" y="${4 + li * 16}" width="${c(x1 - x0)}" height="13" rx="2">` +
        `<title>${h(tip)}</title></rect>`,
      `<text class="fault-label" x="${c(x0 + 4)}" y="${14 + li * 16}">${h(label)}</text>`,
    );
  }
  // grid and value labels
  for (const v of yt) {
    const yy = c(y(v));
    parts.push(
      `<line class="grid" x1="${M.left}" x2="${M.left + PW}" y1="${yy}" y2="${yy}"/>`,
      `<text class="tick tick-y" x="${M.left - 6}" y="${yy}" dy="0.32em">${h(fmtNum(v))}</text>`,
    );
  }
  // time axis: seconds from the drill's start
  const span = (t1 - t0) / 1000;
  for (const sec of timeTicks(span, 10)) {
    const xx = c(x(t0 + sec * 1000));
    parts.push(
      `<line class="tick-mark" x1="${xx}" x2="${xx}" y1="${M.top + PH}" y2="${M.top + PH + 4}"/>`,
      `<text class="tick tick-x" x="${xx}" y="${M.top + PH + 16}">${h(timeLabel(sec))}</text>`,
    );
  }
  parts.push(
    `<line class="axis" x1="${M.left}" x2="${M.left + PW}" y1="${M.top + PH}" y2="${M.top + PH}"/>`,
    `<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PH}"/>`,
    `<text class="axis-title" x="${M.left + PW}" y="${H - 2}">seconds from the drill's start</text>`,
    `<text class="axis-title axis-title-y" x="${M.left - 6}" y="${M.top - 8}">${h(s.unit)}</text>`,
  );
  if (st.baseline !== null && Number.isFinite(st.baseline)) {
    const yy = c(y(st.baseline));
    parts.push(
      `<line class="baseline" x1="${M.left}" x2="${M.left + PW}" y1="${yy}" y2="${yy}"><title>baseline ${h(withUnit(st.baseline, s.unit))}</title></line>`,
    );
  }
  // failed samples: a band along the bottom for each run of them (the line breaks where there is no value)
  const runs: Array<[number, number, number]> = [];
  s.samples.forEach((p, i) => {
    if (p.ok) return;
    const last = runs[runs.length - 1];
    if (last && last[1] === i - 1) {
      last[1] = i;
      last[2]++;
    } else runs.push([i, i, 1]);
  });
  const half = s.samples.length > 1 ? PW / (s.samples.length - 1) / 2 : 3;
  for (const [a, b, n] of runs) {
    const xa = x(s.samples[a].t) - Math.min(half, 4);
    const xb = x(s.samples[b].t) + Math.min(half, 4);
    const err = s.samples.slice(a, b + 1).find((p) => p.error)?.error;
    const tip = `${n} failed sample${n > 1 ? 's' : ''} ${rel(r, s.samples[a].t)}${n > 1 ? ` → ${rel(r, s.samples[b].t)}` : ''}${err ? `: ${err}` : ''}`;
    parts.push(
      `<rect class="failed-run" x="${c(xa)}" y="${M.top + PH - 6}" width="${c(Math.max(xb - xa, 3))}" height="6">` +
        `<title>${h(tip)}</title></rect>`,
    );
  }
  // the series: one point per sample with a value, a new segment after each sample without one
  let d = '';
  let pen = false;
  let points = 0;
  const dots: string[] = [];
  s.samples.forEach((p: Sample, i) => {
    if (p.value === null || !Number.isFinite(p.value)) {
      pen = false;
      return;
    }
    d += `${d ? ' ' : ''}${pen ? 'L' : 'M'}${c(x(p.t))} ${c(y(p.value))}`;
    pen = true;
    points++;
    const prev = s.samples[i - 1];
    const next = s.samples[i + 1];
    const alone = (!prev || prev.value === null) && (!next || next.value === null);
    if (!p.ok || alone)
      dots.push(`<circle class="${p.ok ? 'dot' : 'dot dot-failed'}" cx="${c(x(p.t))}" cy="${c(y(p.value))}" r="2.6"/>`);
  });
  parts.push(
    `<path class="series-line" d="${d}" data-samples="${s.samples.length}" data-points="${points}"/>`,
    ...dots,
  );
  // the points in time
  MARKERS.forEach((m) => {
    const t = r.points[m.point];
    if (t === undefined || !Number.isFinite(t)) return;
    const xx = c(x(t));
    parts.push(
      `<line class="marker ${m.cls}" x1="${xx}" x2="${xx}" y1="${M.top}" y2="${M.top + PH}">` +
        `<title>${h(`${m.label} ${rel(r, t)} (${clock(t)})`)}</title></line>`,
    );
  });
  const title = `${s.name} (${s.unit || 'no unit'}) over the drill`;
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}-t">
<title id="${id}-t">${h(title)}</title>
${parts.join('\n')}
</svg>`;
}

const CSS = `
:root{--bg:#f6f7f9;--card:#fff;--fg:#1d232b;--muted:#5d6875;--line:#e2e6eb;--grid:#edf0f3;--plot:#fcfcfd;
--series:#2b6cb0;--ok:#1f8a4c;--bad:#c53030;--warn:#b7791f;--info:#2b6cb0;
--effect:#d97706;--detection:#7c3aed;--recovery:#059669;--abort:#dc2626;
--l0:#3b82f6;--l1:#f97316;--l2:#8b5cf6;--l3:#14b8a6;--l4:#ec4899;--l5:#84cc16}
@media (prefers-color-scheme:dark){:root{--bg:#12161c;--card:#1b2129;--fg:#e6e9ee;--muted:#9aa5b1;--line:#2c3440;
--grid:#242b35;--plot:#171c23;--series:#63b3ed}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:28px 20px 48px}
h1{font-size:26px;margin:0 0 6px;word-break:break-word}
h2{font-size:18px;margin:32px 0 12px}
h3{font-size:15px;margin:0;word-break:break-word}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:0 0 14px}
header.card{border-left:6px solid var(--st)}
.st-passed{--st:var(--ok)}.st-running{--st:var(--info)}.st-not-steady,.st-aborted{--st:var(--warn)}
.st-no-effect,.st-not-detected,.st-not-recovered,.st-error{--st:var(--bad)}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;background:var(--st);color:#fff;font-weight:600;font-size:13px;
letter-spacing:.02em;vertical-align:middle}
.message{margin:8px 0 4px;font-size:16px;word-break:break-word}
.meta{color:var(--muted);font-size:13px}.meta span{margin-right:14px;white-space:nowrap}
.durations{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-top:16px}
.duration{border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.duration .label{color:var(--muted);font-size:13px}.duration .value{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums}
.duration .what{color:var(--muted);font-size:12px}.duration.none .value{color:var(--muted)}
.legend{display:flex;flex-wrap:wrap;gap:8px 18px;font-size:13px;color:var(--muted);margin:0 0 12px}
.legend span{display:inline-flex;align-items:center;gap:6px}
.key{display:inline-block;width:18px;height:0;border-top:2px solid}
.key.k-series{border-color:var(--series)}.key.k-baseline{border-top:2px dashed var(--muted)}
.key.k-effect{border-color:var(--effect)}.key.k-detection{border-color:var(--detection)}
.key.k-recovery{border-color:var(--recovery)}.key.k-abort{border-color:var(--abort)}
.key.k-fault{height:12px;border:0;background:var(--l0);opacity:.25}.key.k-failed{height:6px;border:0;background:var(--bad)}
.series-head{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;gap:6px 16px;margin-bottom:6px}
.series-head .kind{color:var(--muted);font-weight:400;font-size:13px;margin-left:6px}
.stats{font-size:13px;color:var(--muted);font-variant-numeric:tabular-nums}.stats b{color:var(--fg);font-weight:600}
.stats span{margin-left:12px}
svg.chart{display:block;width:100%;height:auto}
.plot-area{fill:var(--plot);stroke:none}
.grid{stroke:var(--grid);stroke-width:1}.axis,.tick-mark{stroke:var(--muted);stroke-width:1}
.tick{fill:var(--muted);font-size:11px;font-variant-numeric:tabular-nums}.tick-y{text-anchor:end}.tick-x{text-anchor:middle}
.axis-title{fill:var(--muted);font-size:11px;text-anchor:end}
.series-line{fill:none;stroke:var(--series);stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.dot{fill:var(--series)}.dot-failed{fill:var(--bad)}
.baseline{stroke:var(--muted);stroke-width:1;stroke-dasharray:5 4}
.failed-run{fill:var(--bad);opacity:.85}
.fault-window{opacity:.09}.fault-bar{opacity:.38}.fault-label{font-size:10.5px;font-weight:600;fill:var(--fg)}
.lane-0{fill:var(--l0)}.lane-1{fill:var(--l1)}.lane-2{fill:var(--l2)}.lane-3{fill:var(--l3)}.lane-4{fill:var(--l4)}.lane-5{fill:var(--l5)}
.marker{stroke-width:2;stroke-dasharray:6 3}
.marker-effect{stroke:var(--effect)}.marker-detection{stroke:var(--detection)}.marker-recovery{stroke:var(--recovery)}
.marker-abort{stroke:var(--abort);stroke-dasharray:none}
table{width:100%;border-collapse:collapse;font-size:14px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top;word-break:break-word}
th{white-space:nowrap;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.time{white-space:nowrap;font-variant-numeric:tabular-nums}
tr.failed td{background:color-mix(in srgb,var(--bad) 7%,transparent)}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--grid);padding:1px 5px;border-radius:4px}
.state{font-weight:600}.state-recovered{color:var(--ok)}.state-failed,.state-recover-failed{color:var(--bad)}
.state-injected,.state-injecting{color:var(--warn)}
.mark{display:inline-block;width:20px;height:20px;border-radius:50%;color:#fff;text-align:center;font:700 13px/20px system-ui,sans-serif}
.mark-ok{background:var(--ok)}.mark-bad{background:var(--bad)}
details summary{cursor:pointer;font-weight:600}
.log{margin:12px 0 0;font:12.5px/1.55 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-word}
.log div{display:grid;grid-template-columns:max-content 1fr;gap:0 14px}.log .t{color:var(--muted);white-space:pre}
footer{color:var(--muted);font-size:12px;margin-top:28px}
@media (max-width:700px){.durations{grid-template-columns:1fr}}
@media print{body{background:#fff}.card{break-inside:avoid}}
`;

/** report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched: its CSP says so too). */
export function html(r: DrillResult): string {
  const range = timeRange(r);
  const lanes = laneIndex(r);
  const code = exitCode(r.status);
  const st = `st-${r.status}`;
  const out: string[] = [];
  out.push(
    `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="chaosmetad drill">
<title>Drill ${h(r.name)}: ${h(statusWord(r.status))}</title>
<style>${CSS}</style>
</head>
<body>
<main>`,
  );
  // header: the verdict and the three durations
  const meta = [
    `drill <code>${h(r.id)}</code>`,
    `started ${h(iso(r.started) ?? '—')}`,
    r.ended !== undefined
      ? `ended ${h(iso(r.ended) ?? '—')} (${h(fmtDuration(r.ended - r.started))})`
      : `phase ${h(r.phase)}`,
    `on ${h(r.runner.host)}${r.runner.server ? ` through ${h(r.runner.server)}` : ''}`,
  ];
  if (r.runner.schedule_id) meta.push(`schedule ${h(r.runner.schedule_id)}`);
  out.push(
    `<header class="card ${h(st)}">
<h1>Drill ${h(r.name)} <span class="badge">${h(statusWord(r.status))}</span></h1>
<p class="message">${h(r.message)}</p>
<div class="meta">${meta.map((m) => `<span>${m}</span>`).join('')}${code === null ? '' : `<span>exit code ${code}</span>`}</div>
<div class="durations">
${DURATIONS.map((d) => {
  const v = r.durations[d.key];
  const none = v === undefined || !Number.isFinite(v);
  return `<div class="duration${none ? ' none' : ''}" data-duration="${d.key}"><div class="label">${d.label}</div><div class="value">${h(fmtDuration(v))}</div><div class="what">${d.what}</div></div>`;
}).join('\n')}
</div>
</header>`,
  );
  // expectations
  out.push(`<h2>Expectations</h2>\n<section class="card">`);
  if (r.expectations.length)
    out.push(
      `<table class="expectations"><thead><tr><th></th><th>Expectation</th><th>What was seen</th><th>At</th></tr></thead><tbody>`,
      ...r.expectations.map(
        (e) =>
          `<tr class="${e.passed ? 'passed' : 'failed'}"><td><span class="mark ${e.passed ? 'mark-ok' : 'mark-bad'}">${e.passed ? '✓' : '✗'}</span></td><td><b>${h(e.name)}</b></td>` +
          `<td>${h(e.message)}</td><td class="time">${e.at === undefined ? '—' : `${h(rel(r, e.at))} <span class="meta">${h(clock(e.at))}</span>`}</td></tr>`,
      ),
      `</tbody></table>`,
    );
  else out.push(`<p class="meta">No expectation was judged.</p>`);
  out.push(`</section>`);
  // charts
  out.push(`<h2>Series</h2>`);
  const present = MARKERS.filter((m) => r.points[m.point] !== undefined);
  out.push(
    `<div class="legend"><span><i class="key k-series"></i>value</span><span><i class="key k-baseline"></i>baseline</span>` +
      `<span><i class="key k-fault"></i>fault window</span><span><i class="key k-failed"></i>failed samples</span>` +
      present
        .map((m) => `<span><i class="key k-${m.label}"></i>${m.label} ${h(rel(r, r.points[m.point]))}</span>`)
        .join('') +
      `</div>`,
  );
  if (!r.series.length) out.push(`<section class="card"><p class="meta">No series was sampled.</p></section>`);
  r.series.forEach((s, i) => {
    const x = stats(r, s);
    out.push(
      `<section class="card series">
<div class="series-head"><h3>${h(s.name)}<span class="kind">${h(s.kind)}${s.unit ? ` · ${h(s.unit)}` : ''}</span></h3>
<div class="stats"><span>baseline <b>${h(withUnit(x.baseline, s.unit))}</b></span><span>min <b>${h(withUnit(x.min, s.unit))}</b></span>` +
        `<span>max <b>${h(withUnit(x.max, s.unit))}</b></span><span>last <b>${h(withUnit(x.last, s.unit))}</b></span>` +
        `<span>${x.samples} samples${x.failed ? `, <b>${x.failed} failed</b>` : ''}</span></div></div>
${chart(r, s, i, range, lanes)}
</section>`,
    );
  });
  // faults
  out.push(`<h2>Faults</h2>\n<section class="card">`);
  if (r.faults.length)
    out.push(
      `<table class="faults"><thead><tr><th>Lane</th><th class="num">Step</th><th>Command</th><th>Start</th><th>End</th><th>State</th></tr></thead><tbody>`,
      ...r.faults.map(
        (f: FaultWindow) =>
          `<tr><td>${h(f.lane)}</td><td class="num">${h(f.step)}</td><td><code>${h(f.command)}</code>` +
          `<div class="meta">${h(f.where)} · ${h(f.uid)}</div></td>` +
          `<td class="time">${f.start === undefined ? '—' : `${h(rel(r, f.start))} <span class="meta">${h(clock(f.start))}</span>`}</td>` +
          `<td class="time">${f.end === undefined ? '—' : `${h(rel(r, f.end))} <span class="meta">${h(clock(f.end))}</span>`}</td>` +
          `<td><span class="state state-${h(f.state)}">${h(f.state)}</span>${f.message ? `<div class="meta">${h(f.message)}</div>` : ''}</td></tr>`,
      ),
      `</tbody></table>`,
    );
  else out.push(`<p class="meta">No fault was injected.</p>`);
  out.push(`</section>`);
  // the event log
  out.push(
    `<h2>Event log</h2>\n<section class="card"><details><summary>${r.events.length} event${r.events.length === 1 ? '' : 's'}</summary>` +
      `<div class="log">` +
      r.events
        .map(
          (e) =>
            `<div><span class="t">${h(rel(r, e.t).padStart(9))}  ${h(clock(e.t))}</span><span>${h(e.text)}</span></div>`,
        )
        .join('') +
      `</div></details></section>`,
  );
  out.push(`<footer>Written by chaosmetad at ${h(iso(Date.now()) ?? '')}.</footer>\n</main>\n</body>\n</html>\n`);
  return out.join('\n');
}

// ---- the files --------------------------------------------------------------------------------------------------

/**
 * Writes result.json, report.html, report.md and junit.xml into dir (made, mode 0755, if missing); returns their
 * paths. Each through a temporary file of its own in dir, renamed over the name: a symbolic link planted at the
 * name is replaced, never written through.
 */
export function writeReports(r: DrillResult, dir: string): string[] {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw badArgs(`cannot use ${dir} for the reports: ${fileProblem(e)}`);
  }
  if (st && !st.isDirectory()) throw badArgs(`cannot write the reports into ${dir}: it exists and is not a directory`);
  if (!st) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw badArgs(`cannot create ${dir} for the reports: ${fileProblem(e)}`);
    }
  }
  const files: Array<[string, () => string]> = [
    ['result.json', () => `${JSON.stringify(resultJson(r), null, 2)}\n`],
    ['report.html', () => html(r)],
    ['report.md', () => markdown(r)],
    ['junit.xml', () => junitXml(r)],
  ];
  return files.map(([name, render]) => {
    const file = path.join(dir, name);
    const text = render();
    const tmp = path.join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
    try {
      // O_EXCL: never through anything already at the temporary name (a link included)
      const fd = fs.openSync(tmp, 'wx', 0o644);
      try {
        fs.writeFileSync(fd, text);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (e) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* not made, or already renamed */
      }
      throw badArgs(`cannot write ${file}: ${fileProblem(e)}`);
    }
    return file;
  });
}
