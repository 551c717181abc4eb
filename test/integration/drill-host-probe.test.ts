/**
 * The drill's host probe on a real docker container (busybox image built without a registry): the container found
 * through the runtime client, its own cgroup read — CPU % of the whole host (one busy loop ≈ 100 / CPUs %), memory
 * in MiB (48 MiB written to its /dev/shm counted) — and followed across a restart (a new init process).
 *
 * @lane measuring (measures a container's CPU: runs alone)
 */
import * as os from 'node:os';
import { samplerOf } from '../../src/drill/probes';
import { Probe } from '../../src/drill/schema';
import { dockerUnavailable, ensureDocker, ensureImages, exec, run, sh } from '../containers';

jest.setTimeout(120_000);
const why = dockerUnavailable();
const d = why ? describe.skip : describe;
if (why) test.skip(`container host probe — skipped: ${why}`, () => {});

const ids: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hostProbe = (container_id: string, metric: 'cpu' | 'memory' | 'load1') =>
  samplerOf(Probe.parse({ name: 'c', host: { metric, container_id, container_runtime: 'docker' } }));

beforeAll(async () => {
  if (why) return;
  await ensureDocker();
  ensureImages();
});

afterAll(() => {
  if (ids.length) sh('docker', ['rm', '-f', ...ids]);
});

d('host probe of a container', () => {
  test('cpu: a sleeper ≈ 0 %, one busy loop ≈ 100 / CPUs % of the host; unit %', async () => {
    const idle = run(['--name', 'cmtest-probe-idle']);
    ids.push(idle);
    const busy = run(['--name', 'cmtest-probe-busy'], undefined, ['sh', '-c', 'while :; do :; done']);
    ids.push(busy);
    const si = hostProbe(idle, 'cpu');
    const sb = hostProbe('cmtest-probe-busy', 'cpu'); // a name resolves too
    expect(si.unit).toBe('%');
    await si.sample(); // the first reading measures over its own 100 ms
    await sb.sample();
    await sleep(1000);
    const [ri, rb] = [await si.sample(), await sb.sample()];
    const expected = 100 / os.cpus().length;
    console.log(`container cpu: idle ${ri.value} %, busy ${rb.value} % (expected ${expected.toFixed(1)} %)`);
    expect(ri.ok).toBe(true);
    expect(ri.value!).toBeLessThan(2);
    expect(rb.ok).toBe(true);
    expect(rb.value!).toBeGreaterThan(expected * 0.8);
    expect(rb.value!).toBeLessThan(expected * 1.1);
    si.close();
    sb.close();
  });

  test('memory: its cgroup usage in MiB (48 MiB of /dev/shm counted); load1 is refused for a container', async () => {
    const c = run(['--name', 'cmtest-probe-mem', '--shm-size', '128m']);
    ids.push(c);
    const s = hostProbe(c, 'memory');
    expect(s.unit).toBe('MiB');
    const before = await s.sample();
    expect(before.ok).toBe(true);
    expect(exec(c, ['sh', '-c', 'head -c 50331648 /dev/zero > /dev/shm/fill']).code).toBe(0);
    const after = await s.sample();
    console.log(`container memory: ${before.value} MiB, then ${after.value} MiB after 48 MiB in /dev/shm`);
    expect(after.value! - before.value!).toBeGreaterThanOrEqual(47);
    expect(after.value! - before.value!).toBeLessThan(60);
    // the drill format refuses it before anything runs (a container has no load average of its own)
    expect(() => hostProbe(c, 'load1')).toThrow(/a container has no load average of its own/);
  });

  test('followed across a restart; a removed container reads not ok', async () => {
    const c = run(['--name', 'cmtest-probe-restart']);
    ids.push(c);
    const s = hostProbe(c, 'memory');
    expect((await s.sample()).ok).toBe(true);
    expect(sh('docker', ['restart', '-t', '0', c]).code).toBe(0);
    expect((await s.sample()).ok).toBe(true);
    sh('docker', ['rm', '-f', c]);
    const gone = await s.sample();
    expect(gone).toMatchObject({ value: null, ok: false });
    expect(gone.error).not.toMatch(/\n/);
  });
});
