import { integer } from '../flags';
import { defineFault } from '../types';
import { cpuCount } from './burn';

export default defineFault({
  target: 'cpu',
  fault: 'load',
  container: 'cgroup',
  volatile: true,
  summary: 'Raise the load average with runnable tasks',
  description:
    'Starts --count runnable threads at the lowest scheduling class (SCHED_IDLE): the run queue and load average ' +
    'rise by --count while real work still gets the CPU first.',
  examples: ['chaosmetad inject cpu load --count 8 --timeout 5m'],
  flags: {
    count: integer({
      char: 'c',
      min: 0,
      max: 100_000,
      default: 0,
      description: 'load to add (runnable tasks), 0 = cores × 4',
    }),
  },
  async inject(a, ctx) {
    const threads = a.count || cpuCount() * 4;
    const pid = await ctx.helper('load', { threads });
    return { threads, pids: [pid] };
  },
});
