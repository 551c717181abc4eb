/**
 * A web drill on this host, real parts only: python3's http.server in a network namespace behind a veth, a drill
 * with a steady state, traffic (autocannon) and `network limit` on the service's replies (the host end's ingress,
 * through an ifb device: tbf, no netem needed) — the http probe's latency and the traffic's latency and error rate
 * show the effect, the effect point is within 2 × the interval of the inject, the recovery point is found after the
 * recover, and the link is as it was. (netem in a drill: drill-vm.test.ts.)
 *
 * @lane measuring (it measures latency and rates: alone)
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, hostSettles, hostState, lastTest, queryJson, tmpDir, waitFor } from '../helpers';

jest.setTimeout(180_000);
const dir = tmpDir('drill-web');
const www = tmpDir('drill-www');
const NS = 'cmd-drill-web';
const ip = (...a: string[]) => execFileSync('ip', a, { encoding: 'utf8' });
let server: ReturnType<typeof spawn> | undefined;
let before: string;

beforeAll(async () => {
  before = hostState();
  fs.writeFileSync(path.join(www, 'page.bin'), Buffer.alloc(128 * 1024, 7));
  ip('netns', 'add', NS);
  ip('link', 'add', 'cmdwh', 'type', 'veth', 'peer', 'name', 'cmdwb', 'netns', NS);
  ip('addr', 'add', '10.78.0.1/24', 'dev', 'cmdwh');
  ip('link', 'set', 'cmdwh', 'up');
  ip('-n', NS, 'addr', 'add', '10.78.0.2/24', 'dev', 'cmdwb');
  ip('-n', NS, 'link', 'set', 'cmdwb', 'up');
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  server = spawn(
    'ip',
    ['netns', 'exec', NS, 'python3', '-m', 'http.server', '8080', '--bind', '10.78.0.2', '--directory', www],
    {
      stdio: 'ignore',
    },
  );
  const up = await waitFor(() => {
    try {
      execFileSync('curl', ['-sf', '-o', '/dev/null', 'http://10.78.0.2:8080/page.bin']);
      return true;
    } catch {
      return false;
    }
  }, 10_000);
  if (!up) throw new Error('the web service in the namespace did not come up');
});

test('network limit on the service side: latency and traffic show it, effect within 2 intervals, recovered', () => {
  const out = tmpDir('drill-web-out');
  const file = path.join(out, 'drill.yaml');
  fs.writeFileSync(
    file,
    `name: web-limit-netns
interval: 500ms
probes:
  - name: page
    http: { url: "http://10.78.0.2:8080/page.bin", timeout: 10s, expect: { status: 200 } }
steady_state: { samples: 4, timeout: 30s, criteria: [{ probe: page, ok: true }, { probe: page, below: 200 }] }
traffic: { url: "http://10.78.0.2:8080/page.bin", rate: 10, concurrency: 4, timeout: 3s }
faults:
  lease: 10s
  lanes:
    - name: net
      steps:
        - inject: { target: network, fault: limit, args: { interface: cmdwh, direction: in, rate: 1mbit }, duration: 8s }
measure:
  effect: { criteria: [{ probe: page, above: "+400" }], within: 10s }
  recovery: { criteria: [{ probe: page, below: 200, for: 2 }], within: 30s }
`,
  );
  const r = cli(dir, ['drill', 'run', file, '--out', out, '--json'], { timeoutMs: 120_000 });
  const res = JSON.parse(r.stdout || '{}') as {
    id: string;
    status: string;
    points: Record<string, string>;
    durations: Record<string, number | null>;
    baseline: Record<string, number>;
    series: Array<{ name: string; samples: Array<[string, number | null, boolean]> }>;
  };
  // the samples of the fault's window: a probe's stamped when it asked (from the inject on: a slow answer may take
  // the whole window), the traffic's at the end of each interval (from 1.5 s in: the limit's queue filled)
  const during = (name: string, from = 1500) =>
    res.series
      .find((s) => s.name === name)!
      .samples.filter(
        ([t]) =>
          Date.parse(t) >= Date.parse(res.points.inject) + from && Date.parse(t) < Date.parse(res.points.recovered),
      )
      .map(([, v, ok]) => ({ v, ok }));
  const page = during('page', 0);
  const success = during('traffic.success');
  const p50 = during('traffic.p50');
  console.log(
    `web drill: ${r.code} ${res.status}; effect ${res.durations.effect_ms} ms, recover ${res.durations.recover_ms} ms; ` +
      `page baseline ${res.baseline.page?.toFixed(1)} ms, during ${page.map((x) => x.v?.toFixed(0)).join(' ')}; ` +
      `traffic success during ${success.map((x) => x.v).join(' ')}; p50 ${p50.map((x) => x.v).join(' ')}`,
  );
  expect([r.code, res.status, r.stderr]).toEqual([0, 'passed', '']);
  // the effect point: within 2 × the interval of the inject
  expect(res.durations.effect_ms).toBeLessThanOrEqual(1000);
  // 128 KiB at 1 Mbit/s, behind the traffic's own: hundreds of ms at least (tbf's burst lets the first part through
  // at once), against a baseline of milliseconds — the drill's own effect criterion, seen in the series too
  expect(Math.max(...page.map((x) => x.v ?? 0))).toBeGreaterThan(res.baseline.page + 400);
  // the traffic (10 pages a second: ten times what the link now carries): its requests time out (3 s)
  expect(Math.max(...p50.map((x) => x.v ?? 0))).toBeGreaterThan(1000);
  expect(Math.min(...success.map((x) => x.v ?? 100))).toBeLessThan(50);
  expect(res.durations.recover_ms).not.toBeNull();
  expect(queryJson(dir, ['--parent-uid', res.id]).experiments.map((e) => e.status)).toEqual(['destroyed']);
  expect(execFileSync('tc', ['qdisc', 'show', 'dev', 'cmdwh'], { encoding: 'utf8' })).not.toMatch(/tbf|ingress/);
  for (const f of ['result.json', 'report.html', 'report.md', 'junit.xml'])
    expect(fs.existsSync(path.join(out, f))).toBe(true);
  fs.rmSync(out, { recursive: true, force: true });
});

lastTest(
  'leaves the host as it found it',
  () => {
    cli(dir, ['recover', '--all']);
    server?.kill('SIGKILL');
    try {
      ip('netns', 'del', NS);
    } catch {
      /* not there */
    }
    fs.rmSync(www, { recursive: true, force: true });
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
