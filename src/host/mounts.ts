/**
 * Mounts as a process sees them (/proc/PID/mountinfo): which mount holds a path, its device, and where the same
 * file lives on the host — a container's overlay upper directory or the host mount a bind mount comes from. Used
 * to find a container's disk (diskio) and to reach a file chaosmetad left in a container that has since stopped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface MountInfo {
  /** the mount point, as that process sees it */
  point: string;
  /** the sub-tree of its filesystem mounted there ('/' = the whole filesystem) */
  root: string;
  /** the device, major:minor as mountinfo has it (0:N for overlay and other anonymous ones) */
  dev: string;
  fstype: string;
  superOpts: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function mounts(pid: number | 'self'): MountInfo[] {
  let text = '';
  try {
    text = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return [];
  }
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const f = pre.split(' ');
    const [fstype, , superOpts = ''] = post.split(' ');
    out.push({ point: unescape(f[4]), root: unescape(f[3]), dev: f[2], fstype, superOpts: superOpts.split(',') });
  }
  return out;
}

const under = (p: string, dir: string) => dir === '/' || p === dir || p.startsWith(dir + '/');

/** The mount holding an absolute path (as that process sees it): the last one mounted over its longest prefix. */
export function mountOf(pid: number | 'self', p: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts(pid)) if (under(p, m.point) && (!best || m.point.length >= best.point.length)) best = m;
  return best;
}

/**
 * Where a path inside a process's mount namespace is on the host, without going through that process (so it can
 * be reached after the process is gone): an overlay's upper directory (the container's writable layer), or the
 * host mount of the same device whose sub-tree holds the bind mount's. Undefined when neither can be found.
 */
export function hostPathOf(pid: number, inside: string): string | undefined {
  const m = mountOf(pid, inside);
  if (!m) return undefined;
  const rel = path.relative(m.point, inside);
  if (m.fstype === 'overlay') {
    const upper = m.superOpts.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
    // (a file in the lower layers of an image is the image's: only the writable layer is ours to name)
    return upper ? path.join(upper, rel) : undefined;
  }
  const sub = path.join(m.root, rel);
  for (const h of mounts('self')) {
    if (h.dev !== m.dev || !under(sub, h.root)) continue;
    return path.join(h.point, path.relative(h.root, sub));
  }
  return undefined;
}

/** The device (major:minor) whose filesystem holds a path of that process; an overlay's is its upper directory's. */
export function deviceOf(pid: number, inside: string): string | undefined {
  const m = mountOf(pid, inside);
  if (!m) return undefined;
  if (m.fstype === 'overlay') {
    const upper = m.superOpts.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
    return upper ? mountOf('self', upper)?.dev : undefined;
  }
  return m.dev;
}
