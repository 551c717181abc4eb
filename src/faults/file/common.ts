/** What the file faults share: safe path flags, metadata snapshots, atomic writes, exact restores. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../../errors';
import type { Executor } from '../../host/executor';
import { shown } from '../../util/units';
import type { FlagSpec } from '../flags';

const FORBIDDEN = ['/proc', '/sys', '/dev'];

/** Resolve a user path to an absolute one and refuse pseudo filesystems (also through symlinks). */
export function safePath(raw: unknown, flag: string): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw badArgs(`--${flag} must be a file path, got ${shown(raw)}`);
  if (raw.length > 4096) throw badArgs(`--${flag} is too long (${raw.length} characters, at most 4096)`);
  if (/[\0\n\r]/.test(raw)) throw badArgs(`--${flag} must not contain NUL or newline characters`);
  if (!raw.startsWith('/')) throw badArgs(`--${flag} must be an absolute path (starting with /), got ${shown(raw)}`);
  if (raw.split('/').some((seg) => seg === '..' || seg === '.')) throw badArgs(`--${flag} must not contain "." or ".." segments, got ${shown(raw)}`);
  const abs = path.resolve(raw);
  let real = abs;
  // the nearest existing ancestor, resolved: a symlink into /proc is refused too
  for (let p = abs; ; p = path.dirname(p)) {
    try { real = path.join(fs.realpathSync(p), path.relative(p, abs)); break; } catch { if (p === '/') break; }
  }
  for (const f of FORBIDDEN) {
    if (abs === f || abs.startsWith(f + '/') || real === f || real.startsWith(f + '/')) {
      throw badArgs(`--${flag} ${shown(raw)} is under ${f}: chaosmetad does not change pseudo filesystems (/proc, /sys, /dev)`);
    }
  }
  if (abs === '/') throw badArgs(`--${flag} must not be /`);
  return abs;
}

export function pathFlag<const O extends { char?: string; description: string; required?: boolean }>(o: O): FlagSpec<string> & Pick<O, Extract<keyof O, 'required'>> {
  return { kind: 'string', ...o, parse: safePath };
}

export function permissionFlag<const O extends { char?: string; description: string; required?: boolean }>(o: O): FlagSpec<number> & Pick<O, Extract<keyof O, 'required'>> {
  return {
    kind: 'string', ...o,
    parse(raw, flag) {
      const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      if (!/^0?[0-7]{3,4}$/.test(s)) throw badArgs(`--${flag} must be an octal mode like 644, 0755 or 4755, got ${shown(raw)}`);
      return parseInt(s, 8) & 0o7777;
    },
  };
}

export interface Meta { mode: number; uid: number; gid: number; atime: string; mtime: string; ino: string; size: number }

/** Mode, owner, times (to the nanosecond, as strings "sec.nsec"), inode and size of a path (not following links). */
export function meta(p: string): Meta {
  const st = fs.lstatSync(p, { bigint: true });
  const ts = (ns: bigint) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  return { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), atime: ts(st.atimeNs), mtime: ts(st.mtimeNs), ino: String(st.ino), size: Number(st.size) };
}

export const exists = (p: string): boolean => { try { fs.lstatSync(p); return true; } catch { return false; } };
export const sha256 = (p: string): string => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');

/** The temp file writeAtomic uses for p: fixed, so an undo can remove one a crash left behind. */
export const tempPath = (p: string): string => path.join(path.dirname(p), `.${path.basename(p)}.chaosmetad-tmp`);

/** Remove a temp file a killed writer left (never follows a symlink: rm removes the link itself). */
export function removeTemp(p: string): void {
  fs.rmSync(tempPath(p), { force: true });
}

/**
 * Write a file atomically (temp file in the same directory, fsync, rename), with the given mode and owner. Callers
 * serialize writers of one path (claims; a lock for /etc/hosts and resolv.conf).
 */
export function writeAtomic(p: string, data: Buffer | string, m: { mode: number; uid?: number; gid?: number }): void {
  const tmp = tempPath(p);
  removeTemp(p); // left by a writer killed mid-way
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (m.uid !== undefined && m.gid !== undefined) fs.fchownSync(fd, m.uid, m.gid);
    fs.fchmodSync(fd, m.mode);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, p);
  const dfd = fs.openSync(path.dirname(p), 'r');
  try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
}

/** Put back mode, owner and both times exactly (touch takes nanoseconds; Node's utimes does not). */
export async function restoreMeta(exec: Executor, p: string, m: Meta): Promise<void> {
  fs.lchownSync(p, m.uid, m.gid);
  if (!fs.lstatSync(p).isSymbolicLink()) fs.chmodSync(p, m.mode);
  await exec.run('touch', ['-h', '-a', '-d', `@${m.atime}`, '--', p]);
  await exec.run('touch', ['-h', '-m', '-d', `@${m.mtime}`, '--', p]);
}

/** Keep a copy of a file with its metadata (bytes in `backup`, metadata returned). */
export function backupFile(p: string, backup: string): Meta {
  const m = meta(p);
  fs.copyFileSync(p, backup);
  return m;
}

/** Restore a file from its backup atomically, then its metadata. */
export async function restoreFile(exec: Executor, p: string, backup: string, m: Meta): Promise<void> {
  writeAtomic(p, fs.readFileSync(backup), m);
  await restoreMeta(exec, p, m);
}

/** Move, across filesystems too (rename, else `mv`, which keeps metadata). */
export async function move(exec: Executor, from: string, to: string): Promise<void> {
  try {
    fs.renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await exec.run('mv', ['-T', '--', from, to]);
  }
}
