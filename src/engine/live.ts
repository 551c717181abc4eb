/** The live view of experiments (`query --all`): the engine's own columns, the effect read from the host, helpers. */
import { allTagged } from '../host/procs';
import type { ExperimentRow } from '../store/store';
import type { Engine } from './engine';
import { lazy } from '../util/lazy';

// loaded on first use: start-up time
const loadPidusage = lazy<typeof import('pidusage')>(() => require('pidusage'));

export interface LiveView {
  /** ISO time of the deadline, '' for none */
  deadline: string;
  phase: string;
  /** in-place | partial | gone | unknown, '-' once destroyed */
  effect: string;
  /** tagged helper processes: CPU % over a short window, RSS bytes */
  helpers: Array<{ pid: number; cpu?: number; rss?: number }>;
  recover_failures: number;
  /** ISO time of the next automatic recover try after a failure, '' for none */
  next_try: string;
}

export async function liveViews(engine: Engine, rows: ExperimentRow[]): Promise<LiveView[]> {
  const tagged = allTagged();
  const pids = rows.flatMap((r) => (tagged.get(r.uid) ?? []).map((p) => p.pid));
  const usage = await sampleUsage(pids);
  const out: LiveView[] = [];
  for (const r of rows) {
    const effect = r.status === 'destroyed' ? '-' : await engine.effect(r).catch(() => 'unknown');
    out.push({
      deadline: r.deadline ? new Date(r.deadline).toISOString() : '',
      phase: r.phase,
      effect,
      helpers: (tagged.get(r.uid) ?? []).map((p) => ({ pid: p.pid, ...usage.get(p.pid) })),
      recover_failures: r.recover_failures ?? 0,
      next_try: r.retry_ms && r.status !== 'destroyed' ? new Date(r.retry_ms).toISOString() : '',
    });
  }
  return out;
}

/** CPU % over a short window (two samples) and RSS of each pid. */
async function sampleUsage(pids: number[]): Promise<Map<number, { cpu: number; rss: number }>> {
  const out = new Map<number, { cpu: number; rss: number }>();
  if (!pids.length) return out;
  const pidusage = loadPidusage();
  try {
    await pidusage(pids);
    await new Promise((r) => setTimeout(r, 300));
    const stats = await pidusage(pids);
    for (const [pid, s] of Object.entries(stats))
      if (s) out.set(Number(pid), { cpu: Math.round(s.cpu * 10) / 10, rss: s.memory });
  } catch {
    /* a helper exited between the samples */
  } finally {
    pidusage.clear();
  }
  return out;
}
