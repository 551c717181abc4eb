import { containerAct } from '../../host/runtimes';
import { describeScope } from '../../host/scope';
import { integer } from '../flags';
import { defineFault, defineStep } from '../types';
import { theContainer } from './common';

/** The container restarted (`wait`: its stop timeout). */
const restartStep = defineStep('container-restart', async (_d: { wait?: number }) => {
  /* a restart is an event: nothing to undo */
});

export default defineFault({
  target: 'container',
  fault: 'restart',
  container: 'runtime',
  summary: 'Restart a container (through its runtime)',
  description:
    'Stops the container (SIGTERM, then SIGKILL after --wait-time seconds) and starts it again: docker restart; ' +
    'containerd (which has none): its task stopped the same way, deleted, and a new one started, as ' +
    'its clients do (its output to the file the nerdctl/log-uri label names when that is a plain file:// path, ' +
    "else discarded: containerd would run a binary:// one as root) — not in namespace k8s.io, which the kubelet's " +
    'CRI manages; not on CRI-O (the CRI has none). ' +
    'An event, not a state: recover has nothing to undo. Needs --container-id.',
  examples: ['chaosmetad inject container restart --container-id web -w 5'],
  flags: {
    waitTime: integer({
      char: 'w',
      min: 0,
      max: 3600,
      default: 10,
      description: 'seconds to wait for it to stop before it is killed (default 10)',
    }),
  },
  validate(_a, target) {
    theContainer(target, 'restart');
  },
  async inject(a, ctx) {
    const t = theContainer(ctx.scope, 'restart');
    let notes: string[] = [];
    await ctx.step(restartStep, { wait: a.waitTime }, async () => {
      notes =
        (await ctx.exec.change(`${t.runtime}: restart ${describeScope(t)} (stop timeout ${a.waitTime}s)`, () =>
          containerAct(t, { op: 'restart', waitS: a.waitTime }),
        )) ?? [];
    });
    return { id: t.id, wait_time: a.waitTime, ...(notes.length ? { notes } : {}) };
  },
  steps: [restartStep],
  check: async () => 'unknown',
});
