/**
 * kernel fdfull (ENFILE seen by an unprivileged probe) and nproc (EAGAIN on fork for the user).
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { cli, hostSettles, hostState, lastTest, queryJson, taggedPids, tmpDir, uidOf } from '../helpers';

jest.setTimeout(60_000);
const dir = tmpDir('kernel');
const USER = 'chaosmetad-test';
let before: string;
beforeAll(() => {
  spawnSync('useradd', ['-M', '-s', '/usr/sbin/nologin', USER]);
  before = hostState();
});
afterAll(() => {
  spawnSync('userdel', [USER]);
});

/** As an unprivileged user, with RLIMIT_NPROC n: open a file / fork a child; the shell's own error text. */
function probe(user: string, script: string, nproc?: number, group = user): { ok: boolean; out: string } {
  const argv = [
    '--reuid',
    user,
    '--regid',
    group,
    '--clear-groups',
    ...(nproc ? ['prlimit', `--nproc=${nproc}:${nproc}`] : []),
    '/bin/sh',
    '-c',
    script,
  ];
  const r = spawnSync('setpriv', argv, { encoding: 'utf8' });
  return { ok: r.status === 0, out: (r.stdout + r.stderr).trim() };
}
const openProbe = () => probe('65534', 'exec 3</etc/hostname && echo opened', undefined, '65534');

test('kernel fdfull conf: unprivileged opens fail with ENFILE; recover restores fs.file-max exactly', () => {
  const original = fs.readFileSync('/proc/sys/fs/file-max', 'utf8');
  expect(openProbe().ok).toBe(true);
  // while the table is "full", node itself cannot spawn (libuv's spawn fails with ENFILE even as root here), so a
  // shell does inject -> probe -> recover in one go and reports
  const script = `
    out=$("$0" "$1" inject kernel fdfull --mode conf -t 1m) || { echo "inject failed: $out"; exit 3; }
    uid=\${out##*uid: }
    echo "probe: $(setpriv --reuid 65534 --regid 65534 --clear-groups /bin/sh -c 'exec 3</etc/hostname && echo opened' 2>&1)"
    "$0" "$1" recover "$uid" >/dev/null || { echo "recover failed"; exit 5; }
    echo "after: $(setpriv --reuid 65534 --regid 65534 --clear-groups /bin/sh -c 'exec 3</etc/hostname && echo opened' 2>&1)"`;
  const r = spawnSync('bash', ['-c', script, process.execPath, require.resolve('../../bin/chaosmetad')], {
    encoding: 'utf8',
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dir },
  });
  console.log(`fdfull conf: ${r.stdout.trim().replace(/\n/g, ' | ')}`);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/probe: .*(Error 23|Too many open files in system)/);
  expect(r.stdout).toMatch(/after: opened/);
  expect(fs.readFileSync('/proc/sys/fs/file-max', 'utf8')).toBe(original);
});

test('kernel fdfull fill: a helper holds the open files (fs.file-nr rises by --count); recover releases them', () => {
  const nr = () => Number(fs.readFileSync('/proc/sys/fs/file-nr', 'utf8').split(/\s+/)[0]);
  const n0 = nr();
  const uid = uidOf(cli(dir, ['inject', 'kernel', 'fdfull', '-m', 'fill', '-c', '50000']));
  expect(nr() - n0).toBeGreaterThanOrEqual(50000);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(taggedPids(uid)).toEqual([]);
  expect(nr() - n0).toBeLessThan(1000);
});

test('kernel nproc: the user cannot fork (EAGAIN) while injected, can again after recover', () => {
  expect(probe(USER, 'sleep 0 & wait; echo forked', 40).ok).toBe(true);
  // the helper inherits this RLIMIT_NPROC, as it would inherit the user's from a login
  const r = spawnSync(
    'prlimit',
    [
      '--nproc=40:40',
      process.execPath,
      require.resolve('../../bin/chaosmetad'),
      'inject',
      'kernel',
      'nproc',
      '--user',
      USER,
    ],
    { encoding: 'utf8', env: { ...process.env, CHAOSMETAD_DATA_DIR: dir } },
  );
  expect(r.status).toBe(0);
  const uid = /uid: (\S+)/.exec(r.stdout)![1];
  const p = probe(USER, 'sleep 0 & wait; echo forked', 40);
  console.log(`nproc: probe says ${JSON.stringify(p.out)}`);
  expect(p.ok).toBe(false);
  expect(p.out).toMatch(/Cannot fork|Resource temporarily unavailable/);
  // the runtime summary names the limit the helper forked against (what --count is measured against)
  const exp = queryJson(dir, ['-u', uid]).experiments[0] as unknown as { runtime: string | Record<string, unknown> };
  const runtime = typeof exp.runtime === 'string' ? JSON.parse(exp.runtime) : exp.runtime;
  expect(runtime.limit).toBe(40);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(probe(USER, 'sleep 0 & wait; echo forked', 40).ok).toBe(true);
});

// (bad flags of the kernel faults, refused before anything runs: test/unit/refusals.test.ts)

lastTest(
  'leaves the host as it found it',
  async () => {
    cli(dir, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
