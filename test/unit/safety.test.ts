/** The pure parts of the hardening: link resolution rules, request guards, echo -e, whole-line removal. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Dir, openNoFollow, resolveSafe, workDirChecked } from '../../src/host/safefs';
import { asksRecoverCmd, hostOf, isLoopback } from '../../src/server/guard';
import { echoE, withoutChunks } from '../../src/faults/file/append';
import { matchSets } from '../../src/faults/network/common';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-unit-safe-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('resolveSafe: links are followed only where root alone could have made them', () => {
  test('a link in a root-only directory is followed; one in a directory another user owns is refused', () => {
    fs.mkdirSync(path.join(root, 'mine'), { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'mine', 'target'), 'x');
    fs.symlinkSync(path.join(root, 'mine', 'target'), path.join(root, 'mine', 'link'));
    expect(resolveSafe(path.join(root, 'mine', 'link'), { followFinal: true }).path).toBe(
      path.join(root, 'mine', 'target'),
    );
    expect(resolveSafe(path.join(root, 'mine', 'link'))).toMatchObject({
      isLink: true,
      path: path.join(root, 'mine', 'link'),
    });

    const theirs = path.join(root, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o755 });
    fs.symlinkSync('/etc', path.join(theirs, 'etc'));
    fs.chownSync(theirs, 65534, 65534);
    expect(() => resolveSafe(path.join(theirs, 'etc', 'shadow'))).toThrow(
      /symbolic link in .*theirs, which uid 65534 can change/,
    );
    // the final link itself is not followed unless asked
    expect(resolveSafe(path.join(theirs, 'etc')).isLink).toBe(true);
    expect(() => resolveSafe(path.join(theirs, 'etc'), { followFinal: true })).toThrow(/refusing to follow it as root/);
  });

  test("in a sticky directory only root's own links are followed", () => {
    const sticky = path.join(root, 'sticky');
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777);
    fs.symlinkSync('/etc', path.join(sticky, 'byroot'));
    fs.symlinkSync('/etc', path.join(sticky, 'bynobody'));
    fs.lchownSync(path.join(sticky, 'bynobody'), 65534, 65534);
    expect(resolveSafe(path.join(sticky, 'byroot', 'hostname')).path).toBe('/etc/hostname');
    expect(() => resolveSafe(path.join(sticky, 'bynobody', 'hostname'))).toThrow(/which uid 65534 can change/);
  });

  test('Dir.open refuses a component that is a link; openNoFollow refuses a final link and a changed inode', () => {
    fs.symlinkSync('/etc', path.join(root, 'lnkdir'));
    expect(() => Dir.open(path.join(root, 'lnkdir'))).toThrow(/changed while it was opened/);
    const d = Dir.open(path.join(root, 'mine'));
    try {
      expect(() => openNoFollow(d, 'link', fs.constants.O_RDONLY)).toThrow(/is a symbolic link; not following it/);
      const ino = String(fs.statSync(path.join(root, 'mine', 'target'), { bigint: true }).ino);
      fs.closeSync(openNoFollow(d, 'target', fs.constants.O_RDONLY, 0, ino));
      expect(() => openNoFollow(d, 'target', fs.constants.O_RDONLY, 0, '1')).toThrow(
        /no longer the file chaosmetad changed/,
      );
    } finally {
      d.close();
    }
  });

  test("work directories: root-only or root's sticky ones; another user's or a world-writable non-sticky one is refused", () => {
    expect(workDirChecked('/tmp', 'dir')).toBe('/tmp');
    expect(workDirChecked(path.join(root, 'mine'), 'dir')).toBe(path.join(root, 'mine'));
    expect(() => workDirChecked(path.join(root, 'theirs'), 'dir')).toThrow(
      /can be written by another user \(owner uid 65534/,
    );
    const open = path.join(root, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    expect(() => workDirChecked(open, 'dir')).toThrow(/mode 777, not sticky/);
  });
});

describe('daemon guards', () => {
  test.each([
    ['127.0.0.1:29595', '127.0.0.1'],
    ['localhost', 'localhost'],
    ['[::1]:80', '::1'],
    ['Evil.Example:1', 'evil.example'],
    ['', undefined],
    ['a b', undefined],
    ['x:99999999', undefined],
  ])('Host %j → %j', (h, want) => expect(hostOf(h)).toBe(want));
  test('loopback', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '[::1]'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', 'evil.example'].some(isLoopback)).toBe(false);
  });
  test('any spelling of recover_cmd / recover_shell counts, empty ones do not', () => {
    for (const a of [
      { recover_cmd: 'x' },
      { recoverCmd: 'x' },
      { 'recover-cmd': 'x' },
      { RECOVER_SHELL: true },
      { recover_shell: 'true' },
    ])
      expect(asksRecoverCmd(a)).toBe(true);
    for (const a of [{}, { recover_cmd: '' }, { recover_shell: false }, { recover_cmd: null }, { key: 'recover_cmd' }])
      expect(asksRecoverCmd(a)).toBe(false);
  });
});

describe('file append: echo -e content and whole-line removal', () => {
  test.each([
    ['a\\nb\\nc\\nd', 'a\nb\nc\nd'],
    ['tab\\there', 'tab\there'],
    ['back\\\\slash', 'back\\slash'],
    ['oct\\0101', 'octA'],
    ['hex\\x41', 'hexA'],
    ['stop\\cignored', 'stop'],
    ['plain', 'plain'],
    ['trailing\\', 'trailing\\'],
    ['unknown\\q', 'unknown\\q'],
  ])('%j → %j', (raw, want) => expect(echoE(raw)).toBe(want));

  test('only whole copies of our lines go; a line another writer wrote that contains ours stays', () => {
    const chunk = Buffer.from('ERR\n');
    const tail = Buffer.from('ERR\nother ERR\nERR\nxERR\nERR\n');
    expect(withoutChunks(tail, chunk).toString()).toBe('other ERR\nxERR\n');
    expect(withoutChunks(Buffer.from('a\nb\n'), Buffer.from('a\nb\n')).toString()).toBe('');
    expect(withoutChunks(Buffer.from('keep\n'), chunk).toString()).toBe('keep\n');
  });
});

describe('network filters', () => {
  test('no filter: one catch-all (protocol all); ports alone: IPv4 and IPv6 filters; addresses by family', () => {
    expect(matchSets({ interface: 'x' })).toEqual([]);
    expect(matchSets({ interface: 'x', dstPort: ['80'] })).toEqual([
      { proto: 'ip', match: ['match', 'ip', 'dport', '80', '0xffff'] },
      { proto: 'ipv6', match: ['match', 'ip6', 'dport', '80', '0xffff'] },
    ]);
    expect(matchSets({ interface: 'x', dstIp: ['10.0.0.1', 'fd00::/8'] })).toEqual([
      { proto: 'ip', match: ['match', 'ip', 'dst', '10.0.0.1/32'] },
      { proto: 'ipv6', match: ['match', 'ip6', 'dst', 'fd00::/8'] },
    ]);
    // an IPv4 source with an IPv6 destination matches nothing: refused (never taken as "all traffic")
    expect(() => matchSets({ interface: 'x', srcIp: ['10.0.0.1'], dstIp: ['fd00::1'] })).toThrow(
      /no address family in common/,
    );
    expect(matchSets({ interface: 'x', srcIp: ['10.0.0.1', 'fd00::2'], dstIp: ['fd00::1'] })).toEqual([
      { proto: 'ipv6', match: ['match', 'ip6', 'src', 'fd00::2/128', 'match', 'ip6', 'dst', 'fd00::1/128'] },
    ]);
  });
});
