/**
 * File primitives for the file and dns faults, all symlink-proof (see safefs.ts): metadata, hashes, atomic and
 * in-place writes, backups and exact restores (bytes, mode, owner, nanosecond times, extended attributes — file
 * capabilities and ACLs — copied on descriptors by the native helper's `tree` mode, never by a path), and moves
 * that never leave a partial copy in place of an intact original. Backups are synced before the change they
 * protect is made.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChaosError, ExitCode } from '../errors';
import { formatBytes } from '../util/units';
import type { Executor } from './executor';
import { helperPath } from './assets';
import { Dir, UnsafePath, createExclusive, lstatAt, openNoFollow, unguessable, withParent } from './safefs';

const C = fs.constants;
const LONG = 6 * 3600_000; // a copy of a large file may take long: no 60 s default

export interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atime: string;
  mtime: string;
  ino: string;
  size: number;
  link?: string;
}

const ts = (ns: bigint) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;

function metaOf(st: fs.BigIntStats, link?: string): Meta {
  return {
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    atime: ts(st.atimeNs),
    mtime: ts(st.mtimeNs),
    ino: String(st.ino),
    size: Number(st.size),
    ...(link !== undefined ? { link } : {}),
  };
}

/** Mode, owner, times (ns, "sec.nsec"), inode and size of a path, not following a final link (its target: `link`). */
export function meta(p: string): Meta {
  return withParent(p, (dir, name) => {
    const st = fs.lstatSync(dir.at(name), { bigint: true });
    return metaOf(st, st.isSymbolicLink() ? fs.readlinkSync(dir.at(name)) : undefined);
  });
}

/** lstat through the safely opened parent (never a link on the way, inside a container's root too). */
export function lstatSafe(p: string): fs.Stats {
  return withParent(p, (dir, name) => fs.lstatSync(dir.at(name)));
}

/** stat of what p names, its final link followed only where safefs allows (inside a container's root). */
export function statSafe(p: string): fs.Stats {
  return withParent(p, (dir, name) => fs.statSync(dir.at(name)), { followFinal: true });
}

/** Does p exist (a dangling link counts)? Never follows a link others control; an unsafe path counts as absent. */
export function exists(p: string): boolean {
  try {
    return withParent(p, (dir, name) => lstatAt(dir, name) !== undefined);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof UnsafePath || code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
}

/** The inode of p now (not following a final link), or undefined. */
export function inodeOf(p: string): string | undefined {
  try {
    return withParent(p, (dir, name) => {
      const st = lstatAt(dir, name);
      return st ? String(fs.lstatSync(dir.at(name), { bigint: true }).ino) : undefined;
    });
  } catch {
    return undefined;
  }
}

/** sha256 of a regular file's bytes, streamed (any size), opened without following a link. */
export function sha256(p: string, expectIno?: string): string {
  return withParent(p, (dir, name) => {
    const fd = openNoFollow(dir, name, C.O_RDONLY, 0, expectIno);
    try {
      return hashFd(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
}

export function hashFd(fd: number, from = 0): string {
  const h = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let pos = from; ;) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n <= 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  return h.digest('hex');
}

/** The temp file writeAtomic uses for p: fixed, so an undo can remove one a crash left behind (created O_EXCL). */
export const tempName = (name: string): string => `.${name}.chaosmetad-tmp`;

/** Remove a temp file a killed writer left (unlink never follows a link). */
export function removeTemp(p: string): void {
  try {
    withParent(p, (dir, name) => {
      try {
        fs.unlinkSync(dir.at(tempName(name)));
      } catch {
        /* none */
      }
    });
  } catch {
    /* parent gone */
  }
}

/** Write all of `data` at offset `at` of an open file. */
export function writeAll(fd: number, data: Buffer, at = 0): void {
  for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off, data.length - off, at + off);
}

/** Up to `length` bytes of an open file from offset `from` (fewer where it ends first). */
export function readRange(fd: number, from: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(0, length));
  let off = 0;
  while (off < buf.length) {
    const n = fs.readSync(fd, buf, off, buf.length - off, from + off);
    if (n <= 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

/**
 * Write a file atomically: a temp file created exclusively (O_EXCL|O_NOFOLLOW) in the same directory, owner and mode
 * set on its descriptor, fsync, rename over the name (which replaces a link itself, never its target), fsync of
 * the directory. Callers serialize writers of one path (claims; a lock for /etc/hosts and resolv.conf).
 */
export function writeAtomic(p: string, data: Buffer | string, m: { mode: number; uid?: number; gid?: number }): void {
  withParent(p, (dir, name) => {
    const tmp = tempName(name);
    try {
      fs.unlinkSync(dir.at(tmp));
    } catch {
      /* none: left by a writer killed mid-way otherwise */
    }
    const fd = createExclusive(dir, tmp);
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
      if (m.uid !== undefined && m.gid !== undefined) fs.fchownSync(fd, m.uid, m.gid);
      fs.fchmodSync(fd, m.mode);
      fs.fsyncSync(fd);
    } catch (e) {
      fs.closeSync(fd);
      try {
        fs.unlinkSync(dir.at(tmp));
      } catch {
        /* gone */
      }
      throw e;
    }
    fs.closeSync(fd);
    fs.renameSync(dir.at(tmp), dir.at(name));
    dir.sync();
  });
}

/**
 * Rewrite a regular file in place (same inode: links to it, bind mounts and open handles see the change): write
 * the new bytes from `from` on, truncate, fsync. With expectIno, a file that is no longer that inode is refused.
 */
export function writeInPlace(
  p: string,
  data: Buffer,
  opts: { from?: number; expectIno?: string; followFinal?: boolean } = {},
): void {
  withParent(
    p,
    (dir, name) => {
      const fd = openNoFollow(dir, name, C.O_WRONLY, 0, opts.expectIno);
      try {
        if (!fs.fstatSync(fd).isFile()) throw new UnsafePath(`${p} is not a regular file`);
        const from = opts.from ?? 0;
        writeAll(fd, data, from);
        fs.ftruncateSync(fd, from + data.length);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    },
    { followFinal: opts.followFinal },
  );
}

/** A file larger than what chaosmetad reads of it whole. */
export class TooLarge extends ChaosError {
  constructor(p: string, size: number, max: number) {
    super(
      ExitCode.BadArgs,
      `${p} is ${formatBytes(size)}: more than the ${formatBytes(max)} chaosmetad reads of a file it edits whole; refusing it`,
    );
    this.name = 'TooLarge';
  }
}

/**
 * Read a regular file (not through a link) from `from` to its end; with expectIno, only if it is that inode. The
 * file may be someone else's (a container's /etc/hosts): more than maxBytes is refused before anything is
 * allocated (a sparse file of 8 GB costs its owner nothing), and never more than maxBytes is read.
 */
export function readFrom(p: string, maxBytes: number, from = 0, expectIno?: string): Buffer {
  return withParent(p, (dir, name) => {
    const fd = openNoFollow(dir, name, C.O_RDONLY, 0, expectIno);
    try {
      const size = fs.fstatSync(fd).size;
      if (size - from > maxBytes) throw new TooLarge(p, size - from, maxBytes);
      return readRange(fd, from, Math.min(size - from, maxBytes));
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** Read blocks of a file; what is read at once, at most. */
export const BLOCK = 4 << 20;

/**
 * Is `chunk` anywhere in [from, end) of fd? Read a block at a time (each overlapping the last by the chunk's
 * length less one byte), so what is held is one block and one chunk, whatever the file's size.
 */
export function rangeIncludes(fd: number, from: number, end: number, chunk: Buffer, block = BLOCK): boolean {
  if (!chunk.length) return true;
  let carry = Buffer.alloc(0);
  for (let at = from; at < end;) {
    const b = readRange(fd, at, Math.min(block, end - at));
    if (!b.length) break;
    at += b.length;
    const buf = carry.length ? Buffer.concat([carry, b]) : b;
    if (buf.includes(chunk)) return true;
    carry = Buffer.from(buf.subarray(Math.max(0, buf.length - chunk.length + 1)));
  }
  return false;
}

/**
 * Take every copy of chunk that starts a line (or starts the range, at `from`) out of [from, end) of fd, moving
 * what follows down in place, a block at a time: what is held is one block and one chunk, whatever the range's
 * size; nothing is written before the first copy taken out. The same bytes as withoutChunks(whole range) would
 * keep (file/append.ts). Returns where the kept bytes end, how far it read (less than end when the file shrank
 * meanwhile), and whether anything was taken out.
 */
export function removeChunksInPlace(
  fd: number,
  from: number,
  end: number,
  chunk: Buffer,
  block = BLOCK,
): { keptEnd: number; readTo: number; removed: boolean } {
  let w = from; // where the next kept byte goes
  let r = from; // the next byte to read
  let carry = Buffer.alloc(0); // read, not decided yet: it may start a copy of chunk that the next block ends
  let carryAt = from;
  let before = -1; // the byte before carry[0] in the file as it was; -1: carry starts the range
  let removed = false;
  const keep = (buf: Buffer, a: number, b: number, at: number) => {
    if (b <= a) return;
    // before the first copy taken out every byte is already where it belongs
    if (removed) writeAll(fd, buf.subarray(a, b), w);
    else if (w !== at + a) throw new Error('removeChunksInPlace: out of step');
    w += b - a;
  };
  for (;;) {
    const b = end > r ? readRange(fd, r, Math.min(block, end - r)) : Buffer.alloc(0);
    r += b.length;
    const last = b.length === 0 || r >= end;
    const buf = carry.length ? Buffer.concat([carry, b]) : b;
    const at = carryAt;
    // positions whose copy would be whole in buf are decided now; the rest wait for the next block
    const limit = last ? buf.length : Math.max(0, buf.length - chunk.length + 1);
    let kept = 0;
    for (let i = chunk.length ? buf.indexOf(chunk) : -1; i >= 0 && i < limit;) {
      const prev = i > 0 ? buf[i - 1] : before;
      if (prev !== -1 && prev !== 0x0a) {
        i = buf.indexOf(chunk, i + 1);
        continue;
      }
      keep(buf, kept, i, at);
      removed = true;
      kept = i + chunk.length;
      i = buf.indexOf(chunk, kept);
    }
    const decided = Math.max(kept, limit);
    keep(buf, kept, decided, at);
    if (decided > 0) before = buf[decided - 1];
    carry = Buffer.from(buf.subarray(decided));
    carryAt = at + decided;
    if (last) {
      keep(carry, 0, carry.length, carryAt);
      return { keptEnd: w, readTo: r, removed };
    }
  }
}

/** fsync a file (or directory) by path. */
export function fsyncPath(p: string): void {
  const fd = fs.openSync(p, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The helper's `tree` mode on opened directories (handed over as its fd 3 and 4): no path is resolved again. */
async function tree(exec: Executor, args: string[], fds: number[]): Promise<void> {
  await exec.run(helperPath(), ['tree', ...args], { fds, timeoutMs: LONG });
}

/** Remove an entry of an opened directory and everything below it, never following a link or crossing a mount. */
export async function removeAt(exec: Executor, dir: Dir, name: string): Promise<void> {
  if (!lstatAt(dir, name)) return;
  await tree(exec, ['rm', '3', name], [dir.fd]);
}

/** Remove p (a file or a whole directory) the same way; absent is fine. */
export async function removeTree(exec: Executor, p: string): Promise<void> {
  await withParent(p, (dir, name) => removeAt(exec, dir, name));
}

const STAGE = '.chaosmetad-stage-';
const GONE = '.chaosmetad-gone-';
const isStageOf = (entry: string, name: string) => entry.startsWith(`.${name}${STAGE}`);
const isGoneOf = (entry: string, name: string) => entry.startsWith(`.${name}${GONE}`);

/**
 * Copy an entry of one opened directory (a file or a whole tree: bytes, holes, links as links, hard links, owner,
 * mode, extended attributes — file capabilities, ACLs —, ns times) to a new name in another, never through a path
 * someone else can change: the helper copies on descriptors into a staging directory that only root can enter
 * (made beside the destination, so the last step is a rename on one filesystem), synced, then renamed into place
 * from the staging directory's own descriptor. Whoever owns the destination's directory may rename the staging
 * directory away or put a link in its place at any moment: the copy goes on in the directory it opened, and the
 * rename moves that one. A failed copy leaves nothing at the destination.
 */
export async function stagedCopy(exec: Executor, from: Dir, fromName: string, to: Dir, toName: string): Promise<void> {
  const stage = unguessable(`.${toName}${STAGE}`);
  fs.mkdirSync(to.at(stage), 0o700); // never follows a link at that name: EEXIST
  let sfd: number;
  try {
    sfd = fs.openSync(to.at(stage), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch (e) {
    throw new UnsafePath(`the staging directory ${path.join(to.path, stage)} was swapped: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(sfd);
    if (st.uid !== 0 || (st.mode & 0o7777) !== 0o700 || st.dev !== to.stat().dev)
      throw new UnsafePath(`the staging directory ${path.join(to.path, stage)} was swapped for another`);
    try {
      await tree(exec, ['copy', '3', fromName, '4', 'copy'], [from.fd, sfd]);
      fs.renameSync(`/proc/self/fd/${sfd}/copy`, to.at(toName));
      to.sync();
    } catch (e) {
      if (!exec.dryRun) await tree(exec, ['rm', '3', 'copy'], [sfd]).catch(() => undefined);
      throw e;
    }
  } finally {
    fs.closeSync(sfd);
    try {
      fs.rmdirSync(to.at(stage)); // by name: at worst someone else's empty directory, in their own directory
    } catch {
      /* renamed away or not empty: someone else's, left to them */
    }
  }
}

/** Remove the staging directories a killed copy left beside name (root's own, by their prefix). */
async function removeStages(exec: Executor, dir: Dir, name: string, opts: PartialOpts): Promise<void> {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir.at('.'));
  } catch {
    return;
  }
  for (const e of entries) {
    const st = lstatAt(dir, e);
    if (!st) continue;
    if (isStageOf(e, name) || e === `${name}.chaosmetad-partial`) {
      // (the latter: older versions' copies.) Whoever can write this directory can rename a root-owned directory
      // of theirs to such a name: outside our own directories only a staging directory's exact shape goes —
      // root's, mode 0700, nothing in it but the copy
      const shaped =
        st.isDirectory() &&
        st.uid === 0 &&
        (st.mode & 0o7777) === 0o700 &&
        fs.readdirSync(dir.at(e)).every((x) => x === 'copy');
      if (opts.ours || shaped) await removeAt(exec, dir, e);
    } else if (isGoneOf(e, name) && (opts.ours || (opts.ino !== undefined && String(st.ino) === opts.ino))) {
      // the original, renamed away to be removed, cut short: only that very inode (or in our own directories)
      await removeAt(exec, dir, e);
    }
  }
}

/** What removePartial may take: `ours` (a directory only root can write: the work dir), `ino` (the original's). */
interface PartialOpts {
  ours?: boolean;
  ino?: string;
}

/** Keep an exact copy of p (bytes and all metadata) as `backup` (in the experiment's root-only work dir), durable. */
export async function backupFile(exec: Executor, p: string, backup: string): Promise<Meta> {
  const m = meta(p);
  await withParent(p, async (dir, name) => {
    const bdir = Dir.open(path.dirname(backup));
    try {
      await stagedCopy(exec, dir, name, bdir, path.basename(backup));
    } finally {
      bdir.close();
    }
  });
  return m;
}

/**
 * Put the backup back at p exactly: copied (with all metadata) in a staging directory beside p, then renamed over
 * p — never a partial file at p, whatever kills us when.
 */
export async function restoreFile(exec: Executor, p: string, backup: string): Promise<void> {
  const bdir = Dir.open(path.dirname(backup));
  try {
    await withParent(p, (dir, name) => stagedCopy(exec, bdir, path.basename(backup), dir, name));
  } finally {
    bdir.close();
  }
}

/** Put back owner, mode and both times (ns) of p, through a descriptor of p itself (never a link's target). */
export async function restoreMeta(exec: Executor, p: string, m: Meta, expectIno?: string): Promise<void> {
  await withParent(p, async (dir, name) => {
    const st = lstatAt(dir, name);
    if (!st) return;
    if (st.isSymbolicLink()) {
      fs.lchownSync(dir.at(name), m.uid, m.gid);
      await exec.run('touch', ['-h', '-d', `@${m.mtime}`, '--', `/proc/self/fd/3/${name}`], {
        fds: [dir.fd],
        allowFail: true,
      });
      return;
    }
    const fd = openNoFollow(dir, name, C.O_RDONLY, 0, expectIno);
    try {
      fs.fchownSync(fd, m.uid, m.gid);
      fs.fchmodSync(fd, m.mode);
      await touchFd(exec, fd, m);
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** The times (ns, "sec.nsec") of an open file, set on its descriptor: the access time when given, the mtime. */
async function touchFd(exec: Executor, fd: number, t: { atime?: string; mtime: string }): Promise<void> {
  if (t.atime !== undefined)
    await exec.run('touch', ['-a', '-d', `@${t.atime}`, '--', '/proc/self/fd/3'], { fds: [fd] });
  await exec.run('touch', ['-m', '-d', `@${t.mtime}`, '--', '/proc/self/fd/3'], { fds: [fd] });
}

/** Put back the mtime (and the access time when given) of p, through a descriptor of p itself (not a link). */
export async function restoreTimes(exec: Executor, p: string, t: { atime?: string; mtime: string }): Promise<void> {
  await withParent(p, async (dir, name) => {
    const fd = openNoFollow(dir, name, C.O_RDONLY);
    try {
      await touchFd(exec, fd, t);
    } finally {
      fs.closeSync(fd);
    }
  });
}

/**
 * Move `from` to `to` (a new name). Same filesystem: rename. Across filesystems: an exact copy staged beside `to`
 * (stagedCopy), renamed into place, and only then is `from` removed (on descriptors) — a kill at any moment leaves
 * the original intact (plus, at worst, a complete copy, which the undo recognizes by the original's inode, or a
 * staging directory, which removePartial removes).
 */
export async function move(exec: Executor, from: string, to: string): Promise<void> {
  await withParent(from, async (fdir, fname) => {
    await withParent(to, async (tdir, tname) => {
      try {
        fs.renameSync(fdir.at(fname), tdir.at(tname));
        tdir.sync();
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      }
      await stagedCopy(exec, fdir, fname, tdir, tname);
      // the original out of the way in one rename before it is removed: a kill during the removal must not leave
      // a half-removed tree under its name (an undo would take it for the intact original and drop the copy)
      const gone = unguessable(`.${fname}${GONE}`);
      fs.renameSync(fdir.at(fname), fdir.at(gone));
      fdir.sync();
      await removeAt(exec, fdir, gone);
      fdir.sync();
    });
  });
}

/**
 * Remove what a killed cross-filesystem move left beside `p`: its staging directories (a copy cut short) and the
 * original renamed away for removal (a removal cut short: only with the original's inode `ino`, or `ours`).
 */
export async function removePartial(exec: Executor, p: string, opts: PartialOpts = {}): Promise<void> {
  try {
    await withParent(p, (dir, name) => removeStages(exec, dir, name, opts));
  } catch {
    /* parent gone */
  }
}

/**
 * Keep the extended attributes of p (file capabilities, ACLs: a write by root drops security.capability) in a new
 * empty file `save` in the root-only work dir. p is read through its own descriptor (no link followed).
 */
export async function saveXattrs(exec: Executor, p: string, save: string, expectIno?: string): Promise<void> {
  await withParent(p, async (dir, name) => {
    const fd = openNoFollow(dir, name, C.O_RDONLY, 0, expectIno);
    const sdir = Dir.open(path.dirname(save));
    try {
      await exec.run(
        'cp',
        [
          '--attributes-only',
          '--preserve=xattr',
          '-T',
          '--',
          '/proc/self/fd/3',
          `/proc/self/fd/4/${path.basename(save)}`,
        ],
        { fds: [fd, sdir.fd] },
      );
      sdir.sync();
    } finally {
      sdir.close();
      fs.closeSync(fd);
    }
  });
}

/** Put the attributes saved by saveXattrs back on p (the same inode; its bytes untouched). */
export async function restoreXattrs(exec: Executor, p: string, save: string, expectIno?: string): Promise<void> {
  const sfd = fs.openSync(save, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    await withParent(p, async (dir, name) => {
      const fd = openNoFollow(dir, name, C.O_RDONLY, 0, expectIno);
      try {
        await exec.run(
          'cp',
          ['--attributes-only', '--preserve=xattr', '-T', '--', '/proc/self/fd/3', '/proc/self/fd/4'],
          { fds: [sfd, fd] },
        );
      } finally {
        fs.closeSync(fd);
      }
    });
  } finally {
    fs.closeSync(sfd);
  }
}
