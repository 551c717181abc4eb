import * as os from 'node:os';
import { badArgs } from '../../errors';
import { cpuLimits } from '../../host/cgroup';
import { Scope, isContainer } from '../../host/scope';
import { allSettledOrThrow } from '../../util/settle';
import { cpuList, integer } from '../flags';
import { defineFault } from '../types';

export const cpuCount = (): number => os.cpus().length || 1;

export default defineFault({
  target: 'cpu',
  fault: 'burn',
  container: 'cgroup',
  volatile: true,
  summary: 'Hold chosen cores at a total CPU utilisation',
  description:
    "One native helper per chosen core, pinned to it, holds that core's TOTAL utilisation (as /proc/stat counts it) at " +
    '--percent, burning less when other work is running there. Cores: --list, else --count (0 = all). ' +
    'In a container (--container-id) the helpers join its cgroups, so the CPU counts against it, and --percent is of ' +
    'the CPUs it may use (its CFS quota, else its cpuset): 50 in a 1-CPU container burns half a CPU there.',
  examples: [
    'chaosmetad inject cpu burn --percent 60 --count 1 --timeout 2m --uid cpu-test-1',
    'chaosmetad inject cpu burn -p 80 -l 0-1 -t 30s',
  ],
  flags: {
    percent: integer({
      char: 'p',
      min: 1,
      max: 100,
      required: true,
      description: 'target utilisation of each chosen core, 1..100',
    }),
    list: cpuList({ char: 'l', description: 'cores to burn, e.g. 0-2,6 (overrides --count)' }),
    count: integer({
      char: 'c',
      min: 0,
      max: 2 ** 31 - 1, // the original's suite passes 999999 and expects every core
      default: 0,
      description: 'how many cores to burn, 0 = all (more than the host has = all)',
    }),
  },
  validate(a, target) {
    const n = cpuCount();
    if (a.list && isContainer(target)) {
      const allowed = cpuLimits(target.pid, n).cores;
      const bad = a.list.filter((c) => !allowed.includes(c));
      if (bad.length)
        throw badArgs(`--list names core ${bad.join(',')} but the container may use cores ${allowed.join(',')}`);
    } else if (a.list) {
      const bad = a.list.filter((c) => c >= n);
      if (bad.length) throw badArgs(`--list names core ${bad.join(',')} but this host has cores 0-${n - 1}`);
    }
  },
  async inject(a, ctx) {
    if (isContainer(ctx.scope))
      return burnInContainer(a, ctx.scope, (core, percent) => ctx.helper('burn', { core, percent, self: 1 }));
    // more than the cores: all (as the original)
    const cores = a.list ?? pickCores(Math.min(a.count || cpuCount(), cpuCount()));
    // one helper per core, started together (each waits for its helper's ready)
    const pids = await allSettledOrThrow(cores.map((core) => () => ctx.helper('burn', { core, percent: a.percent })));
    return { cores, pids };
  },
});

/** The `count` least busy cores right now would need sampling; the original takes the first ones. */
function pickCores(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/**
 * A container's share: percent of the CPUs it may use (quota, else its cpuset's cores), spread over the chosen
 * cores (--list; else --count of its cores; else as many as the share needs), each helper holding its own use.
 */
async function burnInContainer(
  a: { percent: number; list?: number[]; count: number },
  t: Scope & { kind: 'container' },
  start: (core: number, percent: number) => Promise<number>,
) {
  const lim = cpuLimits(t.pid, cpuCount());
  const share = Math.min(lim.quota ?? lim.cores.length, lim.cores.length);
  const cores = a.list ?? lim.cores.slice(0, Math.min(a.count || Math.ceil(share), lim.cores.length));
  const perCore = Math.min(100, Math.max(1, Math.round((a.percent * share) / cores.length)));
  const pids = await allSettledOrThrow(cores.map((core) => () => start(core, perCore)));
  return {
    cores,
    pids,
    container_cpus: Number(share.toFixed(3)),
    cpus_from: lim.quota !== null ? 'cpu quota' : 'cpuset',
    percent_per_core: perCore,
  };
}
