/**
 * The daemon's HTTP handler in this process, on a throwaway data dir: every JSON route is called, and every reply
 * is checked against the contract (api/schema.ts) — the envelope, the route's data on code 0, no field the schema
 * does not declare. Nothing on the host changes: injects are dry runs or schedules.
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalApi } from '../../src/api/local';
import { ROUTE_SCHEMAS, type RouteKey } from '../../src/api/schema';
import { openEngine } from '../../src/engine/engine';
import { createServer } from '../../src/server/http';
import { Metrics } from '../../src/server/metrics';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-http-contract-'));
const api = new LocalApi(openEngine(dir, { watcher: false }));
let server: http.Server;
let port = 0;
const seen = new Set<string>();

beforeAll(async () => {
  const opts = { token: 't0ken', origins: new Set<string>(), allowRecoverCmd: false };
  server = createServer(
    api,
    opts,
    () => {},
    new Metrics(),
    () => [],
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  api.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Call a route; its reply parsed with the route's schema (data by the data schema on code 0) and returned. */
async function call(key: RouteKey, body?: unknown): Promise<{ code: number; message: string; data: any }> {
  const [method, route] = key.split(' ');
  const res = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as { code: number; message: string; data: any };
  const s = ROUTE_SCHEMAS[key];
  const whole = s.reply.parse(json);
  if (json.code === 0) s.data.parse(json.data);
  expect(JSON.stringify(whole)).toBe(JSON.stringify(json)); // nothing undeclared (the parse drops unknown keys)
  seen.add(key);
  return json;
}

test('every route answers as the schema says', async () => {
  expect((await call('GET /v1/version')).code).toBe(0);
  expect((await call('GET /healthz')).data).toEqual({ status: 'ok' });
  const dry = await call('POST /v1/experiment/inject', {
    target: 'cpu',
    fault: 'burn',
    args: '{"percent":10,"count":1}',
    uid: 'contract-1',
    dry_run: true,
  });
  expect(dry.code).toBe(0);
  expect(dry.data.planned.length).toBeGreaterThan(0);
  const bad = await call('POST /v1/experiment/inject', { target: 'cpu', fault: 'burn', args: '[1]' });
  expect([bad.code, bad.message]).toEqual([1, "args must be a JSON object of the fault's flags"]);
  const sched = await call('POST /v1/experiment/inject', {
    target: 'cpu',
    fault: 'burn',
    args: { percent: 10 },
    schedule: '*/10 * * * *',
    duration: '1m',
  });
  expect(sched.code).toBe(0);
  const id = sched.data.schedule.id as string;
  expect((await call('POST /v1/schedule/query', {})).data.schedules.map((s: { id: string }) => s.id)).toEqual([id]);
  expect((await call('POST /v1/schedule/query', { id })).data.schedules).toHaveLength(1);
  expect((await call('POST /v1/experiment/query', { limit: 0 })).data).toEqual({ experiments: [], total: 0 });
  expect((await call('POST /v1/experiment/query', { live: true })).code).toBe(0);
  expect((await call('POST /v1/experiment/check', { uid: 'nope-123' })).code).toBe(1);
  expect((await call('POST /v1/experiment/renew', { uid: 'nope-123', lease: '30s' })).code).toBe(1);
  expect((await call('POST /v1/experiment/recover', { all: true })).data).toEqual({ results: [] });
  expect((await call('POST /v1/experiment/recover', {})).message).toBe(
    'uid is required (or all: true, or expired: true)',
  );
  expect((await call('POST /v1/schedule/remove', { id })).data).toBeNull();
  expect((await call('POST /v1/schedule/remove', {})).message).toBe('id is required');
  expect([...seen].sort()).toEqual(Object.keys(ROUTE_SCHEMAS).sort());
});
