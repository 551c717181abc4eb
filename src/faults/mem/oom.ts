import { oneOf } from '../flags';
import { defineFault } from '../types';

export default defineFault({
  target: 'mem',
  fault: 'oom',
  volatile: true,
  summary: 'Exhaust memory until the OOM killer acts, and keep it up',
  description:
    'A supervisor helper (protected from the OOM killer) runs a child that allocates until the kernel kills it, ' +
    'then starts a new one, until recover. Inside a memory-limited cgroup only that cgroup is affected.',
  examples: ['chaosmetad inject mem oom --mode ram --timeout 1m'],
  flags: {
    mode: oneOf(['ram', 'cache'] as const, {
      char: 'm',
      default: 'cache',
      description: 'ram (anonymous) or cache (shared memory)',
    }),
  },
  async inject(a, ctx) {
    const pid = await ctx.helper('oom', { mode: a.mode });
    return { mode: a.mode, pids: [pid] };
  },
});
