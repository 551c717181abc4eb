/** The drill API answered in this process: the runner here, with this host's engine (the CLI, and the daemon). */
import { customAlphabet } from 'nanoid';
import type { RecoverResult } from '../api/api';
import { LocalApi } from '../api/local';
import type { Engine } from '../engine/engine';
import { nextRun, validCron } from '../engine/schedules';
import { badArgs } from '../errors';
import type { DrillRow, DrillScheduleRow } from '../store/store';
import type { DrillApi, DrillScheduleView, DrillSummary, RunOptions } from './api';
import { readTrustedDrillFile, checked } from './file';
import { HostPort, KubePort } from './ports';
import { DRILL_ID_RE, DrillRun, planDrill, runnerAlive, stepUid } from './runner';
import type { Drill } from './schema';
import type { DrillResult, DrillStatus } from './types';

const newId = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 8);
export const DRILL_SCHEDULE_ID_RE = /^ds-[a-z0-9]{8}$/;

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : undefined);

export function checkDrillId(id: string): void {
  if (!DRILL_ID_RE.test(id)) throw badArgs(`a drill id looks like d-1a2b3c4d, got ${JSON.stringify(id)}`);
}

/** A stored drill's status as it is: a "running" one whose runner is gone was interrupted. */
function statusOf(row: Pick<DrillRow, 'status' | 'runner_pid' | 'runner_start'>): DrillStatus | 'interrupted' {
  if (row.status === 'running' && !runnerAlive(row)) return 'interrupted';
  return row.status as DrillStatus;
}

export function scheduleView(r: DrillScheduleRow): DrillScheduleView {
  return {
    id: r.id,
    file: r.file,
    cron: r.cron,
    ...(r.next_ms ? { next_run: iso(r.next_ms) } : {}),
    ...(r.last_ms ? { last_run: iso(r.last_ms) } : {}),
    ...(r.last_drill ? { last_drill: r.last_drill } : {}),
    runs: r.runs,
    ...(r.last_error ? { last_error: r.last_error } : {}),
  };
}

export class LocalDrillApi implements DrillApi {
  readonly where = 'local';
  private readonly api: LocalApi;

  constructor(
    readonly engine: Engine,
    private readonly opts: { server?: string } = {},
  ) {
    this.api = new LocalApi(engine);
  }

  private ports() {
    return { host: new HostPort(this.api), kube: new KubePort() };
  }

  async run(drill: Drill, o: RunOptions = {}, scheduleId?: string): Promise<DrillResult> {
    const run = new DrillRun(drill, {
      store: this.engine.store,
      ...this.ports(),
      onEvent: o.onEvent,
      onUpdate: o.onUpdate,
      signal: o.signal,
      server: this.opts.server,
      scheduleId,
      source: o.source,
    });
    o.onStart?.(run.id);
    return run.run();
  }

  /** Start a drill and return at once (the daemon: the client polls get()). */
  start(drill: Drill, o: RunOptions = {}, scheduleId?: string): { id: string; done: Promise<DrillResult> } {
    const run = new DrillRun(drill, {
      store: this.engine.store,
      ...this.ports(),
      onEvent: o.onEvent,
      signal: o.signal,
      server: this.opts.server,
      scheduleId,
      source: o.source,
    });
    const done = run.run();
    return { id: run.id, done };
  }

  async plan(drill: Drill): Promise<string[]> {
    return planDrill(drill, this.ports());
  }

  async list(limit = 20): Promise<DrillSummary[]> {
    return this.engine.store.drills(limit).map((row) => {
      const full = this.engine.store.drill(row.id)!;
      let r: Partial<DrillResult> = {};
      try {
        r = JSON.parse(full.result) as Partial<DrillResult>;
      } catch {
        /* shown without */
      }
      return {
        id: row.id,
        name: row.name,
        status: statusOf(row),
        source: row.source,
        started: iso(row.create_ms)!,
        ...(r.ended ? { ended: iso(r.ended) } : {}),
        message:
          statusOf(row) === 'interrupted'
            ? 'the runner is gone; its faults recover by their leases'
            : (r.message ?? ''),
        ...(row.schedule_id ? { schedule_id: row.schedule_id } : {}),
      };
    });
  }

  async get(id: string): Promise<DrillResult> {
    checkDrillId(id);
    const row = this.engine.store.drill(id);
    if (!row) throw badArgs(`no drill ${id} (see: chaosmetad drill list)`);
    const r = JSON.parse(row.result) as DrillResult;
    if (statusOf(row) === 'interrupted') {
      r.status = 'aborted';
      r.message = 'interrupted: the runner is gone (its faults recover by their leases)';
    }
    return r;
  }

  async abort(id: string): Promise<{ id: string; status: string; recovered: RecoverResult[] }> {
    checkDrillId(id);
    const row = this.engine.store.drill(id);
    if (!row) throw badArgs(`no drill ${id} (see: chaosmetad drill list)`);
    if (row.status === 'running' && runnerAlive(row)) {
      this.engine.store.updateDrill(id, { abort_requested: 1 });
      // the runner polls its flag every second and recovers everything at once
      for (let i = 0; i < 600; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const now = this.engine.store.drill(id)!;
        if (now.status !== 'running' || !runnerAlive(now)) break;
      }
    }
    // whatever is left (a runner that is gone): recovered here, and its kube steps' parts through the agents
    const recovered = await this.engine.recoverMany({ all: true, parentUid: id });
    const spec = JSON.parse(row.spec) as Drill;
    const kube = new KubePort();
    for (const [li, lane] of spec.faults.lanes.entries())
      for (const [si, step] of lane.steps.entries())
        if ('inject' in step && step.inject.kube)
          recovered.push(...(await kube.recoverLeft(step.inject, stepUid(id, li, si))));
    const after = this.engine.store.drill(id)!;
    if (after.status === 'running') {
      const r = JSON.parse(after.result) as DrillResult;
      r.status = 'aborted';
      r.message = 'aborted by drill abort (the runner was gone)';
      r.ended = Date.now();
      r.phase = 'done';
      this.engine.store.updateDrill(id, { status: 'aborted', result: JSON.stringify(r), update_ms: Date.now() });
    }
    return { id, status: this.engine.store.drill(id)!.status, recovered };
  }

  async schedule(file: string, cron: string): Promise<DrillScheduleView> {
    const c = validCron(cron);
    const { text, real } = readTrustedDrillFile(file);
    checked(real, text);
    const now = Date.now();
    const row: DrillScheduleRow = {
      id: `ds-${newId()}`,
      file: real,
      cron: c,
      creator: process.env.SUDO_USER || process.env.USER || 'root',
      create_ms: now,
      next_ms: nextRun(c, now),
      last_ms: null,
      last_drill: '',
      runs: 0,
      last_error: '',
    };
    this.engine.store.insertDrillSchedule(row);
    this.engine.log({ event: 'drill-schedule-add', id: row.id, cron: c, file: real });
    return scheduleView(row);
  }

  async schedules(): Promise<DrillScheduleView[]> {
    return this.engine.store.drillSchedules().map(scheduleView);
  }

  async unschedule(id: string): Promise<void> {
    if (!DRILL_SCHEDULE_ID_RE.test(id))
      throw badArgs(`a drill schedule id looks like ds-1a2b3c4d, got ${JSON.stringify(id)}`);
    if (!this.engine.store.removeDrillSchedule(id))
      throw badArgs(`no drill schedule ${id} (see: chaosmetad drill schedules)`);
    this.engine.log({ event: 'drill-schedule-remove', id });
  }

  close(): void {
    this.api.close();
  }
}
