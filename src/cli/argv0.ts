/**
 * Installed as the kubectl plugin `kubectl-chaosmetad` (a link to the executable), every command is a kube one:
 * `kubectl chaosmetad inject …` = `chaosmetad kube inject …`. Decided by the name it was started as, before any
 * fast path (so a plugin inject can never run on the local host instead).
 */
import * as path from 'node:path';

export function isPlugin(): boolean {
  const names = [process.argv0, process.argv[1]].filter(Boolean).map((n) => path.basename(n));
  return names.some((n) => n === 'kubectl-chaosmetad' || n.startsWith('kubectl-chaosmetad.'));
}

/**
 * Output read by a pipe that closes early (`chaosmetad … | head -1`): the writes that fail with EPIPE are dropped
 * instead of crashing the process half-way (an unhandled 'error' event), so the command ends as it would have and
 * exits with its own code. Called first by both entries (bin/chaosmetad, the single executable).
 */
export function dropClosedPipe(): void {
  for (const s of [process.stdout, process.stderr])
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
}

export function effectiveArgv(argv: string[]): string[] {
  return isPlugin() && argv[0] !== 'kube' ? ['kube', ...argv] : argv;
}
