/**
 * Block I/O throttling through cgroups, v1 (blkio.throttle.*) or v2 (io.max), chosen by what the host has.
 * Every experiment gets its own cgroup; processes are moved in and, at recover, back where they were.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../errors';
import type { Executor } from './executor';

export type CgroupVersion = 1 | 2;

export interface IoLimits {
  rbps?: number;
  wbps?: number;
  riops?: number;
  wiops?: number;
}

const V1_BLKIO = '/sys/fs/cgroup/blkio';
const V2_ROOT = '/sys/fs/cgroup';

/** v1 when a blkio hierarchy is mounted, else v2 when the unified hierarchy has the io controller. */
export function ioCgroupVersion(): CgroupVersion | undefined {
  if (fs.existsSync(path.join(V1_BLKIO, 'blkio.throttle.read_bps_device'))) return 1;
  try {
    if (fs.readFileSync(path.join(V2_ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('io')) return 2;
  } catch {
    /* neither */
  }
  return undefined;
}

/** Where this experiment's cgroup lives (v1: in the blkio hierarchy; v2: under the root). */
export function ioCgroupPath(version: CgroupVersion, uid: string): string {
  return version === 1 ? path.join(V1_BLKIO, 'chaosmetad', uid) : path.join(V2_ROOT, `chaosmetad-${uid}`);
}

/** The cgroup (a directory) a process is in, for the io/blkio controller. */
export function currentCgroup(version: CgroupVersion, pid: number): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [, ctrls, rel] = line.split(':');
    if (rel === undefined) continue;
    if (version === 1 && ctrls.split(',').includes('blkio')) return path.join(V1_BLKIO, rel);
    if (version === 2 && line.startsWith('0::')) return path.join(V2_ROOT, rel);
  }
  return undefined;
}

export function moveProcess(cgroupDir: string, pid: number): void {
  fs.writeFileSync(path.join(cgroupDir, 'cgroup.procs'), String(pid));
}

export function procsIn(cgroupDir: string): number[] {
  try {
    return fs.readFileSync(path.join(cgroupDir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Write the limits for one device. v1: one file per kind; v2: one io.max line ("max" = unlimited). */
export function writeLimits(version: CgroupVersion, dir: string, dev: string, l: IoLimits): void {
  if (version === 1) {
    const files: Array<[keyof IoLimits, string]> = [
      ['rbps', 'read_bps_device'],
      ['wbps', 'write_bps_device'],
      ['riops', 'read_iops_device'],
      ['wiops', 'write_iops_device'],
    ];
    for (const [k, f] of files) if (l[k]) fs.writeFileSync(path.join(dir, `blkio.throttle.${f}`), `${dev} ${l[k]}`);
    return;
  }
  const v = (n?: number) => (n ? String(n) : 'max');
  fs.writeFileSync(
    path.join(dir, 'io.max'),
    `${dev} rbps=${v(l.rbps)} wbps=${v(l.wbps)} riops=${v(l.riops)} wiops=${v(l.wiops)}`,
  );
}

/** Remove every limit for the devices (queued I/O is then dispatched at once). */
export function liftLimits(version: CgroupVersion, dir: string, devs: string[]): void {
  for (const dev of devs) {
    if (version === 1) {
      for (const f of ['read_bps_device', 'write_bps_device', 'read_iops_device', 'write_iops_device']) {
        try {
          fs.writeFileSync(path.join(dir, `blkio.throttle.${f}`), `${dev} 0`);
        } catch {
          /* no rule */
        }
      }
    } else {
      fs.writeFileSync(path.join(dir, 'io.max'), `${dev} rbps=max wbps=max riops=max wiops=max`);
    }
  }
}

/** Put a device's limits back exactly as they were read (readLimits) before: kinds that had none get none. */
export function restoreLimits(version: CgroupVersion, dir: string, dev: string, before: IoLimits): void {
  if (version === 1) liftLimits(version, dir, [dev]);
  if (version === 2 || Object.values(before).some(Boolean)) writeLimits(version, dir, dev, before);
}

/**
 * A process's own block I/O cgroup (a container's) and whether its limits can be set there: v1 blkio.throttle
 * files, v2 io.max (present only when the parent enables the io controller for it). Undefined when neither.
 */
export function ioCgroupOf(version: CgroupVersion, pid: number): string | undefined {
  const dir = cgroupDirs(pid).get(version === 1 ? 'blkio' : '');
  if (!dir) return undefined;
  return fs.existsSync(path.join(dir, version === 1 ? 'blkio.throttle.read_bps_device' : 'io.max')) ? dir : undefined;
}

/** The limits in place for a device, read back from the kernel (for verification and check). */
export function readLimits(version: CgroupVersion, dir: string, dev: string): IoLimits {
  const out: IoLimits = {};
  try {
    if (version === 1) {
      const files: Array<[keyof IoLimits, string]> = [
        ['rbps', 'read_bps_device'],
        ['wbps', 'write_bps_device'],
        ['riops', 'read_iops_device'],
        ['wiops', 'write_iops_device'],
      ];
      for (const [k, f] of files) {
        const line = fs
          .readFileSync(path.join(dir, `blkio.throttle.${f}`), 'utf8')
          .split('\n')
          .find((x) => x.startsWith(dev + ' '));
        if (line) out[k] = Number(line.split(' ')[1]);
      }
    } else {
      const line = fs
        .readFileSync(path.join(dir, 'io.max'), 'utf8')
        .split('\n')
        .find((x) => x.startsWith(dev + ' '));
      for (const kv of line?.split(' ').slice(1) ?? []) {
        const [k, v] = kv.split('=');
        if (v !== 'max') out[k as keyof IoLimits] = Number(v);
      }
    }
  } catch {
    /* no such cgroup */
  }
  return out;
}

/** "major:minor" of the whole disk holding path p (a partition maps to its disk). */
export function blockDeviceOf(p: string): string | undefined {
  const dev = fs.statSync(p, { bigint: true }).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return wholeDisk(`${major}:${minor}`);
}

export function wholeDisk(dev: string): string | undefined {
  const sys = `/sys/dev/block/${dev}`;
  if (!fs.existsSync(sys)) return undefined;
  if (!fs.existsSync(path.join(sys, 'partition'))) return dev;
  try {
    return fs.readFileSync(path.join(fs.realpathSync(sys), '..', 'dev'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function parseDevList(raw: unknown, flag: string): string[] {
  if (typeof raw !== 'string' || !/^\d+:\d+(,\d+:\d+)*$/.test(raw.trim())) {
    throw badArgs(
      `--${flag} must be block devices as major:minor, comma separated (e.g. 8:0,253:1), got ${JSON.stringify(String(raw)).slice(0, 60)}`,
    );
  }
  const devs = raw.trim().split(',');
  for (const d of devs)
    if (!fs.existsSync(`/sys/dev/block/${d}`)) throw badArgs(`--${flag}: ${d} is not a block device on this host`);
  return [...new Set(devs)];
}

// --- a throttled cgroup: what diskio hang and limit put processes in (each step journaled by the fault) -------

/** The root of the block I/O hierarchy: where processes go back when their own cgroup is gone. */
export const ioRoot = (version: CgroupVersion): string => (version === 1 ? V1_BLKIO : V2_ROOT);

const SUBTREE_CONTROL = `${V2_ROOT}/cgroup.subtree_control`;

/** cgroup v2: is the io controller enabled for the root's children (else a child cgroup has no io.max)? */
export function ioControllerEnabled(): boolean {
  return fs.readFileSync(SUBTREE_CONTROL, 'utf8').split(/\s+/).includes('io');
}

export async function enableIoController(exec: Executor): Promise<string> {
  await exec.change(`enable the io controller: echo +io > ${SUBTREE_CONTROL}`, () =>
    fs.writeFileSync(SUBTREE_CONTROL, '+io'),
  );
  return SUBTREE_CONTROL;
}

export async function disableIoController(exec: Executor, file: string): Promise<void> {
  await exec.change(`disable the io controller again: echo -io > ${file}`, () => fs.writeFileSync(file, '-io'));
}

/** Create the throttled cgroup with `limits` on every device. */
export async function createThrottled(
  exec: Executor,
  version: CgroupVersion,
  dir: string,
  devs: string[],
  limits: IoLimits,
): Promise<void> {
  await exec.change(`mkdir ${dir}`, () => fs.mkdirSync(dir, { recursive: true }));
  for (const dev of devs) {
    await exec.change(`limit ${dev} in ${dir}: ${JSON.stringify(limits)}`, () =>
      writeLimits(version, dir, dev, limits),
    );
  }
}

/** The first limit the kernel did not take, read back from the cgroup (undefined: all of them hold). */
export function limitNotTaken(
  version: CgroupVersion,
  dir: string,
  devs: string[],
  limits: IoLimits,
): string | undefined {
  for (const dev of devs) {
    const got = readLimits(version, dir, dev);
    for (const [k, v] of Object.entries(limits)) {
      const back = got[k as keyof IoLimits];
      if (v && back !== v)
        return `the kernel did not take the limit ${k}=${v} for ${dev} (reads back ${back ?? 'none'})`;
    }
  }
  return undefined;
}

/**
 * Take a process out of the throttled cgroup: lift the limits first (I/O already queued under them, a 1 MB write
 * at 512 B/s, is then served at once), then move it back to where it was (or the root) if it is still there.
 */
export async function releaseProcess(
  exec: Executor,
  d: { version: CgroupVersion; dir: string; devs?: string[]; pid: number; from: string },
  stillSame: boolean,
): Promise<void> {
  if (fs.existsSync(d.dir) && d.devs)
    await exec.change(`lift the limits in ${d.dir}`, () => liftLimits(d.version, d.dir, d.devs!));
  if (!stillSame || currentCgroup(d.version, d.pid) !== d.dir) return;
  const to = fs.existsSync(d.from) ? d.from : ioRoot(d.version);
  await exec.change(`move process ${d.pid} back to ${to}`, () => moveProcess(to, d.pid));
}

/**
 * Remove the throttled cgroup. Processes forked inside it meanwhile go to the root of the hierarchy first; their
 * pids are returned (the recover says so).
 */
export async function removeThrottled(exec: Executor, version: CgroupVersion, dir: string): Promise<number[]> {
  if (!fs.existsSync(dir)) return [];
  const root = ioRoot(version);
  const moved = procsIn(dir);
  for (const pid of moved) {
    await exec.change(`move process ${pid} (started while throttled) to ${root}`, () => moveProcess(root, pid));
  }
  await exec.change(`rmdir ${dir}`, () => {
    fs.rmdirSync(dir);
    if (version === 1) {
      try {
        fs.rmdirSync(`${V1_BLKIO}/chaosmetad`);
      } catch {
        /* other experiments use it */
      }
    }
  });
  return moved;
}

/** This host's cgroup mounts: the v1 hierarchies by their super options (controllers) and the v2 one (''). */
function cgroupMounts(): Array<{ opts: string[]; point: string; v2: boolean }> {
  const out: Array<{ opts: string[]; point: string; v2: boolean }> = [];
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    const f = pre.split(' ');
    const [fstype, , superOpts = ''] = post.split(' ');
    if (f[3] !== '/') continue; // a bind mount of a sub-tree
    if (fstype === 'cgroup2') out.push({ opts: [], point: f[4], v2: true });
    else if (fstype === 'cgroup') out.push({ opts: superOpts.split(','), point: f[4], v2: false });
  }
  return out;
}

/**
 * The cgroup directories a process is in, on this host, by controller ('cpu', 'cpuset', 'memory', …; '' = the
 * v2 unified hierarchy, which holds every v2 controller).
 */
export function cgroupDirs(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return out;
  }
  const mounts = cgroupMounts();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const ctrls = m[1] ? m[1].split(',') : [];
    const mnt = ctrls.length
      ? mounts.find((x) => !x.v2 && ctrls.every((c) => x.opts.includes(c)))
      : mounts.find((x) => x.v2);
    if (!mnt) continue;
    const dir = path.join(mnt.point, m[2]);
    if (ctrls.length) for (const c of ctrls) out.set(c, dir);
    else out.set('', dir);
  }
  return out;
}

const readTrim = (p: string): string | undefined => {
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** A cpuset list like 0-3,6 as core numbers. */
export function parseCores(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/**
 * How much CPU a process's cgroup may use: its CFS quota in CPUs (null: none) and the cores its cpuset allows
 * (cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us and cpuset.cpus; v2: cpu.max and cpuset.cpus.effective).
 */
export function cpuLimits(pid: number, hostCores: number): { quota: number | null; cores: number[]; cgroup?: string } {
  const dirs = cgroupDirs(pid);
  let quota: number | null = null;
  let cores: number[] = [];
  const v2 = dirs.get('');
  const cpuDir = dirs.get('cpu');
  if (cpuDir) {
    const q = Number(readTrim(path.join(cpuDir, 'cpu.cfs_quota_us')));
    const per = Number(readTrim(path.join(cpuDir, 'cpu.cfs_period_us')));
    if (q > 0 && per > 0) quota = q / per;
  } else if (v2) {
    const [q, per] = (readTrim(path.join(v2, 'cpu.max')) ?? 'max').split(' ');
    if (q !== 'max' && Number(per) > 0) quota = Number(q) / Number(per);
  }
  const set = dirs.get('cpuset')
    ? (readTrim(path.join(dirs.get('cpuset')!, 'cpuset.effective_cpus')) ??
      readTrim(path.join(dirs.get('cpuset')!, 'cpuset.cpus')))
    : v2
      ? readTrim(path.join(v2, 'cpuset.cpus.effective'))
      : undefined;
  if (set) cores = parseCores(set).filter((c) => c < hostCores);
  if (!cores.length) cores = Array.from({ length: hostCores }, (_, i) => i);
  return { quota, cores, cgroup: cpuDir ?? v2 };
}

/**
 * A process's memory cgroup: its limit in bytes (null: none, or "max") and what it uses now (v1
 * memory.limit_in_bytes / memory.usage_in_bytes; v2 memory.max / memory.current).
 */
export function memLimits(pid: number): { limit: number | null; usage: number } {
  const dirs = cgroupDirs(pid);
  const v1 = dirs.get('memory');
  const v2 = dirs.get('');
  if (v1) {
    const limit = Number(readTrim(path.join(v1, 'memory.limit_in_bytes')));
    const usage = Number(readTrim(path.join(v1, 'memory.usage_in_bytes')) ?? 0);
    // "no limit" is a huge page-aligned number in v1
    return { limit: limit > 0 && limit < 2 ** 60 ? limit : null, usage };
  }
  if (v2) {
    const max = readTrim(path.join(v2, 'memory.max'));
    const usage = Number(readTrim(path.join(v2, 'memory.current')) ?? 0);
    return { limit: max && max !== 'max' ? Number(max) : null, usage };
  }
  return { limit: null, usage: 0 };
}

/**
 * The freezer of a process's cgroup (v1 freezer.state, v2 cgroup.freeze): how a container is paused when its
 * runtime has no pause of its own to call (CRI-O: the CRI has none). Refused for a hierarchy's root (that would
 * freeze the host) and for the cgroup chaosmetad itself is in.
 */
export function freezerOf(pid: number): { version: CgroupVersion; dir: string } {
  const dirs = cgroupDirs(pid);
  const v1 = dirs.get('freezer');
  const found: { version: CgroupVersion; dir: string } | undefined = v1
    ? { version: 1, dir: v1 }
    : dirs.has('')
      ? { version: 2, dir: dirs.get('')! }
      : undefined;
  if (!found) throw new Error(`process ${pid} is in no freezer cgroup (v1 freezer or v2)`);
  const root = cgroupMounts().find((m) => (found.version === 1 ? !m.v2 && m.opts.includes('freezer') : m.v2));
  if (!root || path.resolve(found.dir) === path.resolve(root.point))
    throw new Error(`process ${pid} is in the root cgroup: freezing it would freeze the host`);
  const mine = found.version === 1 ? cgroupDirs(process.pid).get('freezer') : cgroupDirs(process.pid).get('');
  if (mine && path.resolve(mine) === path.resolve(found.dir))
    throw new Error(`process ${pid} shares chaosmetad's own cgroup ${found.dir}: refusing to freeze it`);
  return found;
}

/** Is that freezer cgroup frozen (all its processes stopped)? */
export function isFrozen(f: { version: CgroupVersion; dir: string }): boolean {
  if (f.version === 1) return readTrim(path.join(f.dir, 'freezer.state')) === 'FROZEN';
  return /^frozen 1$/m.test(readTrim(path.join(f.dir, 'cgroup.events')) ?? '');
}

/** Freeze or thaw, then wait (up to 10 s) until the kernel says it is done. */
export async function setFrozen(f: { version: CgroupVersion; dir: string }, frozen: boolean): Promise<void> {
  const file = path.join(f.dir, f.version === 1 ? 'freezer.state' : 'cgroup.freeze');
  fs.writeFileSync(file, f.version === 1 ? (frozen ? 'FROZEN' : 'THAWED') : frozen ? '1' : '0');
  const until = Date.now() + 10_000;
  while (isFrozen(f) !== frozen) {
    if (Date.now() > until) throw new Error(`${file}: still not ${frozen ? 'frozen' : 'thawed'} after 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
