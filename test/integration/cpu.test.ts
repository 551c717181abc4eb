/**
 * cpu burn and cpu load, proven from /proc/stat, through the real CLI.
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import {
  cli,
  cpuPercent,
  hostSettles,
  hostState,
  lastTest,
  queryJson,
  sleep,
  taggedPids,
  tmpDir,
  uidOf,
} from '../helpers';

jest.setTimeout(120_000);
const dir = tmpDir('cpu');
let before: string;
beforeAll(() => {
  before = hostState();
});

test('cpu burn holds one core at the requested total utilisation, recover puts it back', async () => {
  const idle = await cpuPercent(1500);
  const r = cli(dir, [
    'inject',
    'cpu',
    'burn',
    '--percent',
    '60',
    '--list',
    '1',
    '--timeout',
    '2m',
    '--uid',
    'cpu-burn-60',
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/uid: cpu-burn-60$/m);
  await sleep(1500); // the helper's feedback loop settles
  const busy = await cpuPercent(4000);
  console.log(`cpu burn 60% on core 1: measured ${busy.get(1)!.toFixed(1)}% (idle before ${idle.get(1)!.toFixed(1)}%)`);
  expect(busy.get(1)!).toBeGreaterThan(55);
  expect(busy.get(1)!).toBeLessThan(65);

  const q = queryJson(dir, ['--uid', 'cpu-burn-60']);
  expect(q.total).toBe(1);
  expect(q.experiments[0]).toMatchObject({
    uid: 'cpu-burn-60',
    target: 'cpu',
    fault: 'burn',
    status: 'success',
    timeout: '2m',
  });
  expect(JSON.parse(q.experiments[0].args)).toEqual({ percent: 60, list: [1], count: 0 });
  const all = cli(dir, ['query', '--all']);
  expect(all.stdout).toMatch(/in-place/);
  expect(all.stdout).toMatch(/\d+\(cpu \d+\.\d% rss/);

  const rec = cli(dir, ['recover', 'cpu-burn-60']);
  expect(rec.code).toBe(0);
  expect(taggedPids('cpu-burn-60')).toEqual([]);
  const after = await cpuPercent(2000);
  expect(after.get(1)!).toBeLessThan(idle.get(1)! + 15);
  expect(queryJson(dir, ['--uid', 'cpu-burn-60']).experiments[0].status).toBe('destroyed');
});

test('cpu burn adapts to other load on the core: the total stays at the target', async () => {
  // a fixed 30% duty cycle on core 0 from a second burn helper that we do NOT let adapt: 100% for 30% of each period
  const load = spawn('taskset', [
    '-c',
    '0',
    process.execPath,
    '-e',
    'for(;;){const t=Date.now();while(Date.now()-t<30){};const s=Date.now();while(Date.now()-s<70){Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,70-(Date.now()-s))}}',
  ]);
  try {
    await sleep(1000);
    const other = (await cpuPercent(2000)).get(0)!;
    const r = cli(dir, ['inject', 'cpu', 'burn', '-p', '70', '-l', '0', '--uid', 'cpu-adapt-1']);
    expect(r.code).toBe(0);
    await sleep(2500);
    const total = (await cpuPercent(4000)).get(0)!;
    console.log(`cpu burn 70% on core 0 with ${other.toFixed(1)}% other load: total ${total.toFixed(1)}%`);
    expect(other).toBeGreaterThan(20);
    expect(total).toBeGreaterThan(64);
    expect(total).toBeLessThan(76);
  } finally {
    load.kill('SIGKILL');
    cli(dir, ['recover', 'cpu-adapt-1']);
  }
});

test('cpu burn --count 0 burns every core; each helper is pinned to its own core', async () => {
  const uid = uidOf(cli(dir, ['inject', 'cpu', 'burn', '-p', '40', '-c', '0']));
  const pids = taggedPids(uid);
  const cores = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)!.length;
  expect(pids).toHaveLength(cores);
  const allowed = pids
    .map((p) => /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1])
    .sort();
  expect(allowed).toEqual(Array.from({ length: cores }, (_, i) => String(i)).sort());
  await sleep(1500);
  const busy = await cpuPercent(3000);
  for (const [, v] of busy) expect(Math.abs(v - 40)).toBeLessThan(8);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(taggedPids(uid)).toEqual([]);
});

test('cpu load adds runnable tasks (procs_running) and removes them at recover', async () => {
  const running = () => Number(/procs_running (\d+)/.exec(fs.readFileSync('/proc/stat', 'utf8'))![1]);
  const sample = async () => {
    let s = 0;
    for (let i = 0; i < 20; i++) {
      s += running();
      await sleep(50);
    }
    return s / 20;
  };
  const base = await sample();
  const uid = uidOf(cli(dir, ['inject', 'cpu', 'load', '--count', '6', '-t', '1m']));
  const [pid] = taggedPids(uid).filter((p) => fs.readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('chaosmeta_load'));
  expect(fs.readdirSync(`/proc/${pid}/task`).length).toBe(7); // main thread + 6 runnable
  const loaded = await sample();
  console.log(`cpu load 6: procs_running ${base.toFixed(1)} -> ${loaded.toFixed(1)}`);
  expect(loaded - base).toBeGreaterThan(5);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(taggedPids(uid)).toEqual([]);
  expect((await sample()) - base).toBeLessThan(2);
});

lastTest(
  'leaves the host as it found it',
  async () => {
    cli(dir, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
