import { containerAct, isPaused } from '../../host/runtimes';
import { describeScope, isContainer, scopeAlive } from '../../host/scope';
import { defineFault, defineStep } from '../types';
import { theContainer } from './common';

/** The container paused; recover unpauses it if it is still there and paused. */
const pauseStep = defineStep('container-pause', async (_d: Record<string, never>, ctx) => {
  const t = ctx.scope;
  if (!isContainer(t) || !scopeAlive(t)) return;
  if (!(await isPaused(t))) {
    ctx.note(`${describeScope(t)} was unpaused meanwhile`);
    return;
  }
  await ctx.exec.change(`${t.runtime}: unpause ${describeScope(t)}`, () => containerAct(t, { op: 'unpause' }));
});

export default defineFault({
  target: 'container',
  fault: 'pause',
  container: 'runtime',
  volatile: true,
  summary: "Freeze a container (its runtime's pause) until recover",
  description:
    'Pauses every process of the container through its runtime (docker pause, ctr task pause: the cgroup freezer; ' +
    "CRI-O, whose CRI has no pause: the container's freezer cgroup, v1 or v2, directly). " +
    'Recover, or the deadline, unpauses it. Needs --container-id.',
  examples: ['chaosmetad inject container pause --container-id web -t 30s'],
  flags: {},
  validate(_a, target) {
    theContainer(target, 'pause');
  },
  async inject(_a, ctx) {
    const t = theContainer(ctx.scope, 'pause');
    await ctx.step(pauseStep, {}, async () => {
      await ctx.exec.change(`${t.runtime}: pause ${describeScope(t)}`, () => containerAct(t, { op: 'pause' }));
    });
    return { id: t.id };
  },
  steps: [pauseStep],
  async check(_a, ctx) {
    const t = ctx.scope;
    if (!isContainer(t) || !scopeAlive(t)) return 'gone';
    return (await isPaused(t)) ? 'in-place' : 'gone';
  },
});
