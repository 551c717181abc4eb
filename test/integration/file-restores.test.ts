/**
 * Exact restores: extended attributes (file capabilities, ACLs) come back, a file over 2 GiB is edited in place,
 * and a delete across filesystems never leaves a partial copy in place of the original, wherever it is killed.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, cli, hostSettles, hostState, lastTest, taggedPids, tmpDir, uidOf, waitFor } from '../helpers';

jest.setTimeout(120_000);
const dir = tmpDir('restore');
const files = tmpDir('restore-files');
let before: string;
const sh = (...argv: string[]) => spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
const caps = (f: string) =>
  sh('getcap', f)
    .stdout.trim()
    .replace(/^\S+\s+/, '');
const acl = (f: string) => sh('getfacl', '-c', '-p', f).stdout;
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

beforeAll(() => {
  before = hostState();
});

test('file capabilities and ACLs survive file add --force (replace) and file append (the write drops the capability)', () => {
  const f = path.join(files, 'tool');
  fs.writeFileSync(f, 'binary\n', { mode: 0o755 });
  expect(sh('setcap', 'cap_net_raw,cap_net_bind_service+ep', f).status).toBe(0);
  expect(sh('setfacl', '-m', 'u:nobody:r', f).status).toBe(0);
  const caps0 = caps(f);
  const acl0 = acl(f);
  expect(caps0).toMatch(/cap_net_bind_service,cap_net_raw=ep/);
  expect(acl0).toMatch(/user:nobody:r--/);

  const add = uidOf(cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'replaced', '--force']));
  expect(caps(f)).toBe('');
  expect(cli(dir, ['recover', add]).code).toBe(0);
  expect([fs.readFileSync(f, 'utf8'), caps(f), acl(f)]).toEqual(['binary\n', caps0, acl0]);

  const app = uidOf(cli(dir, ['inject', 'file', 'append', '-p', f, '-c', 'tail']));
  expect(caps(f)).toBe(''); // the kernel dropped it on the write
  expect(cli(dir, ['recover', app]).code).toBe(0);
  expect([fs.readFileSync(f, 'utf8'), caps(f), acl(f)]).toEqual(['binary\n', caps0, acl0]);
});

test('file append on a file over 2 GiB: lines appended and removed in place, the head never read or rewritten', () => {
  const f = path.join(files, 'huge.log');
  const size = 2.5 * 1024 ** 3;
  fs.writeFileSync(f, '');
  fs.truncateSync(f, size); // sparse: 2.5 GiB that take no disk
  const fd = fs.openSync(f, 'r+');
  fs.writeSync(fd, 'last line\n', size - 10);
  fs.closeSync(fd);
  const ino = fs.statSync(f).ino;
  const blocks = fs.statSync(f).blocks;
  const uid = uidOf(cli(dir, ['inject', 'file', 'append', '-p', f, '-c', 'INJECTED']));
  const tail = () => {
    const b = Buffer.alloc(64);
    const h = fs.openSync(f, 'r');
    const n = fs.readSync(h, b, 0, 64, fs.statSync(f).size - 64);
    fs.closeSync(h);
    return b.subarray(0, n).toString();
  };
  expect(fs.statSync(f).size).toBe(size + 9);
  expect(tail()).toMatch(/last line\nINJECTED\n$/);
  const r = cli(dir, ['recover', uid]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(fs.statSync(f).size).toBe(size);
  expect(fs.statSync(f).ino).toBe(ino);
  expect(fs.statSync(f).blocks).toBe(blocks); // still sparse: nothing was rewritten
  expect(tail()).toMatch(/last line\n$/);
  fs.rmSync(f);
});

describe('file del across filesystems (the data dir on a tmpfs)', () => {
  const mnt = tmpDir('restore-tmpfs');
  const data = path.join(mnt, 'data');
  beforeAll(() => {
    expect(sh('mount', '-t', 'tmpfs', '-o', 'size=1g', 'cmd-restore', mnt).status).toBe(0);
  });
  afterAll(() => {
    cli(data, ['recover', '--all']);
    sh('umount', mnt);
  });

  test('moved to the backup and back with bytes and metadata; killed at random moments, the original is never replaced by a partial copy', async () => {
    const f = path.join(files, 'big.bin');
    const chunk = crypto.randomBytes(1 << 20);
    const fd = fs.openSync(f, 'w', 0o640);
    for (let i = 0; i < 192; i++) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    const want = sha(f);
    const st0 = fs.statSync(f);

    // a clean round first
    const uid = uidOf(cli(data, ['inject', 'file', 'del', '-p', f]));
    expect(fs.existsSync(f)).toBe(false);
    expect(cli(data, ['recover', uid]).code).toBe(0);
    expect(sha(f)).toBe(want);
    const st1 = fs.statSync(f);
    expect([st1.mode, st1.uid, st1.mtimeMs]).toEqual([st0.mode, st0.uid, st0.mtimeMs]);

    // then SIGKILL the inject, and the recover, anywhere in the copy
    const kills: string[] = [];
    // node takes ~450 ms to start here: most of these land in the copy, or between the copy and the unlink
    for (const ms of [40, 450, 500, 550, 600, 650, 750]) {
      const child = spawn(process.execPath, [BIN, 'inject', 'file', 'del', '-p', f, '--uid', `kdel-${ms}`], {
        env: { ...process.env, CHAOSMETAD_DATA_DIR: data },
        stdio: 'ignore',
      });
      const injectExited = new Promise((r) => child.on('exit', r)); // listened from the start: it may finish first
      await new Promise((r) => setTimeout(r, ms));
      child.kill('SIGKILL');
      await injectExited;
      kills.push(`${ms} ms: original ${fs.existsSync(f) ? 'present' : 'moved'}`);
      if (fs.existsSync(f)) expect(sha(f)).toBe(want); // intact, or …
      const rec = spawn(process.execPath, [BIN, 'recover', '--all'], {
        env: { ...process.env, CHAOSMETAD_DATA_DIR: data },
        stdio: 'ignore',
      });
      const recExited = new Promise((r) => rec.on('exit', r));
      await new Promise((r) => setTimeout(r, ms / 2));
      rec.kill('SIGKILL');
      await recExited;
      if (fs.existsSync(f)) expect(sha(f)).toBe(want); // … never a partial copy in its place
      expect(cli(data, ['recover', '--all']).code).toBe(0);
      expect(await waitFor(() => !sh('pgrep', '-f', 'chaosmetad-helper tree').stdout.trim(), 10_000)).toBe(true);
      expect(sha(f)).toBe(want);
      expect(fs.readdirSync(files).filter((x) => x.includes('chaosmetad'))).toEqual([]);
    }
    console.log(`file del across filesystems, killed at: ${kills.join('; ')}`);
    expect(taggedPids()).toEqual([]);
  });
});

lastTest(
  'leaves the host as it found it',
  async () => {
    cli(dir, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
