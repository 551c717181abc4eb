/**
 * The HTTP daemon on a loopback port: the original's routes and shapes, auth beyond loopback, bounded input.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { BIN, cli, hostSettles, hostState, lastTest, taggedPids, tmpDir, waitFor } from '../helpers';
import { call, startDaemon, stopDaemons } from '../daemon';

jest.setTimeout(60_000);
const dir = tmpDir('server');
let before: string;

function start(args: string[], env: Record<string, string> = {}) {
  return startDaemon(dir, args, env);
}

beforeAll(() => {
  before = hostState();
});
afterEach(stopDaemons);

test("inject, query and recover over HTTP with the original's shapes", async () => {
  const { port } = await start([]);
  const v = await call(port, 'GET', '/v1/version');
  expect(v.status).toBe(200);
  expect(Object.keys(v.json)).toEqual(['code', 'message', 'trace_id', 'data']);
  expect(Object.keys(v.json.data)).toEqual(['version', 'build-date']);

  const inj = await call(port, 'POST', '/v1/experiment/inject', {
    target: 'cpu',
    fault: 'load',
    args: '{"count":2}',
    timeout: '1m',
    uid: 'http-load-1',
    trace_id: 'tr-1',
  });
  expect(inj.json).toMatchObject({ code: 0, message: 'success', trace_id: 'tr-1' });
  expect(Object.keys(inj.json.data.experiment)).toEqual([
    'uid',
    'target',
    'fault',
    'args',
    'runtime',
    'status',
    'creator',
    'timeout',
    'error',
    'create_time',
    'update_time',
    'container_id',
    'container_runtime',
  ]);
  expect(inj.json.data.experiment).toMatchObject({
    uid: 'http-load-1',
    status: 'success',
    args: '{"count":2}',
    timeout: '1m',
  });
  expect(taggedPids('http-load-1').length).toBeGreaterThan(0);

  const q = await call(port, 'POST', '/v1/experiment/query', { uid: 'http-load-1' });
  expect(q.json.code).toBe(0);
  expect(q.json.data.total).toBe(1);
  expect(q.json.data.experiments[0].status).toBe('success');
  // the CLI sees the same store at the same time
  expect(cli(dir, ['query', '-u', 'http-load-1']).stdout).toMatch(/http-load-1 .* success/);

  const r = await call(port, 'POST', '/v1/experiment/recover', { uid: 'http-load-1' });
  // the original answers data null; we return the real result (a client that ignores data sees no difference)
  expect(r.json).toMatchObject({
    code: 0,
    data: { results: [{ uid: 'http-load-1', status: 'destroyed', ok: true, message: 'recovered' }] },
  });
  expect(await waitFor(() => taggedPids('http-load-1').length === 0, 3000)).toBe(true);
});

test.each([
  ['{not json', /not valid JSON/],
  [{ target: 'cpu', fault: 'burn', args: '{"percent":"20%"}' }, /--percent must be an integer in 1\.\.100, got "20%"/],
  [{ target: 'cpu', fault: 'burn', args: '{"percent":50,"bogus":1}' }, /unknown flag "bogus"/],
  [{ target: 'nope', fault: 'x', args: '{}' }, /unknown target "nope"/],
  [{ target: 'cpu', fault: 'burn', args: '[1]' }, /args must be a JSON object/],
  [{ target: 'cpu', fault: 'burn', args: '{"percent":50}', uid: { $ne: 1 } }, /uid must be a string/],
])('bad input %j: code 1, a clear message, nothing stored', async (body, msg) => {
  const { port } = await start([]);
  const total = (await call(port, 'POST', '/v1/experiment/query', { limit: 0 })).json.data.total;
  const r = await call(port, 'POST', '/v1/experiment/inject', body);
  expect(r.status).toBe(200);
  expect(r.json.code).toBe(1);
  expect(r.json.message).toMatch(msg);
  expect((await call(port, 'POST', '/v1/experiment/query', { limit: 0 })).json.data.total).toBe(total);
});

test('an oversized body is refused with 413 (the reply is read, not assumed from a dropped connection)', async () => {
  const { port } = await start([]);
  const token = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/experiment/query',
        agent: false,
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'content-length': String(2 << 20),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', (e) => reject(new Error(`no reply before the connection failed: ${e.message}`)));
    // send the body in pieces, as a client would: the daemon answers once 1 MB is over, without reading the rest
    const piece = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const more = () => {
      while (sent < 2 << 20) {
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', more);
          return;
        }
      }
      req.end();
    };
    req.write('{"uid":"');
    more();
  });
  expect(status).toBe(413);
});

test('beyond loopback: the generated token (or the one given) is required, and plain HTTP is warned about', async () => {
  const { port, logs } = await start(['-a', '0.0.0.0'], { CHAOSMETAD_TOKEN: '' });
  expect(logs()).toMatch(/"level":"warning","event":"plain-http".*travel in clear/);
  expect((await call(port, 'GET', '/v1/version', undefined, { authorization: '' })).status).toBe(401);
  expect((await call(port, 'GET', '/v1/version')).json.code).toBe(0); // the data dir's token
  await stopDaemons();
  const given = await start(['-a', '0.0.0.0'], { CHAOSMETAD_TOKEN: 'a-long-test-token' });
  expect((await call(given.port, 'GET', '/v1/version', undefined, { authorization: '' })).status).toBe(401);
  expect(
    (await call(given.port, 'GET', '/v1/version', undefined, { authorization: 'Bearer wrong-token!' })).status,
  ).toBe(401);
  const ok = await call(given.port, 'GET', '/v1/version', undefined, { authorization: 'Bearer a-long-test-token' });
  expect(ok.status).toBe(200);
  expect(ok.json.code).toBe(0);
  const short = spawnSync(process.execPath, [BIN, 'server', '-p', '0'], {
    encoding: 'utf8',
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dir, CHAOSMETAD_TOKEN: 'short' },
    timeout: 20_000,
  });
  expect(short.status).toBe(1);
  expect(short.stderr).toMatch(/at least 8 characters/);
});

test('SIGTERM stops the daemon with exit 0', async () => {
  const d = await start([]);
  expect(await d.stop('SIGTERM')).toBe(0);
});

lastTest(
  'leaves the host as it found it',
  async () => {
    cli(dir, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
