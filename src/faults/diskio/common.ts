/**
 * diskio hang and limit: flags, choosing processes and devices, and the journaled steps; the cgroup mechanics are
 * host/cgroup.ts.
 */
import * as fs from 'node:fs';
import { badArgs, injectError } from '../../errors';
import {
  CgroupVersion,
  IoLimits,
  blockDeviceOf,
  createThrottled,
  currentCgroup,
  disableIoController,
  enableIoController,
  ioCgroupOf,
  ioCgroupPath,
  ioCgroupVersion,
  ioControllerEnabled,
  ioRoot,
  limitNotTaken,
  moveProcess,
  parseDevList,
  releaseProcess,
  readLimits,
  removeThrottled,
  restoreLimits,
  wholeDisk,
  writeLimits,
} from '../../host/cgroup';
import { deviceOf } from '../../host/mounts';
import { ContainerScope, Scope, isContainer } from '../../host/scope';
import { alive, isChaosmetad, matchKey, readArgv, sameProcess, startTime } from '../../host/procs';
import { shown } from '../../util/units';
import type { FlagSpec } from '../flags';
import { string } from '../flags';
import type { CheckContext, InjectContext } from '../types';
import { defineStep, tally } from '../types';

function parsePidList(raw: unknown, flag: string): number[] {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (!/^\d{1,7}(,\d{1,7})*$/.test(s))
    throw badArgs(`--${flag} must be pids separated by commas (e.g. 1234,5678), got ${shown(raw)}`);
  return [...new Set(s.split(',').map(Number))];
}

export const selectFlags = {
  pidList: {
    kind: 'string',
    char: 'p',
    description: 'processes to throttle, e.g. 1234,5678',
    parse: parsePidList,
  } as FlagSpec<number[]>,
  key: string({ char: 'k', maxLength: 256, description: 'throttle every process whose command line contains this' }),
  devList: {
    kind: 'string',
    char: 'd',
    description: "block devices as major:minor, e.g. 8:0 (default: the disk holding each process's working directory)",
    parse: parseDevList,
  } as FlagSpec<string[]>,
};

export interface Selection {
  pidList?: number[];
  key?: string;
  devList?: string[];
}

export function validateSelection(a: Selection, target: Scope): void {
  if (!ioCgroupVersion())
    throw badArgs('no cgroup block I/O controller on this host (neither cgroup v1 blkio nor v2 io)');
  if (isContainer(target)) {
    if (a.pidList || a.key !== undefined)
      throw badArgs(
        'in a container (--container-id) the whole container is throttled, through its own cgroup: drop --pid-list and --key',
      );
    containerIo(target, a.devList);
    return;
  }
  if (!a.pidList && a.key === undefined) throw badArgs('one of --pid-list or --key is required');
  if (a.pidList && a.key !== undefined) throw badArgs('--pid-list and --key cannot be used together; choose one');
  for (const pid of a.pidList ?? []) {
    const argv = readArgv(pid);
    if (!argv || !alive(pid)) throw badArgs(`--pid-list: no process ${pid}`);
    if (pid === 1 || isChaosmetad(argv)) throw badArgs(`--pid-list: ${pid} is init or chaosmetad itself`);
  }
  if (a.key !== undefined && !matchKey(a.key).length) throw badArgs(`--key ${shown(a.key)} matches no process`);
  if (!a.devList) for (const pid of targets(a)) devicesOf(pid);
}

function targets(a: Selection): number[] {
  return a.pidList ?? matchKey(a.key!).map((p) => p.pid);
}

function devicesOf(pid: number): string {
  for (const where of [`/proc/${pid}/cwd`, `/proc/${pid}/root`]) {
    try {
      const dev = blockDeviceOf(where);
      if (dev) return dev;
    } catch {
      /* unreadable */
    }
  }
  throw badArgs(
    `process ${pid} works on no block device (its working directory is on a virtual filesystem); give --dev-list`,
  );
}

/** A container's block I/O cgroup and the devices to limit there (default: the disk under its root filesystem). */
function containerIo(t: ContainerScope, devList?: string[]): { version: CgroupVersion; dir: string; devs: string[] } {
  const version = ioCgroupVersion() as CgroupVersion;
  const dir = ioCgroupOf(version, t.pid);
  if (!dir)
    throw badArgs(
      version === 1
        ? 'the container has no blkio cgroup of its own on this host'
        : "the container's cgroup has no io.max: its parent does not enable the io controller for it",
    );
  const dev = devList ? undefined : deviceOf(t.pid, '/');
  const disk = dev ? wholeDisk(dev) : undefined;
  if (!devList && !disk)
    throw badArgs("the container's root filesystem is on no block device this host can limit; give --dev-list");
  return { version, dir, devs: devList ?? [disk!] };
}

/**
 * In a container: its own cgroup gets the limits (its processes stay where they are; a process it starts later
 * is throttled too). The limits that were there are read first and put back exactly at recover.
 */
async function throttleContainer(t: ContainerScope, a: Selection, limits: IoLimits, ctx: InjectContext) {
  const { version, dir, devs } = containerIo(t, a.devList);
  const before: Record<string, IoLimits> = {};
  for (const dev of devs) before[dev] = readLimits(version, dir, dev);
  await ctx.step(containerIoStep, { version, dir, devs, before }, async () => {
    for (const dev of devs) {
      const want = { ...before[dev], ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v)) };
      await ctx.exec.change(`limit ${dev} in the container's cgroup ${dir}: ${JSON.stringify(limits)}`, () =>
        writeLimits(version, dir, dev, want),
      );
    }
  });
  if (!ctx.dryRun) {
    const why = limitNotTaken(version, dir, devs, limits);
    if (why) throw injectError(why);
  }
  return { cgroup_version: version, cgroup: dir, devices: devs, limits, before };
}

/** Journal and apply: our cgroup with the limits on every device, then each process moved in. */
export async function throttle(a: Selection, limits: IoLimits, ctx: InjectContext): Promise<Record<string, unknown>> {
  if (isContainer(ctx.scope)) return throttleContainer(ctx.scope, a, limits, ctx);
  const version = ioCgroupVersion() as CgroupVersion;
  const pids = targets(a);
  const devs = a.devList ?? [...new Set(pids.map(devicesOf))];
  const dir = ioCgroupPath(version, ctx.uid);
  if (version === 2 && !ioControllerEnabled()) {
    await ctx.step(ioControllerStep, { file: '/sys/fs/cgroup/cgroup.subtree_control' }, async () => {
      await enableIoController(ctx.exec);
    });
  }
  await ctx.step(cgroupStep, { version, dir }, () => createThrottled(ctx.exec, version, dir, devs, limits));
  if (!ctx.dryRun) {
    const why = limitNotTaken(version, dir, devs, limits);
    if (why) throw injectError(why);
  }
  for (const pid of pids) {
    const from = currentCgroup(version, pid);
    if (!from) continue;
    await ctx.step(moveStep, { pid, start: startTime(pid), from, version, dir, devs }, async () => {
      await ctx.exec.change(`move process ${pid} into ${dir} (from ${from})`, () => moveProcess(dir, pid));
    });
  }
  return { cgroup_version: version, cgroup: dir, devices: devs, pids, limits };
}

/** In a container: the limits written in its own cgroup (`dir`), and the ones there `before`, by device. */
const containerIoStep = defineStep(
  'container-io',
  async (d: { version: CgroupVersion; dir: string; devs: string[]; before: Record<string, IoLimits> }, ctx) => {
    for (const dev of d.devs) {
      await ctx.exec.change(`put back the limits of ${dev} in ${d.dir}: ${JSON.stringify(d.before[dev])}`, () =>
        restoreLimits(d.version, d.dir, dev, d.before[dev]),
      );
    }
  },
);
/** A process moved into the throttled cgroup (`from`: where it was); recover moves it back, if it is still it. */
const moveStep = defineStep(
  'move',
  async (
    d: { pid: number; start?: number; from: string; version: CgroupVersion; dir: string; devs?: string[] },
    ctx,
  ) => {
    await releaseProcess(ctx.exec, d, sameProcess(d.pid, d.start));
  },
);
/** The throttled cgroup chaosmetad made (`dir`). */
const cgroupStep = defineStep('cgroup', async (d: { version: CgroupVersion; dir: string }, ctx) => {
  for (const pid of await removeThrottled(ctx.exec, d.version, d.dir)) {
    ctx.note(`process ${pid} had started inside the throttled cgroup; moved to ${ioRoot(d.version)}`);
  }
});
/** cgroup v2: the io controller enabled for the root's children (`file`: its cgroup.subtree_control). */
const ioControllerStep = defineStep('io-controller', async (d: { file: string }, ctx) => {
  try {
    await disableIoController(ctx.exec, d.file);
  } catch (e) {
    ctx.note(`left the io controller enabled (${(e as Error).message})`);
  }
});

/** The step kinds of diskio hang and limit. */
export const steps = [containerIoStep, moveStep, cgroupStep, ioControllerStep];

export async function check(ctx: CheckContext, limits?: IoLimits): Promise<'in-place' | 'partial' | 'gone'> {
  const own = ctx.stepsOf(containerIoStep)[0];
  if (own) {
    const held = own.data.devs.filter(
      (dev) => !limits || !limitNotTaken(own.data.version, own.data.dir, [dev], limits),
    );
    return fs.existsSync(own.data.dir) ? tally(held.length, own.data.devs.length) : 'gone';
  }
  const moves = ctx.stepsOf(moveStep);
  const cg = ctx.stepsOf(cgroupStep)[0];
  if (!cg || !fs.existsSync(cg.data.dir)) return 'gone';
  const inside = moves.filter(
    (m) => sameProcess(m.data.pid, m.data.start) && currentCgroup(m.data.version, m.data.pid) === m.data.dir,
  );
  return tally(inside.length, moves.length);
}
