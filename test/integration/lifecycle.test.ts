/**
 * The experiment lifecycle through the real CLI: timeouts, expiry, crashes, partial failure, bad input, races.
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BIN,
  HELPER,
  cli,
  hostSettles,
  hostState,
  lastTest,
  queryJson,
  sleep,
  taggedPids,
  tmpDir,
  uidOf,
  waitFor,
} from '../helpers';

jest.setTimeout(120_000);
const dir = tmpDir('life');
let before: string;
beforeAll(() => {
  before = hostState();
});

const status = (uid: string) => queryJson(dir, ['--uid', uid]).experiments[0]?.status;

/**
 * A helper wrapper that can fail for core 1 or start slowly, to break an inject half-way. Steered by files, not
 * the environment: helpers get a clean one (no inherited variables).
 */
const wrapper = path.join(dir, 'helper-wrapper.sh');
const failCore1 = path.join(dir, 'fail-core1');
const slowStart = path.join(dir, 'slow-start');
const slowCore1 = path.join(dir, 'slow-core1');
fs.writeFileSync(
  wrapper,
  `#!/bin/sh
case "$*" in *core=1*) [ -e ${failCore1} ] && { echo "error injected failure for core 1"; exit 1; } ;; esac
case "$*" in *core=1*) [ -e ${slowCore1} ] && sleep "$(cat ${slowCore1})" ;; esac
[ -e ${slowStart} ] && sleep "$(cat ${slowStart})"
exec ${HELPER} "$@"
`,
  { mode: 0o755 },
);
/** Set (or with undefined, clear) a wrapper switch. */
const setSwitch = (file: string, value?: string) => {
  if (value === undefined) fs.rmSync(file, { force: true });
  else fs.writeFileSync(file, value);
};

test('a timeout recovers on time after the CLI has exited (detached watcher)', async () => {
  const r = cli(dir, ['inject', 'cpu', 'burn', '-p', '20', '-l', '0', '-t', '3s', '--uid', 'timeout-3s']);
  expect(r.code).toBe(0);
  expect(status('timeout-3s')).toBe('success');
  const t0 = Date.now();
  expect(await waitFor(() => status('timeout-3s') === 'destroyed', 10_000, 200)).toBe(true);
  console.log(`timeout 3s: recovered ${((Date.now() - t0) / 1000).toFixed(1)}s after inject returned`);
  expect(await waitFor(() => taggedPids('timeout-3s').length === 0, 3000)).toBe(true);
});

test('recover --expired finishes what a killed watcher left; helpers stop themselves after the deadline', async () => {
  expect(cli(dir, ['inject', 'cpu', 'burn', '-p', '20', '-l', '0', '-t', '2s', '--uid', 'expired-2s']).code).toBe(0);
  const watcher = taggedPids('expired-2s').filter((p) =>
    fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0').includes('watch'),
  );
  expect(watcher).toHaveLength(1);
  process.kill(watcher[0], 'SIGKILL');
  expect(await waitFor(() => taggedPids('expired-2s').length === 0, 8000)).toBe(true); // deadline + grace
  expect(status('expired-2s')).toBe('success'); // the store does not know yet…
  expect(cli(dir, ['check', 'expired-2s']).stdout).toMatch(/effect: gone/); // …but the host does
  const r = cli(dir, ['recover', '--expired']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/recover expired-2s success/);
  expect(status('expired-2s')).toBe('destroyed');
  const again = cli(dir, ['recover', '--expired']);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/nothing to recover/);
});

test('a live uid cannot be reused; an ended one can', () => {
  expect(cli(dir, ['inject', 'cpu', 'load', '-c', '1', '--uid', 'dup-uid-1']).code).toBe(0);
  const dup = cli(dir, ['inject', 'cpu', 'load', '-c', '1', '--uid', 'dup-uid-1']);
  expect(dup.code).toBe(1);
  expect(dup.stderr).toMatch(/still live/);
  expect(taggedPids('dup-uid-1')).toHaveLength(1);
  expect(cli(dir, ['recover', 'dup-uid-1']).code).toBe(0);
  expect(cli(dir, ['inject', 'cpu', 'load', '-c', '1', '--uid', 'dup-uid-1']).code).toBe(0);
  expect(cli(dir, ['recover', 'dup-uid-1']).code).toBe(0);
  expect(queryJson(dir, ['--uid', 'dup-uid-1']).total).toBe(1);
});

test('an inject that fails half-way undoes what it did and stores the error', () => {
  setSwitch(failCore1, '1');
  const r = cli(dir, ['inject', 'cpu', 'burn', '-p', '30', '-l', '0,1', '--uid', 'half-way-1', '-t', '1m'], {
    env: { CHAOSMETAD_HELPER: wrapper },
  });
  setSwitch(failCore1);
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/injected failure for core 1/);
  expect(taggedPids('half-way-1')).toEqual([]); // core 0's helper and the watcher are gone
  const e = queryJson(dir, ['--uid', 'half-way-1']).experiments[0];
  expect(e.status).toBe('error');
  expect(e.error).toMatch(/injected failure/);
  expect(cli(dir, ['recover', 'half-way-1']).code).toBe(0);
});

test('a CLI killed mid-inject leaves a record that recover finishes', async () => {
  setSwitch(slowCore1, '3');
  const child = spawn(
    process.execPath,
    [BIN, 'inject', 'cpu', 'burn', '-p', '30', '-l', '0,1', '--uid', 'killed-mid-1'],
    {
      env: { ...process.env, CHAOSMETAD_DATA_DIR: dir, CHAOSMETAD_HELPER: wrapper },
      stdio: 'ignore',
    },
  );
  const exited = new Promise((r) => child.on('exit', (_code, signal) => r(signal)));
  // core 0's helper burning, core 1's still starting (its wrapper sleeps): the CLI is killed half-way. (Waiting
  // for any tagged process was not enough once the helpers started together: the inject could end first.)
  const burning = () =>
    taggedPids('killed-mid-1').filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'chaosmeta_burn';
      } catch {
        return false;
      }
    });
  expect(await waitFor(() => burning().length >= 1, 10_000, 20)).toBe(true);
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  setSwitch(slowCore1);
  expect(burning().length).toBe(1);
  expect(status('killed-mid-1')).toBe('created');
  const r = cli(dir, ['recover', 'killed-mid-1']);
  expect(r.code).toBe(0);
  expect(status('killed-mid-1')).toBe('destroyed');
  expect(await waitFor(() => taggedPids('killed-mid-1').length === 0, 3000)).toBe(true);
  await sleep(3500); // had core 1's wrapper survived, it would now exec its helper
  expect(taggedPids('killed-mid-1')).toEqual([]);
});

test('a CLI killed while a helper is starting: the journal already names it, recover stops it', async () => {
  setSwitch(slowStart, '3');
  const child = spawn(
    process.execPath,
    [BIN, 'inject', 'cpu', 'burn', '-p', '30', '-l', '0', '--uid', 'killed-mid-2'],
    {
      env: { ...process.env, CHAOSMETAD_DATA_DIR: dir, CHAOSMETAD_HELPER: wrapper },
      stdio: 'ignore',
    },
  );
  const exited = new Promise((r) => child.on('exit', (_code, signal) => r(signal)));
  expect(await waitFor(() => taggedPids('killed-mid-2').length >= 1, 10_000, 20)).toBe(true); // the wrapper, asleep
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  setSwitch(slowStart);
  expect(status('killed-mid-2')).toBe('created');
  expect(cli(dir, ['recover', 'killed-mid-2']).code).toBe(0);
  expect(await waitFor(() => taggedPids('killed-mid-2').length === 0, 3000)).toBe(true);
  await sleep(3500); // had the wrapper survived, it would now exec the helper
  expect(taggedPids('killed-mid-2')).toEqual([]);
});

describe('bad input never touches the host and is never stored as success', () => {
  // (what parsing and validation refuse without reading this host: test/unit/refusals.test.ts)
  test.each([
    [['inject', 'cpu', 'burn', '-p', '50', '-l', '99'], /--list names core 99/],
    [['inject', 'cpu', 'burn', '-p', '50', '--container-id', 'abc'], /--container-id/],
  ])('%j', (args, message) => {
    const total = queryJson(dir).total;
    const r = cli(dir, args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^\[error\] /);
    expect(queryJson(dir).total).toBe(total);
    expect(taggedPids()).toEqual([]);
  });
});

test('as the original: cpu burn --count above the core count burns every core; mem fill with --percent and --bytes uses the percent', () => {
  const cores = os.cpus().length;
  const burn = cli(dir, ['inject', 'cpu', 'burn', '-p', '10', '-c', '1000', '--dry-run']);
  expect(burn.code).toBe(0);
  expect([...burn.stdout.matchAll(/start helper: .* burn .* core=(\d+) percent=10/g)].map((m) => Number(m[1]))).toEqual(
    [...Array(cores).keys()],
  );
  const fill = cli(dir, ['inject', 'mem', 'fill', '-p', '30', '-b', '1MB', '--dry-run']);
  expect(fill.code).toBe(0);
  const bytes = Number(/memfill .* bytes=(\d+)/.exec(fill.stdout)?.[1]);
  expect(bytes).not.toBe(1024 * 1024);
  expect(bytes).toBeGreaterThan(0);
});

test('recover --target/--fault recovers only the matching ones; --all the rest', () => {
  const a = uidOf(cli(dir, ['inject', 'cpu', 'load', '-c', '1']));
  const b = uidOf(cli(dir, ['inject', 'mem', 'fill', '-b', '10MB']));
  expect(cli(dir, ['recover', '--target', 'cpu', '--fault', 'load']).code).toBe(0);
  expect(status(a)).toBe('destroyed');
  expect(status(b)).toBe('success');
  const all = cli(dir, ['recover', '--all', '--json']);
  expect(all.code).toBe(0);
  expect(JSON.parse(all.stdout).results).toEqual([{ uid: b, status: 'destroyed', ok: true, message: 'recovered' }]);
});

test('parallel invocations never fail on the store', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number; err: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CHAOSMETAD_DATA_DIR: dir } });
      let err = '';
      c.stderr.on('data', (d) => {
        err += d;
      });
      c.on('exit', (code) => resolve({ code: code ?? -1, err }));
    });
  const uids = Array.from({ length: 12 }, (_, i) => `par-${i}-${process.pid}`);
  const injected = await Promise.all(uids.map((u) => run(['inject', 'cpu', 'load', '-c', '1', '--uid', u])));
  expect(injected.filter((r) => r.code !== 0)).toEqual([]);
  const mixed = await Promise.all([...uids.map((u) => run(['recover', u])), ...uids.map(() => run(['query', '-a']))]);
  expect(mixed.filter((r) => r.code !== 0)).toEqual([]);
  expect(mixed.some((r) => /locked/.test(r.err))).toBe(false);
  for (const u of uids) expect(status(u)).toBe('destroyed');
});

test('version prints one JSON line; help lists every level', () => {
  const v = cli(dir, ['version']);
  expect(v.code).toBe(0);
  expect(Object.keys(JSON.parse(v.stdout))).toEqual(['version', 'build-date']);
  expect(cli(dir, ['--help']).stdout).toMatch(/inject[\s\S]*query[\s\S]*recover[\s\S]*version/);
  expect(cli(dir, ['inject', '--help']).stdout).toMatch(/inject cpu[\s\S]*inject mem/);
  expect(cli(dir, ['inject', 'mem', '--help']).stdout).toMatch(/inject mem fill[\s\S]*inject mem oom/);
  expect(cli(dir, ['inject', 'cpu', 'burn', '--help']).stdout).toMatch(
    /--percent[\s\S]*chaosmetad inject cpu burn --percent 60/,
  );
});

test('--dry-run prints the exact changes and changes nothing', () => {
  const total = queryJson(dir).total;
  const r = cli(dir, ['inject', 'cpu', 'burn', '-p', '50', '-l', '1', '-t', '1m', '--dry-run']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/start watcher/);
  expect(r.stdout).toMatch(
    /start helper: .*chaosmetad-helper burn --chaosmetad-uid=\S+ --chaosmetad-step=0 core=1 percent=50/,
  );
  expect(queryJson(dir).total).toBe(total);
  expect(taggedPids()).toEqual([]);
});

lastTest(
  'leaves the host as it found it',
  async () => {
    cli(dir, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
