/**
 * The deadline watcher: a detached `chaosmetad watch` that inject starts beside an experiment with a deadline or a
 * lease (EngineOptions.watcher: the CLI; the daemon keeps its own timers). It sleeps to the deadline or lease expiry
 * and recovers, retrying by the clock's policy (engine/clock.ts) until it is done.
 */
import { ChaosError, ExitCode } from '../errors';
import { TAG_PREFIX } from '../host/procs';
import { due, nextTry } from './clock';
import { type Engine, openEngine } from './engine';

/** What one try of recoverDue came to. */
export type DueOutcome =
  /** recovered, or nothing is left to do */
  | 'done'
  /** not due yet (a renewed lease, a retry time ahead) */
  | 'wait'
  /** this try failed (the store has the next try) */
  | 'failed';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The deadline watcher's command line, as inject starts it: `watch UID --chaosmetad-uid=UID --data-dir DIR`. */
export function watcherArgv(uid: string, dataDir: string): string[] {
  return ['watch', uid, TAG_PREFIX + uid, '--data-dir', dataDir];
}

/**
 * Be the watcher of exactly that command line, without the CLI: it starts beside every inject with a deadline, on
 * the same cores, while the inject is starting its helpers. false (nothing done) for any other argv.
 */
export async function runWatcher(argv: string[]): Promise<boolean> {
  const [, uid, , , dataDir] = argv;
  if (argv.length !== 5 || !uid || argv.join('\0') !== watcherArgv(uid, dataDir).join('\0')) return false;
  const engine = openEngine(dataDir);
  try {
    await engine.watch(uid);
  } finally {
    engine.store.close();
  }
  return true;
}

/** The watcher: sleep to the deadline or lease expiry (re-read: a lease may be renewed), recover; never gives up. */
export async function watch(engine: Engine, uid: string): Promise<void> {
  for (;;) {
    const row = engine.store.get(uid);
    if (!row || row.status === 'destroyed' || !due(row)) return;
    const left = nextTry(row) - Date.now();
    if (left > 0) {
      await sleep(Math.min(left, 60_000));
      continue;
    }
    if ((await recoverDue(engine, uid)) === 'done') return;
  }
}

/** Recover one experiment that is due (deadline or lease) and whose retry time has come. */
export async function recoverDue(engine: Engine, uid: string): Promise<DueOutcome> {
  const row = engine.store.get(uid);
  if (!row || row.status === 'destroyed') return 'done';
  const d = due(row);
  if (!d) return 'done';
  if (nextTry(row) > Date.now()) return 'wait';
  try {
    await engine.recover(uid, d.reason);
    return 'done';
  } catch (e) {
    if (e instanceof ChaosError && e.code === ExitCode.BadArgs) return 'done';
    return 'failed';
  }
}
