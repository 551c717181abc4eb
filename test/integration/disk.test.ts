/**
 * disk fill (on a small tmpfs the test mounts) and diskio burn/limit/hang (on this machine's disk, by file I/O).
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HELPER, cli, hostSettles, hostState, lastTest, queryJson, sleep, taggedPids, tmpDir, uidOf } from '../helpers';

jest.setTimeout(90_000);
const dir = tmpDir('disk');
const mnt = tmpDir('disk-mnt');
let before: string;
beforeAll(() => {
  before = hostState();
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'chaosmetad-test', mnt]);
});

const usage = (p: string) => {
  const s = fs.statfsSync(p);
  const used = (s.blocks - s.bfree) * s.bsize;
  return (100 * used) / (used + s.bavail * s.bsize);
};

test('disk fill --percent reaches the target usage within 1 point; recover frees it', () => {
  const r = cli(dir, ['inject', 'disk', 'fill', '--dir', mnt, '--percent', '40', '--force']);
  expect(r.code).toBe(0);
  console.log(`disk fill 40%: df usage ${usage(mnt).toFixed(2)}%`);
  expect(Math.abs(usage(mnt) - 40)).toBeLessThan(1);
  const file = JSON.parse(queryJson(dir, ['--uid', uidOf(r)]).experiments[0].runtime).path;
  expect(fs.existsSync(file)).toBe(true);
  expect(cli(dir, ['recover', uidOf(r)]).code).toBe(0);
  expect(fs.existsSync(file)).toBe(false);
  expect(usage(mnt)).toBeLessThan(1);
});

test('disk fill to 100% makes a writer see ENOSPC; recover lets it write again', () => {
  const small = cli(dir, ['inject', 'disk', 'fill', '-d', mnt, '-p', '100']);
  expect(small.code).toBe(3);
  expect(small.stderr).toMatch(/less than 1 % or 100 MB.*--force/);
  const uid = uidOf(cli(dir, ['inject', 'disk', 'fill', '-d', mnt, '-p', '100', '--force']));
  expect(() => fs.writeFileSync(path.join(mnt, 'probe'), Buffer.alloc(65536))).toThrow(/ENOSPC/);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  fs.writeFileSync(path.join(mnt, 'probe'), Buffer.alloc(65536));
  fs.rmSync(path.join(mnt, 'probe'));
});

test('disk fill --bytes adds that much; recover gives it all back', () => {
  const before = fs.statfsSync(mnt).bfree;
  const uid = uidOf(cli(dir, ['inject', 'disk', 'fill', '-d', mnt, '-b', '10MB', '-f']));
  const s = fs.statfsSync(mnt);
  expect((before - s.bfree) * s.bsize).toBe(10 * 1024 * 1024);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.readdirSync(mnt)).toEqual([]);
});

/** bytes written (or read) per second by a process, from /proc/PID/io over ms */
async function rate(pid: number, field: 'write_bytes' | 'read_bytes', ms = 3000): Promise<number> {
  const get = () => Number(new RegExp(`^${field}: (\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
  const t0 = performance.now();
  const a = get();
  await sleep(ms);
  const b = get();
  // over the time that really passed: a loaded machine can overrun the sleep
  return ((b - a) * 1000) / (performance.now() - t0);
}

test('diskio burn writes with direct I/O until recover, then deletes its work file', async () => {
  const work = tmpDir('diskio-burn');
  const uid = uidOf(cli(dir, ['inject', 'diskio', 'burn', '--mode', 'write', '--block', '1M', '--dir', work]));
  const [pid] = taggedPids(uid);
  const r = await rate(pid, 'write_bytes', 2000);
  console.log(`diskio burn write: ${(r / 1048576).toFixed(0)} MB/s`);
  expect(r).toBeGreaterThan(5 * 1048576);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(taggedPids(uid)).toEqual([]);
  expect(fs.readdirSync(work)).toEqual([]);
});

describe("diskio limit and hang throttle a process on this machine's disk (cgroup blkio or io.max)", () => {
  let victim: ChildProcess;
  const work = tmpDir('diskio-victim');
  beforeAll(async () => {
    // a steady direct-I/O writer on a file of this machine's disk (a copy of the helper, untagged: not ours)
    const exe = path.join(work, 'io-victim');
    fs.copyFileSync(HELPER, exe);
    fs.chmodSync(exe, 0o755);
    const varTmp = fs.mkdtempSync('/var/tmp/chaosmetad-test-');
    victim = spawn(exe, ['diskio', `file=${varTmp}/f`, 'mode=write', 'block=1048576', 'size=67108864'], {
      cwd: varTmp,
      stdio: 'ignore',
    });
    await sleep(500);
  });
  afterAll(() => {
    victim.kill('SIGKILL');
  });

  test('diskio limit --write-bytes holds throughput at the limit (±20 %); recover lifts it and moves it back', async () => {
    const pid = victim.pid!;
    const cgBefore = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const free = await rate(pid, 'write_bytes', 1500);
    const r = cli(dir, ['inject', 'diskio', 'limit', '--pid-list', String(pid), '--write-bytes', '2MB']);
    expect(r.stderr).toBe('');
    const uid = uidOf(r);
    await sleep(500);
    const limited = await rate(pid, 'write_bytes', 4000);
    console.log(
      `diskio limit 2MB/s: free ${(free / 1048576).toFixed(0)} MB/s, limited ${(limited / 1048576).toFixed(2)} MB/s`,
    );
    expect(Math.abs(limited - 2 * 1048576) / (2 * 1048576)).toBeLessThan(0.2);
    expect(cli(dir, ['check', uid]).stdout).toMatch(/in-place/);
    expect(cli(dir, ['recover', uid]).code).toBe(0);
    expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(cgBefore);
    expect(await rate(pid, 'write_bytes', 1500)).toBeGreaterThan(8 * 1048576);
  });

  test('diskio hang --mode write stops writes; recover resumes them', async () => {
    const pid = victim.pid!;
    const cgBefore = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const uid = uidOf(cli(dir, ['inject', 'diskio', 'hang', '-p', String(pid), '-m', 'write']));
    expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).not.toBe(cgBefore);
    await sleep(1500);
    const hung = await rate(pid, 'write_bytes', 2000);
    console.log(`diskio hang: ${hung} bytes/s written`);
    expect(hung).toBeLessThan(1048576);
    expect(cli(dir, ['recover', uid]).code).toBe(0);
    expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(cgBefore); // back in its own cgroup
    expect(await rate(pid, 'write_bytes', 1500)).toBeGreaterThan(8 * 1048576);
  });

  // (bad flags and pids, refused in-process: test/unit/refusals.test.ts; this one reads the victim's devices)
  test('--device that is not a block device: exit 1, nothing moved', () => {
    const cg = fs.readFileSync(`/proc/${victim.pid}/cgroup`, 'utf8');
    const r = cli(dir, ['inject', 'diskio', 'limit', '-k', 'io-victim', '--read-bytes', '1MB', '-d', '999:999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/999:999 is not a block device/);
    expect(fs.readFileSync(`/proc/${victim.pid}/cgroup`, 'utf8')).toBe(cg);
  });
});

lastTest(
  'leaves the host as it found it',
  async () => {
    cli(dir, ['recover', '--all']);
    execFileSync('umount', [mnt]);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
