/**
 * Drills in the daemon (`chaosmetad server`): the drills it runs for its clients (POST /v1/drill/run), each started
 * and left to run while the client polls its result, and the drill files it runs on their cron schedules
 * (drill_schedules). A scheduled file is read again at each run with the trusted read (drill/file.ts
 * readTrustedDrillFile: root's, written by no one else, in directories no one else can write) and validated; a run
 * of a schedule whose previous run is still going is skipped, and why is recorded. When the daemon stops, every
 * drill it runs is aborted and waited for: their faults are recovered before the process exits.
 */
import type { Meter } from '../engine/daemon';
import type { Log } from '../engine/log';
import { nextRun } from '../engine/schedules';
import { badArgs } from '../errors';
import type { DrillScheduleRow } from '../store/store';
import { checked, readTrustedDrillFile } from './file';
import type { LocalDrillApi } from './local';
import { runnerAlive } from './runner';
import type { Drill } from './schema';
import type { DrillResult } from './types';

/** How often the schedules are looked at (a 6-field cron fires at most every second). */
const TICK_MS = 250;
/** How long the daemon waits for its drills to recover their faults when it stops. */
export const STOP_WAIT_MS = 60_000;
/** And how long its drills' clients then have to read how they ended. */
const CLIENT_GRACE_MS = 1200;

interface Running {
  id: string;
  ac: AbortController;
  done: Promise<unknown>;
  scheduleId?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class DrillDaemon {
  private readonly running = new Map<string, Running>();
  private timer?: NodeJS.Timeout;
  private stopping = false;
  private stopped?: Promise<void>;

  constructor(
    readonly api: LocalDrillApi,
    private readonly log: Log,
    private readonly metrics: Meter,
  ) {}

  /** The drills running in this daemon now (their ids). */
  get active(): string[] {
    return [...this.running.keys()];
  }

  /** Skip the runs missed while the daemon was down (as the experiment schedules do), start the clock. */
  start(): void {
    const store = this.api.engine.store;
    const now = Date.now();
    for (const s of store.drillSchedules()) {
      if (s.next_ms !== null && s.next_ms <= now) {
        store.updateDrillSchedule(s.id, { next_ms: nextRun(s.cron, now) });
        this.log({
          event: 'drill-schedule-skip',
          id: s.id,
          reason: 'missed while the daemon was down',
          missed: iso(s.next_ms),
        });
      }
    }
    this.tick();
  }

  /** Start a drill here; its id at once. `source`: where it came from; `scheduleId`: the schedule that fired it. */
  run(drill: Drill, source: string, scheduleId?: string): string {
    if (this.stopping) throw badArgs('the daemon is stopping: no new drill');
    const ac = new AbortController();
    const { id, done } = this.api.start(drill, { source, signal: ac.signal }, scheduleId);
    const entry: Running = { id, ac, scheduleId, done: Promise.resolve() };
    entry.done = done.then(
      (r: DrillResult) => {
        this.metrics.inc('chaosmetad_drills_total', 'Drills run by the daemon, by their status', { status: r.status });
        this.log({ event: 'drill-end', id, name: r.name, status: r.status, message: r.message });
      },
      (e: Error) => {
        this.metrics.inc('chaosmetad_drills_total', 'Drills run by the daemon, by their status', { status: 'error' });
        this.log({ event: 'drill-failed', id, error: e.message });
      },
    );
    void entry.done.finally(() => this.running.delete(id));
    this.running.set(id, entry);
    this.log({
      event: 'drill-start',
      id,
      name: drill.name,
      ...(source ? { source } : {}),
      ...(scheduleId ? { schedule: scheduleId } : {}),
    });
    return id;
  }

  /** Abort every drill running here and wait for them to end (their faults recovered); no new run starts. */
  stop(): Promise<void> {
    return (this.stopped ??= this.abortAll());
  }

  private async abortAll(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const all = [...this.running.values()];
    if (!all.length) return;
    this.log({ event: 'drills-abort', reason: 'the daemon is stopping', drills: all.map((r) => r.id) });
    for (const r of all) r.ac.abort('the daemon is stopping: every fault recovered');
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      Promise.all(all.map((r) => r.done)).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!late) {
      // their clients poll every 500 ms: one more poll reads how they ended before the listeners close
      await new Promise((r) => setTimeout(r, CLIENT_GRACE_MS));
    } else
      this.log({
        level: 'warning',
        event: 'drills-not-ended',
        drills: this.active,
        message: `not ended ${STOP_WAIT_MS / 1000} s after the abort; their faults recover by their leases`,
      });
  }

  private tick(): void {
    if (this.stopping) return;
    try {
      this.fire(Date.now());
    } catch (e) {
      this.log({ event: 'drill-schedule-tick-error', error: (e as Error).message });
    }
    this.timer = setTimeout(() => this.tick(), TICK_MS);
  }

  /** Start the drill schedules that are due. */
  private fire(now: number): void {
    const store = this.api.engine.store;
    for (const s of store.drillSchedules()) {
      if (s.next_ms === null || s.next_ms > now) continue;
      const following = nextRun(s.cron, now);
      const busy = this.busy(s);
      if (busy) {
        const why = `run at ${iso(now)} skipped: the previous run ${busy} is still running`;
        store.updateDrillSchedule(s.id, { next_ms: following, last_error: why });
        this.metrics.inc('chaosmetad_drill_schedule_runs_total', 'Scheduled drill runs by result', {
          result: 'skipped',
        });
        this.log({ event: 'drill-schedule-skip', id: s.id, reason: why });
        continue;
      }
      let drill: Drill;
      let real: string;
      try {
        const read = readTrustedDrillFile(s.file);
        real = read.real;
        drill = checked(real, read.text);
      } catch (e) {
        const why = (e as Error).message.slice(0, 2000);
        store.updateDrillSchedule(s.id, { next_ms: following, last_ms: now, last_error: why });
        this.metrics.inc('chaosmetad_drill_schedule_runs_total', 'Scheduled drill runs by result', {
          result: 'refused',
        });
        this.log({ event: 'drill-schedule-refused', id: s.id, file: s.file, error: why });
        continue;
      }
      // recorded at once (the drill is stored when it starts): a crash cannot run it twice
      store.updateDrillSchedule(s.id, { next_ms: following, last_ms: now });
      let id: string;
      try {
        id = this.run(drill, real, s.id);
      } catch (e) {
        store.updateDrillSchedule(s.id, { last_error: (e as Error).message.slice(0, 2000) });
        continue;
      }
      store.updateDrillSchedule(s.id, { runs: s.runs + 1, last_drill: id, last_error: '' });
      this.metrics.inc('chaosmetad_drill_schedule_runs_total', 'Scheduled drill runs by result', { result: 'started' });
    }
  }

  /** The schedule's drill still running (here, or by a runner still alive), if any. */
  private busy(s: DrillScheduleRow): string | undefined {
    for (const r of this.running.values()) if (r.scheduleId === s.id) return r.id;
    if (!s.last_drill) return undefined;
    const row = this.api.engine.store.drill(s.last_drill);
    return row && row.status === 'running' && runnerAlive(row) ? row.id : undefined;
  }
}
