/**
 * --recover-cmd, shared by the faults that cannot undo themselves (a killed process): a shell command line, as
 * in the original (`bash -c` at recover: `systemctl start nginx || service nginx start` works, and `sleep 1579`
 * runs as `sleep 1579`). Only the person at the CLI, who is root already, gets a shell this way; over HTTP the
 * daemon refuses it unless started with --allow-recover-cmd. A command that does not exist fails the recover
 * (exit 5, retryable), not the inject.
 */
import * as fs from 'node:fs';
import { ChaosError, ExitCode, badArgs } from '../errors';
import { runUserCommand } from '../host/command';
import { boolean, string } from './flags';
import { type InjectContext, defineStep } from './types';

export const recoverCmdFlags = {
  recoverCmd: string({
    char: 'r',
    maxLength: 4096,
    description: 'shell command line run with bash -c at recover, e.g. "systemctl start nginx || service nginx start"',
  }),
  recoverShell: boolean({ description: 'accepted for compatibility: --recover-cmd always runs through the shell' }),
};

type Args = { recoverCmd?: string; recoverShell?: boolean };

export function validateRecoverCmd(a: Args): void {
  if (a.recoverShell && !a.recoverCmd) throw badArgs('--recover-shell needs --recover-cmd');
  if (a.recoverCmd !== undefined && a.recoverCmd.trim() === '') throw badArgs('--recover-cmd must not be blank');
}

/** The shell the original uses (bash), or the POSIX one where bash is missing. */
const shell = (): string => (fs.existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh');

/** Journal the command first: whatever happens next, recover runs it. */
export async function journalRecoverCmd(a: Args, ctx: InjectContext): Promise<void> {
  if (!a.recoverCmd) return;
  await ctx.step(recoverCmdStep, { argv: [shell(), '-c', a.recoverCmd] }, async () => {});
}

/** The command line run at recover (argv: the shell, -c, the line). */
export const recoverCmdStep = defineStep('recover-cmd', async ({ argv }: { argv: string[] }, ctx) => {
  const r = await ctx.exec.change(`run: ${argv.join(' ')}`, () => runUserCommand(argv, ctx.workDir()));
  if (!r) return;
  const what = r.running ? 'still running (left running)' : `exit ${r.exitCode}`;
  const out = r.output ? `: ${r.output.slice(0, 300)}` : '';
  ctx.note(`recover-cmd ${what}${out}`);
  if (!r.running && r.exitCode !== 0) throw new ChaosError(ExitCode.Recover, `recover-cmd failed (${what})${out}`);
});
