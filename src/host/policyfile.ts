/**
 * The agent policy's file (deploy/daemonset.yaml mounts it from a ConfigMap, read-only): read as root only when no
 * one but root can have written it, or put or swapped anything on the way to it. The people who `kubectl exec`
 * into the agent must not be able to change what constrains them.
 *
 * Every directory from / down to the file must be root's and writable by root alone, or on a read-only mount (a
 * ConfigMap volume's own directory is mode 0777, but mounted readOnly: the kernel refuses every write, EROFS); every
 * symbolic link on the way (a ConfigMap's `policy.json -> ..data/policy.json`) must be root's and sit in such a
 * directory; the file itself must be a regular file of root's that no group but root's and no other user can write.
 * It is opened without following links (O_NOFOLLOW, O_NONBLOCK: a FIFO does not block) and read with a size cap.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../errors';

/** A policy is a few lines; anything larger is refused rather than read (it also travels in an environment). */
export const POLICY_MAX_BYTES = 32 * 1024;
const MAX_LINKS = 40;

const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');

/** Nobody but root can change entries of this directory: root's and not writable by others, or read-only. */
function dirLocked(d: string, st: fs.Stats): boolean {
  if (st.uid === 0 && (st.mode & 0o002) === 0 && ((st.mode & 0o020) === 0 || st.gid === 0)) return true;
  try {
    fs.accessSync(d, fs.constants.W_OK);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EROFS';
  }
}

/** Read the policy file at p (absolute) under the rules above; a refusal names what is wrong (exit 1). */
export function readPolicyFile(p: string): string {
  const fail = (why: string): never => {
    throw badArgs(`agent policy file ${p}: ${why}`);
  };
  if (!path.isAbsolute(p)) fail('must be an absolute path');
  // resolve it component by component, each directory checked before an entry in it is trusted
  let todo = p.split('/').filter((c) => c && c !== '.');
  let cur = '/';
  let links = 0;
  const checkDir = (d: string) => {
    const st = fs.lstatSync(d);
    if (!st.isDirectory()) fail(`${d} is not a directory`);
    if (!dirLocked(d, st))
      fail(
        `directory ${d} (owner uid ${st.uid}, group ${st.gid}, mode ${octal(st.mode)}) can be changed by others than root: mount the policy read-only (a ConfigMap volume with readOnly: true) or make every directory on its path root's, writable by root alone`,
      );
  };
  checkDir('/');
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '..') {
      cur = path.dirname(cur);
      continue;
    }
    const next = path.join(cur, c);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(next);
    } catch (e) {
      return fail(`cannot read it: ${(e as Error).message}`);
    }
    if (st.isSymbolicLink()) {
      if (st.uid !== 0) fail(`${next} is a symbolic link of uid ${st.uid}, not root's`);
      if (++links > MAX_LINKS) fail('too many levels of symbolic links');
      const target = fs.readlinkSync(next);
      if (target.startsWith('/')) cur = '/';
      todo = [...target.split('/').filter((x) => x && x !== '.'), ...todo];
      continue;
    }
    if (todo.length) {
      checkDir(next);
      cur = next;
      continue;
    }
    cur = next;
  }
  let fd: number;
  try {
    fd = fs.openSync(cur, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    return fail(`cannot open it: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) fail('is not a regular file');
    if (st.uid !== 0) fail(`is owned by uid ${st.uid}, not root: refused (whoever owns it could rewrite the policy)`);
    if ((st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && st.gid !== 0))
      fail(`is writable by others than root (group ${st.gid}, mode ${octal(st.mode)}): refused`);
    const buf = Buffer.alloc(POLICY_MAX_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, n)) > 0;) n += r;
    if (n > POLICY_MAX_BYTES) fail(`is larger than ${POLICY_MAX_BYTES} bytes`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
