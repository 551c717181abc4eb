/**
 * Block I/O throttling through cgroups, v1 (blkio.throttle.*) or v2 (io.max), chosen by what the host has.
 * Every experiment gets its own cgroup; processes are moved in and, at recover, back where they were.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../errors';

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
