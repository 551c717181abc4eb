/**
 * The drill's built-in HTTP load (src/drill/traffic.ts: autocannon, paced by us) against a real node:http server on
 * 127.0.0.1: the rate held in every half-second tick, success 100 / 0 / ~50 % by the server's answers, a slow
 * endpoint's requests failed at the timeout (p99 ≈ timeout), a refused port asked at the rate (no busy loop),
 * concurrency-bound load without a rate, and stop() prompt with every connection closed on both sides.
 *
 * @lane measuring (measures request rates and latency: runs alone)
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startTraffic, TrafficRun, TrafficTick } from '../../src/drill/traffic';
import type { Traffic } from '../../src/drill/schema';

jest.setTimeout(30_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: http.Server;
let port = 0;
let half = 0;
/** what /echo was last sent */
let echoed = '';
/** the server's side of every connection still open, and the most open at once */
const open = new Set<Socket>();
let mostOpen = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    switch (req.url) {
      case '/ok':
        res.end('ok');
        return;
      case '/fail':
        res.statusCode = 503;
        res.end('unavailable');
        return;
      case '/half':
        res.statusCode = half++ % 2 === 0 ? 200 : 500;
        res.end('half');
        return;
      case '/slow':
        setTimeout(() => res.end('late'), 2_000).unref();
        return;
      case '/echo': {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          echoed = `${req.method} ${String(req.headers['x-drill'])} ${body}`;
          res.end('echo');
        });
        return;
      }
      default:
        res.statusCode = 404;
        res.end();
    }
  });
  server.on('connection', (s: Socket) => {
    open.add(s);
    mostOpen = Math.max(mostOpen, open.size);
    s.on('close', () => open.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const traffic = (path: string, over: Partial<Traffic> = {}): Traffic => ({
  url: `http://127.0.0.1:${port}${path}`,
  method: 'GET',
  concurrency: 10,
  timeout: 1000,
  ...over,
});

/** take() every 500 ms for `ms` (on a fixed clock, so late timers do not add up) */
async function ticks(run: TrafficRun, ms: number): Promise<TrafficTick[]> {
  const out: TrafficTick[] = [];
  const start = Date.now();
  for (let k = 1; k * 500 <= ms; k++) {
    await sleep(start + k * 500 - Date.now());
    out.push(run.take());
  }
  return out;
}

/** our client sockets to the test server still open in this process */
const clientSockets = () =>
  (process as unknown as { _getActiveHandles(): unknown[] })
    ._getActiveHandles()
    .filter((h): h is Socket => (h as Socket).remotePort === port && (h as Socket).localPort !== port);

async function stopAndCheck(run: TrafficRun) {
  const t0 = Date.now();
  const summary = await run.stop();
  const took = Date.now() - t0;
  expect(took).toBeLessThan(1000);
  expect(clientSockets()).toEqual([]);
  // the server sees them closed
  for (let i = 0; i < 50 && open.size > 0; i++) await sleep(10);
  expect(open.size).toBe(0);
  return { summary, took };
}

test('rate 200 req/s: every half-second tick ≈ 200 req/s (± 20 %), all succeed; totals add up', async () => {
  const run = startTraffic(traffic('/ok', { rate: 200 }));
  const got = await ticks(run, 3000);
  const { summary, took } = await stopAndCheck(run);
  console.log('200 req/s to /ok:', got.map((t) => t.rps).join(' '), `stop ${took} ms`, JSON.stringify(summary));
  expect(got).toHaveLength(6);
  for (const t of got) {
    expect(t.rps).toBeGreaterThanOrEqual(160);
    expect(t.rps).toBeLessThanOrEqual(240);
    expect(t.success).toBe(100);
    expect(t.p50).not.toBeNull();
    expect(t.p99!).toBeGreaterThanOrEqual(t.p50!);
  }
  // the totals hold every tick's requests and those finished after the last tick
  const ticked = got.reduce((a, t) => a + t.sent, 0);
  expect(summary.sent).toBeGreaterThanOrEqual(ticked);
  expect(summary.sent).toBeLessThanOrEqual(ticked + 20);
  expect(summary.sent).toBeGreaterThanOrEqual(480);
  expect(summary.sent).toBeLessThanOrEqual(720);
  expect(summary.ok).toBe(summary.sent);
  expect(summary.errors + summary.timeouts + summary.non2xx).toBe(0);
  expect(summary.p50! <= summary.p90! && summary.p90! <= summary.p99! && summary.p99! <= summary.max!).toBe(true);
  expect(summary.rps).toBeGreaterThanOrEqual(160);
  expect(summary.rps).toBeLessThanOrEqual(240);
});

test('503 from the server: success 0 in every tick, all counted non2xx', async () => {
  const run = startTraffic(traffic('/fail', { rate: 200 }));
  const got = await ticks(run, 3000);
  const { summary } = await stopAndCheck(run);
  console.log('200 req/s to /fail:', got.map((t) => `${t.rps}/${t.success}%`).join(' '), JSON.stringify(summary));
  for (const t of got) {
    expect(t.sent).toBeGreaterThan(0);
    expect(t.success).toBe(0);
  }
  expect(summary.ok).toBe(0);
  expect(summary.non2xx).toBe(summary.sent);
  expect(summary.sent).toBeGreaterThanOrEqual(480);
});

test('half the answers 500: success ≈ 50 % (± 10) per tick', async () => {
  const run = startTraffic(traffic('/half', { rate: 200 }));
  const got = await ticks(run, 3000);
  const { summary } = await stopAndCheck(run);
  console.log('200 req/s to /half:', got.map((t) => `${t.success}%`).join(' '), JSON.stringify(summary));
  for (const t of got) {
    expect(t.success).toBeGreaterThanOrEqual(40);
    expect(t.success).toBeLessThanOrEqual(60);
  }
  expect(Math.abs(summary.ok - summary.non2xx)).toBeLessThanOrEqual(1);
});

test('slower than the timeout: every request fails as a timeout, p99 ≈ timeout; stop() is prompt anyway', async () => {
  const timeout = 300;
  const run = startTraffic(traffic('/slow', { rate: 200, concurrency: 5, timeout }));
  const got = await ticks(run, 2000);
  const { summary, took } = await stopAndCheck(run);
  console.log('/slow, timeout 300 ms:', got.map((t) => `${t.sent} p99 ${t.p99}`).join(' '), `stop ${took} ms`);
  console.log(JSON.stringify(summary));
  // 5 connections, each waiting 300 ms per request: ~16 req/s, however high the rate
  for (const t of got) {
    expect(t.success).toBe(0);
    expect(t.rps).toBeLessThanOrEqual(25);
  }
  const some = got.filter((t) => t.sent > 0);
  expect(some.length).toBeGreaterThanOrEqual(3);
  for (const t of some) {
    expect(t.p99!).toBeGreaterThanOrEqual(timeout);
    expect(t.p99!).toBeLessThanOrEqual(timeout + 100);
  }
  expect(summary.timeouts).toBe(summary.sent);
  expect(summary.ok + summary.errors + summary.non2xx).toBe(0);
  expect(summary.p99!).toBeGreaterThanOrEqual(timeout);
  expect(summary.p99!).toBeLessThanOrEqual(timeout + 100);
});

test('a refused port: errors at the rate, not a busy loop', async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const cpu0 = process.cpuUsage();
  const run = startTraffic({ ...traffic('/'), url: `http://127.0.0.1:${deadPort}/`, rate: 100 });
  const got = await ticks(run, 2000);
  const summary = await run.stop();
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log('refused, 100 req/s:', got.map((t) => t.rps).join(' '), `cpu ${cpuMs} ms`, JSON.stringify(summary));
  for (const t of got) {
    expect(t.success).toBe(0);
    expect(t.rps).toBeGreaterThanOrEqual(80);
    expect(t.rps).toBeLessThanOrEqual(120);
    expect(t.p50).toBeNull();
  }
  expect(summary.errors).toBe(summary.sent);
  expect(cpuMs).toBeLessThan(1000);
});

test('no rate: concurrency-bound load on that many connections; method, headers and body are sent', async () => {
  mostOpen = 0;
  const run = startTraffic(
    traffic('/echo', { method: 'POST', concurrency: 4, headers: { 'x-drill': 'yes' }, body: '{"a":1}' }),
  );
  const got = await ticks(run, 1000);
  const { summary } = await stopAndCheck(run);
  console.log('no rate, 4 connections:', got.map((t) => t.rps).join(' '), JSON.stringify(summary));
  expect(mostOpen).toBe(4);
  expect(summary.ok).toBe(summary.sent);
  expect(summary.sent).toBeGreaterThan(500);
  expect(echoed).toBe('POST yes {"a":1}');
});

test('take() before any answer and after stop(): no data, no NaN', async () => {
  const run = startTraffic(traffic('/slow', { rate: 10, concurrency: 1, timeout: 5000 }));
  const first = run.take();
  expect(first).toEqual({ rps: 0, success: 0, sent: 0, p50: null, p99: null });
  await stopAndCheck(run);
  const after = run.take();
  expect(after.sent).toBe(0);
  expect(Number.isNaN(after.rps) || Number.isNaN(after.success)).toBe(false);
  // stop() twice: the same totals
  await expect(run.stop()).resolves.toMatchObject({ sent: 0 });
});
