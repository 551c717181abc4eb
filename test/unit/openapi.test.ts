/**
 * The HTTP contract (src/api/schema.ts) against what is committed and what the client sends: the OpenAPI document
 * is the one generated from it, and every request the client encodes (api/wire.ts) decodes back to itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InjectRequest, QueryRequest, RecoverRequest } from '../../src/api/api';
import { ROUTE_SCHEMAS as API, decode } from '../../src/api/schema';
import { encodeInject, encodeQuery, encodeRecover } from '../../src/api/wire';
import { openApiText } from '../../src/server/openapi';

test('src/server/openapi.json is the document generated from the schema (else: npm run openapi)', () => {
  const committed = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'server', 'openapi.json'), 'utf8');
  expect(committed).toBe(openApiText());
});

test('what the client encodes, the server decodes to the same request', () => {
  const injects: InjectRequest[] = [
    { target: 'cpu', fault: 'burn', args: { percent: 50, list: '0-1' } },
    {
      target: 'network',
      fault: 'delay',
      args: { srcIp: '10.0.0.1', 'dst-port': '80', latency: '10ms', force: false },
      uid: 'abc-123',
      timeout: 30,
      creator: 'me',
      containerId: 'docker://abc',
      containerRuntime: 'docker',
      containerdNamespace: 'k8s.io',
      parentUid: 'p-123',
      lease: '30s',
      dryRun: true,
    },
    { target: 'cpu', fault: 'load', args: {}, schedule: '*/10 * * * *', duration: '2m' },
  ];
  const snakeArgs = (a: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(a).map(([k, v]) => [k.replace(/-/g, '_').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]),
    );
  for (const req of injects) {
    const wire = JSON.parse(JSON.stringify(encodeInject(req))) as unknown;
    expect(decode(API['POST /v1/experiment/inject'].body, wire)).toEqual({ ...req, args: snakeArgs(req.args) });
  }
  const queries: QueryRequest[] = [
    {},
    { uid: 'u-1', status: 'success', containerId: 'c', parentUid: 'p', offset: 5, limit: 0, live: true },
  ];
  for (const q of queries)
    expect(decode(API['POST /v1/experiment/query'].body, JSON.parse(JSON.stringify(encodeQuery(q))))).toEqual(q);
  const recovers: RecoverRequest[] = [
    { uid: 'u-1' },
    { uid: 'u-1', abandon: true },
    { all: true, expired: false, target: 'cpu', fault: 'burn' },
    { all: false, expired: true },
  ];
  for (const r of recovers)
    expect(decode(API['POST /v1/experiment/recover'].body, JSON.parse(JSON.stringify(encodeRecover(r))))).toEqual({
      target: undefined,
      fault: undefined,
      ...r,
    });
});

test.each([
  ['POST /v1/experiment/inject', {}, 'target and fault are required'],
  [
    'POST /v1/experiment/inject',
    { target: 'cpu', fault: 'burn', args: '{x' },
    "args must be a JSON string of the fault's flags (snake_case keys)",
  ],
  [
    'POST /v1/experiment/inject',
    { target: 'cpu', fault: 'burn', args: 5 },
    "args must be a JSON object of the fault's flags",
  ],
  [
    'POST /v1/experiment/inject',
    { target: 'cpu', fault: 'burn', uid: { $ne: 1 } },
    'uid must be a string, got "{\\"$ne\\":1}"',
  ],
  ['POST /v1/experiment/inject', { target: 'x'.repeat(65), fault: 'burn' }, 'target must be at most 64 characters'],
  [
    'POST /v1/experiment/inject',
    { target: 'cpu', fault: 'burn', timeout: [] },
    'timeout must be a duration like 30s or 5m, got "[]"',
  ],
  [
    'POST /v1/experiment/inject',
    { target: 'cpu', fault: 'burn', schedule: 5 },
    'schedule must be a cron string, got "5"',
  ],
  [
    'POST /v1/experiment/inject',
    { target: 'cpu', fault: 'burn', dry_run: 'yes' },
    'dry_run must be true or false, got "yes"',
  ],
  [
    'POST /v1/experiment/query',
    { status: 'running' },
    'status must be one of created, success, error, destroyed, got "running"',
  ],
  ['POST /v1/experiment/query', { limit: -1 }, 'limit must be an integer in 0..1000000000, got "-1"'],
  ['POST /v1/experiment/recover', {}, 'uid is required (or all: true, or expired: true)'],
  [
    'POST /v1/experiment/recover',
    { abandon: true },
    'abandon needs a uid: it gives up the failing undo of one experiment',
  ],
  ['POST /v1/experiment/renew', { lease: '1m' }, 'uid is required'],
  ['POST /v1/experiment/check', { uid: '' }, 'uid is required'],
  ['POST /v1/schedule/remove', {}, 'id is required'],
] as const)('%s %j: "%s"', (route, body, message) => {
  const schema = API[route].body;
  expect(() => decode(schema, body)).toThrow(message);
  try {
    decode(schema, body);
  } catch (e) {
    expect((e as Error).message).toBe(message);
  }
});
