/** How experiments are shown: the compat JSON shape and the query table. */
import type { ExperimentRow } from '../store/store';

/** The columns experimentJson reads. */
export const COMPAT_COLUMNS = ['uid', 'target', 'fault', 'args', 'runtime', 'status', 'creator', 'timeout', 'error', 'create_time', 'update_time', 'container_id', 'container_runtime'] as const;

/** Exactly the original's fields, in its order; args and runtime are JSON strings. */
export function experimentJson(r: ExperimentRow) {
  return {
    uid: r.uid, target: r.target, fault: r.fault, args: r.args, runtime: r.runtime, status: r.status,
    creator: r.creator, timeout: r.timeout, error: r.error, create_time: r.create_time, update_time: r.update_time,
    container_id: r.container_id, container_runtime: r.container_runtime,
  };
}

/** A plain aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const clean = (s: string) => s.replace(/[\r\n\t]+/g, ' ');
  const all = [headers, ...rows.map((r) => r.map(clean))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}
