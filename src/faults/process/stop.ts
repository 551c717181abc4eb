import { type ProcessRef as Proc, procState, sameProcess } from '../../host/procs';
import { defineFault, defineStep, tally } from '../types';
import { checkOneTarget, resolveTargets, targetFlags } from './common';

/** A process stopped (SIGSTOP); recover continues it, if it is still that process. */
const stopStep = defineStep('stop', async (data: Proc, ctx) => {
  if (!sameProcess(data.pid, data.start)) {
    ctx.note(`process ${data.pid} exited while stopped; nothing to continue`);
    return;
  }
  await ctx.exec.change(`kill -CONT ${data.pid}`, () => process.kill(data.pid, 'SIGCONT'));
});

export default defineFault({
  target: 'process',
  fault: 'stop',
  container: 'pid',
  volatile: true,
  summary: 'Freeze processes (SIGSTOP) until recover (SIGCONT)',
  description:
    'Stops the process given by --pid, or every process whose command line contains --key. Recover continues them; ' +
    'a process that exited meanwhile is noted and recovers as success.',
  examples: [
    'chaosmetad inject process stop --key "sleep 3600" --timeout 30s',
    'chaosmetad inject process stop -p 12345',
  ],
  flags: { ...targetFlags },
  validate: checkOneTarget,
  async inject(a, ctx) {
    const targets = resolveTargets(a, ctx.scope);
    for (const t of targets) {
      await ctx.step(stopStep, { ...t }, async () => {
        await ctx.exec.change(`kill -STOP ${t.pid}  # ${t.cmdline}`, () => {
          if (sameProcess(t.pid, t.start)) process.kill(t.pid, 'SIGSTOP');
        });
      });
    }
    if (!ctx.dryRun) {
      const until = Date.now() + 2000;
      while (targets.some((t) => sameProcess(t.pid, t.start) && procState(t.pid) !== 'T') && Date.now() < until)
        await new Promise((r) => setTimeout(r, 10));
    }
    return { stopped: targets.map((t) => t.pid) };
  },
  steps: [stopStep],
  async check(_a, ctx) {
    const stops = ctx.stepsOf(stopStep);
    if (!stops.length) return 'unknown';
    const held = stops.filter((s) => sameProcess(s.data.pid, s.data.start) && procState(s.data.pid) === 'T');
    return tally(held.length, stops.length);
  },
});
