/**
 * The one engine API: everything a client can ask of chaosmetad. Implementations: the local engine
 * (api/local.ts), the HTTP client of a daemon (api/http-client.ts); the kube client of the Kubernetes layer will be
 * the third. CLI commands get one from api/factory.ts and never know which; the HTTP server decodes requests with
 * api/schema.ts (where these types come from) and answers them from the local one.
 */
import type { z } from 'zod';
import type * as S from './schema';
import type { ScheduleView } from './views';
import type { VersionInfo } from './version';
export { QUERY_MATCH_FIELDS } from '../store/query';

/** An inject as a client asks it (the engine's request without its internal fields), or a schedule to register. */
export type InjectRequest = z.output<typeof S.InjectBody>;

export type InjectReply = z.infer<typeof S.InjectReply>;

/** Which experiments (the store's filter), and whether to read their live view from the host too. */
export type QueryRequest = z.output<typeof S.QueryBody>;

export type QueryReply = z.infer<typeof S.QueryReply>;

/** One uid, or a set: every live one (all, optionally by target/fault), or the stale ones (expired). */
export type RecoverRequest = z.output<typeof S.RecoverBody>;

export type RecoverResult = z.infer<typeof S.RecoverResultSchema>;

export type CheckReply = z.infer<typeof S.CheckReply>;

export type RenewReply = z.infer<typeof S.RenewReply>;

export interface ChaosApi {
  /** where requests go, for messages: "local" or the daemon's address */
  readonly where: string;
  inject(req: InjectRequest): Promise<InjectReply>;
  query(req: QueryRequest): Promise<QueryReply>;
  /** one uid: its result, or throws (exit code 5) when it failed; a set: every result, failed ones with ok false */
  recover(req: RecoverRequest): Promise<RecoverResult[]>;
  renew(uid: string, lease?: string): Promise<RenewReply>;
  check(uid: string): Promise<CheckReply>;
  schedules(id?: string): Promise<ScheduleView[]>;
  removeSchedule(id: string): Promise<void>;
  version(): Promise<VersionInfo>;
  close(): void;
}

export const STATUSES = ['created', 'success', 'error', 'destroyed'] as const;

/** A drill's verdict (src/drill/types.ts; its exit codes: DRILL_EXIT there). */
export const DRILL_STATUSES = [
  'running',
  'passed',
  'not-steady',
  'no-effect',
  'not-detected',
  'not-recovered',
  'aborted',
  'error',
] as const;
