/**
 * The HTTP adapter (the original's API): POST /v1/experiment/inject|query|recover, GET /v1/version, every reply
 * HTTP 200 with {code, message, trace_id, data} (code = the CLI's exit codes). Safe by default: loopback unless
 * told otherwise, a bearer token required beyond loopback, bounded bodies and time per request.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { ChaosError, ExitCode, asChaosError, badArgs } from '../errors';
import type { Engine } from '../engine/engine';
import { experimentJson } from '../cli/present';
import { versionInfo } from '../cli/misc';
import { shown } from '../util/units';

export const MAX_BODY = 1 << 20;

export interface ServerOptions { host: string; port: number; token?: string }

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

type Body = Record<string, unknown>;
const str = (b: Body, k: string): string | undefined => {
  const v = b[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badArgs(`${k} must be a string, got ${shown(v)}`);
  return v;
};
const uint = (b: Body, k: string, def: number): number => {
  const v = b[k];
  if (v === undefined || v === null || v === '') return def;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 1e9) throw badArgs(`${k} must be a whole number ≥ 0, got ${shown(v)}`);
  return n;
};

async function route(engine: Engine, method: string, path: string, body: Body): Promise<unknown> {
  if (method === 'GET' && path === '/v1/version') return versionInfo();
  if (method === 'GET' && path === '/healthz') return { status: 'ok' };
  if (method !== 'POST') throw new ChaosError(ExitCode.BadArgs, `no route ${method} ${path}`);
  if (path === '/v1/experiment/inject') {
    const target = str(body, 'target');
    const fault = str(body, 'fault');
    if (!target || !fault) throw badArgs('target and fault are required');
    const rawArgs = body.args ?? '{}';
    let args: unknown;
    if (typeof rawArgs === 'string') {
      try { args = JSON.parse(rawArgs || '{}'); } catch { throw badArgs('args must be a JSON string of the fault\'s flags (snake_case keys)'); }
    } else args = rawArgs;
    if (!args || typeof args !== 'object' || Array.isArray(args)) throw badArgs('args must be a JSON object of the fault\'s flags');
    const timeout = body.timeout === undefined || body.timeout === null ? undefined : body.timeout;
    if (timeout !== undefined && typeof timeout !== 'string' && typeof timeout !== 'number') throw badArgs(`timeout must be a duration, got ${shown(timeout)}`);
    const res = await engine.inject({
      target, fault, args: args as Record<string, unknown>, uid: str(body, 'uid'), timeout, creator: str(body, 'creator'),
      containerId: str(body, 'container_id'), containerRuntime: str(body, 'container_runtime'),
    });
    return { experiment: experimentJson(res.experiment) };
  }
  if (path === '/v1/experiment/query') {
    const { rows, total } = engine.query({
      uid: str(body, 'uid'), status: str(body, 'status'), target: str(body, 'target'), fault: str(body, 'fault'), creator: str(body, 'creator'),
      containerId: str(body, 'container_id'), containerRuntime: str(body, 'container_runtime'), offset: uint(body, 'offset', 0), limit: uint(body, 'limit', 10),
    });
    return { experiments: rows.map(experimentJson), total };
  }
  if (path === '/v1/experiment/recover') {
    const uid = str(body, 'uid');
    if (!uid) throw badArgs('uid is required');
    await engine.recover(uid);
    return null;
  }
  throw new ChaosError(ExitCode.BadArgs, `no route ${method} ${path}`);
}

export function createServer(engine: Engine, opts: ServerOptions, log: (e: Record<string, unknown>) => void): http.Server {
  const expected = opts.token ? crypto.createHash('sha256').update(opts.token).digest() : undefined;
  const server = http.createServer((req, res) => {
    const started = Date.now();
    let traceId = String(req.headers['x-trace-id'] ?? '') || crypto.randomUUID();
    const reply = (status: number, code: number, message: string, data: unknown) => {
      const text = JSON.stringify({ code, message, trace_id: traceId, data });
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      log({ trace_id: traceId, method: req.method, path: req.url, status, code, ms: Date.now() - started, ...(code ? { error: message } : {}) });
    };
    if (expected && req.url !== '/healthz') {
      const m = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
      const got = m ? crypto.createHash('sha256').update(m[1]).digest() : undefined;
      if (!got || !crypto.timingSafeEqual(got, expected)) { req.resume(); return reply(401, ExitCode.BadArgs, 'missing or wrong bearer token', null); }
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { tooBig = true; req.destroy(); return; }
      chunks.push(c);
    });
    req.on('close', () => { if (tooBig && !res.headersSent) reply(413, ExitCode.BadArgs, `request body over ${MAX_BODY} bytes`, null); });
    req.on('end', async () => {
      let body: Body = {};
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim()) {
          const parsed = JSON.parse(text);
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badArgs('the body must be a JSON object');
          body = parsed;
        }
        if (typeof body.trace_id === 'string' && body.trace_id) traceId = body.trace_id.slice(0, 128);
        const data = await route(engine, req.method ?? 'GET', (req.url ?? '/').split('?')[0], body);
        reply(200, 0, 'success', data);
      } catch (e) {
        const err = e instanceof SyntaxError ? badArgs(`the body is not valid JSON: ${e.message}`) : asChaosError(e);
        reply(200, err.code, err.message, null);
      }
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  server.maxHeadersCount = 64;
  return server;
}
