/** The experiment log (JSON lines in the data dir): the engine's events, and helpers' failures once ready. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One event: its fields (`event`, `uid`, …); the time and the pid are put in front when it is written. */
export type LogEvent = Record<string, unknown>;

/** Where events go (the engine's log file, the daemon's logger). */
export type Log = (event: LogEvent) => void;

/** The experiment log of a data dir. */
export function logFileOf(dataDir: string): string {
  return path.join(dataDir, 'chaosmetad.log');
}

/** Append one event to a log file; logging never fails an experiment (a write error is dropped). */
export function appendEvent(file: string, event: LogEvent): void {
  try {
    fs.appendFileSync(file, JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...event }) + '\n');
  } catch {
    /* logging never fails an experiment */
  }
}
