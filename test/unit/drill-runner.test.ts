/**
 * The drill format and the runner's arithmetic, in-process: bounds and criteria, line and column of every problem,
 * the JSON Schema; a runner with a recording fault port (the real ports are the integration tests') and command
 * probes that read values the test writes — so the effect, detection and recovery points and each verdict and exit
 * status can be checked to the sample.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Watch, holds } from '../../src/drill/criteria';
import { drillJsonSchema, parseDrill } from '../../src/drill/file';
import type { FaultPort, PlacedFault } from '../../src/drill/ports';
import { DrillRun } from '../../src/drill/runner';
import { type Drill, parseBound } from '../../src/drill/schema';
import { Store } from '../../src/store/store';

jest.setTimeout(60_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'drill-unit-'));
fs.chmodSync(tmp, 0o700);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('bounds: absolute, relative to the baseline, percent of it', () => {
  expect(parseBound(200)).toEqual({ kind: 'absolute', value: 200 });
  expect(parseBound('+100')).toEqual({ kind: 'relative', value: 100 });
  expect(parseBound('-5.5')).toEqual({ kind: 'relative', value: -5.5 });
  expect(parseBound('150%')).toEqual({ kind: 'percent', value: 150 });
  expect(parseBound('+5%')).toBeUndefined();
  expect(parseBound('fast')).toBeUndefined();
});

test('criteria: a failed sample holds above and no below or within', () => {
  const c = (o: Record<string, unknown>) => ({ probe: 'p', for: 1, ...o }) as never;
  const s = (value: number | null, ok = true) => ({ t: 0, value, ok });
  expect(holds(c({ above: parseBound('+100') }), s(250), 100)).toBe(true);
  expect(holds(c({ above: parseBound('+100') }), s(150), 100)).toBe(false);
  expect(holds(c({ above: parseBound('150%') }), s(151), 100)).toBe(true);
  expect(holds(c({ above: parseBound(10) }), s(null, false), 100)).toBe(true);
  expect(holds(c({ below: parseBound(10) }), s(null, false), 100)).toBe(false);
  expect(holds(c({ within: parseBound('10%') }), s(109), 100)).toBe(true);
  expect(holds(c({ within: parseBound('10%') }), s(111), 100)).toBe(false);
  expect(holds(c({ within: parseBound(5) }), s(96), 100)).toBe(true);
  expect(holds(c({ ok: false }), s(1, false), 100)).toBe(true);
  // relative without a baseline cannot hold
  expect(holds(c({ above: parseBound('+1') }), s(1000), null)).toBe(false);
  const w = new Watch(c({ above: parseBound(5), for: 3 }), () => null);
  expect([6, 7, 1, 6, 6, 6].map((v, i) => w.push({ t: i, value: v, ok: true }))).toEqual([
    false,
    false,
    false,
    false,
    false,
    true,
  ]);
  expect(w.heldAt).toBe(5);
});

test('every problem has its line, column and path; references are checked', () => {
  const r = parseDrill(`name: x
probes:
  - name: a
    http: { url: ftp://x }
  - name: a
    tcp: { host: h, port: 1 }
faults:
  lanes:
    - name: l
      steps: [{ wait: 1s }]
measure:
  effect: { criteria: [{ probe: nope, above: 1 }] }
`);
  expect('problems' in r).toBe(true);
  if (!('problems' in r)) return;
  expect(r.problems[0]).toMatchObject({ line: 4, path: 'probes[0].http.url' });
  const dup = parseDrill(`name: x
probes:
  - { name: a, tcp: { host: h, port: 1 } }
  - { name: a, tcp: { host: h, port: 2 } }
faults: { lanes: [{ name: l, steps: [{ wait: 1s }] }] }
abort: [{ probe: nope, ok: false }]
`);
  expect('problems' in dup && dup.problems.map((p) => `${p.line}:${p.path}: ${p.message}`)).toEqual([
    '4:probes[1].name: probe a is declared twice',
    '6:abort[0].probe: no probe named nope (probes: a)',
  ]);
  const yamlError = parseDrill('name: [x\n');
  expect('problems' in yamlError && yamlError.problems[0].line).toBeGreaterThan(0);
});

test("each problem says the field's accepted form, from the one declaration", () => {
  const r = parseDrill(`name: x
probes:
  - { name: a, tcp: { host: h, prot: 1 } }
  - { name: b, http: { url: "http://x", method: GETX } }
  - { name: c, command: { argv: ls } }
faults: { lanes: [{ name: l, steps: [{ wait: 1s }] }] }
`);
  expect('problems' in r && r.problems.map((p) => `${p.line}:${p.path}: ${p.message}`)).toEqual([
    '3:probes[0].tcp.port: is required: an integer in 1..65535',
    '3:probes[0].tcp: unknown field prot; accepted: host, port, timeout',
    '4:probes[1].http.method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "GETX"',
    '5:probes[2].command.argv: must be a list of string — the command and its arguments (run without a shell, as root), got "ls"',
  ]);
});

test('the JSON Schema comes from the same declaration, and docs/drills.md names every field of it', () => {
  const keys = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (o.properties && typeof o.properties === 'object') for (const k of Object.keys(o.properties)) keys.add(k);
    Object.values(o).forEach(walk);
  };
  walk(drillJsonSchema());
  for (const k of ['steady_state', 'traffic', 'lanes', 'abort', 'prometheus', 'within']) expect(keys).toContain(k);
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'drills.md'), 'utf8');
  expect([...keys].filter((k) => !new RegExp(`\\b${k.replace('.', '\\.')}\\b`).test(doc))).toEqual([]);
});

/** A fault port that records what it was asked and when. */
function recordingPort(log: string[]): FaultPort {
  return {
    plan: async (_s, uid) => [`plan ${uid}`],
    inject: async (s, uid): Promise<PlacedFault> => {
      log.push(`inject ${uid} ${s.target} ${s.fault}`);
      return {
        uid,
        where: 'test',
        command: `inject ${uid}`,
        renew: async () => {
          log.push(`renew ${uid}`);
        },
        recover: async () => {
          log.push(`recover ${uid}`);
        },
      };
    },
  };
}

/** A value file the command probe reads each sample. */
function valueFile(name: string, v: number): { file: string; set: (v: number) => void } {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, String(v));
  return { file, set: (x: number) => fs.writeFileSync(file, String(x)) };
}

function drill(text: string): Drill {
  const r = parseDrill(text);
  if ('problems' in r) throw new Error(JSON.stringify(r.problems));
  return r.drill;
}

test('the runner finds the effect, detection and recovery points and passes', async () => {
  const latency = valueFile('latency', 10);
  const alert = valueFile('alert', 0);
  const d = drill(`name: points
interval: 100ms
probes:
  - { name: lat, command: { argv: [cat, ${latency.file}], value: stdout } }
  - { name: alarm, command: { argv: [cat, ${alert.file}], value: stdout } }
steady_state: { samples: 3, criteria: [{ probe: lat, below: 50 }] }
faults:
  lease: 3s
  lanes:
    - name: a
      steps:
        - inject: { target: cpu, fault: burn, args: { percent: 10 }, duration: 1500ms }
measure:
  effect: { criteria: [{ probe: lat, above: "+100", for: 2 }], within: 5s }
  detection: { criterion: { probe: alarm, above: 0 }, within: 5s }
  recovery: { criteria: [{ probe: lat, within: "50%", for: 2 }], within: 5s }
`);
  const log: string[] = [];
  const store = new Store(tmp);
  const run = new DrillRun(d, { store, host: recordingPort(log), kube: recordingPort(log) });
  // the service reacts 300 ms after the inject, the alert 600 ms after; back 300 ms after the recover
  const driver = (async () => {
    while (!log.some((l) => l.startsWith('inject'))) await new Promise((r) => setTimeout(r, 20));
    setTimeout(() => latency.set(500), 300);
    setTimeout(() => alert.set(1), 600);
    while (!log.some((l) => l.startsWith('recover'))) await new Promise((r) => setTimeout(r, 20));
    setTimeout(() => latency.set(12), 300);
  })();
  const r = await run.run();
  await driver;
  store.close();
  expect(r.status).toBe('passed');
  expect(r.baseline.lat).toBe(10);
  expect(log[0]).toBe(`inject ${r.id}-1-1 cpu burn`);
  expect(log.filter((l) => l.startsWith('recover'))).toEqual([`recover ${r.id}-1-1`]);
  const p = r.points;
  // effect: two samples above 110 after the change at +300 ms: within 300 + 2 intervals (+ a command's run)
  expect(r.durations.effect_ms).toBeGreaterThanOrEqual(300);
  expect(r.durations.effect_ms).toBeLessThan(300 + 2 * 100 + 250);
  expect(r.durations.detect_ms).toBeGreaterThanOrEqual(600);
  expect(r.durations.detect_ms).toBeLessThan(600 + 100 + 250);
  expect(r.durations.recover_ms).toBeGreaterThanOrEqual(300);
  expect(r.durations.recover_ms).toBeLessThan(300 + 2 * 100 + 250);
  expect(p.recovered! - p.inject!).toBeGreaterThanOrEqual(1500);
  expect(r.expectations.map((e) => [e.name, e.passed])).toEqual([
    ['steady-state', true],
    ['effect', true],
    ['detection', true],
    ['recovery', true],
  ]);
  expect(r.series.find((s) => s.name === 'lat')!.samples.length).toBeGreaterThan(15);
});

test('verdicts: no effect, not detected, not recovered are told apart', async () => {
  const v = valueFile('flat', 10);
  const base = (measure: string) =>
    drill(`name: verdict
interval: 100ms
probes:
  - { name: lat, command: { argv: [cat, ${v.file}], value: stdout } }
steady_state: { samples: 2 }
faults:
  lanes: [{ name: a, steps: [{ inject: { target: cpu, fault: burn, args: { percent: 10 }, duration: 300ms } }] }]
measure:
${measure}
`);
  const store = new Store(tmp);
  const run = (d: Drill) => new DrillRun(d, { store, host: recordingPort([]), kube: recordingPort([]) }).run();
  expect((await run(base('  effect: { criteria: [{ probe: lat, above: "+100" }], within: 1s }'))).status).toBe(
    'no-effect',
  );
  expect((await run(base('  detection: { criterion: { probe: lat, above: 1000 }, within: 1s }'))).status).toBe(
    'not-detected',
  );
  expect((await run(base('  recovery: { criteria: [{ probe: lat, below: 5 }], within: 1s }'))).status).toBe(
    'not-recovered',
  );
  const ok = await run(base('  recovery: { criteria: [{ probe: lat, within: 1 }], within: 1s }'));
  expect(ok.status).toBe('passed');
  store.close();
});

test('an inject that fails ends the drill as error; what was placed is recovered', async () => {
  const log: string[] = [];
  const failing: FaultPort = {
    ...recordingPort(log),
    inject: async () => {
      throw new Error('no such thing');
    },
  };
  const d = drill(`name: err
interval: 100ms
faults:
  lanes:
    - { name: a, steps: [{ inject: { target: cpu, fault: burn, args: { percent: 10 }, duration: 5s } }] }
    - { name: b, steps: [{ wait: 200ms }, { inject: { target: mem, fault: fill, args: { percent: 10 }, duration: 5s } }] }
`);
  const store = new Store(tmp);
  const ports = { host: failing, kube: failing };
  let r = await new DrillRun(d, { store, ...ports }).run();
  expect(r.status).toBe('error');
  expect(r.message).toContain('no such thing');
  // lane b placed its fault before a failed? a failed first: b never injects
  const mixed: FaultPort = {
    ...recordingPort(log),
    inject: async (s, uid) => {
      if (s.target === 'mem') throw new Error('mem refused');
      return recordingPort(log).inject(s, uid, { parentUid: '', timeoutMs: 0, leaseMs: 0 });
    },
  };
  r = await new DrillRun(d, { store, host: mixed, kube: mixed }).run();
  expect(r.status).toBe('error');
  expect(log).toContain(`recover ${r.id}-1-1`);
  store.close();
});

test('an effect seen after its window does not count: no-effect (within is kept)', async () => {
  const v = valueFile('late', 10);
  const d = drill(`name: late
interval: 100ms
probes:
  - { name: lat, command: { argv: [cat, ${v.file}], value: stdout } }
steady_state: { samples: 2 }
faults:
  lanes: [{ name: a, steps: [{ inject: { target: cpu, fault: burn, args: { percent: 10 }, duration: 1500ms } }] }]
measure:
  effect: { criteria: [{ probe: lat, above: "+100" }], within: 500ms }
`);
  const log: string[] = [];
  const store = new Store(tmp);
  const driver = (async () => {
    while (!log.some((l) => l.startsWith('inject'))) await new Promise((r) => setTimeout(r, 20));
    setTimeout(() => v.set(500), 900); // after the 500 ms window
  })();
  const r = await new DrillRun(d, { store, host: recordingPort(log), kube: recordingPort(log) }).run();
  await driver;
  store.close();
  expect(r.status).toBe('no-effect');
  expect(r.points.effect).toBeUndefined();
});

test('a fault the runner could not take back outranks an abort: error, not aborted', async () => {
  const flag = valueFile('guard', 0);
  const d = drill(`name: stuck
interval: 100ms
probes:
  - { name: g, command: { argv: [cat, ${flag.file}], value: stdout } }
steady_state: { samples: 2 }
faults:
  lanes: [{ name: a, steps: [{ inject: { target: cpu, fault: burn, args: { percent: 10 }, duration: 30s } }] }]
abort: [{ probe: g, above: 0 }]
`);
  const log: string[] = [];
  const stuck: FaultPort = {
    ...recordingPort(log),
    inject: async (s, uid, o) => ({
      ...(await recordingPort(log).inject(s, uid, o)),
      recover: async () => {
        throw new Error('tc says no');
      },
    }),
  };
  const store = new Store(tmp);
  setTimeout(() => flag.set(1), 800);
  const r = await new DrillRun(d, { store, host: stuck, kube: stuck }).run();
  store.close();
  expect(r.points.abort).toBeDefined();
  expect(r.status).toBe('error');
  expect(r.message).toMatch(/faults not recovered by the runner: .*-1-1 \(after: aborted: abort guard 1 held/);
});

test('a lease shorter than 3 s is refused (renewed every third of it)', () => {
  const r = parseDrill(`name: x
faults: { lease: 1s, lanes: [{ name: l, steps: [{ wait: 1s }] }] }
`);
  expect('problems' in r && r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
    'faults.lease: must be at least 3s (the runner renews it every third)',
  ]);
});
