/**
 * The daemon's side of the engine: recovers every live experiment at its deadline or lease expiry (including
 * ones the CLI injected while the daemon ran: it polls the shared store), runs start-up recovery (Engine.stale) and
 * fires schedules. Recovering is idempotent and claimed in the store, so racing a CLI watcher is harmless.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { claimDaemon } from './claims';
import * as clock from './clock';
import type { Engine } from './engine';
import type { Log } from './log';
import { nextRun } from './schedules';
import { badArgs } from '../errors';
import { isLive } from '../store/store';

/** Where the daemon counts what it does (the daemon's Prometheus metrics; anything with these two methods). */
export interface Meter {
  inc(name: string, help: string, labels?: Record<string, string>, by?: number): void;
  observe(name: string, help: string, labels: Record<string, string>, seconds: number): void;
}

const MAX_TICK_MS = 250;
/** how often the daemon applies the retention (and once at start) */
export const PRUNE_EVERY_MS = 3_600_000;

/** What /metrics shows of the store, read when the store changed (in the clock's tick), never per scrape. */
export interface StoreGauges {
  experiments: Array<{ status: string; target: string; n: number }>;
  schedules: number;
  recoverFailures: number;
  recoverFailing: number;
}

export class Daemon {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly pidFile: string;
  private mark = '';
  private pruneTimer?: NodeJS.Timeout;
  private pruning?: Promise<unknown>;
  /** the store's gauges as of the last change seen (refreshGauges); /metrics renders these, no SQL per scrape */
  gauges: StoreGauges = { experiments: [], schedules: 0, recoverFailures: 0, recoverFailing: 0 };

  constructor(
    readonly engine: Engine,
    readonly log: Log,
    readonly metrics: Meter,
  ) {
    this.pidFile = path.join(engine.dataDir, 'daemon.pid');
  }

  /**
   * Take the data dir (one daemon per store: two would fire every schedule twice). Decided atomically in the store
   * (the pid file is only for people and scripts): of two daemons starting at once exactly one wins.
   */
  lock(): void {
    const other = claimDaemon(this.engine.store);
    if (other)
      throw badArgs(
        `another chaosmetad server (pid ${other}) already serves ${this.engine.dataDir}; stop it or use --data-dir`,
      );
    fs.writeFileSync(this.pidFile, `${process.pid}\n`);
  }

  /** Start-up recovery (the engine's, as `recover --expired` does it), skip missed schedule runs, start the clock. */
  async start(): Promise<void> {
    const store = this.engine.store;
    for (const { row, reason, effect } of await this.engine.stale('the daemon started')) {
      if (reason !== 'rearm') this.recover(row.uid, `${reason}-at-start`);
      else {
        const due = clock.due(row);
        this.log({ event: 'rearm', uid: row.uid, effect, due: due ? new Date(due.at).toISOString() : null });
      }
    }
    const now = Date.now();
    for (const s of store.schedules()) {
      if (s.next_ms !== null && s.next_ms <= now) {
        const next = nextRun(s.cron, now);
        store.updateSchedule(s.id, { next_ms: next, skips: s.skips + 1 });
        this.log({
          event: 'schedule-skip',
          id: s.id,
          reason: 'missed while the daemon was down',
          missed: new Date(s.next_ms).toISOString(),
        });
        this.metrics.inc('chaosmetad_schedule_runs_total', 'Scheduled runs by result', { result: 'missed' });
      }
    }
    this.refreshGauges();
    this.prune();
    this.tick();
  }

  /**
   * Read the store's gauges again when it changed since the last read (a commit by any process, or a change by
   * this one): the counts the triggers keep (a few rows) and two counts on small partial indexes, ~20 µs.
   */
  refreshGauges(): void {
    const store = this.engine.store;
    const mark = store.changeMark();
    if (mark === this.mark) return;
    const failing = store.recoverFailures();
    this.gauges = {
      experiments: store.counts(),
      schedules: store.scheduleCount(),
      recoverFailures: failing.failures,
      recoverFailing: failing.experiments,
    };
    this.mark = mark;
  }

  /** Apply the retention now and every PRUNE_EVERY_MS (one run at a time; its batches let requests in between). */
  private prune(): void {
    if (this.stopped) return;
    if (!this.pruning) {
      this.pruning = this.engine
        .prune()
        .then(
          (n) => {
            if (n) this.log({ event: 'prune', deleted: n });
          },
          (e: Error) => this.log({ event: 'prune-failed', error: e.message }),
        )
        .finally(() => (this.pruning = undefined));
    }
    this.pruneTimer = setTimeout(() => this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    await this.pruning;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.inflight.values()),
      new Promise((r) => {
        timer = setTimeout(r, 30_000);
      }),
    ]);
    clearTimeout(timer);
    try {
      if (fs.readFileSync(this.pidFile, 'utf8').trim() === String(process.pid)) fs.rmSync(this.pidFile);
    } catch {
      /* gone */
    }
    try {
      this.engine.store.releaseDaemon(process.pid);
    } catch {
      /* the store is closing */
    }
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    let next = now + MAX_TICK_MS;
    try {
      for (const r of this.engine.store.expired(now)) this.recover(r.uid, clock.due(r)?.reason ?? 'timeout');
      next = Math.min(next, this.fireSchedules(now));
      const due = this.engine.store.nextDue();
      if (due !== null && due > now) next = Math.min(next, due);
      this.refreshGauges();
    } catch (e) {
      this.log({ event: 'tick-error', error: (e as Error).message });
    }
    this.timer = setTimeout(() => this.tick(), Math.max(10, next - Date.now()));
  }

  /** Recover one experiment in the background (at most one at a time per uid; failures back off as the store says). */
  private recover(uid: string, reason: string): void {
    if (this.inflight.has(uid)) return;
    const row = this.engine.store.get(uid);
    if (row?.retry_ms && row.retry_ms > Date.now()) return;
    const started = process.hrtime.bigint();
    const p = this.engine
      .recover(uid, reason)
      .then(
        (r) => {
          this.metrics.inc('chaosmetad_recovers_total', 'Recovers by reason and result', { reason, result: 'ok' });
          this.log({ event: 'recovered', uid, reason, message: r.message });
        },
        (e: Error) => {
          const after = this.engine.store.get(uid);
          this.metrics.inc('chaosmetad_recovers_total', 'Recovers by reason and result', { reason, result: 'error' });
          this.log({
            event: 'recover-failed',
            uid,
            reason,
            attempt: after?.recover_failures,
            next_try: after?.retry_ms ? new Date(after.retry_ms).toISOString() : null,
            error: e.message,
          });
        },
      )
      .finally(() => {
        this.metrics.observe(
          'chaosmetad_recover_duration_seconds',
          'Time to recover an experiment',
          {},
          Number(process.hrtime.bigint() - started) / 1e9,
        );
        this.inflight.delete(uid);
      });
    this.inflight.set(uid, p);
  }

  /** Start the schedules that are due; returns the next fire time. A run overlapping a live predecessor is skipped. */
  private fireSchedules(now: number): number {
    const store = this.engine.store;
    let next = Infinity;
    for (const s of store.schedules()) {
      if (s.next_ms === null) continue;
      if (s.next_ms > now) {
        next = Math.min(next, s.next_ms);
        continue;
      }
      const following = nextRun(s.cron, now);
      next = Math.min(next, following);
      const last = s.last_uid ? store.get(s.last_uid) : undefined;
      if (last && isLive(last)) {
        store.updateSchedule(s.id, { next_ms: following, skips: s.skips + 1 });
        this.metrics.inc('chaosmetad_schedule_runs_total', 'Scheduled runs by result', { result: 'skipped' });
        this.log({
          event: 'schedule-skip',
          id: s.id,
          reason: `the previous run ${last.uid} is still live (status ${last.status})`,
        });
        continue;
      }
      const uid = `${s.id}-${s.runs + 1}`;
      // recorded before the inject: a crash cannot fire the same run twice
      store.updateSchedule(s.id, { next_ms: following, runs: s.runs + 1, last_uid: uid, last_ms: now });
      this.log({ event: 'schedule-run', id: s.id, uid });
      const started = process.hrtime.bigint();
      this.engine
        .inject({
          target: s.target,
          fault: s.fault,
          args: JSON.parse(s.args) as Record<string, unknown>, // (the schedule's args as stored: an object)
          uid,
          timeout: s.duration,
          creator: s.creator,
          scheduleId: s.id,
        })
        .then(
          () => {
            this.metrics.inc('chaosmetad_schedule_runs_total', 'Scheduled runs by result', { result: 'started' });
            this.metrics.inc('chaosmetad_injects_total', 'Injects by target, fault and result', {
              target: s.target,
              fault: s.fault,
              result: 'ok',
            });
            if (s.last_error) store.updateSchedule(s.id, { last_error: '' });
          },
          (e: Error) => {
            this.metrics.inc('chaosmetad_schedule_runs_total', 'Scheduled runs by result', { result: 'error' });
            this.metrics.inc('chaosmetad_injects_total', 'Injects by target, fault and result', {
              target: s.target,
              fault: s.fault,
              result: 'error',
            });
            store.updateSchedule(s.id, { last_error: e.message.slice(0, 1000) });
            this.log({ event: 'schedule-run-failed', id: s.id, uid, error: e.message });
          },
        )
        .finally(() =>
          this.metrics.observe(
            'chaosmetad_inject_duration_seconds',
            'Time to inject an experiment',
            {},
            Number(process.hrtime.bigint() - started) / 1e9,
          ),
        );
    }
    return next;
  }
}
