/** The CLI entry: oclif runs the command tree; every error ends as `[error] message` and a compat exit code. */
import { run, settings } from '@oclif/core';
import * as path from 'node:path';
import { ChaosError, ExitCode } from '../errors';
import { findFault, targets } from '../faults/index';
import { effectiveArgv } from './argv0';

/** `inject <target> <fault>` with a name that does not exist: say which ones do (before oclif's generic message). */
function checkInjectNames(argv: string[]): void {
  if (argv[0] !== 'inject') return;
  const [target, fault] = argv.slice(1, 3);
  if (target === undefined || target.startsWith('-')) return;
  if (!targets().includes(target)) findFault(target, fault ?? '');
  if (fault !== undefined && !fault.startsWith('-')) findFault(target, fault);
}

function exitCodeOf(err: unknown): [ExitCode, string] {
  if (err instanceof ChaosError) return [err.code, err.message];
  const e = err as { oclif?: { exit?: number }; message?: string; code?: string };
  if (e?.code === 'EEXIT' && e.oclif?.exit !== undefined) return [e.oclif.exit, ''];
  if (e?.oclif) return [ExitCode.BadArgs, (e.message ?? String(err)).split('\nSee more help with')[0]];
  return [ExitCode.Internal, e?.message ?? String(err)];
}

// we always run compiled JavaScript: never let oclif look for TypeScript sources or ts-node (NODE_ENV=test/dev)
settings.enableAutoTranspile = false;

export async function main(
  argv: string[] = effectiveArgv(process.argv.slice(2)),
  root = path.resolve(__dirname, '..', '..'),
): Promise<number> {
  try {
    checkInjectNames(argv);
    await run(argv, root);
    return ExitCode.Ok;
  } catch (err) {
    const [code, message] = exitCodeOf(err);
    if (message) process.stderr.write(`[error] ${message}\n`);
    if (code === ExitCode.Internal && process.env.CHAOSMETAD_DEBUG)
      process.stderr.write(String((err as Error).stack) + '\n');
    return code;
  }
}

/** Run and exit once stdout is flushed. */
export function runCli(root?: string): void {
  void main(effectiveArgv(process.argv.slice(2)), root).then((code) => {
    process.exitCode = code;
  });
}
