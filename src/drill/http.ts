/**
 * The drill API answered by a chaosmetad daemon (`--server`): POST /v1/drill/… through the engine API's HTTP client
 * (api/http-client.ts: the token, TLS, Unix sockets and the daemon's authentication before a byte is sent).
 *
 * run() starts the drill in the daemon and polls its result every 500 ms, passing on the events that are new and
 * each update, until it has ended; Ctrl-C (the signal) asks the daemon to abort it and keeps polling until it has
 * (every fault recovered). The drill is sent as written (its file's text), which the daemon validates itself.
 */
import { HttpApi, type RemoteOptions } from '../api/http-client';
import type { RecoverResult } from '../api/api';
import { ChaosError, ExitCode, badArgs } from '../errors';
import type { DrillApi, DrillScheduleView, DrillSummary, RunOptions } from './api';
import { drillText } from './file';
import type { Drill } from './schema';
import type { DrillResult } from './types';

export const DRILL_ROUTES = {
  run: 'v1/drill/run',
  plan: 'v1/drill/plan',
  query: 'v1/drill/query',
  abort: 'v1/drill/abort',
  schedule: 'v1/drill/schedule',
  scheduleQuery: 'v1/drill/schedule/query',
  scheduleRemove: 'v1/drill/schedule/remove',
} as const;

/** How often a running drill's result is asked for. */
export const POLL_MS = 500;
/** How long the daemon may be unreachable while a drill runs before run() gives up on it. */
export const LOST_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HttpDrillApi implements DrillApi {
  readonly where: string;
  private readonly http: HttpApi;

  constructor(opts: RemoteOptions) {
    this.http = new HttpApi(opts);
    this.where = this.http.where;
  }

  private async post<T>(route: string, body: Record<string, unknown>): Promise<T> {
    return (await this.http.call(route, body)) as T;
  }

  /** The drill as written (its file's text), and where it came from. */
  private body(drill: Drill, source?: string): Record<string, unknown> {
    const t = drillText(drill);
    if (!t) throw badArgs('a drill sent to a daemon must be read from its file (drill/file.ts loadDrill)');
    return { drill: t.text, source: source ?? t.file };
  }

  async run(drill: Drill, o: RunOptions = {}): Promise<DrillResult> {
    const { id } = await this.post<{ id: string }>(DRILL_ROUTES.run, this.body(drill, o.source));
    o.onStart?.(id);
    let aborting = false;
    const abort = () => {
      if (aborting) return;
      aborting = true;
      this.abort(id).catch((e: Error) => o.onEvent?.(Date.now(), `drill abort ${id} failed: ${e.message}`));
    };
    o.signal?.addEventListener('abort', abort, { once: true });
    if (o.signal?.aborted) abort();
    /** the events passed on: up to time t, n of those at t */
    let seen = { t: -Infinity, n: 0 };
    let failingSince: number | undefined;
    try {
      for (;;) {
        let r: DrillResult;
        try {
          r = await this.get(id);
          failingSince = undefined;
        } catch (e) {
          if (e instanceof ChaosError && e.code === ExitCode.BadArgs) throw e;
          failingSince ??= Date.now();
          if (Date.now() - failingSince > LOST_MS)
            throw new ChaosError(
              ExitCode.Internal,
              `lost the daemon at ${this.where} while drill ${id} ran: ${(e as Error).message}; a daemon that stopped aborted it and recovered its faults (see: chaosmetad drill show ${id})`,
            );
          await sleep(POLL_MS);
          continue;
        }
        seen = this.newEvents(r, seen, o);
        o.onUpdate?.(r);
        if (r.status !== 'running') return r;
        await sleep(POLL_MS);
      }
    } finally {
      o.signal?.removeEventListener('abort', abort);
    }
  }

  /** Pass on the events after `seen` (the runner keeps them in order; it may drop its oldest). */
  private newEvents(r: DrillResult, seen: { t: number; n: number }, o: RunOptions): { t: number; n: number } {
    let atSeen = 0;
    let last = seen;
    for (const e of r.events) {
      if (e.t < seen.t) continue;
      if (e.t === seen.t && ++atSeen <= seen.n) continue;
      o.onEvent?.(e.t, e.text);
      last = e.t === last.t ? { t: e.t, n: last.n + 1 } : { t: e.t, n: 1 };
    }
    return last;
  }

  async plan(drill: Drill): Promise<string[]> {
    return (await this.post<{ plan: string[] }>(DRILL_ROUTES.plan, this.body(drill))).plan;
  }

  async list(limit?: number): Promise<DrillSummary[]> {
    return (await this.post<{ drills: DrillSummary[] }>(DRILL_ROUTES.query, { limit })).drills;
  }

  async get(id: string): Promise<DrillResult> {
    return (await this.post<{ drill: DrillResult }>(DRILL_ROUTES.query, { id })).drill;
  }

  abort(id: string): Promise<{ id: string; status: string; recovered: RecoverResult[] }> {
    return this.post(DRILL_ROUTES.abort, { id });
  }

  schedule(file: string, cron: string): Promise<DrillScheduleView> {
    return this.post(DRILL_ROUTES.schedule, { file, cron });
  }

  async schedules(): Promise<DrillScheduleView[]> {
    return (await this.post<{ schedules: DrillScheduleView[] }>(DRILL_ROUTES.scheduleQuery, {})).schedules;
  }

  async unschedule(id: string): Promise<void> {
    await this.post(DRILL_ROUTES.scheduleRemove, { id });
  }

  close(): void {
    this.http.close();
  }
}
