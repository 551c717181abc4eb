/** The daemon's log: one JSON line per event on stdout, `{"time": …, …the event}`. */

/** Log one event (its fields; `time` is put in front). */
export type EventLog = (e: Record<string, unknown>) => void;

/**
 * Events are written together at most every 10 ms, and at exit (flush): a write per request (stdout is synchronous
 * for files and pipes) cost ~40 µs of each query request under load, one per turn of the event loop still ~8 µs
 * (under load a turn holds one or two requests).
 */
export function eventLog(write: (text: string) => void = (t) => process.stdout.write(t)): {
  log: EventLog;
  flush: () => void;
} {
  let pending: string[] = [];
  const flush = () => {
    if (!pending.length) return;
    const text = pending.join('');
    pending = [];
    write(text);
  };
  // the time's text is made once per millisecond and put in front of the event's own JSON (no spread copy):
  // 2.3 µs a line where {time, ...e} cost 4.5
  let isoMs = 0;
  let iso = '';
  const log: EventLog = (e) => {
    const now = Date.now();
    if (now !== isoMs) iso = new Date((isoMs = now)).toISOString();
    const rest = JSON.stringify(e);
    pending.push(rest === '{}' ? `{"time":"${iso}"}\n` : `{"time":"${iso}",${rest.slice(1)}\n`);
    if (pending.length === 1) setTimeout(flush, 10);
  };
  return { log, flush };
}
