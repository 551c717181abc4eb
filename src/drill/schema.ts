/**
 * The drill format, declared once (zod): the types the runner works with, the validation of a drill file (every
 * message names the field's path; drill/file.ts adds its line and column) and the documentation
 * (`chaosmetad drill schema` prints its JSON Schema; README's "Drills" section teaches it).
 *
 * A drill: probes sampled every `interval`; a steady state they must hold before anything is injected; optional
 * traffic; faults in lanes (a lane's steps one after another, lanes side by side); what to measure (the effect, its
 * detection, the recovery after the faults are gone); abort guards that recover everything at once.
 */
import zod = require('zod');
import z = zod.z;
import { findFault } from '../faults';
import { parseFlags } from '../util/flags';
import { parseDuration } from '../util/units';

export { z };

// ---- small parts ------------------------------------------------------------------------------------------------

/** A duration: "500ms", "30s", "5m", or a number of seconds; read as milliseconds. */
const duration = (what = 'a duration') =>
  z
    .union([z.string(), z.number()], { error: () => `must be ${what} like 500ms, 30s or 5m` })
    .transform((v, ctx) => {
      try {
        return parseDuration(v, 'x');
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be ${what} like 500ms, 30s or 5m, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
    })
    .meta({ description: 'a duration: 500ms, 30s, 5m, 2h (a bare number is seconds)' });

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const name = (what: string) =>
  z.string().regex(NAME_RE, {
    error: () => `${what} must be 1-63 of letters, digits, "_", "." and "-" (a letter or digit first)`,
  });

const headers = z.record(z.string(), z.string()).describe('HTTP headers, name: value');

/** A criterion's bound: a number (absolute), "+N"/"-N" (relative to the baseline) or "N%" (percent of it). */
export type Bound =
  { kind: 'absolute'; value: number } | { kind: 'relative'; value: number } | { kind: 'percent'; value: number };

const BOUND_RE = /^([+-]?)(\d+(?:\.\d+)?)(%?)$/;
export function parseBound(v: number | string): Bound | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? { kind: 'absolute', value: v } : undefined;
  const m = BOUND_RE.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[2]);
  if (m[3]) return m[1] ? undefined : { kind: 'percent', value: n };
  if (m[1]) return { kind: 'relative', value: m[1] === '-' ? -n : n };
  return { kind: 'absolute', value: n };
}
const bound = z
  .union([z.number(), z.string()])
  .refine((v) => parseBound(v) !== undefined, {
    error: () =>
      'must be a number (absolute), "+N" or "-N" (relative to the baseline) or "N%" (percent of the baseline)',
  })
  .transform((v) => parseBound(v)!)
  .meta({ description: '200 (absolute), "+100" / "-5" (baseline + N), "150%" (of the baseline)' });

// ---- probes -----------------------------------------------------------------------------------------------------

const httpProbe = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: () => 'must be an http:// or https:// URL' }),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
    headers: headers.optional(),
    body: z
      .string()
      .max(1 << 20)
      .optional(),
    timeout: duration().default(5000),
    expect: z
      .strictObject({
        status: z
          .union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)])
          .optional(),
        body: z
          .string()
          .refine(
            (s) => {
              try {
                new RegExp(s);
                return true;
              } catch {
                return false;
              }
            },
            { error: () => 'must be a regular expression' },
          )
          .optional()
          .describe('a regular expression the body must match'),
        json: z
          .strictObject({ path: z.string().min(1).describe('a.b.0.c'), equals: z.unknown().optional() })
          .optional()
          .describe('the JSON body has this path (equal to `equals` when given)'),
      })
      .optional()
      .describe('what a good answer is (default: a 2xx or 3xx status)'),
    value: z
      .string()
      .regex(/^(latency|json:.+)$/, { error: () => 'must be latency or json:PATH' })
      .default('latency')
      .describe("the sample's value: latency (ms, the default) or json:PATH (a number in the JSON body)"),
  })
  .describe('an HTTP request; value: its latency in ms; holds: the expectation met');

const tcpProbe = z
  .strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    timeout: duration().default(3000),
  })
  .describe('a TCP connect; value: the connect time in ms');

const commandProbe = z
  .strictObject({
    argv: z.array(z.string()).min(1).describe('the command and its arguments (run without a shell, as root)'),
    timeout: duration().default(10_000),
    value: z.enum(['exit', 'stdout']).default('exit').describe('the exit code, or the first number on stdout'),
  })
  .describe('a command; holds when it exits 0');

const prometheusProbe = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: () => 'must be the http:// URL of a Prometheus server' }),
    query: z.string().min(1).describe('an instant PromQL query; the value is its first sample'),
    timeout: duration().default(5000),
  })
  .describe('an instant PromQL query against a Prometheus HTTP API; holds when it returns a sample');

const kubeProbe = z
  .strictObject({
    namespace: z.string().default('default'),
    selector: z.string().min(1).describe('a label selector, e.g. app=web'),
    kubeconfig: z.string().optional(),
    context: z.string().optional(),
    timeout: duration().default(10_000),
  })
  .describe('ready pods of a selector (through kubectl); value: how many are ready');

const hostProbe = z
  .strictObject({
    metric: z.enum(['cpu', 'memory', 'load1']).describe('cpu: busy %; memory: used % (a container: MiB); load1'),
    container_id: z.string().optional().describe("a container's cgroup instead of the host (docker)"),
    container_runtime: z.enum(['docker', 'containerd', 'crio']).optional(),
  })
  .refine((h) => !(h.metric === 'load1' && h.container_id), {
    error: 'a container has no load average of its own: metric cpu or memory with container_id',
    path: ['metric'],
  })
  .describe('this host (or a container): CPU busy %, memory used, load average');

export const PROBE_KINDS = ['http', 'tcp', 'command', 'prometheus', 'kube', 'host'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export const Probe = z
  .strictObject({
    name: name('a probe name'),
    interval: duration().optional().describe("how often it is sampled (default: the drill's interval)"),
    http: httpProbe.optional(),
    tcp: tcpProbe.optional(),
    command: commandProbe.optional(),
    prometheus: prometheusProbe.optional(),
    kube: kubeProbe.optional(),
    host: hostProbe.optional(),
  })
  .superRefine((p, ctx) => {
    const kinds = PROBE_KINDS.filter((k) => p[k] !== undefined);
    if (kinds.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `a probe is exactly one of ${PROBE_KINDS.join(', ')}${kinds.length ? `; got ${kinds.join(' and ')}` : ''}`,
      });
  });
export type Probe = z.output<typeof Probe>;

export const Criterion = z
  .strictObject({
    probe: name('a probe name'),
    above: bound.optional().describe('holds when the value is above this'),
    below: bound.optional().describe('holds when the value is below this'),
    within: bound.optional().describe('holds when the value is within this of the baseline (N or N%)'),
    ok: z.boolean().optional().describe("holds when the probe's own expectation is (true) or is not (false) met"),
    for: z.number().int().min(1).max(10_000).default(1).describe('held for this many samples in a row'),
  })
  .superRefine((c, ctx) => {
    if (c.above === undefined && c.below === undefined && c.within === undefined && c.ok === undefined)
      ctx.addIssue({ code: 'custom', message: 'a criterion needs one of above, below, within or ok' });
    if (c.within && c.within.kind === 'relative')
      ctx.addIssue({ code: 'custom', path: ['within'], message: 'within is a tolerance: N or N% (no sign)' });
  });
export type Criterion = z.output<typeof Criterion>;

// ---- phases -----------------------------------------------------------------------------------------------------

const steadyState = z
  .strictObject({
    samples: z.number().int().min(1).max(10_000).default(3).describe('samples every criterion must hold in a row'),
    timeout: duration().default(60_000).describe('give up (not in steady state) after this long'),
    criteria: z.array(Criterion).default([]).describe('absolute criteria (the baseline is what this phase measures)'),
  })
  .superRefine((s, ctx) =>
    s.criteria.forEach((c, i) => {
      for (const k of ['above', 'below', 'within'] as const)
        if (c[k] && c[k].kind !== 'absolute' && k !== 'within')
          ctx.addIssue({
            code: 'custom',
            path: ['criteria', i, k],
            message: 'the steady state has no baseline yet: an absolute number',
          });
      if (c.within)
        ctx.addIssue({
          code: 'custom',
          path: ['criteria', i, 'within'],
          message: 'the steady state has no baseline yet: use above/below',
        });
    }),
  );

export const Traffic = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: () => 'must be an http:// URL' }),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
    headers: headers.optional(),
    body: z
      .string()
      .max(1 << 20)
      .optional(),
    rate: z.number().int().min(1).max(100_000).optional().describe('requests per second in all'),
    concurrency: z.number().int().min(1).max(1000).default(10).describe('connections'),
    timeout: duration().default(5000).describe('a request slower than this counts as an error'),
  })
  .describe('HTTP load from the start of the faults phase to the end of the drill');
export type Traffic = z.output<typeof Traffic>;
/** The series the traffic adds, which criteria may name like probes. */
export const TRAFFIC_SERIES = ['traffic.rps', 'traffic.success', 'traffic.p50', 'traffic.p99'] as const;

/** Where a kube step injects: pods (or nodes) through the agents, as `kube inject` picks them. */
const kubeTargets = z.strictObject({
  namespace: z.string().default('default'),
  selector: z.string().optional(),
  pod: z.array(z.string()).optional(),
  node: z.array(z.string()).optional(),
  container: z.string().optional(),
  count: z.number().int().min(1).optional(),
  percent: z.number().int().min(1).max(100).optional(),
  seed: z.number().int().min(0).optional(),
  kubeconfig: z.string().optional(),
  context: z.string().optional(),
  agent_namespace: z.string().optional(),
  agent_selector: z.string().optional(),
});

const injectStep = z
  .strictObject({
    target: z.string().min(1),
    fault: z.string().min(1),
    args: z.record(z.string(), z.unknown()).default({}).describe("the fault's flags, snake_case: {percent: 80}"),
    duration: duration().describe('how long the fault is held before the runner recovers it'),
    container_id: z.string().optional(),
    container_runtime: z.enum(['docker', 'containerd', 'crio']).optional(),
    kube: kubeTargets.optional().describe('inject into Kubernetes pods or nodes instead of this host'),
  })
  .superRefine((s, ctx) => {
    let def;
    try {
      def = findFault(s.target, s.fault);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['fault'], message: (e as Error).message });
      return;
    }
    try {
      parseFlags(def.flags, s.args);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['args'], message: (e as Error).message });
    }
    if (s.kube && s.container_id)
      ctx.addIssue({
        code: 'custom',
        path: ['container_id'],
        message: 'a kube step picks its containers: no container_id',
      });
  });

const Step = z.union(
  [z.strictObject({ inject: injectStep, name: name('a step name').optional() }), z.strictObject({ wait: duration() })],
  { error: () => 'a step is {inject: {target, fault, args, duration}} or {wait: 10s}' },
);
export type Step = z.output<typeof Step>;

const Lane = z.strictObject({ name: name('a lane name'), steps: z.array(Step).min(1) });
export type Lane = z.output<typeof Lane>;

const detection = z
  .strictObject({
    alert: z.string().min(1).optional().describe('a Prometheus alert name: detected when it fires'),
    prometheus: z.url().optional().describe('the Prometheus of the alert'),
    criterion: Criterion.optional().describe('or: detected when this probe criterion holds'),
    within: duration().default(120_000).describe('not detected when it took longer than this after the first inject'),
  })
  .superRefine((d, ctx) => {
    if (!!d.alert === !!d.criterion)
      ctx.addIssue({ code: 'custom', message: 'detection is an alert (with prometheus) or a criterion' });
    if (d.alert && !d.prometheus)
      ctx.addIssue({ code: 'custom', path: ['prometheus'], message: 'the Prometheus URL of the alert is required' });
  });

const measure = z.strictObject({
  effect: z
    .strictObject({
      criteria: z.array(Criterion).min(1).describe('any of them held = the effect point'),
      within: duration().default(60_000).describe('the effect must be seen this long after the first inject'),
    })
    .optional(),
  detection: detection.optional(),
  recovery: z
    .strictObject({
      criteria: z.array(Criterion).min(1).describe('all of them held = recovered (e.g. within: 20%)'),
      within: duration().default(120_000).describe('after the last fault was recovered'),
    })
    .optional(),
});

export const Drill = z
  .strictObject({
    name: name('the drill name'),
    description: z.string().max(4096).optional(),
    interval: duration().default(1000).describe('how often probes are sampled'),
    probes: z.array(Probe).default([]),
    steady_state: steadyState.optional(),
    traffic: Traffic.optional(),
    faults: z.strictObject({
      lease: duration()
        .default(15_000)
        .refine((ms) => ms >= 3000, { error: 'must be at least 3s (the runner renews it every third)' })
        .describe("each fault's lease, at least 3s (the runner renews it every third; a dead runner's faults recover)"),
      lanes: z.array(Lane).min(1),
    }),
    measure: measure.default({}),
    abort: z.array(Criterion).default([]).describe('any held → every fault recovered at once, the drill aborted'),
  })
  .superRefine((d, ctx) => {
    const names = new Set<string>();
    d.probes.forEach((p, i) => {
      if (names.has(p.name))
        ctx.addIssue({ code: 'custom', path: ['probes', i, 'name'], message: `probe ${p.name} is declared twice` });
      names.add(p.name);
    });
    const lanes = new Set<string>();
    d.faults.lanes.forEach((l, i) => {
      if (lanes.has(l.name))
        ctx.addIssue({
          code: 'custom',
          path: ['faults', 'lanes', i, 'name'],
          message: `lane ${l.name} is declared twice`,
        });
      lanes.add(l.name);
    });
    if (d.traffic) for (const t of TRAFFIC_SERIES) names.add(t);
    const refer = (c: Criterion, path: PropertyKey[]) => {
      if (!names.has(c.probe))
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'probe'],
          message: `no probe named ${c.probe} (probes: ${[...names].join(', ') || 'none'})`,
        });
    };
    d.steady_state?.criteria.forEach((c, i) => refer(c, ['steady_state', 'criteria', i]));
    d.measure.effect?.criteria.forEach((c, i) => refer(c, ['measure', 'effect', 'criteria', i]));
    d.measure.recovery?.criteria.forEach((c, i) => refer(c, ['measure', 'recovery', 'criteria', i]));
    if (d.measure.detection?.criterion) refer(d.measure.detection.criterion, ['measure', 'detection', 'criterion']);
    d.abort.forEach((c, i) => refer(c, ['abort', i]));
  });
/** A drill as validated: durations in ms, bounds parsed, defaults filled. */
export type Drill = z.output<typeof Drill>;
/** A drill as written in its file. */
export type DrillInput = z.input<typeof Drill>;
