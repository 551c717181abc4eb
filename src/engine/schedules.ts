/**
 * Recurring experiments: a cron expression (standard 5 fields, or 6 with seconds first) and a duration. Stored in
 * the store so they survive restarts; the daemon fires them (engine/daemon.ts).
 * Views of them: api/views.ts.
 */
import { customAlphabet } from 'nanoid';
import { badArgs } from '../errors';
import { argsJson } from '../faults/flags';
import { ScheduleRow } from '../store/store';
import { formatTime } from '../util/units';
import { parseDuration, shown } from '../util/units';
import type { Engine } from './engine';
import type { InjectRequest } from './request';
import { lazy } from '../util/lazy';

const cronParser = lazy<typeof import('cron-parser')>(() => require('cron-parser')); // on first use

const newId = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 8);
export const SCHEDULE_ID_RE = /^s-[a-z0-9]{8}$/;

/** The next fire time after `after` (epoch ms). Throws BadArgs naming --schedule on a bad expression. */
export function nextRun(cron: string, after = Date.now()): number {
  try {
    const { CronExpressionParser } = cronParser();
    return CronExpressionParser.parse(cron, { currentDate: new Date(after) })
      .next()
      .getTime();
  } catch (e) {
    throw badArgs(
      `--schedule must be a cron expression like "*/10 * * * *" (minute hour day month weekday; 6 fields = seconds first), got ${shown(cron)}: ${(e as Error).message}`,
    );
  }
}

export function validCron(cron: unknown): string {
  if (typeof cron !== 'string' || !cron.trim() || cron.length > 200 || /[\0\n\r]/.test(cron)) {
    throw badArgs(`--schedule must be a cron expression like "*/10 * * * *", got ${shown(cron)}`);
  }
  const fields = cron.trim().split(/\s+/);
  if (!cron.trim().startsWith('@') && (fields.length < 5 || fields.length > 6)) {
    throw badArgs(
      `--schedule must have 5 fields (minute hour day month weekday) or 6 (seconds first), got ${shown(cron)}`,
    );
  }
  nextRun(cron.trim());
  return cron.trim();
}

/** Validate a recurring experiment completely (fault flags included) and store it. */
export function createSchedule(
  engine: Engine,
  req: InjectRequest & { schedule: unknown; duration: unknown },
): ScheduleRow {
  const cron = validCron(req.schedule);
  if (req.duration === undefined || req.duration === null || req.duration === '')
    throw badArgs('--duration is required with --schedule (how long each run lasts, e.g. 2m)');
  const durationMs = Math.round(parseDuration(req.duration, 'duration', 's'));
  if (durationMs < 1000) throw badArgs(`--duration must be at least 1s, got ${shown(req.duration)}`);
  if (req.timeout !== undefined && req.timeout !== '' && req.timeout !== 0)
    throw badArgs('--timeout does not go with --schedule: each run lasts --duration');
  if (req.uid) throw badArgs('--uid does not go with --schedule: each run gets <schedule id>-<run number>');
  if (req.dryRun) throw badArgs('--dry-run does not go with --schedule');
  if (req.containerId)
    throw badArgs('--container-id does not go with --schedule yet (a container may be replaced between runs)');
  const p = engine.prepare({ ...req, uid: undefined, timeout: durationMs / 1000 });
  const now = Date.now();
  const row: ScheduleRow = {
    id: `s-${newId()}`,
    target: p.def.target,
    fault: p.def.fault,
    args: argsJson(p.def.flags, p.args),
    cron,
    duration: typeof req.duration === 'string' || typeof req.duration === 'number' ? String(req.duration) : '',
    duration_ms: durationMs,
    creator: p.creator,
    create_time: formatTime(now),
    create_ms: now,
    next_ms: nextRun(cron, now),
    last_ms: null,
    last_uid: '',
    runs: 0,
    skips: 0,
    last_error: '',
  };
  engine.store.addSchedule(row);
  engine.log({ event: 'schedule-add', id: row.id, cron, target: row.target, fault: row.fault, args: row.args });
  return row;
}
