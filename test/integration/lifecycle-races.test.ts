/**
 * Lifecycle races and gaps: a reused uid with undo work left, one undo at a time inside one daemon, failed
 * experiments with undo left recovered at their deadline, a full disk under the data dir, root-only state dirs.
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  lastTest,
  SEA,
  cli,
  hostSettles,
  hostState,
  queryJson,
  sleep,
  taggedPids,
  tmpDir,
  uidOf,
  waitFor,
} from '../helpers';
import { call, startDaemon, stopDaemons } from '../daemon';

jest.setTimeout(90_000);
const files = tmpDir('races-files');
let before: string;
const dirs: string[] = [];
const dataDir = () => {
  const d = tmpDir('races');
  dirs.push(d);
  return d;
};

/** Put an experiment in the state a failed inject whose undo also failed leaves (status error, steps not undone). */
function markInjectFailed(dir: string, uid: string): void {
  const db = new Database(path.join(dir, 'chaosmetad.db'));
  db.prepare(
    `UPDATE experiments SET status = 'error', phase = 'inject-failed', error = 'inject failed; undoing it also failed' WHERE uid = ?`,
  ).run(uid);
  db.close();
}

beforeAll(() => {
  before = hostState();
});
afterEach(stopDaemons);

test('a uid whose experiment still has undo work left is not reused (its journal is kept)', () => {
  const dir = dataDir();
  const f = path.join(files, 'reuse');
  expect(cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'x', '--uid', 'reuse-1']).code).toBe(0);
  markInjectFailed(dir, 'reuse-1');
  const again = cli(dir, [
    'inject',
    'file',
    'add',
    '-p',
    path.join(files, 'reuse-other'),
    '-c',
    'y',
    '--uid',
    'reuse-1',
  ]);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(
    /reuse-1 \(status error\) still has host changes to undo; run chaosmetad recover reuse-1 first/,
  );
  expect(fs.existsSync(path.join(files, 'reuse-other'))).toBe(false);
  expect(cli(dir, ['recover', 'reuse-1']).code).toBe(0); // the journal was kept: it still undoes the change
  expect(fs.existsSync(f)).toBe(false);
  // once undone, the uid may be used again
  expect(cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'x', '--uid', 'reuse-1']).code).toBe(0);
  expect(cli(dir, ['recover', 'reuse-1']).code).toBe(0);
});

test('inside one daemon an experiment is undone at most once at a time: two HTTP recovers and its timer run the recover command once', async () => {
  const dir = dataDir();
  const out = path.join(files, 'ran');
  const d = await startDaemon(dir, ['--allow-recover-cmd']);
  const victim = spawn('sleep', ['3624'], { stdio: 'ignore' });
  const inj = await call(d.port, 'POST', '/v1/experiment/inject', {
    target: 'process',
    fault: 'kill',
    uid: 'once-1',
    timeout: '2s',
    args: JSON.stringify({ pid: victim.pid, recover_cmd: `echo run >> ${out}; sleep 1` }),
  });
  expect(inj.json.code).toBe(0);
  await sleep(1800); // the timer fires at 2 s, during these requests
  const rs = await Promise.all([1, 2, 3].map(() => call(d.port, 'POST', '/v1/experiment/recover', { uid: 'once-1' })));
  expect(rs.map((r) => r.json.code)).toEqual([0, 0, 0]);
  await sleep(1500);
  expect(fs.readFileSync(out, 'utf8')).toBe('run\n');
  expect(queryJson(dir, ['--uid', 'once-1']).experiments[0].status).toBe('destroyed');
});

test('a failed inject whose undo failed is still recovered at its deadline: by recover --expired and by the daemon', async () => {
  const dir = dataDir();
  const f1 = path.join(files, 'expired-cli');
  const f2 = path.join(files, 'expired-daemon');
  expect(cli(dir, ['inject', 'file', 'add', '-p', f1, '-c', 'x', '--uid', 'failed-cli-1', '-t', '1s']).code).toBe(0);
  // (wide margins: on a slow machine the steps below take seconds, and f2 must still be due after them)
  expect(cli(dir, ['inject', 'file', 'add', '-p', f2, '-c', 'x', '--uid', 'failed-dmn-1', '-t', '8s']).code).toBe(0);
  // no watcher for these two: the store alone must carry them to their deadline
  spawnSync('pkill', ['-f', '--', '--chaosmetad-uid=failed-']);
  markInjectFailed(dir, 'failed-cli-1');
  markInjectFailed(dir, 'failed-dmn-1');
  await sleep(1200);
  const r = cli(dir, ['recover', '--expired']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/recover failed-cli-1 success/);
  expect(fs.existsSync(f1)).toBe(false);
  expect(fs.existsSync(f2)).toBe(true); // not due yet
  await startDaemon(dir);
  expect(await waitFor(() => !fs.existsSync(f2), 15_000)).toBe(true);
  expect(queryJson(dir, ['--uid', 'failed-dmn-1']).experiments[0].status).toBe('destroyed');
});

describe('a full disk under the data dir', () => {
  const mnt = tmpDir('races-mnt');
  const img = path.join(tmpDir('races-img'), 'fs.img');
  beforeAll(() => {
    for (const c of [
      ['truncate', '-s', '96M', img],
      ['mkfs.ext4', '-q', '-m', '0', img],
      ['mount', '-o', 'loop', img, mnt],
    ]) {
      const r = spawnSync(c[0], c.slice(1), { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${c.join(' ')}: ${r.stderr}`);
    }
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
    fs.rmSync(img, { force: true });
  });

  test("disk fill --percent 100 --force on the data dir's own filesystem can still be recovered", () => {
    const dir = path.join(mnt, 'data');
    const usage = () => {
      const s = fs.statfsSync(mnt);
      return s.blocks - s.bavail;
    };
    expect(cli(dir, ['query']).code).toBe(0); // the store exists
    const used0 = usage();
    const r = cli(dir, ['inject', 'disk', 'fill', '-d', mnt, '-p', '100', '--force', '--uid', 'full-1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.statfsSync(mnt).bavail * fs.statfsSync(mnt).bsize).toBeLessThan(1024 * 1024); // really full
    const rec = cli(dir, ['recover', 'full-1']);
    expect(rec.stderr).toBe('');
    expect(rec.code).toBe(0);
    expect(queryJson(dir, ['--uid', 'full-1']).experiments[0].status).toBe('destroyed');
    expect(Math.abs(usage() - used0)).toBeLessThan(64); // blocks: back to where it was
  });
});

test('data dirs and cache dirs other users could write or own are refused; a planted helper is replaced', () => {
  const open = tmpDir('races-open');
  fs.chmodSync(open, 0o777);
  const r1 = cli(open, ['query']);
  expect(r1.code).toBe(2);
  expect(r1.stderr).toMatch(/the data dir .* is writable by other users \(mode 777\): refusing it/);
  const theirs = tmpDir('races-theirs');
  fs.chownSync(theirs, 65534, 65534);
  const r2 = cli(theirs, ['query']);
  expect(r2.stderr).toMatch(/the data dir .* is owned by uid 65534, not by this user \(uid 0\)/);
  const fresh = path.join(tmpDir('races-new'), 'sub', 'data');
  expect(cli(fresh, ['query']).code).toBe(0);
  expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);

  // the single executable's cache: refused when another user's; its assets replaced when not what it carries
  const cache = tmpDir('races-cache');
  fs.chownSync(cache, 65534, 65534);
  const bad = cli(dataDir(), ['query'], { exe: SEA, env: { CHAOSMETAD_CACHE_DIR: cache } });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/the cache dir .* owned by uid 65534/);
  const mine = tmpDir('races-cache2');
  const dd = dataDir();
  // (query, not version: version prints without extracting anything)
  expect(cli(dd, ['query'], { exe: SEA, env: { CHAOSMETAD_CACHE_DIR: mine } }).code).toBe(0);
  const buildDir = path.join(mine, fs.readdirSync(mine)[0]);
  const helper = path.join(buildDir, 'chaosmetad-helper');
  const f = path.join(files, 'planted');
  expect(
    cli(dd, ['inject', 'file', 'append', '-p', (fs.writeFileSync(f, 'x\n'), f), '-c', 'y'], {
      exe: SEA,
      env: { CHAOSMETAD_CACHE_DIR: mine },
    }).code,
  ).toBe(0);
  const good = fs.readFileSync(helper);
  fs.writeFileSync(helper, '#!/bin/sh\ntouch /tmp/cmd-races-pwned\n');
  const again = cli(dd, ['inject', 'cpu', 'load', '-c', '1', '--uid', 'planted-1'], {
    exe: SEA,
    env: { CHAOSMETAD_CACHE_DIR: mine },
  });
  expect(again.code).toBe(0);
  expect(fs.existsSync('/tmp/cmd-races-pwned')).toBe(false);
  expect(fs.readFileSync(helper)).toEqual(good);
  expect(uidOf(again)).toBe('planted-1');
  expect(cli(dd, ['recover', '--all'], { exe: SEA, env: { CHAOSMETAD_CACHE_DIR: mine } }).code).toBe(0);
});

/** process kill of a sleep of its own, with this --recover-cmd and timeout */
function killWithRecoverCmd(dir: string, uid: string, recoverCmd: string, timeout: string) {
  const victim = spawn('sleep', ['3627'], { stdio: 'ignore' });
  return cli(dir, [
    'inject',
    'process',
    'kill',
    '-p',
    String(victim.pid),
    '-r',
    recoverCmd,
    '-t',
    timeout,
    '--uid',
    uid,
  ]);
}

test('recover --abandon gives up an undo that can never succeed: recorded with why, destroyed, the watcher gone, exit 0', async () => {
  const dir = dataDir();
  const inj = killWithRecoverCmd(dir, 'abandon-1', 'no-such-command-xyz', '1h');
  expect(inj.code).toBe(0);
  // the undo fails, and the failure says how to give it up
  const first = cli(dir, ['recover', 'abandon-1']);
  expect(first.code).toBe(5);
  expect(first.stderr).toMatch(/exit 127.*chaosmetad recover abandon-1 --abandon/);
  expect(cli(dir, ['recover', '--all', '--abandon']).code).toBe(1); // one experiment at a time, by uid
  const r = cli(dir, ['recover', 'abandon-1', '--abandon']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /recover abandon-1 success \(gave up what could not be undone; .*abandoned \(not undone\): recover-cmd/,
  );
  const row = queryJson(dir, ['-u', 'abandon-1']).experiments[0];
  expect(row.status).toBe('destroyed');
  expect(row.error).toMatch(/^recover abandoned: recover-cmd: .*exit 127/);
  expect(JSON.parse(row.runtime).abandoned).toEqual([
    { step: 'recover-cmd', error: expect.stringMatching(/exit 127/) },
  ]);
  expect(cli(dir, ['query', '-a', '-u', 'abandon-1']).stdout).toMatch(/abandon-1 .*destroyed .* abandoned /);
  // nothing left behind to retry: no watcher, and recover --all has nothing to do
  expect(await waitFor(() => taggedPids('abandon-1').length === 0, 5000)).toBe(true);
  expect(cli(dir, ['recover', '--all']).stdout).toMatch(/nothing to recover/);
});

test('a failing recover is retried by the watcher with backoff, never given up; the count shows in query -a and /metrics', async () => {
  const dir = dataDir();
  const flag = path.join(files, 'service-can-start');
  fs.rmSync(flag, { force: true });
  const inj = killWithRecoverCmd(dir, 'retry-1', `test -e ${flag}`, '1s');
  expect(inj.code).toBe(0);
  const failures = () =>
    Number(
      /retry-1 .*?\s(\d+)( \(next try [^)]*\))?\s+\{/.exec(cli(dir, ['query', '-a', '-u', 'retry-1']).stdout)?.[1] ??
        -1,
    );
  // tries at ~1 s, ~2 s, ~4 s: each fails (the command exits 1)
  expect(await waitFor(() => failures() >= 3, 12_000, 250)).toBe(true);
  expect(cli(dir, ['query', '-a', '-u', 'retry-1']).stdout).toMatch(
    /RECOVER_FAILURES[\s\S]*retry-1 .* \d+ \(next try \d{4}-/,
  );
  const d = await startDaemon(dir);
  const m = await call(d.port, 'GET', '/metrics');
  expect(Number(/^chaosmetad_recover_failures (\d+)$/m.exec(m.text)?.[1])).toBeGreaterThanOrEqual(3);
  expect(m.text).toMatch(/^chaosmetad_experiments_recover_failing 1$/m);
  await stopDaemons();
  // the cause fixed: the next try (at most 60 s after the last) succeeds by itself
  fs.writeFileSync(flag, '');
  expect(
    await waitFor(() => queryJson(dir, ['--uid', 'retry-1']).experiments[0].status === 'destroyed', 20_000, 250),
  ).toBe(true);
  expect(fs.readFileSync(path.join(dir, 'chaosmetad.log'), 'utf8')).toMatch(
    /"event":"recover-failed","uid":"retry-1","reason":"timeout","attempt":3,"next_try"/,
  );
});

lastTest(
  'leaves the host as it found it',
  async () => {
    for (const d of dirs) cli(d, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
