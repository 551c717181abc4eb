/**
 * The HTTP contract, declared once (zod): every route's request body and reply data. The server decodes requests
 * with `decode()` of a route's body schema (types, sizes, absent values; BadArgs naming the field, in the first
 * field's order), the engine API's request and reply types are inferred from it (api/api.ts, api/views.ts), and the
 * OpenAPI document is generated from it (server/openapi.ts → `npm run openapi` → server/openapi.json). Loaded by
 * the server only: the CLI's start-up never needs zod (its encoders are in api/wire.ts).
 */
// zod's CommonJS build, as require() takes it: bundled (esbuild, the single executable) each of its modules stays in
// a wrapper compiled only when the server first loads it, so the CLI's start-up pays nothing for it (its ESM build
// would be hoisted into the bundle's top level: thousands of functions set up at every start)
import zod = require('zod');
import z = zod.z;

export { z };
import type { LiveView } from '../engine/live';
import type { RecoverResult as EngineRecoverResult } from '../engine/engine';
import { badArgs } from '../errors';
import { parseInteger, shown } from '../util/units';
import { snake } from '../util/flags';
import { DRILL_STATUSES, STATUSES } from './api';
import { INJECT_FLAGS, type InjectField, type WireForm } from './inject-flags';

/** The most of a drill's text a request may carry (the body's own bound is 1 MiB). */
export const MAX_DRILL_TEXT = 1 << 20;

// ---- fields of a request body: each message names its field (the issue's path) -------------------------------

type Issue = { path?: PropertyKey[]; input?: unknown };
const named = (iss: Issue): string => String(iss.path?.[iss.path.length - 1] ?? 'body');
/** "not given": absent, null or "" (HTTP clients send "" and null for unset fields), for every field */
const absent = (v: unknown): boolean => v === undefined || v === null || v === '';
const optional = <T extends z.ZodType>(s: T) => z.preprocess((v) => (absent(v) ? undefined : v), s.optional());

const string = (max: number | undefined, what: string, missing?: string) => {
  const s = z.string({
    error: (iss) =>
      iss.input === undefined && missing ? missing : `${named(iss)} must be ${what}, got ${shown(iss.input)}`,
  });
  return max === undefined ? s : s.max(max, { error: (iss) => `${named(iss)} must be at most ${max} characters` });
};
/** a string of at most `max` characters */
const text = (max = 4096) => optional(string(max, 'a string'));
/** a string that must be there: `missing` is the message when it is not */
const needed = (max: number, missing: string) =>
  z.preprocess((v) => (absent(v) ? undefined : v), string(max, 'a string', missing));
/** true or false ("true" too); false when absent */
const flag = () =>
  optional(
    z
      .union([z.boolean(), z.literal('true')], {
        error: (iss) => `${named(iss)} must be true or false, got ${shown(iss.input)}`,
      })
      .transform((v) => v === true || v === 'true'),
  );
/** a duration as the CLI takes it (checked where it is used): a string, or a number of seconds */
const duration = () =>
  optional(
    z
      .union([z.string(), z.number()], {
        error: (iss) => `${named(iss)} must be a duration like 30s or 5m, got ${shown(iss.input)}`,
      })
      .describe('duration: 30 (seconds), 30s, 5m, 2h'),
  );
/** a whole number in 0..1e9: a JSON number or a string of digits (the flags' integer parser) */
const count = () => {
  const read = (raw: unknown, name: string) => parseInteger(raw, name, 0, 1e9);
  const fails = (raw: unknown, name: string): string | undefined => {
    try {
      read(raw, name);
      return undefined;
    } catch (e) {
      return (e as Error).message.replace(/^--/, '');
    }
  };
  return optional(
    z
      .unknown()
      .refine((v) => fails(v, '') === undefined, { error: (iss) => fails(iss.input, named(iss)) })
      .transform((v) => read(v, ''))
      .meta({ type: 'integer', minimum: 0 }),
  );
};

/** The fault's flags: a JSON string of an object (the original's form), or the object itself. */
const args = z
  .preprocess(
    (v) => v ?? '{}',
    z.union([z.string(), z.record(z.string(), z.unknown())], {
      error: () => "args must be a JSON object of the fault's flags",
    }),
  )
  .transform((raw, ctx): Record<string, unknown> => {
    let v: unknown = raw;
    if (typeof raw === 'string') {
      try {
        v = JSON.parse(raw || '{}');
      } catch {
        ctx.addIssue({ code: 'custom', message: "args must be a JSON string of the fault's flags (snake_case keys)" });
        return z.NEVER;
      }
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      ctx.addIssue({ code: 'custom', message: "args must be a JSON object of the fault's flags" });
      return z.NEVER;
    }
    return v as Record<string, unknown>;
  })
  .describe(`the fault's flags as a JSON string (or object), snake_case keys: {"percent":50,"src_ip":"10.0.0.1"}`);

// ---- keys: the HTTP body is snake_case, the engine API camelCase ---------------------------------------------

type Snake<S extends string> = S extends `${infer C}${infer R}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${Snake<R>}`
  : S;
type CamelKey<S extends string> = S extends `${infer H}_${infer R}` ? `${H}${Capitalize<CamelKey<R>>}` : S;
type Camel<T> = { [K in keyof T as K extends string ? CamelKey<K> : K]: T[K] };
const camel = <T extends object>(o: T): Camel<T> =>
  Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]),
  ) as Camel<T>;

// ---- requests --------------------------------------------------------------------------------------------------

const wireField = (w: WireForm) =>
  w === 'switch'
    ? flag()
    : w === 'duration'
      ? duration()
      : w === 'cron'
        ? optional(string(undefined, 'a cron string'))
        : text(w.text);
type WireField<W> = W extends 'switch'
  ? ReturnType<typeof flag>
  : W extends 'duration'
    ? ReturnType<typeof duration>
    : ReturnType<typeof text>;
type InjectFields = { [K in InjectField as Snake<K>]: WireField<(typeof INJECT_FLAGS)[K]['wire']> };

/** an inject request's own fields, from the table of api/inject-flags.ts (descriptions: its CLI help) */
const injectFields = Object.fromEntries(
  Object.entries(INJECT_FLAGS).map(([k, spec]) => {
    const s = wireField(spec.wire);
    const help =
      spec.wire === 'duration'
        ? `${spec.description} (a duration: 30s, 5m, 2h, or a number of seconds)`
        : spec.description;
    return [snake(k), s.describe(help)];
  }),
) as unknown as InjectFields;

/** read by the server before any route (server/http.ts), never refused: a string's first 128 characters are kept */
const traceId = z.unknown().optional().meta({
  type: 'string',
  description: 'echoed in the reply, its first 128 characters (else the X-Trace-Id header, else a new one)',
});

export const InjectBody = z
  .object({
    target: needed(64, 'target and fault are required'),
    fault: needed(64, 'target and fault are required'),
    args,
    ...injectFields,
    trace_id: traceId,
  })
  .transform(({ trace_id: _, ...b }) => camel(b))
  .meta({ id: 'InjectBody' });

export const QueryBody = z
  .object({
    uid: text(),
    status: optional(
      string(16, 'a string').refine((s) => (STATUSES as readonly string[]).includes(s), {
        error: (iss) => `${named(iss)} must be one of ${STATUSES.join(', ')}, got ${shown(iss.input)}`,
      }),
    ).describe(STATUSES.join(', ')),
    target: text(),
    fault: text(),
    creator: text(),
    container_id: text(),
    container_runtime: text(),
    parent_uid: text().describe("the experiment this one is part of (kube inject's uid)"),
    offset: count(),
    limit: count().describe('default 10; 0 = all'),
    live: flag().describe(
      "add each experiment's live view (effect read from the host, helpers with their CPU and RSS)",
    ),
    trace_id: traceId,
  })
  .transform(({ trace_id: _, ...b }) => camel(b))
  .meta({ id: 'QueryBody' });

export const RecoverBody = z
  .object({
    uid: text(64),
    abandon: flag().describe(
      'with uid: give up the undo steps that keep failing (each recorded with why), end the experiment as destroyed',
    ),
    all: flag().describe('every live experiment (with target and fault: those of theirs)'),
    expired: flag().describe('the live ones past their deadline'),
    target: text(64),
    fault: text(64),
    trace_id: traceId,
  })
  .superRefine((b, ctx) => {
    if (b.uid) return;
    if (b.abandon)
      ctx.addIssue({ code: 'custom', message: 'abandon needs a uid: it gives up the failing undo of one experiment' });
    else if (!b.all && !b.expired)
      ctx.addIssue({ code: 'custom', message: 'uid is required (or all: true, or expired: true)' });
  })
  .transform(
    (b): { uid?: string; abandon?: boolean; all?: boolean; expired?: boolean; target?: string; fault?: string } =>
      b.uid
        ? b.abandon
          ? { uid: b.uid, abandon: true }
          : { uid: b.uid }
        : { all: b.all ?? false, expired: b.expired ?? false, target: b.target, fault: b.fault },
  )
  .meta({ id: 'RecoverBody' });

export const RenewBody = z
  .object({ uid: needed(64, 'uid is required'), lease: duration(), trace_id: traceId })
  .transform((b) => ({ uid: b.uid, lease: b.lease === undefined ? undefined : String(b.lease) }))
  .meta({ id: 'RenewBody' });

export const UidBody = z
  .object({ uid: needed(64, 'uid is required'), trace_id: traceId })
  .transform((b) => b.uid)
  .meta({ id: 'CheckBody' });

export const ScheduleQueryBody = z
  .object({ id: text(64).describe('one schedule (s-1a2b3c4d); absent = all'), trace_id: traceId })
  .transform((b) => b.id)
  .meta({ id: 'ScheduleQueryBody' });

export const ScheduleRemoveBody = z
  .object({ id: needed(64, 'id is required').describe('the schedule (s-1a2b3c4d)'), trace_id: traceId })
  .transform((b) => b.id)
  .meta({ id: 'ScheduleRemoveBody' });

// ---- drills (src/drill): the drill itself is validated by the server with the drill format (drill/schema.ts) ------

/** The drill of a run or plan: its YAML or JSON text, or the object; validated by the server (line, column, path). */
export const DrillBody = z
  .object({
    drill: z.preprocess(
      (v) => (absent(v) ? undefined : v),
      z.union([z.string().max(MAX_DRILL_TEXT), z.record(z.string(), z.unknown())], {
        error: (iss) =>
          iss.input === undefined
            ? 'drill is required: the drill as its YAML or JSON text, or as a JSON object'
            : `drill must be the drill's YAML or JSON text (at most ${MAX_DRILL_TEXT} characters) or a JSON object, got ${shown(iss.input)}`,
      }),
    ),
    source: text().describe('where the drill came from (its file), shown by drill list and in its problems'),
    trace_id: traceId,
  })
  .transform((b) => ({ drill: b.drill, source: b.source }))
  .meta({
    id: 'DrillBody',
    description: 'a drill in the format `chaosmetad drill schema` prints (README "Drills"), as text or as an object',
  });

export const DrillQueryBody = z
  .object({
    id: text(64).describe("one drill (d-1a2b3c4d): its whole result; absent = the newest drills' summaries"),
    limit: count().describe('summaries: at most this many (default 20)'),
    trace_id: traceId,
  })
  .transform((b) => ({ id: b.id, limit: b.limit }))
  .meta({ id: 'DrillQueryBody' });

export const DrillIdBody = z
  .object({ id: needed(64, 'id is required').describe('the drill (d-1a2b3c4d)'), trace_id: traceId })
  .transform((b) => b.id)
  .meta({ id: 'DrillIdBody' });

export const DrillScheduleBody = z
  .object({
    file: needed(4096, "file is required: the absolute path of a drill file on the daemon's host").describe(
      "the drill file on the daemon's host: root's, written by no one else, in directories no one else can write",
    ),
    cron: needed(200, 'cron is required: a cron expression like "0 3 * * *" (6 fields: seconds first)'),
    trace_id: traceId,
  })
  .transform((b) => ({ file: b.file, cron: b.cron }))
  .meta({ id: 'DrillScheduleBody' });

export const DrillScheduleQueryBody = z.object({ trace_id: traceId }).meta({ id: 'DrillScheduleQueryBody' });

export const DrillScheduleRemoveBody = z
  .object({ id: needed(64, 'id is required').describe('the drill schedule (ds-1a2b3c4d)'), trace_id: traceId })
  .transform((b) => b.id)
  .meta({ id: 'DrillScheduleRemoveBody' });

/** A request body decoded by its schema; the first problem (in the fields' order) thrown as BadArgs. */
export function decode<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw badArgs(r.error.issues[0]?.message ?? 'bad request');
  return r.data;
}

// ---- replies (each route's `data`) ------------------------------------------------------------------------------

const s = () => z.string();

export const Experiment = z
  .object({
    uid: s(),
    target: s(),
    fault: s(),
    args: s().describe('the flags as a JSON string, snake_case keys'),
    runtime: s().describe('JSON string'),
    status: s().describe(STATUSES.join(', ')),
    creator: s(),
    timeout: s(),
    error: s(),
    create_time: s(),
    update_time: s(),
    container_id: s(),
    container_runtime: s(),
    parent_uid: s().optional().describe('the experiment this one is part of (kube inject); in replies only when set'),
  })
  .meta({
    id: 'Experiment',
    description: 'args and runtime are JSON strings; status is created, success, error or destroyed',
  });

export const LiveViewSchema = z
  .object({
    deadline: s().describe("ISO time of the deadline, '' for none"),
    phase: s(),
    effect: s().describe("in-place, partial, gone or unknown; '-' once destroyed"),
    helpers: z
      .array(z.object({ pid: z.number().int(), cpu: z.number().optional(), rss: z.number().optional() }))
      .describe('tagged helper processes: CPU % over a short window, RSS bytes'),
    recover_failures: z.number().int(),
    next_try: s().describe("ISO time of the next automatic recover try after a failure, '' for none"),
  })
  .meta({ id: 'LiveView', description: 'query with live: true — the live view of an experiment, read from the host' });

export const Schedule = z
  .object({
    id: s(),
    target: s(),
    fault: s(),
    args: s(),
    schedule: s(),
    duration: s(),
    creator: s(),
    create_time: s(),
    next_run: s(),
    last_run: s(),
    last_uid: s(),
    runs: z.number().int(),
    skips: z.number().int(),
    last_error: s(),
  })
  .meta({ id: 'Schedule' });

export const InjectReply = z
  .union([
    z.object({ experiment: Experiment }),
    z
      .object({ dry_run: z.literal(true), uid: s(), planned: z.array(s()) })
      .describe('dry_run: the exact changes it would make; nothing changed, nothing stored'),
    z
      .object({ schedule: Schedule, daemon_running: z.boolean() })
      .describe('schedule: registered; it fires only while a daemon runs on its data dir'),
  ])
  .meta({ id: 'InjectReply' });

export const QueryReply = z
  .object({ experiments: z.array(Experiment.extend({ live: LiveViewSchema.optional() })), total: z.number().int() })
  .meta({ id: 'QueryReply' });

export const RecoverResultSchema = z
  .object({ uid: s(), status: s(), ok: z.boolean(), message: s(), notes: z.array(s()).optional() })
  .meta({ id: 'RecoverResult' });

export const RecoverReply = z.object({ results: z.array(RecoverResultSchema) }).meta({
  id: 'RecoverReply',
  description: 'also the data of a failed set (code 5): every result, failed ones ok false',
});

export const RenewReply = z.object({ uid: s(), lease_until: s() }).meta({ id: 'RenewReply' });

export const CheckReply = z
  .object({ uid: s(), status: s(), effect: z.enum(['in-place', 'partial', 'gone', 'unknown']) })
  .meta({ id: 'CheckReply' });

export const ScheduleQueryReply = z.object({ schedules: z.array(Schedule) }).meta({ id: 'ScheduleQueryReply' });

export const VersionReply = z.object({ version: s(), 'build-date': s() }).meta({ id: 'VersionReply' });

export const HealthReply = z.object({ status: s() }).meta({ id: 'HealthReply' });

// the drill's result and views (src/drill/types.ts and drill/api.ts; server/drill-routes.ts checks they are these)
const num = () => z.number();
const DRILL_STATUS = DRILL_STATUSES;

export const DrillResultSchema = z
  .object({
    id: s(),
    name: s(),
    status: z.enum(DRILL_STATUS),
    message: s(),
    started: num().describe('epoch ms'),
    ended: num().optional(),
    phase: z.enum(['steady-state', 'faults', 'recovering', 'measure', 'done']),
    points: z
      .object({
        steady: num().optional(),
        inject: num().optional(),
        effect: num().optional(),
        detection: num().optional(),
        recovered: num().optional(),
        recovery: num().optional(),
        abort: num().optional(),
      })
      .describe('the points in time it measured (epoch ms)'),
    durations: z.object({ effect_ms: num().optional(), detect_ms: num().optional(), recover_ms: num().optional() }),
    baseline: z.record(s(), num().nullable()),
    expectations: z.array(z.object({ name: s(), passed: z.boolean(), message: s(), at: num().optional() })),
    faults: z.array(
      z.object({
        lane: s(),
        step: z.number().int(),
        uid: s(),
        target: s(),
        fault: s(),
        where: s(),
        command: s(),
        start: num().optional(),
        end: num().optional(),
        state: z.enum(['injecting', 'injected', 'recovered', 'failed', 'recover-failed']),
        message: s().optional(),
      }),
    ),
    series: z.array(
      z.object({
        name: s(),
        kind: z.enum(['http', 'tcp', 'command', 'prometheus', 'kube', 'host', 'traffic']),
        unit: s(),
        samples: z.array(z.object({ t: num(), value: num().nullable(), ok: z.boolean(), error: s().optional() })),
      }),
    ),
    events: z.array(z.object({ t: num(), text: s() })),
    runner: z.object({ host: s(), pid: z.number().int(), server: s().optional(), schedule_id: s().optional() }),
  })
  .meta({ id: 'DrillResult', description: 'a drill as it runs and as it ended (README "Drills")' });

export const DrillSummarySchema = z
  .object({
    id: s(),
    name: s(),
    status: z.enum([...DRILL_STATUS, 'interrupted']),
    source: s(),
    started: s().describe('ISO time'),
    ended: s().optional(),
    message: s(),
    schedule_id: s().optional(),
  })
  .meta({ id: 'DrillSummary' });

export const DrillScheduleSchema = z
  .object({
    id: s(),
    file: s(),
    cron: s(),
    next_run: s().optional(),
    last_run: s().optional(),
    last_drill: s().optional(),
    runs: z.number().int(),
    last_error: s().optional(),
  })
  .meta({ id: 'DrillSchedule' });

export const DrillQueryReply = z
  .union([
    z.object({ drill: DrillResultSchema }).describe('id given: the whole result'),
    z.object({ drills: z.array(DrillSummarySchema) }).describe('no id: summaries, newest first'),
  ])
  .meta({ id: 'DrillQueryReply' });

export const DrillAbortReply = z
  .object({
    id: s(),
    status: s(),
    recovered: z.array(RecoverResultSchema).describe('left-over faults of a runner that was gone, recovered here'),
  })
  .meta({ id: 'DrillAbortReply' });

/** The envelope of every JSON reply: `data` is the route's on code 0, null (or what the failure still produced). */
export const envelope = <T extends z.ZodType>(data: T) =>
  z.object({
    code: z
      .number()
      .int()
      .describe('0 ok, 1 bad arguments, 2 storage error, 3 inject error, 4 internal error, 5 recover error, 6 unknown'),
    message: s(),
    trace_id: s(),
    data: data.nullable(),
  });

// ---- the engine's own types, checked to be the schema's (a drift is a compile error) --------------------------

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const same = <A, B>(ok: Same<A, B>) => ok;
same<z.infer<typeof LiveViewSchema>, LiveView>(true);
same<z.infer<typeof RecoverResultSchema>, EngineRecoverResult>(true);

// ---- the routes ---------------------------------------------------------------------------------------------------

export interface RouteSchema {
  summary: string;
  /** the request body (POST): decoded by decode(); absent for GET */
  body?: z.ZodType;
  /** the reply's data on code 0 */
  data: z.ZodType;
}

const routes = <const R extends Record<string, RouteSchema>>(table: R) =>
  Object.fromEntries(
    Object.entries(table).map(([key, r]) => {
      // 'POST /v1/schedule/query' → ScheduleQueryResponse
      const name = key
        .split(' ')[1]
        .split('/')
        .filter((p) => p && p !== 'v1' && p !== 'experiment')
        .map((p) => p[0].toUpperCase() + p.slice(1))
        .join('');
      return [key, { ...r, reply: envelope(r.data).meta({ id: `${name}Response` }) }];
    }),
  ) as { [K in keyof R]: R[K] & { reply: ReturnType<typeof envelope<R[K]['data']>> } };

/**
 * Every JSON route ("METHOD path") with its body and data, and its whole reply (the envelope): the server answers
 * exactly these (and GET /metrics, GET /openapi.json); the OpenAPI document lists them.
 */
export const ROUTE_SCHEMAS = routes({
  'POST /v1/experiment/inject': {
    summary: 'Inject a fault (or register a schedule)',
    body: InjectBody,
    data: InjectReply,
  },
  'POST /v1/experiment/query': { summary: 'List experiments, newest first', body: QueryBody, data: QueryReply },
  'POST /v1/experiment/recover': {
    summary: 'Recover one experiment (uid), or all / the expired ones',
    body: RecoverBody,
    data: RecoverReply,
  },
  'POST /v1/experiment/renew': { summary: "Renew an experiment's dead-man lease", body: RenewBody, data: RenewReply },
  'POST /v1/experiment/check': {
    summary: 'Read the host: is the fault in place, partial or gone',
    body: UidBody,
    data: CheckReply,
  },
  'POST /v1/schedule/query': { summary: 'List schedules', body: ScheduleQueryBody, data: ScheduleQueryReply },
  'POST /v1/schedule/remove': {
    summary: 'Remove a schedule (its live run still ends at its duration)',
    body: ScheduleRemoveBody,
    data: z.null(),
  },
  'POST /v1/drill/run': {
    summary: 'Start a drill in the daemon; its id at once (poll /v1/drill/query for its result)',
    body: DrillBody,
    data: z.object({ id: s() }).meta({ id: 'DrillRunReply' }),
  },
  'POST /v1/drill/plan': {
    summary: 'Dry run of a drill: the exact injects it would make; nothing changes, nothing stored',
    body: DrillBody,
    data: z.object({ plan: z.array(s()) }).meta({ id: 'DrillPlanReply' }),
  },
  'POST /v1/drill/query': {
    summary: "One drill's whole result (id), or the newest drills' summaries",
    body: DrillQueryBody,
    data: DrillQueryReply,
  },
  'POST /v1/drill/abort': {
    summary: 'Abort a running drill: every fault recovered at once, the drill ends as aborted',
    body: DrillIdBody,
    data: DrillAbortReply,
  },
  'POST /v1/drill/schedule': {
    summary: "Run a drill file of the daemon's host on a cron schedule",
    body: DrillScheduleBody,
    data: DrillScheduleSchema,
  },
  'POST /v1/drill/schedule/query': {
    summary: 'List drill schedules',
    body: DrillScheduleQueryBody,
    data: z.object({ schedules: z.array(DrillScheduleSchema) }).meta({ id: 'DrillScheduleQueryReply' }),
  },
  'POST /v1/drill/schedule/remove': {
    summary: 'Remove a drill schedule (a drill it started runs to its end)',
    body: DrillScheduleRemoveBody,
    data: z.null(),
  },
  'GET /v1/version': { summary: 'Version', data: VersionReply },
  'GET /healthz': { summary: 'Liveness (no token needed)', data: HealthReply },
});

export type RouteKey = keyof typeof ROUTE_SCHEMAS;
