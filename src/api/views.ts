/**
 * What a client sees of the store: the compat JSON of an experiment and of a schedule. Shared by every engine API
 * implementation (local, HTTP, kube), the HTTP server and the CLI's presentation.
 */
import { shownArgs } from '../engine/shown';
import type { ExperimentRow, ScheduleRow } from '../store/store';
import { formatTime } from '../util/units';
import type { z } from 'zod';
import type { Experiment, Schedule } from './schema';

/** The columns experimentJson reads. */
export const COMPAT_COLUMNS = [
  'uid',
  'target',
  'fault',
  'args',
  'runtime',
  'status',
  'creator',
  'timeout',
  'error',
  'create_time',
  'update_time',
  'container_id',
  'container_runtime',
  'parent_uid',
] as const;

/** One experiment, exactly the original's fields in its order; args and runtime are JSON strings. */
export type ExperimentView = z.infer<typeof Experiment>;

export type { LiveView } from '../engine/live';

export function experimentJson(r: ExperimentRow): ExperimentView {
  return {
    uid: r.uid,
    target: r.target,
    fault: r.fault,
    args: r.target_info ? shownArgs(r.target_info, r.args) : r.args,
    runtime: r.runtime,
    status: r.status,
    creator: r.creator,
    timeout: r.timeout,
    error: r.error,
    create_time: r.create_time,
    update_time: r.update_time,
    container_id: r.container_id,
    container_runtime: r.container_runtime,
    ...(r.parent_uid ? { parent_uid: r.parent_uid } : {}),
  };
}

export type ScheduleView = z.infer<typeof Schedule>;

export function scheduleJson(r: ScheduleRow): ScheduleView {
  return {
    id: r.id,
    target: r.target,
    fault: r.fault,
    args: r.args,
    schedule: r.cron,
    duration: r.duration,
    creator: r.creator,
    create_time: r.create_time,
    next_run: r.next_ms ? formatTime(r.next_ms) : '',
    last_run: r.last_ms ? formatTime(r.last_ms) : '',
    last_uid: r.last_uid,
    runs: r.runs,
    skips: r.skips,
    last_error: r.last_error,
  };
}
