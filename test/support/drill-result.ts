/**
 * A realistic drill result for the tests of what reads one (the reports, the store, the CLI): 61 s sampled every
 * second from 2026-12-07T12:00:00Z — three series (an http probe's latency with a run of failed samples and one slow
 * sample that failed its expectation, the traffic's success rate, the host's CPU), two lanes' fault windows (a cpu
 * burn and a network limit), every point in time set (an abort guard held late, so the verdict is `aborted`), the
 * durations those points give, five expectations and an event log.
 *
 * `hostile: true` puts hostile text in every string a drill file or a probe can choose (names, units, commands,
 * messages, errors, events): markup, quotes, ampersands, pipes, newlines, control characters, backticks, a URL.
 */
import type { DrillResult, Sample, Series } from '../../src/drill/types';

export const DRILL_T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const at = (s: number): number => DRILL_T0 + Math.round(s * 1000);

/** Hostile strings, each a different way to break out of HTML, XML, Markdown or a terminal. */
export const HOSTILE = {
  script: '<script>alert(1)</script>',
  quotes: `"'&`,
  attr: `" onmouseover="alert(2)" x='`,
  md: '| a | b |\n# heading `code` [link](http://evil.example/x) **bold**',
  url: 'https://evil.example/track.png',
  cdata: ']]><!-- --><![CDATA[x]]>',
  control: 'bell\u0007 esc\u001b[31mred\u001b[0m nul\u0000 lone\ud800 end',
};

export interface DrillFixtureOptions {
  /** hostile text in every free string (default false) */
  hostile?: boolean;
  /** an abort guard held at +52 s: status aborted, the abort point set (default true: every point set) */
  abort?: boolean;
}

function series(
  name: string,
  kind: Series['kind'],
  unit: string,
  value: (s: number) => number | null,
  fail?: (s: number) => string | undefined,
): Series {
  const samples: Sample[] = [];
  for (let s = 0; s <= 60; s++) {
    const v = value(s);
    const error = fail?.(s);
    samples.push({ t: at(s) + (s % 7) * 3, value: v, ok: error === undefined, ...(error ? { error } : {}) });
  }
  return { name, kind, unit, samples };
}

/** A deterministic wobble, so the charts look like measurements. */
const wobble = (s: number, k: number): number => Math.sin(s * 1.7 + k) * 0.5 + Math.sin(s * 0.37 + k * 2) * 0.5;

export function drillResult(opts: DrillFixtureOptions = {}): DrillResult {
  const hostile = opts.hostile ?? false;
  const abort = opts.abort ?? true;
  const H = (plain: string, bad: string): string => (hostile ? `${plain} ${bad}` : plain);
  const web = hostile ? `web ${HOSTILE.script}` : 'web';
  const cpuLane = hostile ? `cpu ${HOSTILE.quotes}` : 'cpu';
  const netLane = hostile ? `net ${HOSTILE.attr}` : 'net';

  // the effect: latency up from +12 s (cpu burn from +10 s, the bandwidth limit from +15 s), failures +22..+26 s
  const latency = series(
    web,
    'http',
    hostile ? `ms ${HOSTILE.quotes}` : 'ms',
    (s) =>
      s >= 22 && s <= 26
        ? null
        : s >= 12 && s < 45
          ? 180 + 60 * wobble(s, 1) + (s === 34 ? 400 : 0)
          : 42 + 6 * wobble(s, 1),
    (s) =>
      s >= 22 && s <= 26
        ? H('timeout after 5000 ms', HOSTILE.control)
        : s === 34
          ? H('status 503', HOSTILE.script)
          : undefined,
  );
  const success = series('traffic.success', 'traffic', '%', (s) =>
    s < 10 ? null : s >= 22 && s <= 26 ? 61 + 8 * wobble(s, 2) : s >= 12 && s < 45 ? 96 + 2 * wobble(s, 2) : 100,
  );
  // no traffic before the faults phase: those are simply absent values, not failures
  for (const x of success.samples) if (x.value === null) x.ok = true;
  const cpu = series(hostile ? `host-cpu ${HOSTILE.url}` : 'host-cpu', 'host', '%', (s) =>
    s >= 10 && s < 40 ? 78 + 6 * wobble(s, 3) : 11 + 3 * wobble(s, 3),
  );

  const points = {
    steady: at(5),
    inject: at(10),
    effect: at(12.1),
    detection: at(18.4),
    recovered: at(45),
    recovery: at(49.2),
    ...(abort ? { abort: at(52) } : {}),
  };
  const result: DrillResult = {
    id: 'drl-7f3k2m9q',
    name: hostile ? `checkout ${HOSTILE.script}` : 'checkout-latency',
    status: abort ? 'aborted' : 'passed',
    message: abort
      ? H('abort guard 0 held: traffic.success below 50 held for 1 sample at 12:00:52', HOSTILE.md)
      : H('every expectation held', HOSTILE.md),
    started: DRILL_T0,
    ended: at(61),
    phase: 'done',
    points,
    durations: {
      effect_ms: points.effect - points.inject,
      detect_ms: points.detection - points.inject,
      recover_ms: points.recovery - points.recovered,
    },
    baseline: { [web]: 42.4, 'traffic.success': null, [cpu.name]: 11.2 },
    expectations: [
      {
        name: 'steady-state',
        passed: true,
        message: H(`${web} below 200 held for 3 samples`, HOSTILE.quotes),
        at: points.steady,
      },
      {
        name: 'effect',
        passed: true,
        message: H(`${web} above +100 held at 12:00:12 (2.1 s after the inject)`, HOSTILE.script),
        at: points.effect,
      },
      {
        name: 'detection',
        passed: true,
        message: H('alert HighCPU firing at 12:00:18 (8.4 s after the inject)', HOSTILE.cdata),
        at: points.detection,
      },
      {
        name: 'recovery',
        passed: true,
        message: H(`${web} within 20% of 42.4 ms held for 3 samples`, HOSTILE.md),
        at: points.recovery,
      },
      ...(abort
        ? [
            {
              name: hostile ? `abort:0 ${HOSTILE.attr}` : 'abort:0',
              passed: false,
              message: H('traffic.success below 50 held: every fault recovered at once', HOSTILE.control),
              at: points.abort,
            },
          ]
        : []),
    ],
    faults: [
      {
        lane: cpuLane,
        step: 0,
        uid: 'drl-7f3k2m9q-cpu-0',
        target: 'cpu',
        fault: 'burn',
        where: 'host',
        command: hostile
          ? `chaosmetad inject cpu burn --percent 80 --key '${HOSTILE.script} | x' --timeout 30s`
          : 'chaosmetad inject cpu burn --percent 80 --timeout 30s',
        start: at(10),
        end: at(40),
        state: 'recovered',
      },
      {
        lane: netLane,
        step: 0,
        uid: 'drl-7f3k2m9q-net-0',
        target: 'network',
        fault: hostile ? `limit ${HOSTILE.cdata}` : 'limit',
        where: 'host',
        command: hostile
          ? 'chaosmetad inject network limit --interface veth-web --rate 1mbit ``x`` ` | $(id)'
          : 'chaosmetad inject network limit --interface veth-web --rate 1mbit --timeout 30s',
        start: at(15),
        end: at(45),
        state: 'recovered',
        ...(hostile ? { message: HOSTILE.md } : {}),
      },
      {
        lane: netLane,
        step: 2,
        uid: 'drl-7f3k2m9q-net-2',
        target: 'network',
        fault: 'loss',
        where: 'host',
        command: 'chaosmetad inject network loss --interface veth-web --percent 5',
        state: 'failed',
        message: H('inject refused: sch_netem is not available', HOSTILE.script),
      },
    ],
    series: [latency, success, cpu],
    events: [
      [0, 'drill checkout-latency started: 3 probes every 1 s'],
      [5, H('steady state: 3 samples held; baseline web 42.4 ms, host-cpu 11.2 %', HOSTILE.url)],
      [10, `lane ${cpuLane} step 0: injected cpu burn (drl-7f3k2m9q-cpu-0)`],
      [10, 'traffic started: 50 req/s to http://10.200.0.2:8080/'],
      [12.1, 'effect: web above +100 held'],
      [15, `lane ${netLane} step 0: injected network limit (drl-7f3k2m9q-net-0)`],
      [18.4, H('detection: alert HighCPU firing', HOSTILE.control)],
      [22, H(`${web} failed: timeout after 5000 ms`, HOSTILE.md)],
      [40, `lane ${cpuLane} step 0: recovered`],
      [45, `lane ${netLane} step 0: recovered`],
      [45, `lane ${netLane} step 2: inject refused: sch_netem is not available`],
      [49.2, 'recovery: web within 20% of its baseline for 3 samples'],
      ...(abort
        ? ([[52, H('abort guard 0 held: traffic.success below 50', HOSTILE.cdata)]] as Array<[number, string]>)
        : []),
      [61, abort ? 'drill aborted' : 'drill passed'],
    ].map(([s, text]) => ({ t: at(s as number), text: text as string })),
    runner: { host: hostile ? `node-1 ${HOSTILE.quotes}` : 'node-1', pid: 4242 },
  };
  return result;
}
