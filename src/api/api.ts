/**
 * The one engine API: everything a client can ask of chaosmetad. Implementations: the local engine
 * (api/local.ts), the HTTP client of a daemon (api/http-client.ts); the kube client of the Kubernetes layer will be
 * the third. CLI commands get one from api/factory.ts and never know which; the HTTP server decodes requests with
 * api/wire.ts and answers them from the local one.
 */
import type { InjectRequest as EngineInjectRequest, RecoverResult } from '../engine/engine';
import type { QueryFilter } from '../store/store';
import type { ExperimentView, LiveView, ScheduleView } from './views';
import type { VersionInfo } from './version';

/** An inject as a client asks it (the engine's request without its internal fields), or a schedule to register. */
export interface InjectRequest extends Omit<EngineInjectRequest, 'scheduleId'> {
  /** register a recurring experiment instead (cron), each run lasting `duration` */
  schedule?: string;
  duration?: string | number;
}

export type InjectReply =
  | { experiment: ExperimentView }
  | { dry_run: true; uid: string; planned: string[] }
  | { schedule: ScheduleView; daemon_running: boolean };

/** Which experiments (the store's filter), and whether to read their live view from the host too. */
export interface QueryRequest extends QueryFilter {
  /** add each experiment's live view (effect read from the host, helpers with CPU and RSS) */
  live?: boolean;
}

export interface QueryReply {
  experiments: Array<ExperimentView & { live?: LiveView }>;
  total: number;
}

/** One uid, or a set: every live one (all, optionally by target/fault), or the stale ones (expired). */
export interface RecoverRequest {
  uid?: string;
  /** with uid: give up the undo steps that fail (recorded with why), and end the experiment as destroyed */
  abandon?: boolean;
  all?: boolean;
  expired?: boolean;
  target?: string;
  fault?: string;
}

export type { RecoverResult };

export interface CheckReply {
  uid: string;
  status: string;
  effect: string;
}

export interface ChaosApi {
  /** where requests go, for messages: "local" or the daemon's address */
  readonly where: string;
  inject(req: InjectRequest): Promise<InjectReply>;
  query(req: QueryRequest): Promise<QueryReply>;
  /** one uid: its result, or throws (exit code 5) when it failed; a set: every result, failed ones with ok false */
  recover(req: RecoverRequest): Promise<RecoverResult[]>;
  renew(uid: string, lease?: string): Promise<{ uid: string; lease_until: string }>;
  check(uid: string): Promise<CheckReply>;
  schedules(id?: string): Promise<ScheduleView[]>;
  removeSchedule(id: string): Promise<void>;
  version(): Promise<VersionInfo>;
  close(): void;
}

export const STATUSES = ['created', 'success', 'error', 'destroyed'] as const;
