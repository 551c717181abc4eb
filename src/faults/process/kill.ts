import { ChaosError, ExitCode } from '../../errors';
import { runUserCommand } from '../../host/command';
import { alive, sameProcess } from '../../host/procs';
import { splitArgv } from '../../util/argv';
import { boolean, string } from '../flags';
import type { FlagSpec } from '../flags';
import { defineFault } from '../types';
import { checkOneTarget, parseSignal, resolveTargets, targetFlags } from './common';

const signal: FlagSpec<NodeJS.Signals> = { kind: 'string', char: 's', default: 'SIGKILL', description: 'signal number or name: 9, KILL, TERM, HUP… (default 9)', parse: parseSignal };

export default defineFault({
  target: 'process',
  fault: 'kill',
  summary: 'Kill processes by pid or command-line match',
  description:
    'Sends --signal (default 9) to the process given by --pid, or to every process whose command line contains --key ' +
    '(never chaosmetad itself, its helpers, or whoever called it). A killed process cannot be un-killed: recover runs ' +
    '--recover-cmd, as an argv list without a shell (add --recover-shell to run it with /bin/sh -c); its exit code ' +
    'and output are recorded.',
  examples: [
    'chaosmetad inject process kill --key "sleep 3600" --recover-cmd "sleep 3600"',
    'chaosmetad inject process kill -p 12345 -s TERM',
  ],
  flags: {
    ...targetFlags,
    signal,
    recoverCmd: string({ char: 'r', maxLength: 4096, description: 'command to run at recover, e.g. "systemctl start nginx" (argv, no shell)' }),
    recoverShell: boolean({ description: 'run --recover-cmd with /bin/sh -c (explicit shell: pipes, variables)' }),
  },
  validate(a) {
    checkOneTarget(a);
    if (a.recoverShell && !a.recoverCmd) throw new ChaosError(ExitCode.BadArgs, '--recover-shell needs --recover-cmd');
    if (a.recoverCmd && !a.recoverShell) splitArgv(a.recoverCmd, 'recover-cmd');
  },
  async inject(a, ctx) {
    const targets = resolveTargets(a);
    if (a.recoverCmd) {
      const argv = a.recoverShell ? ['/bin/sh', '-c', a.recoverCmd] : splitArgv(a.recoverCmd, 'recover-cmd');
      await ctx.step('recover-cmd', { argv }, async () => {});
    }
    for (const t of targets) {
      await ctx.step('signal', { ...t, signal: a.signal }, async () => {
        await ctx.exec.change(`kill -${a.signal} ${t.pid}  # ${t.cmdline}`, () => {
          if (sameProcess(t.pid, t.start)) process.kill(t.pid, a.signal!);
        });
      });
    }
    if (a.signal === 'SIGKILL' && !ctx.dryRun) {
      const until = Date.now() + 2000;
      while (targets.some((t) => sameProcess(t.pid, t.start)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    }
    return { killed: targets.map((t) => t.pid), signal: a.signal };
  },
  undo: {
    async signal() { /* a signal cannot be taken back; recover-cmd restores the service */ },
    async 'recover-cmd'(data, ctx) {
      const r = await ctx.exec.change(`run: ${(data.argv as string[]).join(' ')}`, () => runUserCommand(data.argv));
      if (!r) return;
      const what = r.running ? 'still running (left running)' : `exit ${r.exitCode}`;
      ctx.note(`recover-cmd ${what}${r.output ? `: ${r.output.slice(0, 300)}` : ''}`);
      if (!r.running && r.exitCode !== 0) throw new ChaosError(ExitCode.Recover, `recover-cmd failed (${what})${r.output ? ': ' + r.output.slice(0, 300) : ''}`);
    },
  },
  async check(a, ctx) {
    const sigs = ctx.steps.filter((s) => s.kind === 'signal');
    if (!sigs.length || a.signal !== 'SIGKILL') return 'unknown';
    const gone = sigs.filter((s) => !sameProcess(s.data.pid, s.data.start) || !alive(s.data.pid));
    return gone.length === sigs.length ? 'in-place' : gone.length ? 'partial' : 'gone';
  },
});
