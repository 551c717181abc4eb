/**
 * The daemon's drill routes (POST /v1/drill/…): each body decoded by its schema (api/schema.ts), a drill validated
 * with the drill format (drill/file.ts: every problem with its line, column and path, BadArgs), a drill that would
 * run a command as root refused unless the daemon allows it (--allow-recover-cmd), then answered by the drill API
 * in this process (drill/local.ts) and the daemon's drill runs (drill/daemon.ts).
 */
import {
  ROUTE_SCHEMAS as API,
  type DrillResultSchema,
  type DrillScheduleSchema,
  type DrillSummarySchema,
  decode,
  type z,
} from '../api/schema';
import type { DrillScheduleView, DrillSummary } from '../drill/api';
import type { DrillDaemon } from '../drill/daemon';
import { checked, readTrustedDrillFile } from '../drill/file';
import type { Drill } from '../drill/schema';
import type { DrillResult } from '../drill/types';
import { badArgs } from '../errors';
import { drillRootCommands } from './guard';

// the drill layer's types are the contract's (a drift is a compile error)
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const same = <A, B>(ok: Same<A, B>) => ok;
same<z.infer<typeof DrillResultSchema>, DrillResult>(true);
same<z.infer<typeof DrillSummarySchema>, DrillSummary>(true);
same<z.infer<typeof DrillScheduleSchema>, DrillScheduleView>(true);

type Route = (body: Record<string, unknown>) => unknown;
export type DrillRouteKey = Extract<keyof typeof API, `${string} /v1/drill/${string}`>;

/** A drill of a request: its text (or the object, as JSON text) validated by the drill format. */
export function requestDrill(drill: string | Record<string, unknown>, source: string | undefined): Drill {
  const text = typeof drill === 'string' ? drill : JSON.stringify(drill, null, 2);
  return checked(source || 'the drill', text);
}

/** Refused unless root commands are allowed: what in the drill would run one, and the gate that allows it. */
function gate(d: Drill, allowRecoverCmd: boolean): void {
  if (allowRecoverCmd) return;
  const found = drillRootCommands(d);
  if (found.length)
    throw badArgs(
      `this drill would run commands as root on the daemon's host (${found.join('; ')}): refused over HTTP; start the daemon with --allow-recover-cmd to allow it (that makes every token holder root)`,
    );
}

export function drillRoutes(
  drills: DrillDaemon | undefined,
  opts: { allowRecoverCmd: boolean },
): Record<DrillRouteKey, Route> {
  const d = (): DrillDaemon => {
    if (!drills) throw badArgs('drills are not served here');
    return drills;
  };
  return {
    'POST /v1/drill/run': (body) => {
      const { drill, source } = decode(API['POST /v1/drill/run'].body, body);
      const parsed = requestDrill(drill, source);
      gate(parsed, opts.allowRecoverCmd);
      return { id: d().run(parsed, source ?? '') };
    },
    'POST /v1/drill/plan': async (body) => {
      const { drill, source } = decode(API['POST /v1/drill/plan'].body, body);
      const parsed = requestDrill(drill, source);
      gate(parsed, opts.allowRecoverCmd);
      return { plan: await d().api.plan(parsed) };
    },
    'POST /v1/drill/query': async (body) => {
      const q = decode(API['POST /v1/drill/query'].body, body);
      if (q.id !== undefined) return { drill: await d().api.get(q.id) };
      const limit = q.limit ?? 20;
      if (limit < 1 || limit > 1000) throw badArgs(`limit must be in 1..1000, got ${limit}`);
      return { drills: await d().api.list(limit) };
    },
    'POST /v1/drill/abort': (body) => d().api.abort(decode(API['POST /v1/drill/abort'].body, body)),
    'POST /v1/drill/schedule': (body) => {
      const { file, cron } = decode(API['POST /v1/drill/schedule'].body, body);
      // a token holder may name any root-owned drill file: one that runs root commands only behind the same gate
      const { text, real, mode } = readTrustedDrillFile(file);
      // a file only root may read is no drill file to name over HTTP: its validation errors would show a token
      // holder parts of it (/etc/shadow is a valid YAML string)
      if (!(mode & 0o004))
        throw badArgs(`refused: the drill file ${file} is not readable by all (mode ${(mode & 0o7777).toString(8)})`);
      gate(checked(real, text), opts.allowRecoverCmd);
      return d().api.schedule(file, cron);
    },
    'POST /v1/drill/schedule/query': async (body) => {
      decode(API['POST /v1/drill/schedule/query'].body, body);
      return { schedules: await d().api.schedules() };
    },
    'POST /v1/drill/schedule/remove': async (body) => {
      await d().api.unschedule(decode(API['POST /v1/drill/schedule/remove'].body, body));
      return null;
    },
  };
}
