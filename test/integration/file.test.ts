/**
 * file faults: sha256, mode, owner and mtime before vs after recover; backups gone after recover.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, sleep, taggedPids, tmpDir, uidOf, waitFor } from '../helpers';

jest.setTimeout(60_000);
const dir = tmpDir('file');
const area = tmpDir('file-area');

function fingerprint(p: string) {
  const st = fs.lstatSync(p, { bigint: true });
  return {
    sha: st.isFile() ? crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') : 'dir',
    mode: (st.mode & 0o7777n).toString(8),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: String(st.mtimeNs),
  };
}
function sample(name: string, content = 'original content\n'): string {
  const p = path.join(area, name);
  fs.writeFileSync(p, content);
  fs.chmodSync(p, 0o640);
  fs.chownSync(p, 65534, 65534);
  execFileSync('touch', ['-d', '2021-02-03 04:05:06.123456789', p]);
  return p;
}
const otherFs = tmpDir('file-otherfs');
beforeAll(() => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'chaosmetad-test', otherFs]));
afterAll(() => execFileSync('umount', [otherFs]));
const workDirs = () => (fs.existsSync(path.join(dir, 'work')) ? fs.readdirSync(path.join(dir, 'work')) : []);
afterAll(() => {
  cli(dir, ['recover', '--all']);
});
afterEach(() => expect(workDirs()).toEqual([])); // backups removed after every recover

test('file add creates, recover removes it and the directories it made', () => {
  const p = path.join(area, 'new', 'deeper', 'added.conf');
  const uid = uidOf(cli(dir, ['inject', 'file', 'add', '-p', p, '-c', 'broken=1', '-P', '600', '--force']));
  expect(fs.readFileSync(p, 'utf8')).toBe('broken=1');
  expect((fs.statSync(p).mode & 0o777).toString(8)).toBe('600');
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.existsSync(path.join(area, 'new'))).toBe(false);
});

test('file add --force over an existing file restores it exactly', () => {
  const p = sample('replace.conf');
  const before = fingerprint(p);
  const uid = uidOf(cli(dir, ['inject', 'file', 'add', '-p', p, '-c', 'replaced', '-f']));
  expect(fs.readFileSync(p, 'utf8')).toBe('replaced');
  expect(fingerprint(p).mode).toBe('640'); // keeps the original mode when none given
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fingerprint(p)).toEqual(before);
});

test('file append adds lines with a helper; recover removes only ours, keeps a line written meanwhile', async () => {
  const p = sample('app.log', 'line 1\n');
  const uid = uidOf(cli(dir, ['inject', 'file', 'append', '-p', p, '-c', 'ERROR injected', '-C', '3', '-i', '1']));
  fs.appendFileSync(p, 'written by the app\n');
  await sleep(2500);
  expect(fs.readFileSync(p, 'utf8').match(/ERROR injected/g)).toHaveLength(3);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.readFileSync(p, 'utf8')).toBe('line 1\nwritten by the app\n');
  expect(taggedPids(uid)).toEqual([]);
});

test('file append then recover with nothing else written: bytes, mode, owner and mtime exactly as before', () => {
  const p = sample('app2.log');
  const before = fingerprint(p);
  const uid = uidOf(cli(dir, ['inject', 'file', 'append', '-p', p, '-c', 'x']));
  expect(fingerprint(p).sha).not.toBe(before.sha);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fingerprint(p)).toEqual(before);
});

test('file append to a last line without a newline starts on a new line; recover takes exactly that newline away', async () => {
  const p = sample('nonl.log', 'l1\nl2\ng34g');
  const before = fingerprint(p);
  const uid = uidOf(cli(dir, ['inject', 'file', 'append', '-p', p, '-c', 'wdvew', '-C', '4', '-i', '0']));
  expect(await waitFor(() => (fs.readFileSync(p, 'utf8').match(/wdvew/g) ?? []).length === 4, 5000)).toBe(true);
  // the file's own last line intact: 3 + 4 lines (the original's suite counts these)
  expect(fs.readFileSync(p, 'utf8')).toBe('l1\nl2\ng34g\n' + 'wdvew\n'.repeat(4));
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fingerprint(p)).toEqual(before); // 'g34g' ends the file again, mtime and all
});

test('file append --raw leaves the lines (the documented exception)', () => {
  const p = sample('raw.log', 'a\n');
  const uid = uidOf(cli(dir, ['inject', 'file', 'append', '-p', p, '-c', 'kept', '--raw']));
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.readFileSync(p, 'utf8')).toBe('a\nkept\n');
});

test('file chmod changes the mode; recover restores it exactly', () => {
  const p = sample('chmod.conf');
  const before = fingerprint(p);
  const uid = uidOf(cli(dir, ['inject', 'file', 'chmod', '-p', p, '-P', '000']));
  expect(fingerprint(p).mode).toBe('0');
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fingerprint(p)).toEqual(before);
});

test.each(['del', 'delete'])('file %s keeps the file under the data dir and restores it exactly', (fault) => {
  const p = sample(`${fault}.conf`);
  const before = fingerprint(p);
  const uid = uidOf(cli(dir, ['inject', 'file', fault, '-p', p]));
  expect(fs.existsSync(p)).toBe(false);
  expect(fs.readdirSync(area).some((f) => f.includes(fault) && f !== `${fault}.conf`)).toBe(false); // no backup next to it
  expect(fs.existsSync(path.join(dir, 'work', uid, 'deleted'))).toBe(true);
  expect(cli(dir, ['check', uid]).stdout).toMatch(/in-place/);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fingerprint(p)).toEqual(before);
});

test('file del refuses a directory unless --recursive, then restores the whole tree', () => {
  const d = path.join(area, 'tree');
  fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(d, 'sub', 'f'), 'x');
  const r = cli(dir, ['inject', 'file', 'del', '-p', d]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/is a directory; add --recursive/);
  const uid = uidOf(cli(dir, ['inject', 'file', 'del', '-p', d, '--recursive']));
  expect(fs.existsSync(d)).toBe(false);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.readFileSync(path.join(d, 'sub', 'f'), 'utf8')).toBe('x');
});

test('file mv moves away and back, across filesystems too', () => {
  const p = sample('mv.conf');
  const before = fingerprint(p);
  for (const dst of [path.join(area, 'mv.moved'), otherFs]) {
    const uid = uidOf(cli(dir, ['inject', 'file', 'mv', '--src', p, '--dst', dst]));
    expect(fs.existsSync(p)).toBe(false);
    expect(cli(dir, ['recover', uid]).code).toBe(0);
    expect(fingerprint(p)).toEqual(before);
  }
});

// (bad paths and flags — /proc, /sys, /dev, through a link too, missing files, an existing file without --force —
// are refused before anything runs: test/unit/refusals.test.ts)
