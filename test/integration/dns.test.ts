/**
 * dns record and server: getent sees the change; recover restores the exact bytes, keeping others' edits.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, queryJson, tmpDir, uidOf } from '../helpers';

jest.setTimeout(60_000);
const dir = tmpDir('dns');
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const stat = (f: string) => {
  const s = fs.statSync(f);
  return [s.mode, s.uid, s.gid];
};
/** the mtime to the nanosecond ("restored exactly" includes it; the access time is every reader's) */
const times = (f: string) => fs.statSync(f, { bigint: true }).mtimeNs;
const getent = (name: string) => spawnSync('getent', ['hosts', name], { encoding: 'utf8' }).stdout.trim();
const hosts0 = { sha: sha('/etc/hosts'), stat: stat('/etc/hosts'), times: times('/etc/hosts') };
const resolv0 = { sha: sha('/etc/resolv.conf'), stat: stat('/etc/resolv.conf'), times: times('/etc/resolv.conf') };
afterAll(() => cli(dir, ['recover', '--all'])); // a failed test's leftovers (the last test checks the files)

test('dns record add makes the name resolve; recover restores /etc/hosts byte for byte, mode and owner too', () => {
  expect(getent('chaos-test.example')).toBe('');
  const uid = uidOf(cli(dir, ['inject', 'dns', 'record', '--domain', 'chaos-test.example', '--ip', '10.9.9.9']));
  expect(getent('chaos-test.example')).toMatch(/^10\.9\.9\.9\s+chaos-test\.example/);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(getent('chaos-test.example')).toBe('');
  expect(sha('/etc/hosts')).toBe(hosts0.sha);
  expect(stat('/etc/hosts')).toEqual(hosts0.stat);
  expect(times('/etc/hosts')).toEqual(hosts0.times);
});

test('dns record: a line the user added meanwhile stays; only ours goes', () => {
  const h0 = fs.readFileSync('/etc/hosts', 'utf8');
  const uid = uidOf(cli(dir, ['inject', 'dns', 'record', '-d', 'chaos-test.example', '-i', '10.9.9.9']));
  const orig = fs.readFileSync('/etc/hosts', 'utf8');
  // the inject added its line, once, and changed nothing else
  const ours = (l: string) => /^10\.9\.9\.9\s+chaos-test\.example(\s|$)/.test(l);
  expect(orig.split('\n').filter(ours)).toEqual([`10.9.9.9 chaos-test.example # chaosmetad:${uid}`]);
  expect(
    orig
      .split('\n')
      .filter((l) => !ours(l))
      .join('\n'),
  ).toBe(h0);
  fs.appendFileSync('/etc/hosts', '10.8.8.8 user-added.example\n');
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  const now = fs.readFileSync('/etc/hosts', 'utf8');
  expect(now).toBe(`${h0}10.8.8.8 user-added.example\n`); // ours gone, the user's line kept, nothing else
  fs.writeFileSync('/etc/hosts', now.replace('10.8.8.8 user-added.example\n', ''));
  expect(sha('/etc/hosts')).toBe(hosts0.sha);
});

test('dns record delete takes a name out; recover puts back exactly that', () => {
  fs.appendFileSync('/etc/hosts', '10.7.7.7 keep.example chaos-del.example\n');
  try {
    const withLine = sha('/etc/hosts');
    expect(getent('chaos-del.example')).toMatch(/10\.7\.7\.7/);
    const uid = uidOf(cli(dir, ['inject', 'dns', 'record', '-d', 'chaos-del.example', '-m', 'delete']));
    expect(getent('chaos-del.example')).toBe('');
    expect(getent('keep.example')).toMatch(/10\.7\.7\.7/);
    expect(cli(dir, ['recover', uid]).code).toBe(0);
    expect(sha('/etc/hosts')).toBe(withLine);
  } finally {
    // the test's own line goes even when the test fails (a failed run once left it behind)
    cli(dir, ['recover', '--all']);
    fs.writeFileSync(
      '/etc/hosts',
      fs.readFileSync('/etc/hosts', 'utf8').replaceAll('10.7.7.7 keep.example chaos-del.example\n', ''),
    );
  }
});

test('dns server add goes first in resolv.conf; delete removes; recover restores the exact bytes', () => {
  const uid = uidOf(cli(dir, ['inject', 'dns', 'server', '--ip', '192.0.2.53']));
  expect(fs.readFileSync('/etc/resolv.conf', 'utf8').split('\n')[0]).toBe('nameserver 192.0.2.53'); // plain: resolv.conf has no trailing comments
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(sha('/etc/resolv.conf')).toBe(resolv0.sha);
  const first = /nameserver\s+(\S+)/.exec(fs.readFileSync('/etc/resolv.conf', 'utf8'));
  if (first) {
    const del = uidOf(cli(dir, ['inject', 'dns', 'server', '-i', first[1], '-m', 'delete']));
    expect(fs.readFileSync('/etc/resolv.conf', 'utf8')).not.toContain(`nameserver ${first[1]}`);
    expect(cli(dir, ['recover', del]).code).toBe(0);
    expect(sha('/etc/resolv.conf')).toBe(resolv0.sha);
    expect(stat('/etc/resolv.conf')).toEqual(resolv0.stat);
  }
  expect(times('/etc/resolv.conf')).toEqual(resolv0.times);
});

// (bad flags, refused before the files are read: test/unit/refusals.test.ts)
test.each([
  [['record', '-d', 'not-there.example', '-m', 'delete'], /not in \/etc\/hosts/],
  [['server', '-i', '192.0.2.99', '-m', 'delete'], /is not a nameserver/],
])('bad input %j: exit 1, files untouched', (args, msg) => {
  const total = queryJson(dir).total;
  const r = cli(dir, ['inject', 'dns', ...args]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(msg);
  expect(queryJson(dir).total).toBe(total);
  expect(sha('/etc/hosts')).toBe(hosts0.sha);
  expect(sha('/etc/resolv.conf')).toBe(resolv0.sha);
});

describe('resolv.conf as a symbolic link (systemd-resolved)', () => {
  const d = tmpDir('dns-link');
  const stub = path.join(d, 'stub-resolv.conf');
  const link = path.join(d, 'resolv.conf');
  const env = { CHAOSMETAD_RESOLV_FILE: link };
  beforeAll(() => {
    fs.chmodSync(d, 0o755);
    fs.writeFileSync(stub, '# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\n', { mode: 0o644 });
    fs.symlinkSync(stub, link);
  });

  test('the target is edited in place, the link kept, and both restored exactly', () => {
    const ino = fs.statSync(stub).ino;
    const bytes = fs.readFileSync(stub);
    const uid = uidOf(cli(dir, ['inject', 'dns', 'server', '--ip', '192.0.2.54'], { env }));
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(link)).toBe(stub);
    expect(fs.statSync(stub).ino).toBe(ino); // the same file, edited in place
    expect(fs.readFileSync(stub, 'utf8').split('\n')[0]).toBe('nameserver 192.0.2.54');
    expect(cli(dir, ['check', uid], { env }).stdout).toMatch(/in-place/);
    expect(cli(dir, ['recover', uid], { env }).code).toBe(0);
    expect(fs.readlinkSync(link)).toBe(stub);
    expect(fs.statSync(stub).ino).toBe(ino);
    expect(fs.readFileSync(stub)).toEqual(bytes);
    expect(fs.statSync(stub).mode & 0o7777).toBe(0o644);
  });

  test('a link in a directory another user controls is never followed (attack: it points at a root file)', () => {
    const evil = tmpDir('dns-evil');
    fs.chmodSync(evil, 0o755);
    const canary = path.join(tmpDir('dns-canary'), 'shadow');
    fs.writeFileSync(canary, 'root:secret\n', { mode: 0o600 });
    fs.symlinkSync(canary, path.join(evil, 'resolv.conf'));
    fs.chownSync(evil, 65534, 65534);
    const r = cli(dir, ['inject', 'dns', 'server', '--ip', '192.0.2.55'], {
      env: { CHAOSMETAD_RESOLV_FILE: path.join(evil, 'resolv.conf') },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/symbolic link in .*which uid 65534 can change: refusing to follow it as root/);
    expect(fs.readFileSync(canary, 'utf8')).toBe('root:secret\n');
    expect(fs.statSync(canary).mode & 0o7777).toBe(0o600);
  });
});

test('after every case: /etc/hosts and resolv.conf are as they were, bytes and mtimes', () => {
  cli(dir, ['recover', '--all']);
  expect(sha('/etc/hosts')).toBe(hosts0.sha);
  expect(sha('/etc/resolv.conf')).toBe(resolv0.sha);
  expect(times('/etc/resolv.conf')).toEqual(resolv0.times);
});
