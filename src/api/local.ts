/** The engine API answered by the engine in this process (the CLI without --server, and the HTTP server). */
import { badArgs } from '../errors';
import type { Engine } from '../engine/engine';
import { liveViews } from '../engine/live';
import { SCHEDULE_ID_RE, createSchedule } from '../engine/schedules';
import { shown } from '../util/units';
import type {
  ChaosApi,
  CheckReply,
  InjectReply,
  InjectRequest,
  QueryReply,
  QueryRequest,
  RecoverRequest,
  RecoverResult,
} from './api';
import { COMPAT_COLUMNS, type ScheduleView, experimentJson, scheduleJson } from './views';
import { type VersionInfo, versionInfo } from './version';

const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

export class LocalApi implements ChaosApi {
  readonly where = 'local';

  /** recent query replies by filter, valid while the store's change mark stays the same */
  private readonly cache = new Map<string, { mark: string; reply: QueryReply }>();

  constructor(readonly engine: Engine) {}

  async inject(req: InjectRequest): Promise<InjectReply> {
    if (present(req.duration) && !present(req.schedule)) {
      throw badArgs('--duration goes with --schedule (for a one-off experiment use --timeout)');
    }
    if (present(req.schedule)) {
      const row = createSchedule(this.engine, { ...req, schedule: req.schedule, duration: req.duration });
      return { schedule: scheduleJson(row), daemon_running: this.engine.daemonPid() !== undefined };
    }
    const res = await this.engine.inject(req);
    if (res.planned) return { dry_run: true, uid: res.experiment.uid, planned: res.planned };
    return { experiment: experimentJson(res.experiment) };
  }

  async query(q: QueryRequest): Promise<QueryReply> {
    const filter = { ...q, offset: q.offset ?? 0, limit: q.limit ?? 10 };
    if (!q.live) {
      // a daemon polled by dashboards answers the same query again and again: from memory while nothing changed
      const key = JSON.stringify(filter);
      const mark = this.engine.store.changeMark();
      const hit = this.cache.get(key);
      if (hit && hit.mark === mark) return hit.reply;
      const { rows, total } = this.engine.query(filter, COMPAT_COLUMNS);
      const reply = { experiments: rows.map(experimentJson), total };
      if (this.cache.size >= 64) this.cache.clear();
      this.cache.set(key, { mark, reply });
      return reply;
    }
    const { rows, total } = this.engine.query(filter);
    const live = await liveViews(this.engine, rows);
    return { experiments: rows.map((r, i) => ({ ...experimentJson(r), live: live[i] })), total };
  }

  async recover(r: RecoverRequest): Promise<RecoverResult[]> {
    if (r.uid !== undefined) {
      // a drill's id (or a kube experiment's, on a node): its parts, each recovered
      if (
        !this.engine.store.get(r.uid) &&
        (this.engine.store.drill(r.uid) || this.engine.store.unfinished({ parentUid: r.uid }).length)
      )
        return this.engine.recoverMany({ all: true, parentUid: r.uid });
      return [await this.engine.recover(r.uid, 'manual', { abandon: r.abandon === true })];
    }
    return this.engine.recoverMany(r);
  }

  async renew(uid: string, lease?: string): Promise<{ uid: string; lease_until: string }> {
    const row = this.engine.renew(uid, lease);
    return { uid, lease_until: new Date(row.lease_until!).toISOString() };
  }

  async check(uid: string): Promise<CheckReply> {
    return this.engine.check(uid);
  }

  async schedules(id?: string): Promise<ScheduleView[]> {
    return this.engine.store.schedules(id).map(scheduleJson);
  }

  async removeSchedule(id: string): Promise<void> {
    if (!SCHEDULE_ID_RE.test(id)) throw badArgs(`the schedule id looks like s-1a2b3c4d, got ${shown(id)}`);
    if (!this.engine.store.removeSchedule(id)) throw badArgs(`no schedule ${id} (see: chaosmetad schedule list)`);
    this.engine.log({ event: 'schedule-remove', id });
  }

  async version(): Promise<VersionInfo> {
    return versionInfo();
  }

  close(): void {
    try {
      this.engine.store.close();
    } catch {
      /* already closed */
    }
  }
}
