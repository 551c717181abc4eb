/**
 * The drill API: what `chaosmetad drill …` asks, answered here (drill/local.ts: the runner in this process, the
 * local engine) or by a daemon (drill/http.ts: POST /v1/drill/…). The HTTP server answers its routes from the local
 * one. Commands never know which.
 */
import type { RecoverResult } from '../api/api';
import type { Drill } from './schema';
import type { DrillResult, DrillStatus } from './types';

export interface DrillSummary {
  id: string;
  name: string;
  status: DrillStatus | 'interrupted';
  source: string;
  started: string;
  ended?: string;
  message: string;
  schedule_id?: string;
}

export interface DrillScheduleView {
  id: string;
  file: string;
  cron: string;
  next_run?: string;
  last_run?: string;
  last_drill?: string;
  runs: number;
  last_error?: string;
}

export interface RunOptions {
  /** the drill's file, for list/show */
  source?: string;
  onEvent?: (t: number, text: string) => void;
  onUpdate?: (r: DrillResult) => void;
  /** Ctrl-C */
  signal?: AbortSignal;
  /** the drill's id, known once it is stored */
  onStart?: (id: string) => void;
}

export interface DrillApi {
  readonly where: string;
  run(drill: Drill, o?: RunOptions): Promise<DrillResult>;
  /** the exact injects a run would make; nothing changes */
  plan(drill: Drill): Promise<string[]>;
  list(limit?: number): Promise<DrillSummary[]>;
  get(id: string): Promise<DrillResult>;
  /** ask the runner to stop and recover; a runner that is gone: its faults recovered here */
  abort(id: string): Promise<{ id: string; status: string; recovered: RecoverResult[] }>;
  schedule(file: string, cron: string): Promise<DrillScheduleView>;
  schedules(): Promise<DrillScheduleView[]>;
  unschedule(id: string): Promise<void>;
  close(): void;
}
