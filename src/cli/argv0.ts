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

export function effectiveArgv(argv: string[]): string[] {
  return isPlugin() && argv[0] !== 'kube' ? ['kube', ...argv] : argv;
}
