import { containerAct } from '../../host/runtimes';
import { describeScope, scopeAlive } from '../../host/scope';
import { signalFlag } from '../signals';
import { defineFault, defineStep } from '../types';
import { theContainer, waitGone } from './common';

/** The signal sent to the container: it cannot be taken back, only noted. */
const killStep = defineStep('container-kill', async (_d: { signal?: string }, ctx) => {
  ctx.note('a killed container cannot be un-killed; nothing to undo');
});

export default defineFault({
  target: 'container',
  fault: 'kill',
  container: 'runtime',
  summary: 'Send a signal to a container (through its runtime); not recoverable',
  description:
    "Sends --signal (default 9) to the container's main process through its runtime (docker kill, ctr task kill; " +
    "CRI-O, whose CRI has no kill: kill(2) of its init, that process checked to be the container's). " +
    'A killed container cannot be un-killed: recover does nothing but record that (its restart policy or ' +
    'orchestrator may start it again). Needs --container-id.',
  examples: [
    'chaosmetad inject container kill --container-id web',
    'chaosmetad inject container kill --container-id web -s TERM',
  ],
  flags: { signal: signalFlag },
  validate(_a, target) {
    theContainer(target, 'kill');
  },
  async inject(a, ctx) {
    const t = theContainer(ctx.scope, 'kill');
    await ctx.step(killStep, { signal: a.signal }, async () => {
      await ctx.exec.change(`${t.runtime}: kill -${a.signal} ${describeScope(t)}`, () =>
        containerAct(t, { op: 'kill', signal: a.signal ?? 'SIGKILL' }),
      );
    });
    if (a.signal === 'SIGKILL' && !ctx.dryRun) await waitGone(() => scopeAlive(t), 5000);
    return { signal: a.signal, id: t.id };
  },
  steps: [killStep],
  async check(a, ctx) {
    if (a.signal !== 'SIGKILL') return 'unknown';
    return scopeAlive(ctx.scope) ? 'gone' : 'in-place';
  },
});
