/**
 * The Prometheus alert drill of issue 23, as the example is written: Debian's real Prometheus (started here with
 * examples/drills/prometheus/prometheus.yml and its rules.yml unchanged, its own TSDB directory, on the example's
 * port 19090) scraping Debian's node exporter (port 19100); `chaosmetad drill run examples/drills/cpu-alert.yaml`
 * burns every core. Passed, exit 0; the effect point (the prometheus probe above "+30" of its baseline) after the
 * inject; the detection point against the alert's real firing time read from Prometheus itself; the time to recover
 * measured; everything recovered and stopped afterwards. The three durations are printed. Run once more when the
 * host's other work (not this lane's) held off the steady state or the recovery (runDrill).
 *
 * @lane measuring (burns every core and reads the host's CPU through Prometheus: runs alone)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BIN, ROOT, cli, queryJson, taggedPids, tmpDir } from '../helpers';
import {
  type Started,
  freePort,
  nodeExporterUnavailable,
  prometheusUnavailable,
  startNodeExporter,
  startPrometheus,
} from '../support/prometheus';

// the example waits up to 120 s for its steady state, burns 20 s, waits up to 120 s for the recovery: twice at most
jest.setTimeout(700_000);

const EXAMPLE = path.join(ROOT, 'examples', 'drills', 'cpu-alert.yaml');
const PROM_CONFIG = path.join(ROOT, 'examples', 'drills', 'prometheus', 'prometheus.yml');
const PROM_PORT = 19090;
const EXPORTER_PORT = 19100;
/** the example's rule: HostCpuBusy `for: 5s`, evaluated every 1 s; the drill samples every 1 s */
const FOR_MS = 5000;
const EVAL_MS = 1000;
const PROBE_MS = 1000;

/** Whether a loopback port can be bound now (nothing else, e.g. another Prometheus, answers there). */
async function portFree(port: number): Promise<boolean> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const why = prometheusUnavailable() || nodeExporterUnavailable();
const maybe = why ? test.skip : test;
if (why) test('prometheus and node exporter are installed', () => console.warn(`skipped: ${why}`));

const data = tmpDir('drill-alert');
const out = tmpDir('drill-alert-out');
/** the example files, or a copy on other ports when 19090/19100 are taken */
let drillFile = EXAMPLE;
let promConfig = PROM_CONFIG;
let copyDir: string | undefined;
let exporter: Started | undefined;
let prom: Started | undefined;

beforeAll(async () => {
  if (why) return;
  let promPort = PROM_PORT;
  let exporterPort = EXPORTER_PORT;
  if (!(await portFree(PROM_PORT)) || !(await portFree(EXPORTER_PORT))) {
    // taken: the same files on two other ports (the only change)
    [promPort, exporterPort] = [await freePort(), await freePort()];
    copyDir = tmpDir('drill-alert-example');
    const sub = (text: string) =>
      text
        .replaceAll(`127.0.0.1:${PROM_PORT}`, `127.0.0.1:${promPort}`)
        .replaceAll(`127.0.0.1:${EXPORTER_PORT}`, `127.0.0.1:${exporterPort}`);
    fs.mkdirSync(path.join(copyDir, 'prometheus'));
    for (const f of ['prometheus.yml', 'rules.yml'])
      fs.writeFileSync(
        path.join(copyDir, 'prometheus', f),
        sub(fs.readFileSync(path.join(path.dirname(PROM_CONFIG), f), 'utf8')),
      );
    fs.writeFileSync(path.join(copyDir, 'cpu-alert.yaml'), sub(fs.readFileSync(EXAMPLE, 'utf8')));
    drillFile = path.join(copyDir, 'cpu-alert.yaml');
    promConfig = path.join(copyDir, 'prometheus', 'prometheus.yml');
    console.warn(`ports ${PROM_PORT}/${EXPORTER_PORT} taken: the example runs on ${promPort}/${exporterPort}`);
  }
  exporter = await startNodeExporter({ port: exporterPort });
  prom = await startPrometheus({ configFile: promConfig, port: promPort });
});

afterAll(async () => {
  if (!why) cli(data, ['recover', '--all']);
  const started = [prom, exporter].filter((s): s is Started => s !== undefined);
  for (const s of started) await s.stop();
  for (const s of started) {
    expect(fs.existsSync(s.dir)).toBe(false);
    expect(fs.existsSync(`/proc/${s.pid}`)).toBe(false);
  }
  for (const d of [data, out, copyDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  for (const d of [data, out, copyDir]) if (d) expect(fs.existsSync(d)).toBe(false);
});

/** `chaosmetad drill run FILE --out DIR`, without blocking the event loop. */
function drillRun(file: string, dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'drill', 'run', file, '--out', dir], {
      cwd: ROOT,
      env: { ...process.env, CHAOSMETAD_DATA_DIR: data },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), 330_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Matrix {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}
/** A range selector's raw samples, read from Prometheus now. */
async function rawSamples(query: string): Promise<Matrix[]> {
  const r = await fetch(`${prom!.url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const j = (await r.json()) as { status: string; data: { resultType: string; result: Matrix[] } };
  expect(j.status).toBe('success');
  expect(j.data.resultType).toBe('matrix');
  return j.data.result;
}

interface ResultJson {
  id: string;
  status: string;
  exit_code: number;
  message: string;
  points: Record<string, string>;
  durations: Record<string, number | null>;
  baseline: Record<string, number | null>;
  faults: Array<{ uid: string; state: string; start: string | null; end: string | null }>;
  series: Array<{ name: string; samples: Array<[string, number | null, boolean]> }>;
  expectations: Array<{ name: string; passed: boolean; message: string }>;
}

/**
 * Run the drill; once more when it ended not-steady or not-recovered with its fault recovered: the host's CPU is
 * shared with other work (other sessions' builds and unit tests run beside the measuring lane), which can keep it
 * above 40 % for minutes — that verdict is about the host, not the runner. Any other verdict is final.
 */
async function runDrill(): Promise<{ run: Awaited<ReturnType<typeof drillRun>>; res: ResultJson }> {
  for (let attempt = 1; ; attempt++) {
    fs.rmSync(out, { recursive: true, force: true });
    const run = await drillRun(drillFile, out);
    const res = JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')) as ResultJson;
    const hostBusy =
      ['not-steady', 'not-recovered'].includes(res.status) && res.faults.every((f) => f.state === 'recovered');
    if (attempt >= 2 || !hostBusy) return { run, res };
    const cpu = res.series.find((s) => s.name === 'cpu')?.samples ?? [];
    console.warn(
      `attempt ${attempt}: ${res.status} (${res.message}): other work kept the host busy; the cpu probe's last ` +
        `samples: ${cpu
          .slice(-15)
          .map(([, v]) => (v === null ? '-' : v.toFixed(0)))
          .join(' ')} %. Once more.`,
    );
  }
}

maybe('cpu-alert.yaml: passed, effect after the inject, detected at the alert firing, recovered', async () => {
  const { run, res } = await runDrill();
  const ms = (iso: string) => Date.parse(iso);
  const p = res.points;
  const d = res.durations;
  console.log(
    `cpu-alert drill ${res.status}: time to effect ${d.effect_s} s, time to detect ${d.detect_s} s, ` +
      `time to recover ${d.recover_s} s (baseline cpu ${res.baseline.cpu?.toFixed(1)} %)`,
  );
  if (res.status !== 'passed') console.log(run.stdout, run.stderr, JSON.stringify(res.expectations, null, 2));
  expect(res.status).toBe('passed');
  expect(res.exit_code).toBe(0);
  expect(run.code).toBe(0);
  for (const f of ['result.json', 'report.html', 'report.md', 'junit.xml'])
    expect(fs.existsSync(path.join(out, f))).toBe(true);

  // the effect: the cpu probe above its baseline + 30 for 2 samples, after the inject
  const base = res.baseline.cpu!;
  expect(base).toBeLessThan(40); // the steady state held
  expect(ms(p.effect)).toBeGreaterThan(ms(p.inject));
  expect(d.effect_ms).toBe(ms(p.effect) - ms(p.inject));
  const cpu = res.series.find((s) => s.name === 'cpu')!;
  const at = cpu.samples.findIndex(([t]) => t === p.effect);
  expect(at).toBeGreaterThan(0);
  for (const [t, v] of cpu.samples.slice(at - 1, at + 1)) {
    expect(ms(t)).toBeGreaterThan(ms(p.inject));
    expect(v).toBeGreaterThan(base + 30);
  }

  // the detection against Prometheus itself: ALERTS{alertstate="firing"} has its first raw sample at the evaluation
  // that made the alert fire; ALERTS_FOR_STATE at that evaluation holds activeAt (when the rule's expression first
  // held: pending), in whole seconds (Prometheus writes ActiveAt.Unix(): truncated, up to 1 s early)
  const detected = ms(p.detection);
  const [firing] = await rawSamples('ALERTS{alertname="HostCpuBusy",alertstate="firing"}[15m]');
  const [forState] = await rawSamples('ALERTS_FOR_STATE{alertname="HostCpuBusy"}[15m]');
  const firedAt = 1000 * firing.values.map(([t]) => t).find((t) => t * 1000 > ms(p.inject))!;
  const activeAt = 1000 * Number(forState.values.find(([t]) => t * 1000 === firedAt)![1]);
  const lastFiring = 1000 * firing.values[firing.values.length - 1][0];
  const due = activeAt + FOR_MS;
  const rel = (t: number) => `+${((t - ms(p.inject)) / 1000).toFixed(3)} s`;
  console.log(
    `HostCpuBusy (from Prometheus): pending at ${rel(activeAt)}, due (activeAt + for) at ${rel(due)}, fired ` +
      `(first firing sample) at ${rel(firedAt)}, last firing sample at ${rel(lastFiring)}; the burn recovered at ` +
      `${rel(ms(p.recovered))}. The drill: detected at ${rel(detected)} (${detected - firedAt} ms after it fired, ` +
      `${detected - due} ms after due), recovery point at ${rel(ms(p.recovery))}`,
  );
  expect(activeAt).toBeGreaterThan(ms(p.inject));
  // it fires at the first evaluation at or after activeAt + for: the true activeAt + for is itself an evaluation (they
  // are 1 s apart), the truncated one up to 1 s before it: within one evaluation interval of `due`
  expect(firedAt).toBeGreaterThanOrEqual(due);
  expect(firedAt).toBeLessThanOrEqual(due + EVAL_MS);
  // the drill cannot see it before that evaluation wrote it (same clock; an evaluation's timestamp is never after
  // its run); it sees it at its next sample of ALERTS, at most one probe interval later (+ the query's time)
  expect(detected).toBeGreaterThanOrEqual(firedAt);
  expect(detected - firedAt).toBeLessThanOrEqual(PROBE_MS + 250);
  // so against the rule's own due time: within one evaluation interval plus one probe interval
  expect(Math.abs(detected - due)).toBeLessThanOrEqual(EVAL_MS + PROBE_MS + 250);
  expect(d.detect_ms).toBe(detected - ms(p.inject));

  // recovery: measured from the last fault's recover, at the third sample in a row below 40 (the alert's own
  // condition over); the alert fired until the burn was recovered
  expect(ms(p.recovered)).toBeGreaterThan(ms(p.inject));
  expect(ms(p.recovery)).toBeGreaterThanOrEqual(ms(p.recovered));
  expect(d.recover_ms).toBe(ms(p.recovery) - ms(p.recovered));
  expect(d.recover_ms!).toBeGreaterThan(0);
  const back = cpu.samples.findIndex(([t]) => t === p.recovery);
  expect(back).toBeGreaterThanOrEqual(2);
  for (const [t, v] of cpu.samples.slice(back - 2, back + 1)) {
    expect(ms(t)).toBeGreaterThanOrEqual(ms(p.recovered));
    expect(v).toBeLessThan(40);
  }
  expect(lastFiring).toBeGreaterThan(ms(p.recovered) - 1000);

  // everything recovered: the fault, its helper, its experiment
  expect(res.faults).toHaveLength(1);
  expect(res.faults[0].state).toBe('recovered');
  expect(taggedPids(res.faults[0].uid)).toEqual([]);
  expect(queryJson(data, ['--parent-uid', res.id]).experiments.map((e) => e.status)).toEqual(['destroyed']);
});
