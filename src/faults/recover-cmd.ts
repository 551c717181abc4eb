/** --recover-cmd, shared by the faults that cannot undo themselves (a killed process): run at recover, argv only. */
import { ChaosError, ExitCode, badArgs } from '../errors';
import { runUserCommand } from '../host/command';
import { splitArgv } from '../util/argv';
import { whichTool } from '../host/executor';
import { shown } from '../util/units';
import * as fs from 'node:fs';
import { boolean, string } from './flags';
import type { InjectContext, UndoFn } from './types';

export const recoverCmdFlags = {
  recoverCmd: string({ char: 'r', maxLength: 4096, description: 'command to run at recover, e.g. "systemctl start nginx" (argv, no shell)' }),
  recoverShell: boolean({ description: 'run --recover-cmd with /bin/sh -c (explicit shell: pipes, variables)' }),
};

type Args = { recoverCmd?: string; recoverShell?: boolean };

export function validateRecoverCmd(a: Args): void {
  if (a.recoverShell && !a.recoverCmd) throw badArgs('--recover-shell needs --recover-cmd');
  if (a.recoverCmd && !a.recoverShell) {
    const argv = splitArgv(a.recoverCmd, 'recover-cmd');
    const exe = argv[0].includes('/') ? (argv[0].startsWith('/') ? argv[0] : '') : whichTool(argv[0]);
    let ok = false;
    try { if (exe) { fs.accessSync(exe, fs.constants.X_OK); ok = fs.statSync(exe).isFile(); } } catch { /* not executable */ }
    if (!ok) throw badArgs(`--recover-cmd: ${shown(argv[0])} is not an executable (give a program in PATH or an absolute path; add --recover-shell for a shell command line)`);
  }
}

/** Journal the command first: whatever happens next, recover runs it. */
export async function journalRecoverCmd(a: Args, ctx: InjectContext): Promise<void> {
  if (!a.recoverCmd) return;
  const argv = a.recoverShell ? ['/bin/sh', '-c', a.recoverCmd] : splitArgv(a.recoverCmd, 'recover-cmd');
  await ctx.step('recover-cmd', { argv }, async () => {});
}

export const recoverCmdUndo: Record<string, UndoFn> = {
  async 'recover-cmd'(data, ctx) {
    const r = await ctx.exec.change(`run: ${(data.argv as string[]).join(' ')}`, () => runUserCommand(data.argv));
    if (!r) return;
    const what = r.running ? 'still running (left running)' : `exit ${r.exitCode}`;
    const out = r.output ? `: ${r.output.slice(0, 300)}` : '';
    ctx.note(`recover-cmd ${what}${out}`);
    if (!r.running && r.exitCode !== 0) throw new ChaosError(ExitCode.Recover, `recover-cmd failed (${what})${out}`);
  },
};
