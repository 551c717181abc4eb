/**
 * The HTTP adapter (the original's API): POST /v1/experiment/inject|query|recover, GET /v1/version, every reply
 * HTTP 200 with {code, message, trace_id, data} (code = the CLI's exit codes). Added: renew, check, schedules,
 * /healthz, /metrics, /openapi.json, and drills (POST /v1/drill/…: server/drill-routes.ts). Safe by default:
 * loopback unless told otherwise, a bearer token required beyond loopback, bounded bodies and time per request.
 */
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import type * as net from 'node:net';
import { ChaosError, ExitCode, asChaosError, badArgs } from '../errors';
import type { ChaosApi } from '../api/api';
import type { Body } from '../api/wire';
import { ROUTE_SCHEMAS as API, type RouteKey, decode } from '../api/schema';
import type { DrillDaemon } from '../drill/daemon';
import { drillRoutes } from './drill-routes';
import { asksRecoverCmd, refuse } from './guard';
import type { Metrics } from './metrics';
import OPENAPI from './openapi.json';
import { lazy } from '../util/lazy';

// loaded when a server starts, not at the top: node:http cannot be part of the single executable's start-up snapshot
const nodeHttp = lazy<typeof import('node:http')>(() => require('node:http'));
const nodeHttps = lazy<typeof import('node:https')>(() => require('node:https'));

export const MAX_BODY = 1 << 20;
/** open connections per listener (--max-connections): beyond it the oldest idle one is closed for the newcomer */
export const MAX_CONNECTIONS = 256;

/**
 * Time limits of every listener, given to the server at creation. A client gets `headersMs` to send its request
 * line and headers (counted from its connection: one that sends nothing is closed too, with a 408), `requestMs` for
 * its whole request, `idleMs` between requests; Node checks them every `checkMs` (its default, 30 s, let a silent
 * connection live up to 40 s past a 10 s header limit).
 */
export const LIMITS = { headersMs: 10_000, requestMs: 60_000, idleMs: 5_000, checkMs: 1_000 };

function serverOptions(limits = LIMITS): http.ServerOptions {
  return {
    headersTimeout: limits.headersMs,
    requestTimeout: limits.requestMs,
    keepAliveTimeout: limits.idleMs,
    connectionsCheckingInterval: limits.checkMs,
    maxHeaderSize: 16 * 1024,
  };
}

/**
 * At most `max` open connections on this listener, so no client can hold the daemon's descriptors (it keeps the
 * clock: a daemon out of descriptors recovers nothing). A connection beyond the cap makes room by closing the
 * oldest one that has no request in progress (an idle or slow client: a flood of idle connections pushes out its
 * own oldest, while a real client's request, sent at once, is answered); when every one is busy the newcomer is
 * closed. Returns how many are open.
 */
export function limitConnections(server: net.Server, max: number): () => number {
  const open = new Set<net.Socket>(); // insertion order: oldest first
  const busy = new WeakSet<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    if (open.size >= max) {
      let victim: net.Socket | undefined;
      for (const s of open)
        if (!busy.has(s)) {
          victim = s;
          break;
        }
      if (!victim) {
        socket.destroy();
        return;
      }
      open.delete(victim);
      victim.destroy();
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // over TLS the request's socket wraps the TCP socket the 'connection' event gave
    const raw = (req.socket as net.Socket & { _parent?: net.Socket })._parent ?? req.socket;
    busy.add(raw);
    res.once('close', () => busy.delete(raw));
  });
  return () => open.size;
}

export { isLoopback } from './guard';

export interface ServerOptions {
  /** undefined only with --insecure-no-auth (loopback) */
  token?: string;
  /** the read-only token (query, check, schedule query, version, metrics) */
  readToken?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** Host header names accepted (TCP); undefined for a Unix socket */
  hosts?: Set<string>;
  origins: Set<string>;
  /** recover_cmd / recover_shell over HTTP run commands as root: only with --allow-recover-cmd */
  allowRecoverCmd: boolean;
}

export type Route = (body: Body) => unknown;

/** JSON of a reply's data; the text of an object is kept while it lives (a cached query reply is sent again). */
const DATA_TEXT = new WeakMap<object, string>();
function dataText(data: unknown): string {
  if (data === undefined || data === null) return 'null';
  if (typeof data !== 'object') return JSON.stringify(data);
  let text = DATA_TEXT.get(data);
  if (text === undefined) DATA_TEXT.set(data, (text = JSON.stringify(data)));
  return text;
}

/**
 * Every JSON route, by "METHOD path", each a call of the engine API with the body decoded by the route's schema
 * (api/schema.ts ROUTE_SCHEMAS: exactly these routes, and what the OpenAPI document lists).
 */
export function routes(
  api: ChaosApi,
  metrics: Metrics,
  opts: { allowRecoverCmd: boolean; changed?: () => void; drills?: DrillDaemon } = { allowRecoverCmd: false },
): Record<RouteKey, Route> {
  /** a route that changes experiments or schedules: the gauges are read again once it is done */
  const changing =
    (fn: Route): Route =>
    async (body) => {
      try {
        return await fn(body);
      } finally {
        opts.changed?.();
      }
    };
  const timed = async <T>(name: string, labels: Record<string, string>, fn: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint();
    const help = `${name[0].toUpperCase()}${name.slice(1)}s by result`;
    try {
      const r = await fn();
      metrics.inc(`chaosmetad_${name}s_total`, help, { ...labels, result: 'ok' });
      return r;
    } catch (e) {
      metrics.inc(`chaosmetad_${name}s_total`, help, { ...labels, result: 'error' });
      throw e;
    } finally {
      metrics.observe(
        `chaosmetad_${name}_duration_seconds`,
        `Time to ${name} an experiment`,
        {},
        Number(process.hrtime.bigint() - t0) / 1e9,
      );
    }
  };
  return {
    'GET /v1/version': () => api.version(),
    'GET /healthz': () => ({ status: 'ok' }),
    'POST /v1/experiment/inject': changing(async (body) => {
      const req = decode(API['POST /v1/experiment/inject'].body, body);
      if (!opts.allowRecoverCmd && asksRecoverCmd(req.args)) {
        throw badArgs(
          'recover_cmd / recover_shell over HTTP would run a command as root on this host: refused (start the daemon with --allow-recover-cmd to allow it; that makes every token holder root)',
        );
      }
      if (req.schedule !== undefined || req.dryRun) return api.inject(req);
      return timed('inject', { target: req.target, fault: req.fault }, () => api.inject(req));
    }),
    'POST /v1/experiment/query': (body) => api.query(decode(API['POST /v1/experiment/query'].body, body)),
    'POST /v1/experiment/recover': changing(async (body) => {
      const req = decode(API['POST /v1/experiment/recover'].body, body);
      if (req.uid !== undefined) return { results: await timed('recover', { reason: 'api' }, () => api.recover(req)) };
      const results = await api.recover(req);
      const failed = results.filter((r) => !r.ok);
      if (failed.length) {
        const why = failed.map((f) => `${f.uid}: ${f.message}`).join('; ');
        throw new ChaosError(ExitCode.Recover, `${failed.length} of ${results.length} recover(s) failed: ${why}`, {
          results,
        });
      }
      return { results };
    }),
    'POST /v1/experiment/renew': (body) => {
      const { uid, lease } = decode(API['POST /v1/experiment/renew'].body, body);
      return api.renew(uid, lease);
    },
    'POST /v1/experiment/check': (body) => api.check(decode(API['POST /v1/experiment/check'].body, body)),
    'POST /v1/schedule/query': async (body) => ({
      schedules: await api.schedules(decode(API['POST /v1/schedule/query'].body, body)),
    }),
    'POST /v1/schedule/remove': changing(async (body) => {
      await api.removeSchedule(decode(API['POST /v1/schedule/remove'].body, body));
      return null;
    }),
    ...drillRoutes(opts.drills, opts),
  };
}

export function createServer(
  api: ChaosApi,
  opts: ServerOptions,
  log: (e: Record<string, unknown>) => void,
  metrics: Metrics,
  gauges: () => Parameters<Metrics['render']>[0],
  limits: { maxConnections: number; changed?: () => void; drills?: DrillDaemon } = { maxConnections: MAX_CONNECTIONS },
): http.Server {
  const guard = {
    token: opts.token ? Buffer.from(opts.token) : undefined,
    readToken: opts.token && opts.readToken ? Buffer.from(opts.readToken) : undefined,
    hosts: opts.hosts,
    origins: opts.origins,
  };
  const table: Partial<Record<string, Route>> = routes(api, metrics, {
    allowRecoverCmd: opts.allowRecoverCmd,
    changed: limits.changed,
    drills: limits.drills,
  });
  /** the metric series of each route and reply code (a bounded set: known routes, 'other'; a handful of codes) */
  const series = new Map<string, { c: { v: number }; h: { add(seconds: number): void } }>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0];
    const key = `${req.method} ${path}`;
    const known = key in table || key === 'GET /metrics' || key === 'GET /openapi.json';
    let traceId = String(req.headers['x-trace-id'] ?? '').slice(0, 128) || crypto.randomUUID();
    const finish = (status: number, code: number, message: string) => {
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      const route = known ? path : 'other';
      const key = `${route} ${code}`;
      let s = series.get(key);
      if (!s) {
        const labels = { route, code: String(code) };
        const c = metrics.counter('chaosmetad_http_requests_total', 'HTTP requests by route and reply code', labels);
        const h = metrics.histogram('chaosmetad_http_request_duration_seconds', 'HTTP request latency', { route });
        series.set(key, (s = { c, h }));
      }
      s.c.v++;
      s.h.add(secs);
      log({
        trace_id: traceId,
        method: req.method,
        path: path.slice(0, 200),
        status,
        code,
        ms: Math.round(secs * 1e4) / 10,
        ...(code ? { error: message } : {}),
      });
    };
    const reply = (status: number, code: number, message: string, data: unknown) => {
      const text = `{"code":${code},"message":${JSON.stringify(message)},"trace_id":${JSON.stringify(traceId)},"data":${dataText(data)}}`;
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
      try {
        text = key === 'GET /metrics' ? metrics.render(gauges()) : JSON.stringify(OPENAPI);
      } catch (e) {
        return reply(500, ExitCode.Store, (e as Error).message, null);
      }
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
    req.on(
      'end',
      () =>
        void (async () => {
          if (tooBig) return;
          let body: Body = {};
          try {
            const text = Buffer.concat(chunks).toString('utf8');
            if (text.trim()) {
              const parsed: unknown = JSON.parse(text);
              if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
                throw badArgs('the body must be a JSON object');
              body = parsed as Body; // (each route's schema checks its fields)
            }
            if (typeof body.trace_id === 'string' && body.trace_id) traceId = body.trace_id.slice(0, 128);
            const fn = table[key];
            if (!fn)
              throw new ChaosError(
                ExitCode.BadArgs,
                `no route ${String(req.method).slice(0, 10)} ${path.slice(0, 200)}`,
              );
            const data = await fn(body);
            reply(200, 0, 'success', data);
          } catch (e) {
            const err =
              e instanceof SyntaxError ? badArgs(`the body is not valid JSON: ${e.message}`) : asChaosError(e);
            reply(200, err.code, err.message, err.data ?? null);
          }
        })(),
    );
  };
  const server: http.Server = opts.tls
    ? nodeHttps().createServer(
        // a TLS handshake is part of the time to send the headers
        { ...serverOptions(), cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: LIMITS.headersMs },
        handler,
      )
    : nodeHttp().createServer(serverOptions(), handler);
  server.maxHeadersCount = 64;
  limitConnections(server, limits.maxConnections);
  return server;
}

/**
 * The token-less listener of --metrics-addr: GET /metrics and /healthz and nothing else. A scrape renders what is
 * in memory (counters, and the gauges the daemon read when the store last changed): no SQL, whatever the store
 * holds. Shorter time limits than the API's (a scrape is one small GET), and the same connection cap.
 */
export function createMetricsServer(
  metrics: Metrics,
  gauges: () => Parameters<Metrics['render']>[0],
  maxConnections = MAX_CONNECTIONS,
): http.Server {
  const limits = { headersMs: 5_000, requestMs: 10_000, idleMs: 5_000, checkMs: 1_000 };
  const server = nodeHttp().createServer(serverOptions(limits), (req, res) => {
    req.resume();
    const url = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics.render(gauges()));
    } else if (req.method === 'GET' && url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain', connection: 'close' });
      res.end('only GET /metrics and /healthz here\n');
    }
  });
  server.maxHeadersCount = 32;
  limitConnections(server, maxConnections);
  return server;
}
