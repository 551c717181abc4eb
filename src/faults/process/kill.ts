import { type ProcessRef as Proc, alive, sameProcess } from '../../host/procs';
import { signalFlag } from '../signals';
import { journalRecoverCmd, recoverCmdFlags, recoverCmdStep, validateRecoverCmd } from '../recover-cmd';
import { defineFault, defineStep, tally } from '../types';
import { checkOneTarget, resolveTargets, targetFlags } from './common';

/** A signal sent to a process: it cannot be taken back (recover-cmd, journaled first, restores the service). */
const signalStep = defineStep('signal', async (_d: Proc & { signal?: string }) => {});

export default defineFault({
  target: 'process',
  fault: 'kill',
  container: 'pid',
  summary: 'Kill processes by pid or command-line match',
  description:
    'Sends --signal (default 9) to the process given by --pid, or to every process whose command line contains --key ' +
    '(never chaosmetad itself, its helpers, or whoever called it). A killed process cannot be un-killed: recover runs ' +
    '--recover-cmd, a shell command line (bash -c, as the original); its exit code and output are recorded, and a ' +
    'failing command fails the recover (exit 5, retryable).',
  examples: [
    'chaosmetad inject process kill --key "sleep 3600" --recover-cmd "sleep 3600"',
    'chaosmetad inject process kill -p 12345 -s TERM',
  ],
  flags: {
    ...targetFlags,
    signal: signalFlag,
    ...recoverCmdFlags,
  },
  validate(a, target) {
    checkOneTarget(a, target);
    validateRecoverCmd(a);
  },
  async inject(a, ctx) {
    const targets = resolveTargets(a, ctx.scope);
    await journalRecoverCmd(a, ctx);
    for (const t of targets) {
      await ctx.step(signalStep, { ...t, signal: a.signal }, async () => {
        await ctx.exec.change(`kill -${a.signal} ${t.pid}  # ${t.cmdline}`, () => {
          if (sameProcess(t.pid, t.start)) process.kill(t.pid, a.signal);
        });
      });
    }
    if (a.signal === 'SIGKILL' && !ctx.dryRun) {
      const until = Date.now() + 2000;
      while (targets.some((t) => sameProcess(t.pid, t.start)) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 20));
    }
    return { killed: targets.map((t) => t.pid), signal: a.signal };
  },
  steps: [signalStep, recoverCmdStep],
  async check(a, ctx) {
    const sigs = ctx.stepsOf(signalStep);
    if (!sigs.length || a.signal !== 'SIGKILL') return 'unknown';
    const gone = sigs.filter((s) => !sameProcess(s.data.pid, s.data.start) || !alive(s.data.pid));
    return tally(gone.length, sigs.length);
  },
});
