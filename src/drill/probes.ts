/**
 * The samplers of a drill's probes: one per probe (schema.ts `Probe`), asked for a reading every interval by the
 * runner. A reading is a number (or null when there is none) and whether the probe's own expectation was met.
 *
 * sample() never throws: a failure is a reading {value: null, ok: false, error: one line}. It settles within the
 * probe's timeout (+ GRACE_MS) whatever the thing probed does — every request, connect and command is cut at the
 * timeout, and a guard timer settles the reading even if a cut does not land. close() cuts whatever is in flight;
 * a closed sampler reads {ok: false, error: 'closed'}.
 *
 *   http        latency in ms to the whole body (at most 1 MiB), or json:PATH's number; ok: the expectation
 *   tcp         connect time in ms; ok: connected
 *   command     exit code, or the first number on stdout; ok: exit 0 (and a number found)
 *   prometheus  an instant query's first sample; ok: the query returned one
 *   kube        pods of a selector with Ready=True (not being deleted); ok: kubectl answered
 *   host        CPU busy %, memory used % and load1 of this host; of a container (its cgroup): CPU % and MiB
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { cgroupDirs, memLimits } from '../host/cgroup';
import { meminfo, memUsedPercent } from '../host/meminfo';
import type { ContainerScope } from '../host/scope';
import { scopeAlive } from '../host/scope';
import { Kubectl } from '../kube/kubectl';
import { lazy } from '../util/lazy';
import type { Probe } from './schema';

// loaded on first use: the CLI's start-up time
const nodeHttp = lazy<typeof http>(() => require('node:http'));
const nodeHttps = lazy<typeof http>(() => require('node:https')); // its request() is node:http's, over TLS
const nodeNet = lazy<typeof import('node:net')>(() => require('node:net'));
const execa = lazy<typeof import('execa')>(() => require('execa'));
const runtimes = lazy<typeof import('../host/runtimes')>(() => require('../host/runtimes'));

export interface ProbeReading {
  value: number | null;
  ok: boolean;
  error?: string;
}

export interface Sampler {
  /** the value's unit: ms, exit, %, MiB, pods, or '' */
  readonly unit: string;
  sample(): Promise<ProbeReading>;
  close(): void;
}

export interface SamplerDeps {
  /** `kubectl get ARGS -o json`, parsed (a test's fake; default: the real kubectl through kube/kubectl.ts) */
  kubectl?: (args: string[]) => Promise<unknown>;
}

/** How much later than its timeout a reading may come (the guard's slack over the cut). */
export const GRACE_MS = 250;
/** The most of a body or of a command's output that is read. */
export const MAX_READ = 1 << 20;
/** host probes have no timeout of their own. */
const HOST_TIMEOUT_MS = 5_000;
/** The first CPU reading measures over this window itself; later ones since the last reading, this long at least. */
const CPU_WINDOW_MS = 100;

// ---- common parts -----------------------------------------------------------------------------------------------

/** An error's message as one line (at most 300 characters). */
export function oneLine(e: unknown): string {
  const raw = e instanceof Error ? e.message : String(e);
  const line =
    raw
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? 'failed';
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

const failed = (error: string, value: number | null = null): ProbeReading => ({ value, ok: false, error });

const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
/** Milliseconds rounded to µs: the series stays readable. */
const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;

/**
 * A sampler from a read function: the guard (never throws, settles by timeout + GRACE_MS) and close() around it.
 * `read` gets a registry of cuts: what it starts it registers, close() calls them all.
 */
function guarded(
  unit: string,
  timeoutMs: number,
  read: (onClose: (cut: () => void) => () => void) => Promise<ProbeReading>,
): Sampler {
  let closed = false;
  const cuts = new Set<() => void>();
  const onClose = (cut: () => void) => {
    cuts.add(cut);
    return () => void cuts.delete(cut);
  };
  return {
    unit,
    async sample() {
      if (closed) return failed('closed');
      let timer: NodeJS.Timeout | undefined;
      const guard = new Promise<ProbeReading>((resolve) => {
        timer = setTimeout(() => resolve(failed(`timed out after ${timeoutMs} ms`)), timeoutMs + GRACE_MS);
      });
      try {
        return await Promise.race([read(onClose).catch((e: unknown) => failed(oneLine(e))), guard]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      closed = true;
      for (const cut of cuts) cut();
      cuts.clear();
    },
  };
}

/** The value at a dotted path (a.b.0.c: object keys, array indexes) of parsed JSON; undefined when absent. */
export function atPath(v: unknown, dotted: string): unknown {
  let cur: unknown = v;
  for (const key of dotted.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(key)) cur = cur[Number(key)];
    else if (cur !== null && typeof cur === 'object' && Object.hasOwn(cur, key))
      cur = (cur as Record<string, unknown>)[key];
    else return undefined;
  }
  return cur;
}

interface HttpAnswer {
  status: number;
  body: Buffer;
  /** ms from the request's start (its connect included) to the whole body read (or MAX_READ of it) */
  ms: number;
}

/**
 * One request on a new connection (agent: false): the latency measured includes the DNS lookup, the TCP connect
 * and the TLS handshake, as a new client would see it — a kept-alive connection would hide a fault on connect.
 * The body is read up to MAX_READ, then the connection is dropped. Cut at timeoutMs; close() cuts it too.
 */
function request(
  url: URL,
  opts: { method: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
  onClose: (cut: () => void) => () => void,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? nodeHttps() : nodeHttp();
    const t0 = process.hrtime.bigint();
    let settled = false;
    const done = (err: Error | undefined, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      forget();
      req.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const req = mod.request(url, { method: opts.method, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () =>
        done(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: msSince(t0) });
      res.on('data', (c: Buffer) => {
        const room = MAX_READ - size;
        chunks.push(room < c.length ? c.subarray(0, room) : c);
        size += Math.min(room, c.length);
        if (size >= MAX_READ) finish(); // read at most 1 MiB: the rest is not waited for
      });
      res.on('end', finish);
      res.on('error', (e) => done(e));
      res.on('aborted', () => done(new Error('the connection was closed before the whole body')));
    });
    const timer = setTimeout(() => done(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const forget = onClose(() => done(new Error('closed')));
    req.on('error', (e) => done(e));
    req.end(opts.body);
  });
}

// ---- http -------------------------------------------------------------------------------------------------------

type HttpProbe = NonNullable<Probe['http']>;

function statusHolds(status: number, want: number | number[] | undefined): boolean {
  if (want === undefined) return status >= 200 && status < 400;
  return Array.isArray(want) ? want.includes(status) : status === want;
}

/** Why the answer misses the expectation, or '' when it meets it. */
function missed(h: HttpProbe, a: HttpAnswer, text: string, json: () => unknown): string {
  const want = h.expect?.status;
  if (!statusHolds(a.status, want))
    return `status ${a.status}, expected ${want === undefined ? '2xx or 3xx' : ([] as number[]).concat(want).join(' or ')}`;
  if (h.expect?.body !== undefined && !new RegExp(h.expect.body).test(text))
    return `the body does not match /${h.expect.body}/`;
  const j = h.expect?.json;
  if (j) {
    const v = atPath(json(), j.path);
    if (v === undefined) return `the JSON body has no ${j.path}`;
    if (j.equals !== undefined && !isDeepStrictEqual(v, j.equals))
      return `${j.path} is ${JSON.stringify(v)}, expected ${JSON.stringify(j.equals)}`;
  }
  return '';
}

function httpSampler(h: HttpProbe): Sampler {
  const url = new URL(h.url);
  const jsonPath = h.value.startsWith('json:') ? h.value.slice('json:'.length) : undefined;
  return guarded('ms', h.timeout, async (onClose) => {
    let a: HttpAnswer;
    try {
      a = await request(url, { method: h.method, headers: h.headers, body: h.body, timeoutMs: h.timeout }, onClose);
    } catch (e) {
      return failed(oneLine(e));
    }
    const text = a.body.toString('utf8');
    let parsed: { v: unknown } | undefined;
    const json = (): unknown => {
      if (!parsed) {
        try {
          parsed = { v: JSON.parse(text) as unknown };
        } catch {
          parsed = { v: undefined };
        }
      }
      return parsed.v;
    };
    let value: number | null = roundMs(a.ms);
    let why = missed(h, a, text, json);
    if (jsonPath !== undefined) {
      const v = atPath(json(), jsonPath);
      value = typeof v === 'number' && Number.isFinite(v) ? v : null;
      if (value === null && !why)
        why = `${jsonPath} is ${v === undefined ? 'absent' : JSON.stringify(v)}, not a number`;
    }
    return why ? failed(why, value) : { value, ok: true };
  });
}

// ---- tcp --------------------------------------------------------------------------------------------------------

function tcpSampler(t: NonNullable<Probe['tcp']>): Sampler {
  return guarded('ms', t.timeout, (onClose) => {
    return new Promise<ProbeReading>((resolve) => {
      const t0 = process.hrtime.bigint();
      const sock = nodeNet().connect({ host: t.host, port: t.port });
      let settled = false;
      const done = (r: ProbeReading) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        forget();
        sock.destroy(); // closed at once: only the connect is measured
        resolve(r);
      };
      const timer = setTimeout(() => done(failed(`timed out after ${t.timeout} ms`)), t.timeout);
      const forget = onClose(() => done(failed('closed')));
      sock.once('connect', () => done({ value: roundMs(msSince(t0)), ok: true }));
      sock.once('error', (e) => done(failed(oneLine(e))));
    });
  });
}

// ---- command ----------------------------------------------------------------------------------------------------

/** The first number in a text: 42, -3.5, .5, 1e3 (a sign only when it starts the number). */
const NUMBER_RE = /[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/;

export function firstNumber(text: string): number | undefined {
  const m = NUMBER_RE.exec(text);
  if (!m) return undefined;
  const n = Number(m[0]);
  return Number.isFinite(n) ? n : undefined;
}

/** Kill a command's whole process group (it runs detached: its own group, so its children go with it). */
function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

function commandSampler(c: NonNullable<Probe['command']>): Sampler {
  const [file, ...args] = c.argv;
  return guarded(c.value === 'exit' ? 'exit' : '', c.timeout, async (onClose) => {
    // argv, never a shell; its own process group, so a timeout kills what it started too (a child holding
    // stdout open would otherwise keep the reading waiting)
    const child = execa()(file, args, {
      reject: false,
      stdin: 'ignore',
      detached: true,
      cleanup: false,
      maxBuffer: MAX_READ,
      stripFinalNewline: false,
      env: { LC_ALL: 'C' },
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, c.timeout);
    const forget = onClose(() => killGroup(child.pid));
    let r;
    try {
      r = await child;
    } finally {
      clearTimeout(timer);
      forget();
    }
    if (timedOut) return failed(`timed out after ${c.timeout} ms`);
    const code = r.exitCode;
    if (typeof code !== 'number') {
      // not run (ENOENT, EACCES), output over MAX_READ (execa killed it), or killed by a signal
      const short = (r as Partial<import('execa').ExecaError>).shortMessage ?? '';
      if (/maxBuffer exceeded/.test(short)) {
        killGroup(child.pid);
        return failed('its output is over 1 MiB (maxBuffer exceeded)');
      }
      return failed(r.signal ? `killed by ${r.signal}` : oneLine(short || 'did not run'));
    }
    const stderr = oneLine(r.stderr || `exit ${code}`);
    if (c.value === 'exit') return code === 0 ? { value: 0, ok: true } : failed(`exit ${code}: ${stderr}`, code);
    const n = firstNumber(r.stdout);
    if (code !== 0) return failed(`exit ${code}: ${stderr}`, n ?? null);
    return n === undefined ? failed('no number on stdout') : { value: n, ok: true };
  });
}

// ---- prometheus -------------------------------------------------------------------------------------------------

/** GET {url}/api/v1/query?query=…: any path prefix of url kept (a Prometheus behind a proxy at /prom/). */
export function prometheusQueryUrl(base: string, query: string, timeoutMs?: number): URL {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/api/v1/query`;
  u.searchParams.set('query', query);
  if (timeoutMs) u.searchParams.set('timeout', `${Math.max(1, Math.floor(timeoutMs))}ms`); // Prometheus stops too
  return u;
}

/** A sample's value as Prometheus writes it ("1", "NaN", "+Inf"): null when not a finite number. */
const promNumber = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/** An answer of /api/v1/query as a reading. */
export function prometheusReading(status: number, body: string): ProbeReading {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return failed(`HTTP ${status}: ${oneLine(body || 'empty body')}`);
  }
  if (!isObject(j)) return failed(`HTTP ${status}: not a Prometheus answer`);
  if (j.status !== 'success') {
    const type = typeof j.errorType === 'string' ? `${j.errorType}: ` : '';
    const err = typeof j.error === 'string' ? j.error : `HTTP ${status}`;
    return failed(oneLine(`${type}${err}`));
  }
  const data = isObject(j.data) ? j.data : {};
  const result = data.result;
  switch (data.resultType) {
    case 'vector': {
      if (!Array.isArray(result) || result.length === 0) return failed('no sample');
      const first: unknown = result[0];
      const pair = isObject(first) && Array.isArray(first.value) ? (first.value as unknown[]) : [];
      return { value: promNumber(pair[1]), ok: true };
    }
    case 'scalar':
    case 'string':
      return Array.isArray(result) ? { value: promNumber(result[1]), ok: true } : failed('no sample');
    case 'matrix':
      return failed('a range vector: an instant query needs an instant vector or a scalar');
    default:
      return failed(`unknown result type ${JSON.stringify(data.resultType)}`);
  }
}

function prometheusSampler(p: NonNullable<Probe['prometheus']>): Sampler {
  const url = prometheusQueryUrl(p.url, p.query, p.timeout);
  return guarded('', p.timeout, async (onClose) => {
    const a = await request(
      url,
      { method: 'GET', headers: { accept: 'application/json' }, timeoutMs: p.timeout },
      onClose,
    );
    return prometheusReading(a.status, a.body.toString('utf8'));
  });
}

// ---- kube -------------------------------------------------------------------------------------------------------

/** Pods of a `kubectl get pods -o json` list with condition Ready=True and no deletion under way. */
export function readyPods(list: unknown): number {
  if (!isObject(list) || !Array.isArray(list.items)) throw new Error('kubectl get pods: not a list of pods');
  let n = 0;
  for (const pod of list.items as unknown[]) {
    if (!isObject(pod)) continue;
    if (isObject(pod.metadata) && pod.metadata.deletionTimestamp) continue;
    const conds =
      isObject(pod.status) && Array.isArray(pod.status.conditions) ? (pod.status.conditions as unknown[]) : [];
    if (conds.some((c) => isObject(c) && c.type === 'Ready' && c.status === 'True')) n++;
  }
  return n;
}

function kubeSampler(k: NonNullable<Probe['kube']>, deps: SamplerDeps): Sampler {
  const get =
    deps.kubectl ??
    ((args: string[]) =>
      new Kubectl({ kubeconfig: k.kubeconfig, context: k.context }).getJson<unknown>(args, k.timeout));
  return guarded('pods', k.timeout, async () => ({
    value: readyPods(await get(['pods', '-n', k.namespace, '-l', k.selector])),
    ok: true,
  }));
}

// ---- host -------------------------------------------------------------------------------------------------------

/** /proc/stat's first line: all CPUs' jiffies, busy and total (idle = idle + iowait; guest is in user already). */
export function readCpuTimes(text = fs.readFileSync('/proc/stat', 'utf8')): { busy: number; total: number } {
  const f = (text.split('\n')[0] ?? '').trim().split(/\s+/);
  if (f[0] !== 'cpu') throw new Error('/proc/stat: no cpu line');
  const n = f.slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const total = n.reduce((s, x) => s + (Number.isFinite(x) ? x : 0), 0);
  return { busy: total - (n[3] || 0) - (n[4] || 0), total };
}

export function readLoad1(text = fs.readFileSync('/proc/loadavg', 'utf8')): number {
  const v = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(v)) throw new Error('/proc/loadavg: no load average');
  return v;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (x: number) => Math.round(x * 100) / 100;
const clampPct = (x: number) => round2(Math.min(100, Math.max(0, x)));

/**
 * A busy % from consecutive readings of a counter: the first call reads twice CPU_WINDOW_MS apart, later ones
 * measure since the previous call — over CPU_WINDOW_MS at least (a call sooner waits for the rest: /proc/stat
 * counts in jiffies, and two reads a moment apart see none pass). `read` gives [busy, total] in any one unit.
 */
function cpuDelta(read: () => [number, number]) {
  let prev: { at: number; v: [number, number] } | undefined;
  return async (): Promise<number | null> => {
    if (!prev) prev = { at: performance.now(), v: read() };
    const wait = prev.at + CPU_WINDOW_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const now = read();
    const [db, dt] = [now[0] - prev.v[0], now[1] - prev.v[1]];
    prev = { at: performance.now(), v: now };
    return dt > 0 ? clampPct((100 * db) / dt) : null;
  };
}

/** The container's cgroup CPU time in µs: v1 cpuacct.usage (ns), v2 cpu.stat usage_usec. */
function cgroupCpuUsec(pid: number): number {
  const dirs = cgroupDirs(pid);
  const v1 = dirs.get('cpuacct');
  if (v1) return Number(fs.readFileSync(path.join(v1, 'cpuacct.usage'), 'utf8').trim()) / 1000;
  const v2 = dirs.get('');
  if (v2) {
    const m = /^usage_usec (\d+)$/m.exec(fs.readFileSync(path.join(v2, 'cpu.stat'), 'utf8'));
    if (m) return Number(m[1]);
  }
  throw new Error(`process ${pid} is in no cpuacct (v1) or cpu.stat (v2) cgroup`);
}

function hostSampler(h: NonNullable<Probe['host']>): Sampler {
  if (h.container_id === undefined) {
    const cpu = cpuDelta(() => {
      const t = readCpuTimes();
      return [t.busy, t.total];
    });
    const read = {
      cpu: () => cpu(),
      memory: async () => round2(memUsedPercent(meminfo())),
      load1: async () => readLoad1(),
    }[h.metric];
    return guarded(h.metric === 'load1' ? '' : '%', HOST_TIMEOUT_MS, async () => {
      const value = await read();
      return value === null ? failed('no CPU time passed') : { value, ok: true };
    });
  }
  const q = { id: h.container_id, runtime: h.container_runtime };
  let scope: ContainerScope | undefined;
  let cpu: ReturnType<typeof cpuDelta> | undefined;
  // the container as its runtime reports it, found again when it was restarted (a new init process)
  const container = async (): Promise<ContainerScope> => {
    if (scope && scopeAlive(scope)) return scope;
    scope = undefined;
    cpu = undefined;
    const found = await runtimes().resolveContainer(q);
    const cpus = os.cpus().length || 1;
    cpu = cpuDelta(() => [cgroupCpuUsec(found.pid), Number(process.hrtime.bigint() / 1000n) * cpus]);
    return (scope = found);
  };
  return guarded(h.metric === 'cpu' ? '%' : h.metric === 'memory' ? 'MiB' : '', HOST_TIMEOUT_MS, async () => {
    if (h.metric === 'load1') return failed("load1 is the host's: a container has no load average of its own");
    const c = await container();
    if (h.metric === 'memory') {
      const dirs = cgroupDirs(c.pid);
      if (!dirs.has('memory') && !dirs.has('')) return failed(`container ${c.id.slice(0, 12)}: no memory cgroup`);
      return { value: round2(memLimits(c.pid).usage / (1 << 20)), ok: true };
    }
    const value = await cpu!();
    return value === null ? failed('no time passed') : { value, ok: true };
  });
}

// ---- the one entry ----------------------------------------------------------------------------------------------

/** The sampler of a probe (exactly one of its kinds is set: the schema checked it). */
export function samplerOf(p: Probe, deps: SamplerDeps = {}): Sampler {
  if (p.http) return httpSampler(p.http);
  if (p.tcp) return tcpSampler(p.tcp);
  if (p.command) return commandSampler(p.command);
  if (p.prometheus) return prometheusSampler(p.prometheus);
  if (p.kube) return kubeSampler(p.kube, deps);
  if (p.host) return hostSampler(p.host);
  throw new Error(`probe ${p.name}: none of http, tcp, command, prometheus, kube, host`);
}
