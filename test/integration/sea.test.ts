/**
 * The single executable: copied alone into an empty directory, no node_modules, its own asset cache.
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  lastTest,
  SEA,
  cli,
  cpuPercent,
  hostSettles,
  hostState,
  queryJson,
  sleep,
  taggedPids,
  tmpDir,
  waitFor,
} from '../helpers';

jest.setTimeout(120_000);
const dir = tmpDir('sea');
const alone = tmpDir('sea-alone');
const cache = tmpDir('sea-cache');
const exe = path.join(alone, 'chaosmetad');
let before: string;

beforeAll(() => {
  if (!fs.existsSync(SEA)) throw new Error(`${SEA} is missing: run npm run build first`);
  fs.copyFileSync(SEA, exe);
  fs.chmodSync(exe, 0o755);
  before = hostState();
});

// a bare environment: no node on purpose in PATH beyond the system dirs, no node_modules anywhere near
const run = (args: string[]) =>
  cli(dir, args, {
    exe,
    cwd: alone,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CHAOSMETAD_CACHE_DIR: cache, NODE_PATH: '', HOME: alone },
  });

test('runs alone: version, help, inject cpu burn with a measured effect, query, recover', async () => {
  const v = run(['version']);
  expect(v.code).toBe(0);
  expect(JSON.parse(v.stdout)['build-date']).toMatch(/^\d{4}-\d\d-\d\d$/);
  expect(run(['inject', '--help']).stdout).toMatch(/inject cpu/);
  const r = run(['inject', 'cpu', 'burn', '--percent', '50', '--list', '1', '--timeout', '2m', '--uid', 'sea-burn-1']);
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/uid: sea-burn-1/);
  // the helper and the sqlite addon came out of the executable
  const extracted = fs.readdirSync(cache).flatMap((d) => fs.readdirSync(path.join(cache, d)));
  expect(extracted).toEqual(expect.arrayContaining(['chaosmetad-helper', 'better_sqlite3.node']));
  await sleep(1500);
  const busy = (await cpuPercent(3000)).get(1)!;
  console.log(`single executable: cpu burn 50% on core 1 measured ${busy.toFixed(1)}%`);
  expect(Math.abs(busy - 50)).toBeLessThan(6);
  const helper = taggedPids('sea-burn-1').map((p) => fs.readlinkSync(`/proc/${p}/exe`));
  expect(helper.some((p) => p.startsWith(cache))).toBe(true);
  expect(queryJson(dir, ['--uid', 'sea-burn-1']).experiments[0].status).toBe('success');
  expect(run(['recover', 'sea-burn-1']).code).toBe(0);
  expect(taggedPids('sea-burn-1')).toEqual([]);
});

test('its watcher is the executable itself and recovers at the deadline', async () => {
  expect(run(['inject', 'mem', 'fill', '-b', '50MB', '-m', 'ram', '-t', '2s', '--uid', 'sea-timeout-1']).code).toBe(0);
  const watcher = taggedPids('sea-timeout-1').map((p) => fs.readlinkSync(`/proc/${p}/exe`));
  expect(watcher).toContain(exe);
  expect(
    await waitFor(() => queryJson(dir, ['--uid', 'sea-timeout-1']).experiments[0].status === 'destroyed', 10_000, 250),
  ).toBe(true);
  expect(await waitFor(() => taggedPids('sea-timeout-1').length === 0, 3000)).toBe(true);
});

test('its bundle runs with the code cache of the build-time training run; V8 flags that do not fit it only cost the cache', () => {
  const used = cli(dir, ['version'], {
    exe,
    cwd: alone,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CHAOSMETAD_CACHE_DIR: cache, CHAOSMETAD_DEBUG: '1' },
  });
  expect(used.code).toBe(0);
  expect(used.stderr).toBe('chaosmetad: code cache used\n');
  const other = cli(dir, ['version'], {
    exe,
    cwd: alone,
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      CHAOSMETAD_CACHE_DIR: cache,
      CHAOSMETAD_DEBUG: '1',
      NODE_OPTIONS: '--max-old-space-size=300',
    },
  });
  expect(other.code).toBe(0);
  // and nothing else on stderr: node's own cache of the main script is off, so no "Code cache data rejected" warning
  expect(other.stderr).toBe('chaosmetad: code cache rejected\n');
  expect(JSON.parse(other.stdout)).toEqual(JSON.parse(used.stdout));
});

test('bad input: exit 1 and the same message as from a checkout', () => {
  const r = run(['inject', 'cpu', 'burn', '--percent', '20%']);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('[error] --percent must be an integer in 1..100, got "20%"\n');
});

test('an extracted asset that is truncated (a power cut) or altered is written anew from the executable', () => {
  // both extracted: the addon by any command, the helper by an inject
  expect(run(['inject', 'cpu', 'load', '-c', '1', '--uid', 'sea-asset-0']).code).toBe(0);
  expect(run(['recover', 'sea-asset-0']).code).toBe(0);
  const [build] = fs.readdirSync(cache);
  const helper = path.join(cache, build, 'chaosmetad-helper');
  const addon = path.join(cache, build, 'better_sqlite3.node');
  const sizes = [fs.statSync(helper).size, fs.statSync(addon).size];
  const original = fs.readFileSync(helper);
  // truncated to nothing (what a power cut after rename without fsync leaves) and cut in half
  fs.truncateSync(addon, 0);
  fs.truncateSync(helper, Math.floor(sizes[0] / 2));
  const q = run(['inject', 'cpu', 'load', '-c', '1', '--uid', 'sea-asset-1']);
  expect(q.stderr).toBe('');
  expect(q.code).toBe(0);
  expect(run(['recover', 'sea-asset-1']).code).toBe(0);
  expect([fs.statSync(helper).size, fs.statSync(addon).size]).toEqual(sizes);
  expect(fs.readFileSync(helper).equals(original)).toBe(true);
  // the same size, other bytes (planted or bit-rotted): replaced too, and the helper it starts is ours
  const altered = Buffer.from(original);
  altered[altered.length - 100] ^= 0xff;
  fs.writeFileSync(helper, altered);
  const r = run(['inject', 'cpu', 'load', '-c', '1', '--uid', 'sea-asset-2']);
  expect(r.code).toBe(0);
  expect(fs.readFileSync(helper).equals(original)).toBe(true);
  expect(run(['recover', 'sea-asset-2']).code).toBe(0);
});

lastTest(
  'leaves the host as it found it',
  async () => {
    run(['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
