/**
 * The engine's clock: when a live experiment is due for recovery (its deadline or lease expiry) and the one retry
 * policy for recovers that failed. The watcher (engine/watcher.ts) and the daemon (engine/daemon.ts) both run by it.
 */
import type { ExperimentRow } from '../store/store';

/** Why an experiment is due: its deadline (--timeout) or its lease ran out. */
export type DueReason = 'timeout' | 'lease';

/** When a live experiment is due for recovery, and why. */
export interface Due {
  /** epoch ms */
  at: number;
  reason: DueReason;
}

/** When a live experiment is due for recovery (its deadline or lease expiry), and why; null = never. */
export function due(row: ExperimentRow): Due | null {
  const d = row.deadline ?? Infinity;
  const l = row.lease_until ?? Infinity;
  if (d === Infinity && l === Infinity) return null;
  return l < d ? { at: l, reason: 'lease' } : { at: d, reason: 'timeout' };
}

/**
 * The one retry policy for failed recovers (watcher, daemon, recover --expired): the n-th failure waits
 * min(60 s, 2^(n-1) s) before the next automatic try — and there is always a next try; every failure is logged and
 * counted in the store (query -a, /metrics).
 */
export function retryDelay(failures: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1));
}

/** When the next automatic recover of a due experiment may run (its retry time after a failure), epoch ms. */
export function nextTry(row: ExperimentRow): number {
  return Math.max(due(row)?.at ?? Infinity, row.retry_ms ?? 0);
}
