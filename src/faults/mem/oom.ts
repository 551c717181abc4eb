import { badArgs } from '../../errors';
import { memLimits } from '../../host/cgroup';
import { isContainer } from '../../host/scope';
import { formatBytes } from '../../util/units';
import { oneOf } from '../flags';
import { defineFault } from '../types';

export default defineFault({
  target: 'mem',
  fault: 'oom',
  container: 'cgroup',
  volatile: true,
  summary: 'Exhaust memory until the OOM killer acts, and keep it up',
  description:
    'A supervisor helper (protected from the OOM killer) runs a child that allocates until the kernel kills it, ' +
    'then starts a new one, until recover. Inside a memory-limited cgroup only that cgroup is affected. In a ' +
    "container (--container-id) the helper joins the container's memory cgroup, so the OOM killer acts inside " +
    'the container; a container without a memory limit is refused (it would exhaust the whole host).',
  examples: ['chaosmetad inject mem oom --mode ram --timeout 1m'],
  flags: {
    mode: oneOf(['ram', 'cache'] as const, {
      char: 'm',
      default: 'cache',
      description: 'ram (anonymous) or cache (shared memory)',
    }),
  },
  validate(_a, target) {
    if (isContainer(target) && memLimits(target.pid).limit === null)
      throw badArgs(
        "mem oom: the container has no memory limit, so its OOM would be the whole host's; give the container a limit (e.g. docker --memory) or drop --container-id",
      );
  },
  async inject(a, ctx) {
    if (isContainer(ctx.scope)) {
      const pid = await ctx.helper('oom', { mode: a.mode });
      return { mode: a.mode, pids: [pid], limit: formatBytes(memLimits(ctx.scope.pid).limit ?? 0) };
    }
    const pid = await ctx.helper('oom', { mode: a.mode });
    return { mode: a.mode, pids: [pid] };
  },
});
