/**
 * The HTTP adapter (the original's API): POST /v1/experiment/inject|query|recover, GET /v1/version, every reply
 * HTTP 200 with {code, message, trace_id, data} (code = the CLI's exit codes). Added: renew, check, schedules,
 * /healthz, /metrics, /openapi.json. Safe by default: loopback unless told otherwise, a bearer token required
 * beyond loopback, bounded bodies and time per request.
 */
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import { ChaosError, ExitCode, asChaosError, badArgs } from '../errors';
import type { Engine, InjectRequest } from '../engine/engine';
import { SCHEDULE_ID_RE, createSchedule, scheduleJson } from '../engine/schedules';
import { COMPAT_COLUMNS, experimentJson } from '../cli/present';
import { versionInfo } from '../cli/misc';
import { shown } from '../util/units';
import { asksRecoverCmd, refuse } from './guard';
import type { Metrics } from './metrics';
import OPENAPI from './openapi.json';

export const MAX_BODY = 1 << 20;

export { isLoopback } from './guard';

export interface ServerOptions {
  /** undefined only with --insecure-no-auth (loopback) */
  token?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** Host header names accepted (TCP); undefined for a Unix socket */
  hosts?: Set<string>;
  origins: Set<string>;
  /** recover_cmd / recover_shell over HTTP run commands as root: only with --allow-recover-cmd */
  allowRecoverCmd: boolean;
}

type Body = Record<string, unknown>;
const str = (b: Body, k: string, max = 4096): string | undefined => {
  const v = b[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badArgs(`${k} must be a string, got ${shown(v)}`);
  if (v.length > max) throw badArgs(`${k} must be at most ${max} characters`);
  return v;
};
const uint = (b: Body, k: string, def: number): number => {
  const v = b[k];
  if (v === undefined || v === null || v === '') return def;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 1e9) throw badArgs(`${k} must be a whole number ≥ 0, got ${shown(v)}`);
  return n;
};
const bool = (b: Body, k: string): boolean => {
  const v = b[k];
  if (v === undefined || v === null || v === false || v === '') return false;
  if (v === true || v === 'true') return true;
  throw badArgs(`${k} must be true or false, got ${shown(v)}`);
};
const durationField = (b: Body, k: string): string | number | undefined => {
  const v = b[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw badArgs(`${k} must be a duration like 30s or 5m, got ${shown(v)}`);
  return v;
};

function injectRequest(body: Body): InjectRequest {
  const target = str(body, 'target', 64);
  const fault = str(body, 'fault', 64);
  if (!target || !fault) throw badArgs('target and fault are required');
  const rawArgs = body.args ?? '{}';
  let args: unknown;
  if (typeof rawArgs === 'string') {
    try { args = JSON.parse(rawArgs || '{}'); } catch { throw badArgs('args must be a JSON string of the fault\'s flags (snake_case keys)'); }
  } else args = rawArgs;
  if (!args || typeof args !== 'object' || Array.isArray(args)) throw badArgs('args must be a JSON object of the fault\'s flags');
  return {
    target, fault, args: args as Record<string, unknown>, uid: str(body, 'uid', 64), timeout: durationField(body, 'timeout'),
    creator: str(body, 'creator', 256), containerId: str(body, 'container_id', 256), containerRuntime: str(body, 'container_runtime', 64),
    lease: durationField(body, 'lease'),
  };
}

export type Route = (body: Body) => unknown;

/** Every route, by "METHOD path". The OpenAPI document lists exactly these (a test checks). */
export function routes(engine: Engine, metrics: Metrics, opts: { allowRecoverCmd: boolean } = { allowRecoverCmd: false }): Record<string, Route> {
  const timed = async <T>(name: string, labels: Record<string, string>, fn: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint();
    try {
      const r = await fn();
      metrics.inc(`chaosmetad_${name}s_total`, `${name[0].toUpperCase()}${name.slice(1)}s by result`, { ...labels, result: 'ok' });
      return r;
    } catch (e) {
      metrics.inc(`chaosmetad_${name}s_total`, `${name[0].toUpperCase()}${name.slice(1)}s by result`, { ...labels, result: 'error' });
      throw e;
    } finally {
      metrics.observe(`chaosmetad_${name}_duration_seconds`, `Time to ${name} an experiment`, {}, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  };
  return {
    'GET /v1/version': () => versionInfo(),
    'GET /healthz': () => ({ status: 'ok' }),
    'POST /v1/experiment/inject': async (body) => {
      const req = injectRequest(body);
      if (!opts.allowRecoverCmd && asksRecoverCmd(req.args)) {
        throw badArgs('recover_cmd / recover_shell over HTTP would run a command as root on this host: refused (start the daemon with --allow-recover-cmd to allow it; that makes every token holder root)');
      }
      if (body.duration !== undefined && body.duration !== null && body.duration !== '' && (body.schedule === undefined || body.schedule === null || body.schedule === '')) {
        throw badArgs('duration goes with schedule (for a one-off experiment use timeout)');
      }
      if (body.schedule !== undefined && body.schedule !== null && body.schedule !== '') {
        return { schedule: scheduleJson(createSchedule(engine, { ...req, schedule: body.schedule, duration: durationField(body, 'duration') })) };
      }
      if (bool(body, 'dry_run')) {
        const dry = await engine.inject({ ...req, dryRun: true });
        return { dry_run: true, uid: dry.experiment.uid, planned: dry.planned };
      }
      const res = await timed('inject', { target: req.target, fault: req.fault }, () => engine.inject(req));
      return { experiment: experimentJson(res.experiment) };
    },
    'POST /v1/experiment/query': (body) => {
      const status = str(body, 'status', 16);
      if (status && !['created', 'success', 'error', 'destroyed'].includes(status)) throw badArgs(`status must be one of created, success, error, destroyed, got ${shown(status)}`);
      const { rows, total } = engine.query({
        uid: str(body, 'uid'), status: str(body, 'status'), target: str(body, 'target'), fault: str(body, 'fault'), creator: str(body, 'creator'),
        containerId: str(body, 'container_id'), containerRuntime: str(body, 'container_runtime'), offset: uint(body, 'offset', 0), limit: uint(body, 'limit', 10),
      }, COMPAT_COLUMNS);
      return { experiments: rows.map(experimentJson), total };
    },
    'POST /v1/experiment/recover': async (body) => {
      const uid = str(body, 'uid', 64);
      if (uid) { await timed('recover', { reason: 'api' }, () => engine.recover(uid)); return null; }
      const all = bool(body, 'all');
      const expired = bool(body, 'expired');
      if (!all && !expired) throw badArgs('uid is required (or all: true, or expired: true)');
      const results = await engine.recoverMany({ all, expired, target: str(body, 'target', 64), fault: str(body, 'fault', 64) });
      const failed = results.filter((r) => !r.ok);
      if (failed.length) throw new ChaosError(ExitCode.Recover, `${failed.length} of ${results.length} recover(s) failed: ${failed.map((f) => `${f.uid}: ${f.message}`).join('; ')}`);
      return { results };
    },
    'POST /v1/experiment/renew': (body) => {
      const uid = str(body, 'uid', 64);
      if (!uid) throw badArgs('uid is required');
      const row = engine.renew(uid, durationField(body, 'lease'));
      return { uid, lease_until: new Date(row.lease_until!).toISOString() };
    },
    'POST /v1/experiment/check': async (body) => {
      const uid = str(body, 'uid', 64);
      if (!uid) throw badArgs('uid is required');
      return engine.check(uid);
    },
    'POST /v1/schedule/query': (body) => {
      const id = str(body, 'id', 64);
      return { schedules: engine.store.schedules(id).map(scheduleJson) };
    },
    'POST /v1/schedule/remove': (body) => {
      const id = str(body, 'id', 64);
      if (!id || !SCHEDULE_ID_RE.test(id)) throw badArgs(`id must be a schedule id like s-1a2b3c4d, got ${shown(body.id)}`);
      if (!engine.store.removeSchedule(id)) throw badArgs(`no schedule ${id}`);
      engine.log({ event: 'schedule-remove', id });
      return null;
    },
  };
}

export function createServer(engine: Engine, opts: ServerOptions, log: (e: Record<string, unknown>) => void, metrics: Metrics, gauges: () => Parameters<Metrics['render']>[0]): http.Server {
  const guard = { tokenHash: opts.token ? crypto.createHash('sha256').update(opts.token).digest() : undefined, hosts: opts.hosts, origins: opts.origins };
  const table = routes(engine, metrics, opts);
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0];
    const key = `${req.method} ${path}`;
    const known = key in table || key === 'GET /metrics' || key === 'GET /openapi.json';
    let traceId = String(req.headers['x-trace-id'] ?? '').slice(0, 128) || crypto.randomUUID();
    const finish = (status: number, code: number, message: string) => {
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      const route = known ? path : 'other';
      metrics.inc('chaosmetad_http_requests_total', 'HTTP requests by route and reply code', { route, code: String(code) });
      metrics.observe('chaosmetad_http_request_duration_seconds', 'HTTP request latency', { route }, secs);
      log({ trace_id: traceId, method: req.method, path: path.slice(0, 200), status, code, ms: Math.round(secs * 1e4) / 10, ...(code ? { error: message } : {}) });
    };
    const reply = (status: number, code: number, message: string, data: unknown) => {
      const text = JSON.stringify({ code, message, trace_id: traceId, data });
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      finish(status, code, message);
    };
    const no = refuse(req, path, guard);
    if (no) {
      // never read the body of a refused request
      res.setHeader('connection', 'close');
      res.on('finish', () => req.destroy());
      return reply(no.status, ExitCode.BadArgs, no.message, null);
    }
    if (key === 'GET /metrics' || key === 'GET /openapi.json') {
      req.resume();
      let text: string;
      try { text = key === 'GET /metrics' ? metrics.render(gauges()) : JSON.stringify(OPENAPI); } catch (e) { return reply(500, ExitCode.Store, (e as Error).message, null); }
      res.writeHead(200, { 'content-type': key === 'GET /metrics' ? 'text/plain; version=0.0.4' : 'application/json' });
      res.end(text);
      return finish(200, 0, 'success');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      if (tooBig) return;
      size += c.length;
      if (size > MAX_BODY) {
        tooBig = true;
        // answer now, then drop the connection: never read the rest of an oversized body
        res.setHeader('connection', 'close');
        reply(413, ExitCode.BadArgs, `request body over ${MAX_BODY} bytes`, null);
        req.pause();
        setTimeout(() => req.destroy(), 100).unref();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => void (async () => {
      if (tooBig) return;
      let body: Body = {};
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim()) {
          const parsed = JSON.parse(text);
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badArgs('the body must be a JSON object');
          body = parsed;
        }
        if (typeof body.trace_id === 'string' && body.trace_id) traceId = body.trace_id.slice(0, 128);
        const fn = table[key];
        if (!fn) throw new ChaosError(ExitCode.BadArgs, `no route ${String(req.method).slice(0, 10)} ${path.slice(0, 200)}`);
        const data = await fn(body);
        reply(200, 0, 'success', data);
      } catch (e) {
        const err = e instanceof SyntaxError ? badArgs(`the body is not valid JSON: ${e.message}`) : asChaosError(e);
        reply(200, err.code, err.message, null);
      }
    })());
  };
  // loaded here, not at the top: node:http cannot be part of the single executable's start-up snapshot
  /* eslint-disable @typescript-eslint/no-require-imports */
  const server: http.Server = opts.tls
    ? (require('node:https') as typeof import('node:https')).createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
    : (require('node:http') as typeof import('node:http')).createServer(handler);
  /* eslint-enable @typescript-eslint/no-require-imports */
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  return server;
}
