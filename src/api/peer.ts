/**
 * Who answers a connection on this host: the CLI sends its token (and believes a reply) only when the kernel says
 * the other end is root's (or this user's own). A port or a socket path is a name any local user can take while the
 * daemon is down; the kernel's socket tables cannot be forged.
 *
 * - Loopback TCP: after connecting and before writing a byte, the entry of this very connection's other end in
 *   /proc/net/tcp or tcp6 (local address = our remote, remote = our local). An accepted socket is a clone of its
 *   listener and carries the listener's owner (sk_uid, the uid column; a connection still in the accept queue is
 *   listed too, with its listener's uid), so the uid column is the uid that created the listening socket.
 * - A Unix socket: Node does not expose SO_PEERCRED. Instead the socket file must be owned by root (or this user)
 *   and so must every directory above it, none of them writable by group or others (an ancestor may be sticky, as
 *   /tmp: then only its owner or root may rename the root-owned entry in it). The file of a socket is created by
 *   bind() with the binder's uid, and no one else can replace or rename anything on that path, so the listener we
 *   reach through it was bound by root. We connect to the path with symlinks resolved, the one we checked.
 * - Both: when the daemon's pid file names the daemon whose token we send, that process must hold a listening
 *   socket on the address we reached (its /proc/PID/fd), so the token goes to that daemon and not to some other
 *   root service on its port.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lazy } from '../util/lazy';

const os = lazy<typeof import('node:os')>(() => require('node:os')); // loaded on first use: start-up time

export interface Endpoint {
  /** the address as 32 hex digits (16 bytes; IPv4 as ::ffff:a.b.c.d), see addrKey */
  key: string;
  port: number;
}

export interface TcpEntry {
  local: Endpoint;
  remote: Endpoint;
  /** the kernel's TCP state: 1 ESTABLISHED, 3 SYN_RECV, 6 TIME_WAIT, 10 LISTEN, … */
  state: number;
  uid: number;
  inode: number;
}

export const TCP_TIME_WAIT = 6;
export const TCP_LISTEN = 10;
const V4_PREFIX = '00000000000000000000ffff';

/** An address in text (IPv4, IPv6, [IPv6], with a %zone) as 32 hex digits; undefined when it is not one. */
export function addrKey(text: string): string | undefined {
  const a = text
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase();
  const v4 = (s: string): string | undefined => {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
    if (!m) return undefined;
    const bytes = m.slice(1).map(Number);
    if (bytes.some((b) => b > 255)) return undefined;
    return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  };
  const four = v4(a);
  if (four) return V4_PREFIX + four;
  if (!/^[0-9a-f:.]+$/.test(a) || !a.includes(':')) return undefined;
  let text6 = a;
  const tail = /:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a); // ::ffff:127.0.0.1
  if (tail) {
    const hex = v4(tail[1]);
    if (!hex) return undefined;
    text6 = a.slice(0, tail.index + 1) + `${hex.slice(0, 4)}:${hex.slice(4)}`;
  }
  const halves = text6.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...rest];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => g.padStart(4, '0')).join('');
}

/** A key back as text (for messages): dotted IPv4 for ::ffff:a.b.c.d, else the 8 groups. */
export function keyText(key: string): string {
  if (key.startsWith(V4_PREFIX)) return [0, 2, 4, 6].map((i) => parseInt(key.slice(24 + i, 26 + i), 16)).join('.');
  return (key.match(/.{4}/g) ?? []).map((g) => g.replace(/^0{1,3}/, '')).join(':');
}

/** /proc/net/tcp's address: 8 (IPv4) or 32 (IPv6) hex digits, each 32-bit word in this host's byte order. */
function procAddr(hex: string, littleEndian: boolean): string {
  const words = hex.toLowerCase().match(/.{8}/g) ?? [];
  const bytes = words.map((w) => (littleEndian ? (w.match(/../g) ?? []).reverse().join('') : w)).join('');
  return bytes.length === 8 ? V4_PREFIX + bytes : bytes;
}

/** The entries of /proc/net/tcp or /proc/net/tcp6 (the header line skipped, malformed lines too). */
export function parseProcNetTcp(text: string, littleEndian = true): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const local = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(f[1] ?? '');
    const remote = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(f[2] ?? '');
    if (!local || !remote || !/^\d+$/.test(f[7] ?? '') || !/^\d+$/.test(f[9] ?? '')) continue;
    out.push({
      local: { key: procAddr(local[1], littleEndian), port: parseInt(local[2], 16) },
      remote: { key: procAddr(remote[1], littleEndian), port: parseInt(remote[2], 16) },
      state: parseInt(f[3], 16),
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return out;
}

/** One of the kernel's TCP tables ('tcp' or 'tcp6'); empty when absent (no IPv6, no /proc). */
function tcpTable(which: string): TcpEntry[] {
  const le = os().endianness() === 'LE';
  try {
    return parseProcNetTcp(fs.readFileSync(`/proc/net/${which}`, 'latin1'), le);
  } catch {
    return [];
  }
}

const same = (a: Endpoint, b: Endpoint) => a.key === b.key && a.port === b.port;

/**
 * The entries of this connection's other end: local = our remote, remote = our local (a TIME_WAIT entry, listed
 * with uid 0 whoever owned it, is no one's and left out).
 */
export function peerEntries(table: TcpEntry[], ours: { local: Endpoint; remote: Endpoint }): TcpEntry[] {
  return table.filter(
    (e) =>
      same(e.local, ours.remote) && same(e.remote, ours.local) && e.state !== TCP_TIME_WAIT && e.state !== TCP_LISTEN,
  );
}

/** Listening sockets that accept connections to this address and port (bound to it, or to 0.0.0.0 / ::). */
export function listenersOf(table: TcpEntry[], to: Endpoint): TcpEntry[] {
  const any4 = V4_PREFIX + '00000000';
  const any6 = '0'.repeat(32);
  const v4 = to.key.startsWith(V4_PREFIX);
  return table.filter(
    (e) =>
      e.state === TCP_LISTEN &&
      e.local.port === to.port &&
      (e.local.key === to.key || e.local.key === any6 || (v4 && e.local.key === any4)),
  );
}

/** Is this address one of this host's (loopback, unspecified, or an interface's)? */
export function isThisHost(address: string): boolean {
  const key = addrKey(address);
  if (!key) return false;
  if (key.startsWith(V4_PREFIX + '7f') || key === '0'.repeat(31) + '1') return true; // 127/8, ::1
  if (key === V4_PREFIX + '00000000' || key === '0'.repeat(32)) return true; // 0.0.0.0, ::
  for (const list of Object.values(os().networkInterfaces()))
    for (const i of list ?? []) if (addrKey(i.address) === key) return true;
  return false;
}

/** The uids trusted at the other end: root, and this user (who can read their own token anyway). */
export function trustedUid(uid: number): boolean {
  return uid === 0 || uid === (process.geteuid?.() ?? 0);
}

/**
 * Why the other end of this connection (to a daemon on this host) is not to be trusted, or undefined when it is.
 * The server's entry may appear a moment after our side is connected (loopback: the last ACK is processed in the
 * same softirq, but not guaranteed): looked up again for up to ~0.5 s.
 */
export async function untrustedTcpPeer(
  sock: { localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number },
  daemonPid?: number,
): Promise<string | undefined> {
  const lk = addrKey(sock.localAddress ?? '');
  const rk = addrKey(sock.remoteAddress ?? '');
  if (!lk || !rk || !sock.localPort || !sock.remotePort) return 'the connection has no addresses';
  const ours = { local: { key: lk, port: sock.localPort }, remote: { key: rk, port: sock.remotePort } };
  let table: TcpEntry[] = [];
  let peers: TcpEntry[] = [];
  // the table of the connection's family first (an IPv4 one is in tcp6 when the listener is a dual-stack [::]);
  // the listener is in the same table as the socket it accepted. A read walks the kernel's whole TCP hash table:
  // ~8-13 ms with 262 144 buckets (a 24 GB host), so one table is read when it holds the entry.
  const order = rk.startsWith(V4_PREFIX) ? ['tcp', 'tcp6'] : ['tcp6', 'tcp'];
  for (let i = 0; i < 25 && !peers.length; i++) {
    if (i) await new Promise((r) => setTimeout(r, 20));
    for (const which of order) {
      table = tcpTable(which);
      peers = peerEntries(table, ours);
      if (peers.length) break;
    }
  }
  if (!peers.length) return "the kernel's socket table (/proc/net/tcp, tcp6) does not list its other end";
  const bad = peers.find((p) => !trustedUid(p.uid));
  if (bad) return `the socket that answered belongs to uid ${bad.uid}, not root`;
  if (daemonPid !== undefined) {
    const inodes = listenersOf(table, ours.remote).map((e) => e.inode);
    const why = notHeldBy(daemonPid, inodes);
    if (why) return why;
  }
  return undefined;
}

/** Why process `pid` holds none of these sockets (by inode), or undefined when it holds one. */
export function notHeldBy(pid: number, inodes: number[]): string | undefined {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return undefined; // not ours to look into (a non-root client)
    return `the daemon named in its pid file (pid ${pid}) is not running`;
  }
  const wanted = new Set(inodes.filter((i) => i > 0).map((i) => `socket:[${i}]`));
  for (const fd of fds) {
    try {
      if (wanted.has(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))) return undefined;
    } catch {
      /* closed meanwhile */
    }
  }
  return `the listener is not the daemon's (pid ${pid}, from its pid file, does not hold it)`;
}

/** Inodes of the listening Unix sockets bound to this path (/proc/net/unix: flag __SO_ACCEPTCON, state 01). */
export function unixListeners(text: string, files: string[]): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    // Num RefCount Protocol Flags Type St Inode Path (the path may hold spaces: it is the rest of the line)
    const m = /^\s*[0-9a-fA-F]+:\s+\S+\s+\S+\s+([0-9a-fA-F]+)\s+\S+\s+(\S+)\s+(\d+)\s(.*)$/.exec(line);
    if (m && (parseInt(m[1], 16) & 0x10000) !== 0 && m[2] === '01' && files.includes(m[4].trimStart()))
      out.push(Number(m[3]));
  }
  return out;
}

/**
 * The path to connect to for a Unix socket the daemon listens on (symlinks resolved), or a refusal: the socket and
 * every directory above it must be root's (or this user's), none writable by group or others (sticky ancestors
 * excepted, as above; the socket's own directory may not be, as anyone may create the name there while the daemon
 * is down).
 */
export function checkedSocketPath(file: string): { path: string } | { why: string } {
  try {
    return checkPath(fs.realpathSync(file));
  } catch (e) {
    return { why: (e as Error).message };
  }
}

function checkPath(real: string): { path: string } | { why: string } {
  const st = fs.lstatSync(real);
  if (!st.isSocket()) return { why: `${real} is not a socket` };
  if (!trustedUid(st.uid)) return { why: `the socket ${real} belongs to uid ${st.uid}, not root` };
  let dir = path.dirname(real);
  let parent = true;
  for (;;) {
    const d = fs.lstatSync(dir);
    const mode = (d.mode & 0o7777).toString(8);
    if (!d.isDirectory()) return { why: `${dir} is not a directory` };
    if (!trustedUid(d.uid)) return { why: `the directory ${dir} belongs to uid ${d.uid}, not root` };
    if (d.mode & 0o022 && (parent || !(d.mode & 0o1000)))
      return { why: `the directory ${dir} is writable by other users (mode ${mode}): they could swap the socket` };
    parent = false;
    if (dir === '/') break;
    dir = path.dirname(dir);
  }
  return { path: real };
}
