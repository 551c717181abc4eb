/**
 * A Kubernetes drill end to end (issue 23's proof): examples/drills/kube-pods.yaml, pointed at the stand-in cluster
 * of the kube suites (test/support/kube-stand-in.ts: the real kubectl, the one stand-in API server, app pods and
 * agent pods that are real docker containers, the agents running the single executable), run by `chaosmetad drill
 * run FILE --out DIR`: a cpu burn in 2 of the 3 web pods through the agents, the `kube` probe counting their Ready
 * pods through kubectl, and an http probe asking the service (busybox httpd in each pod, behind a round-robin
 * stand-in of the Service). The burn is measured from the pods' side (their cgroup's CPU); the parts are read back
 * with `chaosmetad kube query`; the runner killed with -9 in the kube step leaves the agents to recover every part
 * when its lease runs out, or `drill abort` recovers them through the agents at once.
 *
 * @lane quiet (the pods burn 0.2 CPU each inside their own 0.25-CPU quota, which is what is measured: their share
 * has room beside the VM's core; the probes' latencies are recorded, not judged)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT, SEA, hostSettles, lastTest, sleep, taggedPids, tmpDir, waitFor } from '../helpers';
import { dockerUnavailable, inspect } from '../containers';
import { kubectlMissing } from '../kube-apiserver';
import { KubeStandIn, cpuacct, spawnCli } from '../support/kube-stand-in';

jest.setTimeout(240_000);
const why = dockerUnavailable() || kubectlMissing() || (fs.existsSync(SEA) ? '' : 'dist/chaosmetad is not built');
const d = why ? describe.skip : describe;
if (why) test.skip(`drill-kube — skipped: ${why}`, () => {});

const tmp = tmpDir('drill-kube');
const cluster = new KubeStandIn(tmp);
const runnerData = path.join(tmp, 'runner'); // the drill runner's own data dir (this "workstation")
const WEB = ['web-1', 'web-2', 'web-3'];
/** each web pod may use a quarter of a CPU (its CFS quota): the burn's 80 % of it is 0.2 CPU */
const POD_CPUS = 0.25;

/** The Service's stand-in: a TCP round-robin over the pods' httpd (web.shop.svc has no DNS name here). */
let service: net.Server | undefined;
async function startService(ips: string[]): Promise<number> {
  let next = 0;
  service = net.createServer((client) => {
    const up = net.connect(80, ips[next++ % ips.length]);
    client.pipe(up).pipe(client);
    const close = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', close);
    up.on('error', close);
  });
  await new Promise<void>((r) => service!.listen(0, '127.0.0.1', r));
  return (service.address() as net.AddressInfo).port;
}

interface Example {
  name: string;
  probes: Array<{ name: string; kube?: Record<string, unknown>; http?: Record<string, unknown> }>;
  faults: {
    lease: string;
    lanes: Array<{
      name: string;
      steps: Array<{ inject: Record<string, unknown> & { kube: Record<string, unknown> } }>;
    }>;
  };
}

const EXAMPLE = path.join(ROOT, 'examples', 'drills', 'kube-pods.yaml');

/**
 * The example drill, structure kept, aimed at the stand-in: its kubeconfig in the kube probe and the step, the
 * Service's URL (same path), the step's duration and the lease as given. Returns the file written.
 */
function drillFile(name: string, o: { serviceUrl: string; duration: string; lease: string }): string {
  const x = parse(fs.readFileSync(EXAMPLE, 'utf8')) as Example;
  const ready = x.probes.find((p) => p.kube)!;
  const health = x.probes.find((p) => p.http)!;
  const step = x.faults.lanes[0].steps[0].inject;
  // what the example says is what the stand-in serves: namespace, selector, 2 pods burnt
  expect([ready.kube, step.target, step.fault, step.kube]).toEqual([
    { namespace: 'shop', selector: 'app=web' },
    'cpu',
    'burn',
    { namespace: 'shop', selector: 'app=web', count: 2 },
  ]);
  ready.kube!.kubeconfig = cluster.kubeconfig;
  health.http!.url = `${o.serviceUrl}${new URL(String(health.http!.url)).pathname}`;
  step.kube.kubeconfig = cluster.kubeconfig;
  step.duration = o.duration;
  x.faults.lease = o.lease;
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, stringify(x));
  return file;
}

/** `chaosmetad drill run …` as a child of its own process group (so a kill -9 takes its kubectl children too). */
function drillRun(args: string[]) {
  const p = spawn(process.execPath, [path.join(ROOT, 'bin', 'chaosmetad'), 'drill', 'run', ...args, '--plain'], {
    env: { ...process.env, CHAOSMETAD_DATA_DIR: runnerData },
    detached: true,
  });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => p.on('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
  const id = async () => {
    expect(await waitFor(() => /drill \S+: d-[a-z0-9]{8}/.test(out), 30_000)).toBe(true);
    return /drill \S+: (d-[a-z0-9]{8})/.exec(out)![1];
  };
  return { p, out: () => out, exited, id };
}

/** A pod's cgroup CPU over ms: % of one CPU, and % of its quota. */
async function podCpu(pods: string[], ms: number): Promise<Record<string, number>> {
  const files = Object.fromEntries(pods.map((p) => [p, cpuacct(inspect(cluster.pods[p]).State.Pid as number)]));
  const read = () => Object.fromEntries(pods.map((p) => [p, Number(fs.readFileSync(files[p], 'utf8'))]));
  const u0 = read();
  const t0 = Date.now();
  await sleep(ms);
  const u1 = read();
  const s = (Date.now() - t0) / 1000;
  return Object.fromEntries(pods.map((p) => [p, (100 * (u1[p] - u0[p])) / 1e9 / s]));
}

const podOf = (containerId: string) => Object.keys(cluster.pods).find((p) => cluster.pods[p] === containerId)!;

d('a Kubernetes drill through the agents', () => {
  let url = '';

  beforeAll(async () => {
    await cluster.start({ nodes: ['node-a', 'node-b'], agents: ['node-a', 'node-b'] });
    fs.mkdirSync(runnerData, { mode: 0o700 });
    for (const [name, node] of [
      ['web-1', 'node-a'],
      ['web-2', 'node-b'],
      ['web-3', 'node-a'],
    ])
      cluster.addPod({
        namespace: 'shop',
        name,
        node,
        labels: { app: 'web' },
        docker: ['--cpus', String(POD_CPUS)],
        // busybox's httpd serving /healthz
        cmd: ['sh', '-c', 'echo ok >/tmp/healthz && exec /bin/busybox httpd -f -p 80 -h /tmp'],
      });
    const port = await startService(WEB.map((p) => inspect(cluster.pods[p]).NetworkSettings.IPAddress as string));
    url = `http://127.0.0.1:${port}`;
    // each pod's httpd answers through the Service (round robin: three requests, one per pod)
    const healthy = async () => {
      try {
        const r = await fetch(`${url}/healthz`);
        return r.status === 200 && (await r.text()).trim() === 'ok';
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 30 && !(await healthy()); i++) await sleep(200);
    for (let i = 0; i < 3; i++) expect(await healthy()).toBe(true);
  });

  test('cpu burn in 2 of 3 pods: passed, their cgroups burnt, the third untouched, every part destroyed', async () => {
    const file = drillFile('kube-pods', { serviceUrl: url, duration: '12s', lease: '20s' });
    const out = path.join(tmp, 'out');
    const run = drillRun([file, '--out', out]);
    const id = await run.id();
    const step = `${id}-1-1`; // the step's kube experiment: its parts are <step>-1, <step>-2
    // the parts in place on the nodes, then the pods' CPU from their side
    expect(
      await waitFor(() => cluster.parts(step).filter((p) => p.status === 'success').length === 2, 60_000, 200),
    ).toBe(true);
    await sleep(1500);
    const cpu = await podCpu(WEB, 4000);
    const burnt = cluster.parts(step).map((p) => podOf(p.container_id));
    const other = WEB.find((p) => !burnt.includes(p))!;
    console.log(
      `kube drill: cpu burn 80 in ${burnt.join(', ')} (${POD_CPUS}-CPU pods): ` +
        WEB.map((p) => `${p} ${cpu[p].toFixed(1)} % of a CPU (${(cpu[p] / POD_CPUS).toFixed(0)} % of its quota)`).join(
          ', ',
        ),
    );
    expect(await run.exited).toBe(0);
    expect(run.out()).toMatch(/passed/);

    // exactly 2 of the 3 pods had a part, as the agents tell it from any machine (kube query)
    const q = await cluster.kube(['query', step, '-o', 'json']);
    expect(q.stderr).toBe('');
    const parts = JSON.parse(q.stdout).parts as Array<Record<string, string>>;
    expect(parts.map((p) => p.uid)).toEqual([`${step}-1`, `${step}-2`]);
    expect(new Set(parts.map((p) => p.pod)).size).toBe(2);
    expect(parts.map((p) => p.pod).sort()).toEqual(burnt.map((p) => `shop/${p}`).sort());
    expect(parts.every((p) => p.parent_uid === step)).toBe(true);
    // every part destroyed, no helper left on the host
    expect(parts.map((p) => p.status)).toEqual(['destroyed', 'destroyed']);
    expect(parts.flatMap((p) => taggedPids(p.uid))).toEqual([]);
    expect(taggedPids().filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(id))).toEqual([]);
    // the burn from the pods' side: 80 % of each chosen pod's quota, the third idle
    for (const p of burnt) expect(Math.abs(cpu[p] / POD_CPUS - 80)).toBeLessThan(10);
    expect(cpu[other]).toBeLessThan(2);

    // result.json: passed, the kube fault window with its targets, the probes' series
    const r = JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8'));
    expect([r.id, r.status, r.exit_code]).toEqual([id, 'passed', 0]);
    expect(r.faults).toHaveLength(1);
    const w = r.faults[0];
    expect([w.lane, w.uid, w.target, w.fault, w.state]).toEqual(['pods', step, 'cpu', 'burn', 'recovered']);
    const targets = [...String(w.where).matchAll(/shop\/(web-\d) on (node-[ab])/g)].map((m) => m[1]);
    expect(w.where).toMatch(/^kube shop\/app=web: /);
    expect(targets.sort()).toEqual([...burnt].sort());
    expect(w.command).toMatch(/^chaosmetad kube inject cpu burn -n shop -l app=web --target-count=2 /);
    const held = Date.parse(w.end) - Date.parse(w.start);
    expect(held).toBeGreaterThanOrEqual(12_000);
    expect(held).toBeLessThan(20_000);
    expect(Date.parse(r.points.inject)).toBe(Date.parse(w.start));
    const series = Object.fromEntries(
      (r.series as Array<{ name: string; samples: Array<[string, number | null, boolean]> }>).map((s) => [
        s.name,
        s.samples,
      ]),
    );
    // the kube probe counted the 3 Ready pods throughout; the service answered every sample
    expect(series.ready.length).toBeGreaterThan(10);
    expect(series.ready.every(([, v, ok]) => v === 3 && ok)).toBe(true);
    expect(series.health.every(([, v, ok]) => ok && typeof v === 'number')).toBe(true);
    expect(r.baseline).toEqual({ ready: 3, health: expect.any(Number) });
    expect((r.expectations as Array<{ name: string; passed: boolean }>).map((e) => [e.name, e.passed]).sort()).toEqual([
      ['abort:1', true], // the guard (no ready pod) never held
      ['recovery', true],
      ['steady-state', true],
    ]);
    for (const f of ['report.html', 'report.md', 'junit.xml']) expect(fs.existsSync(path.join(out, f))).toBe(true);
  });

  test('the runner killed with -9 in the kube step: the agents recover every part within lease + 2 s', async () => {
    const lease = 5000;
    const file = drillFile('kube-kill', { serviceUrl: url, duration: '60s', lease: '5s' });
    const run = drillRun([file]);
    const id = await run.id();
    const step = `${id}-1-1`;
    expect(
      await waitFor(() => cluster.parts(step).filter((p) => p.status === 'success').length === 2, 60_000, 200),
    ).toBe(true);
    // past one lease: the runner renews it through the agents meanwhile
    const injected = Date.now();
    await sleep(lease + 1000);
    expect(cluster.parts(step).map((p) => p.status)).toEqual(['success', 'success']);
    const renewedBy = Math.min(...cluster.parts(step).map((p) => p.lease_until)) - injected;
    const killed = Date.now();
    process.kill(-run.p.pid!, 'SIGKILL');
    await run.exited;
    expect(await waitFor(() => cluster.parts(step).every((p) => p.status === 'destroyed'), lease + 10_000, 100)).toBe(
      true,
    );
    const rows = cluster.parts(step);
    const took = Math.max(...rows.map((p) => p.update_ms)) - killed;
    const late = rows.map((p) => p.update_ms - p.lease_until);
    console.log(
      `kube drill runner killed (-9): parts ${rows.map((p) => podOf(p.container_id)).join(', ')} recovered ` +
        `${took} ms after the kill (lease ${lease} ms); each ${late.join(', ')} ms after its lease ended; ` +
        `leases renewed to ${renewedBy} ms past the inject before the kill`,
    );
    expect(renewedBy).toBeGreaterThan(lease);
    expect(took).toBeLessThan(lease + 2000);
    for (const l of late) expect(l).toBeLessThan(1000);
    expect(rows.flatMap((p) => taggedPids(p.uid))).toEqual([]);
    // the drill is shown as interrupted, its faults gone by their leases
    const shown = await spawnCli(['drill', 'show', id, '--json'], { env: { CHAOSMETAD_DATA_DIR: runnerData } });
    expect(JSON.parse(shown.stdout).status).toBe('aborted');
  });

  test('the runner killed, then drill abort: its kube parts recovered through the agents at once, not at the lease', async () => {
    const file = drillFile('kube-abort', { serviceUrl: url, duration: '60s', lease: '60s' });
    const run = drillRun([file]);
    const id = await run.id();
    const step = `${id}-1-1`;
    expect(
      await waitFor(() => cluster.parts(step).filter((p) => p.status === 'success').length === 2, 60_000, 200),
    ).toBe(true);
    process.kill(-run.p.pid!, 'SIGKILL');
    await run.exited;
    const t0 = Date.now();
    const r = await spawnCli(['drill', 'abort', id, '--json'], { env: { CHAOSMETAD_DATA_DIR: runnerData } });
    const took = Date.now() - t0;
    expect(r.stderr).toBe('');
    const reply = JSON.parse(r.stdout) as { status: string; recovered: Array<{ uid: string; ok: boolean }> };
    console.log(`kube drill runner killed, then drill abort: its 2 parts recovered in ${took} ms (lease 60 s)`);
    expect(reply.status).toBe('aborted');
    expect(reply.recovered.map((x) => [x.uid, x.ok]).sort()).toEqual([
      [`${step}-1`, true],
      [`${step}-2`, true],
    ]);
    expect(cluster.parts(step).map((p) => p.status)).toEqual(['destroyed', 'destroyed']);
    expect(Math.max(...cluster.parts(step).map((p) => p.lease_until)) - Date.now()).toBeGreaterThan(30_000);
    expect(cluster.parts(step).flatMap((p) => taggedPids(p.uid))).toEqual([]);
  });

  lastTest(
    'leaves the host as it found it',
    async () => {
      service?.close();
      await cluster.stop();
    },
    async () => expect(await hostSettles(cluster.before, 15_000)).toBe(cluster.before),
  );
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true })); // (the installed executable: 100 MB)
});
