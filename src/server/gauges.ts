/** The gauges of /metrics: the store's (as the daemon last read them, so a scrape runs no SQL) and the process's. */
import type { StoreGauges } from '../engine/daemon';
import type { Metrics } from './metrics';

export type Gauges = Parameters<Metrics['render']>[0];

/** `store`: the store's gauges as last read (engine/daemon.ts Daemon.gauges); `startedAt`: the daemon's start. */
export function daemonGauges(store: () => StoreGauges, startedAt: number): () => Gauges {
  return () => {
    const g = store();
    return [
      {
        name: 'chaosmetad_experiments',
        help: 'Experiments in the store by status and target',
        values: g.experiments.map((c) => ({ labels: { status: c.status, target: c.target }, v: c.n })),
      },
      { name: 'chaosmetad_schedules', help: 'Registered schedules', values: [{ labels: {}, v: g.schedules }] },
      {
        name: 'chaosmetad_recover_failures',
        help: 'Failed recovers of experiments still to recover (each is retried)',
        values: [{ labels: {}, v: g.recoverFailures }],
      },
      {
        name: 'chaosmetad_experiments_recover_failing',
        help: 'Experiments still to recover whose last recover failed',
        values: [{ labels: {}, v: g.recoverFailing }],
      },
      {
        name: 'chaosmetad_process_resident_memory_bytes',
        help: 'Daemon RSS',
        values: [{ labels: {}, v: process.memoryUsage.rss() }],
      },
      {
        name: 'chaosmetad_uptime_seconds',
        help: 'Seconds since the daemon started',
        values: [{ labels: {}, v: (Date.now() - startedAt) / 1000 }],
      },
    ];
  };
}
