import { containerAct, recipe } from '../../host/runtimes';
import { describeScope, scopeAlive } from '../../host/scope';
import { defineFault, defineStep } from '../types';
import { theContainer, waitGone } from './common';

/** The container removed (`was`: its recipe, for whoever recreates it): cannot be undone, only noted. */
const rmStep = defineStep('container-rm', async (_d: { was: Record<string, unknown> }, ctx) => {
  ctx.note('a removed container cannot be brought back by chaosmetad; its recipe is in the runtime summary');
});

export default defineFault({
  target: 'container',
  fault: 'rm',
  container: 'runtime',
  summary: 'Remove a container (force); not recoverable',
  description:
    'Removes the container through its runtime (docker rm -f; ctr task kill, task delete, container delete; CRI-O: ' +
    'the CRI StopContainer and RemoveContainer on its socket). It ' +
    'cannot be brought back by chaosmetad: the experiment keeps what a person needs to recreate it — image, command, ' +
    'labels, mounts, the names of its environment variables — in its runtime summary. Needs --container-id.',
  examples: ['chaosmetad inject container rm --container-id web'],
  flags: {},
  validate(_a, target) {
    theContainer(target, 'rm');
  },
  async inject(_a, ctx) {
    const t = theContainer(ctx.scope, 'rm');
    const was = ctx.dryRun ? {} : await recipe(t);
    await ctx.step(rmStep, { was }, async () => {
      await ctx.exec.change(`${t.runtime}: remove ${describeScope(t)} (forced)`, () => containerAct(t, { op: 'rm' }));
    });
    if (!ctx.dryRun) await waitGone(() => scopeAlive(t), 5000);
    return { removed: was };
  },
  steps: [rmStep],
  check: async (_a, ctx) => (scopeAlive(ctx.scope) ? 'gone' : 'in-place'),
});
