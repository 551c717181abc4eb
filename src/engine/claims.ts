/**
 * Claims, decided atomically in the store: a new experiment's claim on its uid and on the host objects it alters
 * (a second live experiment claiming the same object is refused), and the daemon's claim on its data dir.
 */
import { badArgs } from '../errors';
import type { FaultDef } from '../faults/types';
import type { ParsedFlags, FlagSpecs } from '../faults/flags';
import { alive, isChaosmetad, readArgv, startTime } from '../host/procs';
import { type Scope, isContainer } from '../host/scope';
import { type ExperimentRow, type Store, isLive } from '../store/store';

/**
 * What an inject of `def` on `target` claims (FaultDef.claims, each once). Claims are per target: two containers
 * may each have a delay on their own eth0.
 */
export function claimKeys(def: FaultDef, args: ParsedFlags<FlagSpecs>, target: Scope): string[] {
  return [...new Set(def.claims?.(args, target) ?? [])].map((k) =>
    isContainer(target) ? `container ${target.id.slice(0, 12)} ${k}` : k,
  );
}

/**
 * Record a new experiment with its claims, in one transaction: its uid must be free (a finished experiment with
 * nothing left to undo is replaced), and no other live experiment may hold any of its claims (exit 2 otherwise).
 */
export function recordClaimed(store: Store, row: ExperimentRow, keys: string[]): void {
  const uid = row.uid;
  store.tx(() => {
    const old = store.get(uid);
    if (old) {
      if (isLive(old) || old.phase === 'recovering') {
        throw badArgs(
          `an experiment with uid ${uid} is still live (status ${old.status}); recover it first or choose another --uid`,
        );
      }
      // its journal is what undoes its host changes: never drop it while any step is not undone
      if (store.hasUndoLeft(uid)) {
        throw badArgs(
          `experiment ${uid} (status ${old.status}) still has host changes to undo; run chaosmetad recover ${uid} first or choose another --uid`,
        );
      }
      store.remove(uid);
    }
    for (const key of keys) {
      const holder = store.claimHolder(key);
      if (holder)
        throw badArgs(
          `${key.replace(/^(\w[\w-]*):/, '$1 ')} is already altered by live experiment ${holder}; recover it first`,
        );
    }
    store.insert(row);
    for (const key of keys) store.claim(key, uid);
  });
}

/** The pid of the daemon that serves this data dir (decided in the store), if it still runs. */
export function daemonPid(store: Store): number | undefined {
  const pid = store.daemonPid();
  if (pid === process.pid) return pid;
  return pid && alive(pid) && isChaosmetad(readArgv(pid) ?? []) ? pid : undefined;
}

/** Become this data dir's daemon, atomically in the store; returns the pid of another live one instead. */
export function claimDaemon(store: Store): number | undefined {
  const isDaemon = (pid: number, start: number | null) =>
    alive(pid) && (start === null || startTime(pid) === start) && isChaosmetad(readArgv(pid) ?? []);
  return store.claimDaemon(process.pid, startTime(process.pid), isDaemon);
}
