/**
 * File work as root that no other user can redirect. A path is resolved component by component: a symbolic link is
 * followed only where no one but root can have put it (its directory is root's and writable by root alone, or
 * sticky with the link root's own), otherwise the path is refused. Then the parent directory is opened component by
 * component with O_NOFOLLOW, and every operation goes through that descriptor (`/proc/self/fd/N/name`, the openat()
 * of a Node program) or through a descriptor of the file itself (fchmod, fchown, ftruncate, fstat): a directory
 * swapped for a link after the check makes the open fail instead of leading elsewhere.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChaosError, ExitCode } from '../errors';

const C = fs.constants;
const MAX_LINKS = 40;

/**
 * A container's root as the host reaches it: /proc/PID/root. A path under it is resolved INSIDE it: an absolute
 * link leads to that root, ".." stops at it — never to a host file (the kernel itself would resolve an absolute
 * link met under /proc/PID/root against the host's root).
 */
const ROOT_RE = /^\/proc\/\d+\/root(?=\/|$)/;
export function splitRoot(p: string): { base: string; rest: string } {
  const m = ROOT_RE.exec(p);
  return m ? { base: m[0], rest: p.slice(m[0].length) || '/' } : { base: '', rest: p };
}

export class UnsafePath extends ChaosError {
  constructor(message: string) {
    super(ExitCode.BadArgs, message);
    this.name = 'UnsafePath';
  }
}

/**
 * Only root can add, remove or rename entries of a directory with these stats.
 *
 * Inside a container's root (rootDev: the device of /proc/PID/root), uid 0 is not enough. Without a user namespace
 * the container's root is uid 0 too, so its writable layer is full of uid-0 directories it made; that is no harm
 * in itself: what we do there acts on the container's own files, which its root controls anyway, and every path
 * is resolved inside that root. But a directory on ANOTHER device than the container's root is a mount from
 * outside: a volume, a hostPath, a tmpfs or a directory shared with other pods. There a uid-0 directory may be
 * another container's root's (or the host's), a link in it may have been put there by someone the target
 * container's root is not, and the same directory is seen by others. A uid-0 directory there is not taken for
 * "only root could have changed it": links in it are not followed and no work file is made in it. (Each overlay
 * mount has a device of its own, so a container's whole writable layer shares its root's device; a rootfs that
 * is a plain bind mount shares the host filesystem's, where the same rule still holds for what is mounted in.)
 */
export function rootOnlyDir(st: fs.Stats, rootDev?: number): boolean {
  if (rootDev !== undefined && st.dev !== rootDev) return false;
  return st.uid === 0 && (st.mode & 0o002) === 0 && ((st.mode & 0o020) === 0 || st.gid === 0);
}

/** Could a user other than root have put (or swap) this entry in this directory? (rootDev: see rootOnlyDir) */
export function entryTrusted(dir: fs.Stats, entry: fs.Stats, rootDev?: number): boolean {
  if (rootDev !== undefined && dir.dev !== rootDev) return false;
  if (rootOnlyDir(dir)) return true;
  // a sticky directory of root's (/tmp): only the entry's owner may rename or remove it
  return dir.uid === 0 && (dir.mode & 0o1000) !== 0 && entry.uid === 0;
}

/** The device of the container root p is under (/proc/PID/root), or undefined for a host path. */
export function containerRootDev(p: string): number | undefined {
  const { base } = splitRoot(p);
  return base ? fs.statSync(base).dev : undefined;
}

/** Why a directory is not trusted, for the messages. */
function distrust(dirSt: fs.Stats, owner: number, rootDev: number | undefined): string {
  return rootDev !== undefined && dirSt.dev !== rootDev
    ? "which is on another filesystem than the container's root (a volume or host mount: its uid 0 may be another container's root)"
    : `which uid ${owner} can change`;
}

/**
 * Why a directory could be changed by another user, or undefined when it cannot: it and every directory above it
 * must be this user's (root's) and writable by no one else — an ancestor may be sticky (/tmp), where only an
 * entry's owner may rename it, and the entry below is checked to be ours. No link is followed on the way.
 */
export function notOursAlone(dir: string): string | undefined {
  const me = process.getuid?.() ?? 0;
  let d = path.resolve(dir);
  for (let own = true; ; own = false) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(d);
    } catch (e) {
      return `${d}: ${(e as Error).message}`;
    }
    const mode = (st.mode & 0o7777).toString(8);
    if (!st.isDirectory()) return `${d} is not a directory (a symbolic link or another file)`;
    if (st.uid !== me) return `${d} belongs to uid ${st.uid}, not ${me}`;
    if (st.mode & 0o022 && (own || !(st.mode & 0o1000))) return `${d} is writable by other users (mode ${mode})`;
    if (d === '/') return undefined;
    d = path.dirname(d);
  }
}

export interface Resolved {
  /** the path with every followed link replaced by its target */
  path: string;
  /** the final component is a symbolic link (only when not following it) */
  isLink: boolean;
  /** the final component does not exist (its parent does) */
  missing: boolean;
}

/**
 * Resolve p (absolute) following only links no other user controls; the final component's link is followed only
 * when followFinal. Components that do not exist end the walk (`missing`, when it is the final one).
 */
export function resolveSafe(p: string, opts: { followFinal?: boolean } = {}): Resolved {
  if (!path.isAbsolute(p)) throw new UnsafePath(`${p} is not an absolute path`);
  const { base, rest } = splitRoot(p);
  const top = base || '/';
  let todo = rest.split('/').filter((c) => c && c !== '.');
  let cur = top;
  let links = 0;
  // the root's own stats: /proc/PID/root itself is a (magic) link to the directory
  const dirStats = (d: string) => (d === top ? fs.statSync(d) : fs.lstatSync(d));
  const rootDev = base ? fs.statSync(top).dev : undefined;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '..') {
      if (cur !== top) cur = path.dirname(cur);
      continue;
    }
    const next = path.join(cur, c);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(next);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return { path: path.join(next, ...todo), isLink: false, missing: todo.length === 0 };
    }
    const last = todo.length === 0;
    if (st.isSymbolicLink()) {
      if (last && !opts.followFinal) return { path: next, isLink: true, missing: false };
      const dirSt = dirStats(cur);
      if (!entryTrusted(dirSt, st, rootDev)) {
        throw new UnsafePath(
          `${next} is a symbolic link in ${cur}, ${distrust(dirSt, dirSt.uid === 0 ? st.uid : dirSt.uid, rootDev)}: refusing to follow it as root`,
        );
      }
      if (++links > MAX_LINKS) throw new UnsafePath(`${p}: too many levels of symbolic links`);
      const target = fs.readlinkSync(next);
      if (target.startsWith('/')) cur = top;
      todo = [...target.split('/').filter((x) => x && x !== '.'), ...todo];
      continue;
    }
    if (!last && !st.isDirectory()) throw new UnsafePath(`${next} is not a directory`);
    cur = next;
  }
  return { path: cur, isLink: false, missing: false };
}

/** A directory opened component by component without following links; `at(name)` names an entry in it. */
export class Dir {
  private constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /** Open a directory whose path holds no symbolic link (resolveSafe's result): any link met is refused. */
  static open(dir: string): Dir {
    const { base, rest } = splitRoot(dir);
    // a container's root is entered through its magic link on purpose; below it no link is followed
    let fd = fs.openSync(base || '/', C.O_RDONLY | C.O_DIRECTORY);
    const parts = rest.split('/').filter(Boolean);
    try {
      for (const c of parts) {
        const next = fs.openSync(`/proc/self/fd/${fd}/${c}`, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
        fs.closeSync(fd);
        fd = next;
      }
    } catch (e) {
      fs.closeSync(fd);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR')
        throw new UnsafePath(
          `${dir} changed while it was opened (a component is now a symbolic link or not a directory)`,
        );
      throw e;
    }
    return new Dir(fd, path.join(base || '/', ...parts));
  }

  at(name: string): string {
    return `/proc/self/fd/${this.fd}/${name}`;
  }
  stat(): fs.Stats {
    return fs.fstatSync(this.fd);
  }
  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* closed */
    }
  }
  sync(): void {
    fs.fsyncSync(this.fd);
  }
}

/** The parent of a (safely resolved) path, opened, and the final name; the caller closes it. */
export function openParent(
  p: string,
  opts: { followFinal?: boolean } = {},
): { dir: Dir; name: string; resolved: Resolved } {
  const resolved = resolveSafe(p, opts);
  const dir = Dir.open(path.dirname(resolved.path));
  return { dir, name: path.basename(resolved.path), resolved };
}

/** Run fn with the opened parent of p; closes it after. */
export function withParent<T>(
  p: string,
  fn: (dir: Dir, name: string, resolved: Resolved) => T,
  opts: { followFinal?: boolean } = {},
): T {
  const { dir, name, resolved } = openParent(p, opts);
  try {
    const r = fn(dir, name, resolved);
    if (r instanceof Promise) return r.finally(() => dir.close()) as T;
    dir.close();
    return r;
  } catch (e) {
    dir.close();
    throw e;
  }
}

/** lstat an entry of an opened directory; undefined when absent. */
export function lstatAt(dir: Dir, name: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(dir.at(name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Open an entry without following a link (ELOOP becomes a clear refusal), never blocking on a FIFO. With
 * `expectIno`, a file that is no longer the one recorded is refused too.
 */
export function openNoFollow(dir: Dir, name: string, flags: number, mode = 0o600, expectIno?: string): number {
  let fd: number;
  try {
    fd = fs.openSync(dir.at(name), flags | C.O_NOFOLLOW | C.O_NONBLOCK, mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UnsafePath(`${path.join(dir.path, name)} is a symbolic link; not following it`);
    if (code === 'ENOENT' && expectIno !== undefined) throw new UnsafePath(`${path.join(dir.path, name)} is gone`);
    throw e;
  }
  if (expectIno !== undefined && String(fs.fstatSync(fd, { bigint: true }).ino) !== expectIno) {
    fs.closeSync(fd);
    throw new UnsafePath(`${path.join(dir.path, name)} is no longer the file chaosmetad changed (another inode)`);
  }
  return fd;
}

/** A name for a work file nobody can guess (O_EXCL creation with it cannot be pre-planted). */
export const unguessable = (prefix: string): string => `${prefix}${crypto.randomBytes(9).toString('base64url')}`;

/** Create a new file exclusively (O_CREAT|O_EXCL|O_NOFOLLOW) in an opened directory; returns the fd. */
export function createExclusive(dir: Dir, name: string, mode = 0o600, extra = 0): number {
  return fs.openSync(dir.at(name), C.O_RDWR | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | extra, mode);
}

/**
 * A directory where work files may be created as root: it must exist, be a directory (links followed only as
 * resolveSafe allows), and not be writable by other users unless sticky (there, O_EXCL with an unguessable name
 * is safe; without the sticky bit another user could rename our file away and put theirs in its place).
 */
export function workDirChecked(dir: string, flag: string): string {
  const r = resolveSafe(dir, { followFinal: true });
  if (r.missing) throw new UnsafePath(`--${flag} ${dir} does not exist`);
  const st = fs.statSync(r.path);
  if (!st.isDirectory()) throw new UnsafePath(`--${flag} ${dir} is not a directory`);
  const rootDev = containerRootDev(r.path);
  if (rootDev !== undefined && st.dev !== rootDev) {
    throw new UnsafePath(
      `--${flag} ${dir} is on another filesystem than the container's root (a volume or host mount, where uid 0 may be another container's root): they could swap chaosmetad's work file; choose a directory of the container's own filesystem`,
    );
  }
  const sticky = (st.mode & 0o1000) !== 0 && st.uid === 0;
  if (!rootOnlyDir(st) && !sticky) {
    throw new UnsafePath(
      `--${flag} ${dir} can be written by another user (owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}, not sticky): they could swap chaosmetad's work file; choose another directory`,
    );
  }
  return r.path;
}
