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
import { DrillDaemon } from '../../src/drill/daemon';
import { LocalDrillApi } from '../../src/drill/local';
import { openEngine } from '../../src/engine/engine';
import { createServer } from '../../src/server/http';
import { Metrics } from '../../src/server/metrics';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-http-contract-'));
const engine = openEngine(dir, { watcher: false });
const api = new LocalApi(engine);
const drills = new DrillDaemon(new LocalDrillApi(engine), () => {}, new Metrics());
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
    { maxConnections: 16, drills },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await drills.stop();
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
  expect(whole).toStrictEqual(json); // nothing undeclared (the parse drops unknown keys; in any order)
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
  await drillRoutes();
  expect([...seen].sort()).toEqual(Object.keys(ROUTE_SCHEMAS).sort());
});

/** The drill routes: a dry run, a drill that only waits run to its end, problems with line and column, schedules. */
async function drillRoutes(): Promise<void> {
  const target = path.join(dir, 'never.txt');
  const text = `name: contract
faults:
  lanes:
    - name: one
      steps:
        - inject: { target: file, fault: add, args: { path: ${target}, content: x }, duration: 5s }
`;
  const plan = await call('POST /v1/drill/plan', { drill: text, source: 'c.yaml' });
  expect(plan.code).toBe(0);
  expect(plan.data.plan.join('\n')).toContain(`chaosmetad inject file add --path=${target} --content=x`);
  expect(fs.existsSync(target)).toBe(false);
  const bad = await call('POST /v1/drill/run', { drill: text.replace('5s', 'soon'), source: 'c.yaml' });
  expect(bad.code).toBe(1);
  expect(bad.message).toMatch(/^the drill file c.yaml is not valid/);
  expect(bad.message).toMatch(/\nc\.yaml:6:11: faults\.lanes\[0\]\.steps\[0\]: a step is/);
  const obj = await call('POST /v1/drill/plan', { drill: { name: 'o', faults: { lanes: [] } } });
  expect(obj.code).toBe(1);
  expect(obj.message).toMatch(/the drill:\d+:\d+: faults\.lanes: /);
  expect((await call('POST /v1/drill/run', {})).message).toMatch(/^drill is required/);
  const cmd = await call('POST /v1/drill/plan', {
    drill: {
      name: 'cmd',
      probes: [{ name: 'p', command: { argv: ['true'] } }],
      faults: { lanes: [{ name: 'a', steps: [{ wait: '1s' }] }] },
    },
  });
  expect([cmd.code, cmd.message]).toEqual([
    1,
    expect.stringMatching(/probe p runs the command "true".*--allow-recover-cmd/),
  ]);

  const run = await call('POST /v1/drill/run', {
    drill: { name: 'waits', faults: { lanes: [{ name: 'a', steps: [{ wait: '200ms' }] }] } },
  });
  expect(run.code).toBe(0);
  const id = run.data.id as string;
  let status = 'running';
  for (let i = 0; i < 100 && status === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await call('POST /v1/drill/query', { id })).data.drill.status as string;
  }
  expect(status).toBe('passed');
  expect((await call('POST /v1/drill/query', {})).data.drills.map((d: { id: string }) => d.id)).toEqual([id]);
  expect((await call('POST /v1/drill/query', { id: 'nope' })).code).toBe(1);
  expect((await call('POST /v1/drill/abort', { id })).data).toEqual({ id, status: 'passed', recovered: [] });

  const file = path.join(dir, 'nightly.yaml');
  fs.writeFileSync(file, text, { mode: 0o644 });
  const sched = await call('POST /v1/drill/schedule', { file, cron: '0 3 * * *' });
  expect(sched.code).toBe(0);
  expect((await call('POST /v1/drill/schedule', { file: 'rel.yaml', cron: '0 3 * * *' })).message).toMatch(
    /absolute path/,
  );
  expect((await call('POST /v1/drill/schedule/query', {})).data.schedules).toEqual([sched.data]);
  expect((await call('POST /v1/drill/schedule/remove', { id: sched.data.id })).data).toBeNull();
  expect((await call('POST /v1/drill/schedule/remove', { id: sched.data.id })).code).toBe(1);
}
