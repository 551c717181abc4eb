/**
 * Symlink and swap attacks on the file work chaosmetad does as root, each performed by the user nobody in a
 * directory nobody owns, against a root-owned canary whose bytes and mode must never change.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { asNobody, cli, hostSettles, hostState, lastTest, sleep, tmpDir, uidOf } from '../helpers';

jest.setTimeout(60_000);
const dir = tmpDir('fattack'); // the data dir (root's)
const safe = tmpDir('fattack-canary');
const canary = path.join(safe, 'shadow');
const SECRET = 'root:$6$secret-hash:19000:0:99999:7:::\n';
let before: string;
let n = 0;

/** A fresh directory owned by nobody (mode 0755), as a user's home or a service's writable dir would be. */
function userDir(): string {
  const d = tmpDir(`fattack-user-${++n}`);
  fs.chmodSync(d, 0o755);
  fs.chownSync(d, 65534, 65534);
  return d;
}
const asUser = (script: string) => {
  const r = asNobody(['sh', '-c', script]);
  if (r.code !== 0) throw new Error(`attacker script failed: ${r.stderr}`);
};
const canaryIntact = () => {
  expect(fs.readFileSync(canary, 'utf8')).toBe(SECRET);
  expect(fs.statSync(canary).mode & 0o7777).toBe(0o600);
  expect(fs.statSync(canary).uid).toBe(0);
};
/** No file under the data dir holds the canary's bytes (nothing of the secret copied anywhere). */
const secretCopied = (): string[] => {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes('secret-hash')) hits.push(p);
    }
  };
  walk(dir);
  return hits;
};

beforeAll(() => {
  before = hostState();
  fs.writeFileSync(canary, SECRET, { mode: 0o600 });
});
afterEach(() => canaryIntact());

test('file chmod: the file swapped for a link to a root file before recover — the link is not followed', () => {
  const d = userDir();
  const f = path.join(d, 'config');
  asUser(`echo hi > ${f} && chmod 644 ${f}`);
  const uid = uidOf(cli(dir, ['inject', 'file', 'chmod', '-p', f, '-P', '000']));
  expect(fs.statSync(f).mode & 0o777).toBe(0);
  asUser(`mv ${f} ${f}.old && ln -s ${canary} ${f}`);
  const r = cli(dir, ['recover', uid]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/was replaced meanwhile.*left it alone, mode not restored/);
  expect(fs.lstatSync(f).isSymbolicLink()).toBe(true);
  // another regular file in its place (a new inode): left alone too
  const g = path.join(d, 'other');
  asUser(`echo hi > ${g} && chmod 640 ${g}`);
  const uid2 = uidOf(cli(dir, ['inject', 'file', 'chmod', '-p', g, '-P', '600']));
  asUser(`echo new > ${g}.new && chmod 604 ${g}.new && mv ${g}.new ${g}`); // a new inode (made while the old one lives)
  expect(cli(dir, ['recover', uid2]).stdout).toMatch(/was replaced meanwhile/);
  expect(fs.statSync(g).mode & 0o777).toBe(0o604);
});

test("file chmod: the user's directory swapped for a link to /etc-like root dir: refused, not followed", () => {
  const d = userDir();
  const sub = path.join(d, 'sub');
  asUser(`mkdir ${sub} && echo x > ${sub}/shadow`);
  const uid = uidOf(cli(dir, ['inject', 'file', 'chmod', '-p', path.join(sub, 'shadow'), '-P', '666']));
  asUser(`mv ${sub} ${sub}.old && ln -s ${safe} ${sub}`);
  const r = cli(dir, ['recover', uid]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/left it alone/);
  // and a new inject through the link is refused before anything happens
  const again = cli(dir, ['inject', 'file', 'chmod', '-p', path.join(sub, 'shadow'), '-P', '666']);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/is a symbolic link in .* which uid 65534 can change/);
});

test('file add --force over a symlink: the link itself is replaced, and restored as the same link', () => {
  const d = userDir();
  const l = path.join(d, 'app.conf');
  asUser(`ln -s ${canary} ${l}`);
  const uid = uidOf(cli(dir, ['inject', 'file', 'add', '-p', l, '-c', 'broken=1', '-P', '777', '--force']));
  expect(fs.lstatSync(l).isFile()).toBe(true);
  expect(fs.readFileSync(l, 'utf8')).toBe('broken=1');
  expect(fs.statSync(l).mode & 0o777).toBe(0o777);
  canaryIntact(); // never its target's mode 0777
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.lstatSync(l).isSymbolicLink()).toBe(true);
  expect(fs.readlinkSync(l)).toBe(canary);
  expect(fs.lstatSync(l).uid).toBe(65534);
  expect(secretCopied()).toEqual([]);
});

test('file add: a file another user changed meanwhile is left as it is at recover', () => {
  const d = userDir();
  const f = path.join(d, 'new.conf');
  const uid = uidOf(cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'ours']));
  fs.writeFileSync(f, 'changed by the user');
  const r = cli(dir, ['recover', uid]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/changed by someone else meanwhile; left it in place/);
  expect(fs.readFileSync(f, 'utf8')).toBe('changed by the user');
});

test('file append: the path swapped for a link to a secret while the helper runs — nothing written through it, nothing copied', async () => {
  const d = userDir();
  const f = path.join(d, 'app.log');
  asUser(`printf 'line 1\\n' > ${f}`);
  const uid = uidOf(
    cli(dir, ['inject', 'file', 'append', '-p', f, '-c', 'INJECTED', '--count', '30', '--interval', '1']),
  );
  await sleep(200);
  asUser(`mv ${f} ${f}.rotated && ln -s ${canary} ${f}`);
  await sleep(1500); // the helper keeps appending (to the file it opened, not through the name)
  canaryIntact();
  const r = cli(dir, ['recover', uid]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/not the file chaosmetad appended to any more.*left it alone/);
  expect(fs.readlinkSync(f)).toBe(canary);
  expect(secretCopied()).toEqual([]);
});

test('file append recover edits in place: a writer holding the file open (O_APPEND) keeps writing to the live file', async () => {
  const d = userDir();
  const f = path.join(d, 'service.log');
  asUser(`printf 'start\\n' > ${f}`);
  const ino = fs.statSync(f).ino;
  // a service that keeps its log open and appends a line every 50 ms
  const writer = spawn(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '-e',
      `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(f)},'a');let i=0;setInterval(()=>fs.writeSync(fd,'svc '+(i++)+'\\n'),50)`,
    ],
    { stdio: 'ignore' },
  );
  try {
    await sleep(300);
    const uid = uidOf(cli(dir, ['inject', 'file', 'append', '-p', f, '-c', 'a\\nb\\nc\\nd']));
    await sleep(300);
    const during = fs.readFileSync(f, 'utf8');
    expect(during).toMatch(/\na\nb\nc\nd\n/); // echo -e: four lines
    expect(cli(dir, ['recover', uid]).code).toBe(0);
    expect(fs.statSync(f).ino).toBe(ino);
    const after = fs.readFileSync(f, 'utf8');
    expect(after).not.toMatch(/^[abcd]$/m);
    await sleep(300);
    const later = fs.readFileSync(f, 'utf8');
    expect(later.length).toBeGreaterThan(after.length); // the writer's lines still land in the live file
    const svc = later
      .split('\n')
      .filter((l) => l.startsWith('svc '))
      .map((l) => Number(l.slice(4)));
    expect(svc).toEqual(svc.map((_, i) => svc[0] + i)); // none of its lines lost or cut
  } finally {
    writer.kill('SIGKILL');
  }
});

test('disk fill and diskio burn: work files have unguessable names, a planted link is never followed, open dirs refused', () => {
  const d = tmpDir('fattack-sticky');
  fs.chmodSync(d, 0o1777); // like /tmp
  // the names the code before this change used: planted as links to the canary
  const uid = 'plant-fill-1';
  asUser(`ln -s ${canary} ${d}/chaosmetad_fill_${uid}.dat && ln -s ${canary} ${d}/chaosmetad_diskio_plant-io-1.dat`);
  const fill = cli(dir, ['inject', 'disk', 'fill', '-d', d, '-b', '1MB', '--uid', uid]);
  expect(fill.code).toBe(0);
  const made = fs.readdirSync(d).filter((x) => x.startsWith(`chaosmetad_fill_${uid}_`));
  expect(made.length).toBe(1);
  expect(fs.lstatSync(path.join(d, made[0])).isFile()).toBe(true);
  expect(fs.statSync(path.join(d, made[0])).mode & 0o777).toBe(0o600);
  const io = cli(dir, ['inject', 'diskio', 'burn', '-d', d, '-b', '64KB', '-m', 'write', '--uid', 'plant-io-1']);
  expect(io.code).toBe(0);
  canaryIntact();
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(cli(dir, ['recover', 'plant-io-1']).code).toBe(0);
  expect(fs.readdirSync(d).sort()).toEqual([`chaosmetad_diskio_plant-io-1.dat`, `chaosmetad_fill_${uid}.dat`]); // only the planted links
  for (const [fault, extra] of [
    ['disk', 'fill'],
    ['diskio', 'burn'],
  ] as const) {
    const open = tmpDir('fattack-open');
    fs.chmodSync(open, 0o777);
    const r = cli(dir, ['inject', fault, extra, '-d', open, '-b', '1MB']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--dir .* can be written by another user .*not sticky/);
    const theirs = userDir();
    expect(cli(dir, ['inject', fault, extra, '-d', theirs, '-b', '1MB']).stderr).toMatch(/owner uid 65534/);
  }
});

test("a recover command's output file lives in the experiment's root-only directory, not /tmp", () => {
  const out = path.join(safe, 'where');
  const victim = spawn('sleep', ['3623'], { stdio: 'ignore' });
  const uid = uidOf(
    cli(dir, ['inject', 'process', 'kill', '-p', String(victim.pid), '-r', `readlink /proc/self/fd/2 > ${out}`]),
  );
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.readFileSync(out, 'utf8').trim()).toMatch(new RegExp(`^${dir}/work/${uid}/recover-cmd-\\d+-\\d+\\.log`));
});

lastTest(
  'leaves the host as it found it',
  async () => {
    cli(dir, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
