/**
 * The drill's prometheus probe against Debian's real Prometheus (started here with its own config and TSDB,
 * scraping itself and Debian's node exporter every second): a sample, no sample, a bad query and its error text,
 * an unreachable server. Also proves test/support/prometheus.ts, which the alert drills use.
 *
 * @lane quiet (reads a Prometheus on loopback; measures no CPU, rate or latency and exhausts no host-wide limit)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { type ProbeReading, samplerOf } from '../../src/drill/probes';
import { Probe } from '../../src/drill/schema';
import {
  type Started,
  freePort,
  nodeExporterUnavailable,
  prometheusUnavailable,
  startNodeExporter,
  startPrometheus,
} from '../support/prometheus';

jest.setTimeout(90_000);

const why = prometheusUnavailable() || nodeExporterUnavailable();
const maybe = why ? test.skip : test;
if (why) test('prometheus and node exporter are installed', () => console.warn(`skipped: ${why}`));

let exporter: Started | undefined;
let prom: Started | undefined;

beforeAll(async () => {
  if (why) return;
  exporter = await startNodeExporter();
  prom = await startPrometheus({
    scrapeTargets: [exporter.url],
    rules: 'groups:\n  - name: t\n    rules:\n      - record: probe_test_constant\n        expr: vector(42)\n',
  });
});

afterAll(async () => {
  const started = [prom, exporter].filter((s): s is Started => s !== undefined);
  for (const s of started) await s.stop();
  for (const s of started) {
    expect(fs.existsSync(s.dir)).toBe(false);
    expect(fs.existsSync(`/proc/${s.pid}`)).toBe(false);
  }
});

const sample = (query: string, url = prom!.url, timeout = '5s') =>
  samplerOf(Probe.parse({ name: 'q', prometheus: { url, query, timeout } })).sample();

/** Sample until ok (the first scrapes take a second or two), at most ~15 s. */
async function untilOk(query: string): Promise<ProbeReading> {
  let r: ProbeReading = { value: null, ok: false, error: 'not sampled' };
  for (let i = 0; i < 60 && !r.ok; i++) {
    r = await sample(query);
    if (!r.ok) await new Promise((res) => setTimeout(res, 250));
  }
  return r;
}

maybe('up of its own job → 1 (at once: startPrometheus waited for its targets)', async () => {
  expect(await sample('up{job="prometheus"}')).toEqual({ value: 1, ok: true });
});

maybe('the node exporter is scraped, with only its cpu, meminfo and loadavg collectors', async () => {
  expect(await sample('up{job="target-0"}')).toEqual({ value: 1, ok: true });
  expect(await untilOk('count(count by (cpu) (node_cpu_seconds_total))')).toEqual({
    value: os.cpus().length,
    ok: true,
  });
  expect((await untilOk('node_memory_MemTotal_bytes')).value).toBeGreaterThan(0);
  expect(await sample('count(node_filesystem_size_bytes)')).toEqual({ value: null, ok: false, error: 'no sample' });
});

maybe('a recording rule is evaluated; a scalar query reads its value', async () => {
  expect(await untilOk('probe_test_constant')).toEqual({ value: 42, ok: true });
  expect(await sample('scalar(vector(2.5))')).toEqual({ value: 2.5, ok: true });
  expect(await sample('vector(0) / 0')).toEqual({ value: null, ok: true }); // NaN: no number, yet a sample
});

maybe('a query with no result → ok false, no sample', async () => {
  expect(await sample('up{job="no-such-job"}')).toEqual({ value: null, ok: false, error: 'no sample' });
});

maybe("a bad query → ok false with Prometheus's error text", async () => {
  const r = await sample('up{job=');
  expect(r.ok).toBe(false);
  expect(r.value).toBeNull();
  expect(r.error).toMatch(/^bad_data: .*parse error: unexpected end of input/);
  const range = await sample('up[1m]');
  expect(range.ok).toBe(false);
  expect(range.error).toMatch(/range vector/);
});

maybe('a Prometheus that is not there → ok false at once', async () => {
  const r = await sample('up', `http://127.0.0.1:${await freePort()}`);
  expect(r).toMatchObject({ value: null, ok: false });
  expect(r.error).toMatch(/ECONNREFUSED/);
});
