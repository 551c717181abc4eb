import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { html, junitXml, markdown, resultJson, summaryLines, writeReports } from '../../src/drill/report';
import type { DrillResult } from '../../src/drill/types';
import { ChaosError } from '../../src/errors';
import { DRILL_T0, HOSTILE, drillResult } from '../support/drill-result';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const isoAt = (s: number) => new Date(DRILL_T0 + s * 1000).toISOString();

// ---- a small XML reader, enough to prove junit.xml well-formed and read its structure -----------------------------

interface XNode {
  name: string;
  attrs: Record<string, string>;
  children: XNode[];
  text: string;
}
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
function unescapeXml(s: string): string {
  if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(s)) throw new Error(`a bare & in ${JSON.stringify(s)}`);
  return s.replace(ENTITY, (e) =>
    e === '&amp;'
      ? '&'
      : e === '&lt;'
        ? '<'
        : e === '&gt;'
          ? '>'
          : e === '&quot;'
            ? '"'
            : e === '&apos;'
              ? "'"
              : String.fromCodePoint(e[2] === 'x' ? parseInt(e.slice(3, -1), 16) : parseInt(e.slice(2, -1), 10)),
  );
}
function parseXml(xml: string): XNode {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(xml)) throw new Error('a character XML cannot hold');
  const body = xml.replace(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n/, '');
  if (body === xml) throw new Error('no XML declaration');
  const root: XNode = { name: '#root', attrs: {}, children: [], text: '' };
  const stack = [root];
  const re = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const top = stack[stack.length - 1];
    if (m[6]) throw new Error(`a stray < at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (m[5] !== undefined) {
      if (m[5].includes('>') && m[5].includes(']]>')) throw new Error(']]> in text');
      top.text += unescapeXml(m[5]);
      continue;
    }
    if (m[1]) {
      if (top.name !== m[2]) throw new Error(`</${m[2]}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of m[3].matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      if (a[1] in attrs) throw new Error(`attribute ${a[1]} twice`);
      attrs[a[1]] = unescapeXml(a[2]);
    }
    const node: XNode = { name: m[2], attrs, children: [], text: '' };
    top.children.push(node);
    if (!m[4]) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1].name}> never closed`);
  if (root.children.length !== 1 || root.text.trim()) throw new Error('not one root element');
  return root.children[0];
}
const kids = (n: XNode, name: string) => n.children.filter((c) => c.name === name);

// ---- the fixture ------------------------------------------------------------------------------------------------

const r = drillResult();
const bad = drillResult({ hostile: true });

describe('result.json', () => {
  const j = resultJson(r);
  test('its keys in a stable order; times as ISO strings', () => {
    expect(Object.keys(j)).toEqual([
      'id',
      'name',
      'status',
      'exit_code',
      'message',
      'phase',
      'started',
      'ended',
      'points',
      'durations',
      'expectations',
      'baseline',
      'faults',
      'series',
      'events',
      'runner',
    ]);
    expect(j).toMatchObject({ id: 'drl-7f3k2m9q', name: 'checkout-latency', status: 'aborted', exit_code: 14 });
    expect(j.started).toBe(isoAt(0));
    expect(j.ended).toBe(isoAt(61));
    expect(JSON.stringify(resultJson(drillResult()))).toBe(JSON.stringify(j));
  });
  test('the points present, as ISO', () => {
    expect(j.points).toEqual({
      steady: isoAt(5),
      inject: isoAt(10),
      effect: isoAt(12.1),
      detection: isoAt(18.4),
      recovered: isoAt(45),
      recovery: isoAt(49.2),
      abort: isoAt(52),
    });
    const passed = resultJson(drillResult({ abort: false }));
    expect(Object.keys(passed.points as object)).not.toContain('abort');
    expect(passed).toMatchObject({ status: 'passed', exit_code: 0 });
  });
  test('durations in ms and in s; absent ones null', () => {
    expect(j.durations).toEqual({
      effect_ms: 2100,
      detect_ms: 8400,
      recover_ms: 4200,
      effect_s: 2.1,
      detect_s: 8.4,
      recover_s: 4.2,
    });
    const none = resultJson({ ...r, durations: {} });
    expect(none.durations).toEqual({
      effect_ms: null,
      detect_ms: null,
      recover_ms: null,
      effect_s: null,
      detect_s: null,
      recover_s: null,
    });
  });
  test('expectations, faults, baseline', () => {
    const ex = j.expectations as Array<Record<string, unknown>>;
    expect(ex).toHaveLength(5);
    expect(Object.keys(ex[0])).toEqual(['name', 'passed', 'message', 'at']);
    expect(ex[1]).toMatchObject({ name: 'effect', passed: true, at: isoAt(12.1) });
    expect(ex[4]).toMatchObject({ name: 'abort:0', passed: false });
    const f = j.faults as Array<Record<string, unknown>>;
    expect(f.map((x) => [x.lane, x.step, x.start, x.end, x.state])).toEqual([
      ['cpu', 0, isoAt(10), isoAt(40), 'recovered'],
      ['net', 0, isoAt(15), isoAt(45), 'recovered'],
      ['net', 2, null, null, 'failed'],
    ]);
    expect(j.baseline).toEqual({ web: 42.4, 'traffic.success': null, 'host-cpu': 11.2 });
  });
  test('series: name, unit, samples as [iso, value, ok]', () => {
    const s = j.series as Array<{ name: string; unit: string; samples: Array<[string, number | null, boolean]> }>;
    expect(s.map((x) => [x.name, x.unit, x.samples.length])).toEqual([
      ['web', 'ms', 61],
      ['traffic.success', '%', 61],
      ['host-cpu', '%', 61],
    ]);
    for (const x of s)
      for (const [t, v, ok] of x.samples) {
        expect(t).toMatch(ISO);
        expect(v === null || typeof v === 'number').toBe(true);
        expect(typeof ok).toBe('boolean');
      }
    expect(s[0].samples[22]).toEqual([expect.stringMatching(ISO), null, false]);
    expect(s[0].samples.filter((x) => !x[2])).toHaveLength(6);
    // JSON round trip: nothing lost
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});

describe('junit.xml', () => {
  test('one testsuite, a testcase per expectation, the failure with its message, the durations as properties', () => {
    const root = parseXml(junitXml(r));
    expect(root.name).toBe('testsuites');
    const suites = kids(root, 'testsuite');
    expect(suites).toHaveLength(1);
    const s = suites[0];
    expect(s.attrs).toMatchObject({ name: 'drill checkout-latency', tests: '5', failures: '1', time: '61.000' });
    expect(s.attrs.timestamp).toBe(isoAt(0));
    const props = Object.fromEntries(
      kids(kids(s, 'properties')[0], 'property').map((p) => [p.attrs.name, p.attrs.value]),
    );
    expect(props).toMatchObject({
      effect_ms: '2100',
      detect_ms: '8400',
      recover_ms: '4200',
      'drill.status': 'aborted',
    });
    const cases = kids(s, 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual(['steady-state', 'effect', 'detection', 'recovery', 'abort:0']);
    expect(cases.map((c) => kids(c, 'failure').length)).toEqual([0, 0, 0, 0, 1]);
    const failure = kids(cases[4], 'failure')[0];
    expect(failure.attrs.message).toBe(r.expectations[4].message);
    expect(failure.text).toBe(r.expectations[4].message);
    expect(cases[1].attrs.time).toBe('2.100');
  });
  test('hostile names and messages: escaped, still well-formed, control characters dropped', () => {
    const xml = junitXml(bad);
    expect(xml).not.toContain('<script>');
    expect(xml).not.toContain(']]><!--');
    const s = kids(parseXml(xml), 'testsuite')[0];
    expect(s.attrs.name).toBe(`drill checkout ${HOSTILE.script}`);
    const cases = kids(s, 'testcase');
    expect(cases[4].attrs.name).toBe(`abort:0 ${HOSTILE.attr}`);
    const failure = kids(cases[4], 'failure')[0];
    // the message keeps its text, newlines and all, but not the characters XML cannot hold
    expect(failure.attrs.message).toContain('bell esc[31mred');
    // eslint-disable-next-line no-control-regex
    expect(failure.attrs.message).not.toMatch(/[\u0000\u0007\u001b]/);
    expect(kids(cases[3], 'system-out')[0].text).toContain(HOSTILE.md);
  });
  test('a verdict no expectation explains fails on its own; a running drill is skipped', () => {
    const err: DrillResult = { ...r, status: 'error', message: 'probe web: <bad> & "worse"', expectations: [] };
    const s = kids(parseXml(junitXml(err)), 'testsuite')[0];
    expect(s.attrs).toMatchObject({ tests: '1', failures: '1' });
    expect(kids(kids(s, 'testcase')[0], 'failure')[0].attrs).toMatchObject({ type: 'error' });
    const running = kids(
      parseXml(junitXml({ ...r, status: 'running', ended: undefined, expectations: [] })),
      'testsuite',
    )[0];
    expect(running.attrs).toMatchObject({ tests: '1', failures: '0', skipped: '1' });
  });
});

/** A Markdown table's rows (between its header and the next blank line), each split on its unescaped pipes. */
function mdTable(md: string, header: string): string[][] {
  const lines = md.split('\n');
  const i = lines.indexOf(header);
  expect(i).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (let k = i; k < lines.length && lines[k].startsWith('|'); k++)
    rows.push(
      lines[k]
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((x) => x.trim()),
    );
  return rows;
}

describe('report.md', () => {
  const md = markdown(r);
  test('title, status line, the three durations', () => {
    expect(md.startsWith('# Drill checkout-latency\n')).toBe(true);
    expect(md).toContain('**aborted** (exit 14) — abort guard 0 held');
    const d = mdTable(md, '|  | Duration | Measured |');
    expect(d.slice(2).map((x) => x.slice(0, 2))).toEqual([
      ['**Time to effect**', '2.1 s'],
      ['**Time to detect**', '8.4 s'],
      ['**Time to recover**', '4.2 s'],
    ]);
  });
  test('the expectations, faults and series tables', () => {
    const ex = mdTable(md, '|  | Expectation | What was seen | At |');
    expect(ex).toHaveLength(2 + 5);
    expect(ex.slice(2).map((x) => x[0])).toEqual(['✅', '✅', '✅', '✅', '❌']);
    expect(ex[3][3]).toBe('+12.1 s (12:00:12.100Z)');
    const f = mdTable(md, '| Lane | Step | Command | Start | End | State |');
    expect(f.slice(2).map((x) => [x[0], x[1], x[3], x[4], x[5].split(':')[0]])).toEqual([
      ['cpu', '0', '+10 s (12:00:10.000Z)', '+40 s (12:00:40.000Z)', 'recovered'],
      ['net', '0', '+15 s (12:00:15.000Z)', '+45 s (12:00:45.000Z)', 'recovered'],
      ['net', '2', '—', '—', 'failed'],
    ]);
    expect(f[2][2]).toBe('`chaosmetad inject cpu burn --percent 80 --timeout 30s`');
    const s = mdTable(md, '| Series | Unit | Samples | Failed | Baseline | Min | Max | Last |');
    expect(s[2].slice(0, 5)).toEqual(['web', 'ms', '61', '6', '42.4']);
    expect(s[3].slice(0, 5)).toEqual(['traffic.success', '%', '61', '0', '—']);
    expect(Number(s[2][6])).toBeGreaterThan(500); // the slow sample at +34 s
  });
  test('the event log, fenced', () => {
    expect(md).toMatch(/## Event log\n\n```text\n {5}\+0 s {2}12:00:00\.000Z {2}drill checkout-latency started/);
  });
  test('hostile text cannot break a table, start a line or make HTML', () => {
    const m = markdown(bad);
    // outside code (a fenced block, code spans: shown as written, never rendered) every < is escaped
    const prose = m.replace(/^```text\n[\s\S]*?^```$/m, '').replace(/(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, '');
    expect(prose).not.toMatch(/(?<!\\)</);
    expect(prose).toContain('\\<script\\>alert(1)\\</script\\>');
    // eslint-disable-next-line no-control-regex
    expect(m).not.toMatch(/[\u0000\u0007\u001b]/);
    for (const [header, n] of [
      ['|  | Expectation | What was seen | At |', 4],
      ['| Lane | Step | Command | Start | End | State |', 6],
      ['| Series | Unit | Samples | Failed | Baseline | Min | Max | Last |', 8],
    ] as const) {
      const rows = mdTable(m, header);
      expect(rows.length).toBeGreaterThan(2);
      for (const row of rows) expect(row).toHaveLength(n);
    }
    // a message with a newline stays in its row: no line of the page starts with the hostile heading
    expect(m.split('\n').filter((l) => l.startsWith('# '))).toHaveLength(1);
    // the command with backticks: a code span whose fence is longer than any run inside
    expect(m).toContain('```chaosmetad inject network limit --interface veth-web --rate 1mbit ``x`` ` \\| $(id)```');
  });
});

describe('report.html', () => {
  const page = html(r);
  const tags = (p: string) => p.match(/<[^>]*>/g) ?? [];
  test('self-contained: no script, nothing fetched, no URL in the markup', () => {
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    for (const p of [page, html(bad)]) {
      expect(p).not.toMatch(/<script|<link|<img|<iframe|<object|<embed|@import|url\(/i);
      for (const t of tags(p)) {
        expect(t).not.toMatch(/https?:|\/\/|\s(?:src|href|srcset|action|xlink:href)=/i);
      }
    }
    expect(page).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    // the URLs a page holds are text that was measured or written (an event, a series name), never markup
    expect(html(bad)).toContain('host-cpu https://evil.example/track.png');
  });
  test('the header: status and the three durations', () => {
    expect(page).toMatch(/<h1>Drill checkout-latency <span class="badge">aborted<\/span><\/h1>/);
    for (const [k, v] of [
      ['effect_ms', '2.1 s'],
      ['detect_ms', '8.4 s'],
      ['recover_ms', '4.2 s'],
    ])
      expect(page).toMatch(new RegExp(`data-duration="${k}">.*?<div class="value">${v.replace('.', '\\.')}</div>`));
  });
  test('a chart per series: a path with a point per sample with a value, fault windows, the markers', () => {
    const charts: string[] = page.match(/<svg class="chart"[\s\S]*?<\/svg>/g) ?? [];
    expect(charts).toHaveLength(3);
    charts.forEach((svg, i) => {
      const s = r.series[i];
      const d = /<path class="series-line" d="([^"]*)"/.exec(svg)![1];
      const withValue = s.samples.filter((x) => x.value !== null).length;
      expect((d.match(/[ML]/g) ?? []).length).toBe(withValue);
      // a gap (a new M) after each run of samples without a value
      expect((d.match(/M/g) ?? []).length).toBe(i === 0 ? 2 : 1);
      expect((svg.match(/<rect class="fault-window /g) ?? []).length).toBe(2);
      expect(svg).toContain('>cpu: burn</text>');
      expect(svg).toContain('>net: limit</text>');
      for (const m of ['effect', 'detection', 'recovery', 'abort'])
        expect((svg.match(new RegExp(`<line class="marker marker-${m}"`, 'g')) ?? []).length).toBe(1);
      expect(svg).toMatch(/<text class="tick tick-x"[^>]*>0 s<\/text>/);
      expect(svg).toMatch(/<text class="tick tick-x"[^>]*>1 min<\/text>/);
    });
    // the failed samples of web: one band for +22..+26 s, one for the slow +34 s, and a red dot there
    expect((charts[0].match(/<rect class="failed-run"/g) ?? []).length).toBe(2);
    expect(charts[0]).toContain('5 failed samples +22 s → +26 s: timeout after 5000 ms');
    expect((charts[0].match(/class="dot dot-failed"/g) ?? []).length).toBe(1);
    // a drill without an abort has no abort marker
    expect(html(drillResult({ abort: false }))).not.toContain('<line class="marker marker-abort"');
  });
  test('the expectations and faults tables, the event log collapsed', () => {
    expect((page.match(/<tr class="passed">/g) ?? []).length).toBe(4);
    expect((page.match(/<tr class="failed">/g) ?? []).length).toBe(1);
    expect(page).toMatch(/<table class="faults">[\s\S]*?<\/table>/);
    expect((/<table class="faults">[\s\S]*?<\/table>/.exec(page)![0].match(/<tr>/g) ?? []).length).toBe(1 + 3);
    expect(page).toMatch(/<details><summary>14 events<\/summary>/);
  });
  test('hostile strings escaped everywhere', () => {
    const p = html(bad);
    expect(p).not.toContain(HOSTILE.script);
    expect(p).not.toContain(HOSTILE.attr);
    expect(p).toContain('Drill checkout &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(p).toContain('cpu &quot;&#39;&amp;');
    expect(p).toContain('net &quot; onmouseover=&quot;alert(2)&quot; x=&#39;');
    // eslint-disable-next-line no-control-regex
    expect(p).not.toMatch(/[\u0000\u0007\u001b]/);
    // every tag is one of ours: no attribute the input made
    for (const t of tags(p)) expect(t).not.toMatch(/onmouseover|<script/i);
  });
});

describe('summaryLines', () => {
  test('the verdict, the durations, each expectation', () => {
    expect(summaryLines(r)).toEqual([
      'drill checkout-latency: aborted (exit 14) — abort guard 0 held: traffic.success below 50 held for 1 sample at 12:00:52',
      '  time to effect 2.1 s · to detect 8.4 s · to recover 4.2 s',
      '  ✔ steady-state: web below 200 held for 3 samples',
      '  ✔ effect: web above +100 held at 12:00:12 (2.1 s after the inject)',
      '  ✔ detection: alert HighCPU firing at 12:00:18 (8.4 s after the inject)',
      '  ✔ recovery: web within 20% of 42.4 ms held for 3 samples',
      '  ✘ abort:0: traffic.success below 50 held: every fault recovered at once',
    ]);
    expect(summaryLines({ ...r, durations: {} })[1]).toBe('  time to effect — · to detect — · to recover —');
  });
  test('nothing in them drives a terminal; one line each', () => {
    for (const l of summaryLines(bad)) {
      // eslint-disable-next-line no-control-regex
      expect(l).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    }
  });
});

describe('writeReports', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-drill-report-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('makes the directory (mkdir -p, 0755) and writes the four files', () => {
    const dir = path.join(tmp, 'a', 'b');
    const old = process.umask(0o022);
    let files: string[];
    try {
      files = writeReports(r, dir);
    } finally {
      process.umask(old);
    }
    expect(files).toEqual(['result.json', 'report.html', 'report.md', 'junit.xml'].map((f) => path.join(dir, f)));
    expect(fs.statSync(dir).mode & 0o777).toBe(0o755);
    expect(fs.readdirSync(dir).sort()).toEqual(['junit.xml', 'report.html', 'report.md', 'result.json']);
    expect(JSON.parse(fs.readFileSync(files[0], 'utf8'))).toEqual(resultJson(r));
    expect(fs.readFileSync(files[2], 'utf8')).toBe(markdown(r));
    expect(fs.readFileSync(files[3], 'utf8')).toBe(junitXml(r));
    expect(fs.readFileSync(files[1], 'utf8')).toMatch(/^<!DOCTYPE html>/);
    // again into the same directory: replaced, nothing left behind
    writeReports(r, dir);
    expect(fs.readdirSync(dir)).toHaveLength(4);
  });
  test('a symbolic link planted at a name is replaced, not written through', () => {
    const victim = path.join(tmp, 'victim');
    fs.writeFileSync(victim, 'keep');
    const dir = path.join(tmp, 'out');
    fs.mkdirSync(dir);
    fs.symlinkSync(victim, path.join(dir, 'report.html'));
    fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(dir, 'junit.xml'));
    writeReports(r, dir);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep');
    expect(fs.lstatSync(path.join(dir, 'report.html')).isFile()).toBe(true);
    expect(fs.lstatSync(path.join(dir, 'junit.xml')).isFile()).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'nowhere'))).toBe(false);
  });
  test('refused when the path exists and is not a directory', () => {
    const file = path.join(tmp, 'file');
    fs.writeFileSync(file, 'x');
    expect(() => writeReports(r, file)).toThrow(/exists and is not a directory/);
    try {
      writeReports(r, file);
    } catch (e) {
      expect(e).toBeInstanceOf(ChaosError);
      expect((e as ChaosError).code).toBe(1);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });
  test('a name taken by a directory: refused, no temporary file left', () => {
    const dir = path.join(tmp, 'out');
    fs.mkdirSync(path.join(dir, 'report.md'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'report.md', 'x'), 'x');
    expect(() => writeReports(r, dir)).toThrow(ChaosError);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('edge cases', () => {
  test('a drill that ended before anything ran: every renderer copes', () => {
    const early: DrillResult = {
      ...r,
      status: 'error',
      message: 'probe web: connection refused',
      ended: undefined,
      phase: 'steady-state',
      points: {},
      durations: {},
      baseline: {},
      expectations: [],
      faults: [],
      series: [{ name: 'web', kind: 'http', unit: 'ms', samples: [] }],
      events: [],
    };
    const j = resultJson(early);
    expect(j).toMatchObject({ ended: null, points: {}, exit_code: 15 });
    expect(kids(parseXml(junitXml(early)), 'testsuite')[0].attrs).toMatchObject({ tests: '1', failures: '1' });
    const m = markdown(early);
    expect(m).toContain('No expectation was judged.');
    expect(m).toContain('No fault was injected.');
    expect(m).toContain('Nothing was logged.');
    const p = html(early);
    expect(p).toContain('<path class="series-line" d="" data-samples="0" data-points="0"/>');
    expect(p).not.toMatch(/NaN|Infinity|undefined/);
    expect(summaryLines(early)[0]).toBe('drill checkout-latency: error (exit 15) — probe web: connection refused');
  });
  test('a day of samples at 0.5 s: rendered (no spread of them as arguments), one point each', () => {
    const n = 172_800;
    const samples = Array.from({ length: n }, (_, i) => ({ t: DRILL_T0 + i * 500, value: i % 1000, ok: true }));
    const big: DrillResult = {
      ...r,
      ended: DRILL_T0 + n * 500,
      series: [{ name: 'big', kind: 'tcp', unit: 'ms', samples }],
    };
    const p = html(big);
    const d = /<path class="series-line" d="([^"]*)"/.exec(p)![1];
    expect((d.match(/[ML]/g) ?? []).length).toBe(n);
    expect(p).toMatch(/<text class="tick tick-x"[^>]*>24 h<\/text>/);
  });
  test('numbers and durations as a person reads them', () => {
    const lines = summaryLines({ ...r, durations: { effect_ms: 850, detect_ms: 65_000, recover_ms: 3_725_000 } });
    expect(lines[1]).toBe('  time to effect 850 ms · to detect 1 min 05 s · to recover 1 h 02 min');
  });
});
