import * as os from 'node:os';
import { badArgs } from '../../errors';
import { cpuList, integer } from '../flags';
import { defineFault } from '../types';

export const cpuCount = (): number => os.cpus().length || 1;

export default defineFault({
  target: 'cpu',
  fault: 'burn',
  volatile: true,
  summary: 'Hold chosen cores at a total CPU utilisation',
  description:
    "One native helper per chosen core, pinned to it, holds that core's TOTAL utilisation (as /proc/stat counts it) at " +
    '--percent, burning less when other work is running there. Cores: --list, else --count (0 = all).',
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
      max: 4096,
      default: 0,
      description: 'how many cores to burn, 0 = all (more than the host has = all)',
    }),
  },
  validate(a) {
    const n = cpuCount();
    if (a.list) {
      const bad = a.list.filter((c) => c >= n);
      if (bad.length) throw badArgs(`--list names core ${bad.join(',')} but this host has cores 0-${n - 1}`);
    }
  },
  async inject(a, ctx) {
    // more than the cores: all (as the original)
    const cores = a.list ?? pickCores(Math.min(a.count || cpuCount(), cpuCount()));
    const pids: number[] = [];
    for (const core of cores) pids.push(await ctx.helper('burn', { core, percent: a.percent }));
    return { cores, pids };
  },
});

/** The `count` least busy cores right now would need sampling; the original takes the first ones. */
function pickCores(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}
