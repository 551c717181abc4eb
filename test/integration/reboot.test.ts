/**
 * Reboot and lost helpers: every chaosmetad process killed (helpers and watchers) and the kernel state a reboot
 * loses removed (qdiscs); then `query -a`, `check`, `recover --expired` and the daemon's start tell the truth,
 * read from the host. And "success reported, no effect": an inject whose effect is gone right away fails and is
 * undone.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  cli,
  hostSettles,
  hostState,
  killAndWait,
  lastTest,
  queryJson,
  sleep,
  startContinuer,
  taggedPids,
  tmpDir,
  uidOf,
  waitFor,
} from '../helpers';
import { startDaemon, stopDaemons } from '../daemon';

jest.setTimeout(120_000);
const files = tmpDir('reboot-files');
const NETNS = 'cmreboot';
let before: string;
let baseline: string; // with the test's veth in place
const dirs: string[] = [];

beforeAll(() => {
  before = hostState();
  spawnSync('ip', ['netns', 'add', NETNS]);
  spawnSync('ip', ['link', 'add', 'cmrv0', 'type', 'veth', 'peer', 'name', 'cmrv1', 'netns', NETNS]);
  spawnSync('ip', ['link', 'set', 'cmrv0', 'up']);
  baseline = hostState();
});

/** what a reboot does to our faults: every process gone, kernel qdiscs gone; files on disk stay */
async function reboot(): Promise<void> {
  await killAndWait(taggedPids());
  spawnSync('tc', ['qdisc', 'del', 'dev', 'cmrv0', 'root']);
}

function effects(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = cli(dir, ['query', '-a', '-l', '0']).stdout.split('\n');
  const header = lines[0];
  const col = header.indexOf('EFFECT');
  for (const l of lines.slice(1, -1)) out[l.split(/\s+/)[0]] = l.slice(col).split(/\s+/)[0];
  return out;
}

function injectAll(dir: string, timeout: string[]): Record<string, string> {
  const f = path.join(files, `kept-${path.basename(dir)}`);
  return {
    burn: uidOf(cli(dir, ['inject', 'cpu', 'burn', '-p', '10', '-l', '1', ...timeout])),
    fill: uidOf(cli(dir, ['inject', 'mem', 'fill', '-b', '16MB', '-m', 'cache', ...timeout])),
    tbf: uidOf(cli(dir, ['inject', 'network', 'limit', '-i', 'cmrv0', '-r', '1mbit', ...timeout])),
    file: uidOf(cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'x', ...timeout])),
    dns: uidOf(
      cli(dir, [
        'inject',
        'dns',
        'record',
        '--domain',
        `reboot-${path
          .basename(dir)
          .toLowerCase()
          .replace(/[^a-z0-9]/g, '')}.example`,
        '--ip',
        '10.9.9.9',
        ...timeout,
      ]),
    ),
  };
}

test('after a simulated reboot: query -a and check read the host; recover --expired (the boot unit) puts everything back', async () => {
  const dir = tmpDir('reboot');
  dirs.push(dir);
  // a lease, not a timeout: it is renewed to 1 s below, so the test never waits out a margin a slow machine needs
  const u = injectAll(dir, ['--lease', '5m']);
  const e0 = effects(dir);
  for (const uid of Object.values(u)) expect(e0[uid]).toBe('in-place');
  await reboot();
  const e1 = effects(dir);
  expect([e1[u.burn], e1[u.fill], e1[u.tbf], e1[u.file], e1[u.dns]]).toEqual([
    'gone',
    'gone',
    'gone',
    'in-place',
    'in-place',
  ]);
  expect(cli(dir, ['check', u.burn]).stdout).toMatch(/status: success effect: gone/);
  expect(cli(dir, ['check', u.file, '--json']).stdout).toMatch(/"effect":"in-place"/);
  // the same start-up recovery as the daemon's: before the deadline what is gone is recovered (and says why),
  // what is in place stays until it is due (its lease); after that, the rest
  const early = cli(dir, ['recover', '--expired']);
  expect(early.code).toBe(0);
  expect(early.stdout.match(/\[success\] recover/g)?.length).toBe(3);
  const status = (uid: string) => queryJson(dir, ['-u', uid]).experiments[0];
  for (const k of ['burn', 'fill', 'tbf']) {
    expect(status(u[k]).status).toBe('destroyed');
    expect(status(u[k]).error).toMatch(/gone when recover --expired ran/);
  }
  expect([status(u.file).status, status(u.dns).status]).toEqual(['success', 'success']);
  expect(cli(dir, ['recover', '--expired']).stdout).toMatch(/nothing to recover/);
  for (const k of ['file', 'dns']) expect(cli(dir, ['renew', u[k], '--lease', '1s']).code).toBe(0);
  await sleep(1300);
  const r = cli(dir, ['recover', '--expired']);
  expect(r.code).toBe(0);
  expect(r.stdout.match(/\[success\] recover/g)?.length).toBe(2);
  expect(queryJson(dir).experiments.every((e) => e.status === 'destroyed')).toBe(true);
  expect(fs.existsSync(path.join(files, `kept-${path.basename(dir)}`))).toBe(false);
  expect(await hostSettles(baseline)).toBe(baseline);
});

test('after a simulated reboot: the daemon recovers what is gone (and says so) and re-arms what is in place', async () => {
  const dir = tmpDir('reboot-d');
  dirs.push(dir);
  const u = injectAll(dir, []);
  await reboot();
  const d = await startDaemon(dir);
  const status = (uid: string) => queryJson(dir, ['-u', uid]).experiments[0];
  expect(await waitFor(() => ['burn', 'fill', 'tbf'].every((k) => status(u[k]).status === 'destroyed'), 8000)).toBe(
    true,
  );
  for (const k of ['burn', 'fill', 'tbf']) expect(status(u[k]).error).toMatch(/gone when the daemon started/);
  expect(status(u.file).status).toBe('success');
  expect(status(u.dns).status).toBe('success');
  expect(
    await waitFor(() => new RegExp(`"event":"rearm","uid":"${u.file}","effect":"in-place"`).test(d.logs()), 3000),
  ).toBe(true);
  expect(cli(dir, ['recover', '--all']).code).toBe(0);
  expect(await d.stop()).toBe(0);
  expect(await hostSettles(baseline)).toBe(baseline);
});

test('success reported, no effect: an inject whose effect is gone at once fails (exit 3) and is undone', async () => {
  const dir = tmpDir('noeffect');
  const victim: ChildProcess = spawn('sleep', ['3609'], { stdio: 'ignore' });
  victim.unref();
  const continuer = await startContinuer(victim.pid!); // a stop cannot hold
  try {
    const r = cli(dir, ['inject', 'process', 'stop', '-p', String(victim.pid), '--uid', 'noeffect-1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not in place right after inject \(check: gone\)/);
    const row = queryJson(dir, ['-u', 'noeffect-1']).experiments[0];
    expect(row.status).toBe('error');
    expect(row.error).toMatch(/not in place/);
    continuer.kill('SIGKILL');
    await sleep(100);
    // undone: the process runs (not left stopped)
    const st = fs.readFileSync(`/proc/${victim.pid}/stat`, 'utf8');
    expect(st.slice(st.lastIndexOf(')') + 2)[0]).not.toBe('T');
  } finally {
    continuer.kill('SIGKILL');
    victim.kill('SIGKILL');
  }
});

lastTest(
  'leaves the host as it found it',
  async () => {
    await stopDaemons();
    for (const d of dirs) cli(d, ['recover', '--all']);
    spawnSync('ip', ['link', 'del', 'cmrv0']);
    spawnSync('ip', ['netns', 'del', NETNS]);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
