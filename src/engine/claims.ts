/**
 * Claims, decided atomically in the store: a live experiment's claims on the host objects it alters (a second
 * live experiment claiming the same object is refused), and the daemon's claim on its data dir (one per store).
 */
import { badArgs } from '../errors';
import type { FaultDef } from '../faults/types';
import type { ParsedFlags, FlagSpecs } from '../faults/flags';
import { alive, isChaosmetad, readArgv, startTime } from '../host/procs';
import { type Target, isContainer } from '../host/target';
import type { Store } from '../store/store';

/**
 * What an inject of `def` on `target` claims (FaultDef.claims, each once). Claims are per target: two containers
 * may each have a delay on their own eth0.
 */
export function claimKeys(def: FaultDef, args: ParsedFlags<FlagSpecs>, target: Target): string[] {
  return [...new Set(def.claims?.(args, target) ?? [])].map((k) =>
    isContainer(target) ? `container ${target.id.slice(0, 12)} ${k}` : k,
  );
}

/** Refuse claims another live experiment holds (exit 2). Run in the transaction that takes them (takeClaims). */
export function refuseHeld(store: Store, keys: string[]): void {
  for (const key of keys) {
    const holder = store.claimHolder(key);
    if (holder)
      throw badArgs(
        `${key.replace(/^(\w[\w-]*):/, '$1 ')} is already altered by live experiment ${holder}; recover it first`,
      );
  }
}

/** Record the claims as experiment `uid`'s (released with Store.releaseClaims when it ends). */
export function takeClaims(store: Store, keys: string[], uid: string): void {
  for (const key of keys) store.claim(key, uid);
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
