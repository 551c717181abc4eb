/** How to start chaosmetad itself (watchers): the single executable, or node + bin/chaosmetad from a checkout. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { isSea } from '../host/assets';
import { cleanEnv } from '../host/executor';

export function selfArgv(args: string[]): [string, string[]] {
  if (isSea()) return [process.execPath, args];
  return [process.execPath, [path.resolve(__dirname, '..', '..', 'bin', 'chaosmetad'), ...args]];
}

/** Start chaosmetad detached: own session, no stdio, so `$(chaosmetad inject …)` returns at once. */
export function spawnSelfDetached(args: string[]): number {
  const [file, argv] = selfArgv(args);
  const child = spawn(file, argv, { detached: true, stdio: 'ignore', env: cleanEnv({ own: true }) });
  child.unref();
  if (!child.pid) throw new Error(`cannot start ${file}`);
  return child.pid;
}
