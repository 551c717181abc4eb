/**
 * The drill's probe samplers (src/drill/probes.ts) against real local things started here: a node HTTP server on
 * 127.0.0.1, a TCP listener and a closed port, real commands, this host's /proc; kube through a fake transport.
 * Prometheus's answers are parsed here from recorded shapes; the real Prometheus is in
 * test/integration/drill-prometheus.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  type ProbeReading,
  type Sampler,
  GRACE_MS,
  atPath,
  firstNumber,
  prometheusQueryUrl,
  prometheusReading,
  readCpuTimes,
  readyPods,
  samplerOf,
} from '../../src/drill/probes';
import { Probe, type z } from '../../src/drill/schema';

jest.setTimeout(20_000);

const probe = (p: Omit<z.input<typeof Probe>, 'name'>): Probe => Probe.parse({ name: 'p', ...p });

let server: http.Server;
let base: string;
const seen: Array<{ method?: string; url?: string; body: string; headers: http.IncomingHttpHeaders }> = [];
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, body, headers: req.headers });
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/ok') res.end('hello, all is well');
      else if (u.pathname === '/slow') setTimeout(() => res.end('late'), 1500);
      else if (u.pathname === '/json') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ a: { b: [{ c: 7 }, 8] }, s: 'x', up: true }));
      } else if (u.pathname === '/503') {
        res.statusCode = 503;
        res.end('unavailable');
      } else if (u.pathname === '/big') {
        res.write(Buffer.alloc(1 << 20, 'a'));
        // the rest never comes: a probe reads at most 1 MiB, so it does not wait for it
      } else if (u.pathname === '/echo') res.end(`${req.method} ${body}`);
      else if (u.pathname === '/prom/api/v1/query') {
        res.setHeader('content-type', 'application/json');
        const q = u.searchParams.get('query');
        if (q === 'bad(')
          res.writeHead(400).end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
        else
          res.end(
            JSON.stringify({
              status: 'success',
              data: { resultType: 'vector', result: q === 'none' ? [] : [{ metric: {}, value: [1, '3.25'] }] },
            }),
          );
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function timed(s: Sampler): Promise<{ r: ProbeReading; ms: number }> {
  const t0 = Date.now();
  const r = await s.sample();
  return { r, ms: Date.now() - t0 };
}

describe('http', () => {
  test('a 200: value is the latency in ms, ok; unit ms', async () => {
    const s = samplerOf(probe({ http: { url: `${base}/ok` } }));
    expect(s.unit).toBe('ms');
    const r = await s.sample();
    expect(r.ok).toBe(true);
    expect(r.error).toBeUndefined();
    expect(typeof r.value).toBe('number');
    expect(r.value!).toBeGreaterThan(0);
    expect(r.value!).toBeLessThan(1000);
    s.close();
  });

  test('a new connection per sample (the latency includes the connect)', async () => {
    const s = samplerOf(probe({ http: { url: `${base}/ok` } }));
    const ports = new Set<number>();
    const note = (sock: net.Socket) => ports.add(sock.remotePort!);
    server.on('connection', note);
    for (let i = 0; i < 3; i++) expect((await s.sample()).ok).toBe(true);
    server.off('connection', note);
    expect(ports.size).toBe(3);
    s.close();
  });

  test('a 503 misses the default expectation (2xx/3xx) but keeps its latency; expected, it holds', async () => {
    const r = await samplerOf(probe({ http: { url: `${base}/503` } })).sample();
    expect(r).toMatchObject({ ok: false, error: 'status 503, expected 2xx or 3xx' });
    expect(typeof r.value).toBe('number');
    expect((await samplerOf(probe({ http: { url: `${base}/503`, expect: { status: 503 } } })).sample()).ok).toBe(true);
    expect(
      (await samplerOf(probe({ http: { url: `${base}/503`, expect: { status: [500, 502] } } })).sample()).error,
    ).toBe('status 503, expected 500 or 502');
  });

  test('body regex and JSON path expectations', async () => {
    const ok = (e: object, path = '/ok') => samplerOf(probe({ http: { url: `${base}${path}`, expect: e } })).sample();
    expect((await ok({ body: 'all is w.ll' })).ok).toBe(true);
    expect(await ok({ body: '^nope' })).toMatchObject({ ok: false, error: 'the body does not match /^nope/' });
    expect((await ok({ json: { path: 'a.b.0.c' } }, '/json')).ok).toBe(true);
    expect((await ok({ json: { path: 'a.b.0.c', equals: 7 } }, '/json')).ok).toBe(true);
    expect((await ok({ json: { path: 'a.b', equals: [{ c: 7 }, 8] } }, '/json')).ok).toBe(true);
    expect(await ok({ json: { path: 'a.b.0.c', equals: 8 } }, '/json')).toMatchObject({
      ok: false,
      error: 'a.b.0.c is 7, expected 8',
    });
    expect(await ok({ json: { path: 'a.zz' } }, '/json')).toMatchObject({
      ok: false,
      error: 'the JSON body has no a.zz',
    });
    expect(await ok({ json: { path: 'a' } }, '/ok')).toMatchObject({ ok: false, error: 'the JSON body has no a' });
  });

  test('value json:PATH: the number at that path; not a number → ok false', async () => {
    const v = (value: string) => samplerOf(probe({ http: { url: `${base}/json`, value } })).sample();
    expect(await v('json:a.b.0.c')).toEqual({ value: 7, ok: true });
    expect(await v('json:a.b.1')).toEqual({ value: 8, ok: true });
    expect(await v('json:s')).toEqual({ value: null, ok: false, error: 's is "x", not a number' });
    expect(await v('json:nope')).toEqual({ value: null, ok: false, error: 'nope is absent, not a number' });
  });

  test('method, headers and body are sent', async () => {
    const s = samplerOf(
      probe({
        http: {
          url: `${base}/echo`,
          method: 'POST',
          headers: { 'x-drill': 'yes' },
          body: '{"k":1}',
          expect: { body: '^POST \\{"k":1\\}$' },
        },
      }),
    );
    expect((await s.sample()).ok).toBe(true);
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ method: 'POST', url: '/echo', body: '{"k":1}' });
    expect(last.headers['x-drill']).toBe('yes');
  });

  test('slower than its timeout: cut at the timeout, value null', async () => {
    const { r, ms } = await timed(samplerOf(probe({ http: { url: `${base}/slow`, timeout: '200ms' } })));
    expect(r).toEqual({ value: null, ok: false, error: 'timed out after 200 ms' });
    expect(ms).toBeGreaterThanOrEqual(195);
    expect(ms).toBeLessThan(200 + GRACE_MS);
  });

  test('a body over 1 MiB is read up to 1 MiB, not waited for', async () => {
    const { r, ms } = await timed(samplerOf(probe({ http: { url: `${base}/big`, timeout: '3s' } })));
    expect(r.ok).toBe(true);
    expect(ms).toBeLessThan(1000);
  });

  test('a closed port: the connect error, in one line', async () => {
    const r = await samplerOf(probe({ http: { url: `http://127.0.0.1:${await closedPort()}/` } })).sample();
    expect(r).toMatchObject({ value: null, ok: false });
    expect(r.error).toMatch(/ECONNREFUSED/);
  });

  test('close() cuts a request in flight; a closed sampler reads closed', async () => {
    const s = samplerOf(probe({ http: { url: `${base}/slow` } }));
    const pending = timed(s);
    await new Promise((r) => setTimeout(r, 100));
    s.close();
    const { r, ms } = await pending;
    expect(r).toEqual({ value: null, ok: false, error: 'closed' });
    expect(ms).toBeLessThan(1000);
    expect(await s.sample()).toEqual({ value: null, ok: false, error: 'closed' });
  });
});

describe('tcp', () => {
  test('a listener: connect time in ms; a closed port: ok false', async () => {
    const s = samplerOf(probe({ tcp: { host: '127.0.0.1', port: (server.address() as AddressInfo).port } }));
    expect(s.unit).toBe('ms');
    const r = await s.sample();
    expect(r.ok).toBe(true);
    expect(r.value!).toBeGreaterThan(0);
    expect(r.value!).toBeLessThan(1000);
    const c = await samplerOf(probe({ tcp: { host: '127.0.0.1', port: await closedPort() } })).sample();
    expect(c).toMatchObject({ value: null, ok: false });
    expect(c.error).toMatch(/ECONNREFUSED/);
  });

  test('no answer at all (a listener whose accept queue is full drops SYNs): cut at the timeout', async () => {
    // python3 listens with backlog 0 and never accepts; it fills its own queue, so the kernel drops our SYN
    const py = [
      'import socket, sys, time',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0); port = s.getsockname()[1]',
      'cs = [socket.socket() for _ in range(3)]',
      'for c in cs: c.setblocking(False); c.connect_ex(("127.0.0.1", port))',
      'time.sleep(0.2); print(port, flush=True); sys.stdin.read()',
    ].join('\n');
    const child = spawn('python3', ['-c', py], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once('error', reject);
      });
      const { r, ms } = await timed(samplerOf(probe({ tcp: { host: '127.0.0.1', port, timeout: '300ms' } })));
      expect(r).toEqual({ value: null, ok: false, error: 'timed out after 300 ms' });
      expect(ms).toBeGreaterThanOrEqual(295);
      expect(ms).toBeLessThan(300 + GRACE_MS);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('command', () => {
  const cmd = (argv: string[], more: object = {}) => samplerOf(probe({ command: { argv, ...more } }));

  test('exit codes: true → 0 ok, false → 1 not ok; unit exit', async () => {
    const t = cmd(['true']);
    expect(t.unit).toBe('exit');
    expect(await t.sample()).toEqual({ value: 0, ok: true });
    expect(await cmd(['false']).sample()).toEqual({ value: 1, ok: false, error: 'exit 1: exit 1' });
    expect(await cmd(['sh', '-c', 'echo broken >&2; exit 3']).sample()).toEqual({
      value: 3,
      ok: false,
      error: 'exit 3: broken',
    });
  });

  test('stdout: the first number (float, negative); none → not ok; unit empty', async () => {
    const s = cmd(['sh', '-c', 'echo 42.5'], { value: 'stdout' });
    expect(s.unit).toBe('');
    expect(await s.sample()).toEqual({ value: 42.5, ok: true });
    expect(await cmd(['sh', '-c', 'echo "temp: -3.25 C, 7 more"'], { value: 'stdout' }).sample()).toEqual({
      value: -3.25,
      ok: true,
    });
    expect(await cmd(['echo', 'nothing here'], { value: 'stdout' }).sample()).toEqual({
      value: null,
      ok: false,
      error: 'no number on stdout',
    });
    expect(await cmd(['sh', '-c', 'echo 5; exit 2'], { value: 'stdout' }).sample()).toEqual({
      value: 5,
      ok: false,
      error: 'exit 2: exit 2',
    });
  });

  test('argv is never a shell: metacharacters are plain arguments', async () => {
    expect(await cmd(['echo', '1; exit 7', '$(false)'], { value: 'stdout' }).sample()).toEqual({ value: 1, ok: true });
  });

  test('a command not found: ok false with the reason', async () => {
    const r = await cmd(['/nonexistent/probe-command']).sample();
    expect(r).toMatchObject({ value: null, ok: false });
    expect(r.error).toMatch(/ENOENT/);
  });

  test('sleeping past its timeout: killed at the timeout, with what it started', async () => {
    const { r, ms } = await timed(cmd(['sleep', '5'], { timeout: '300ms' }));
    expect(r).toEqual({ value: null, ok: false, error: 'timed out after 300 ms' });
    expect(ms).toBeGreaterThanOrEqual(295);
    expect(ms).toBeLessThan(300 + GRACE_MS);
    // a shell whose child holds stdout open: the whole process group goes
    const marker = `${(4 + Math.random()).toFixed(6)}`;
    const r2 = await timed(cmd(['sh', '-c', `sleep ${marker}; echo done`], { timeout: '300ms' }));
    expect(r2.r.error).toBe('timed out after 300 ms');
    expect(r2.ms).toBeLessThan(300 + GRACE_MS);
    await new Promise((res) => setTimeout(res, 100));
    const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(`sleep ${marker}`));
    expect(left).toEqual([]);
  });

  test('output over 1 MiB: not ok, bounded', async () => {
    const r = await cmd(['head', '-c', '3000000', '/dev/zero'], { value: 'stdout' }).sample();
    expect(r).toEqual({ value: null, ok: false, error: 'its output is over 1 MiB (maxBuffer exceeded)' });
  });
});

describe('prometheus', () => {
  test('the query URL keeps a path prefix and encodes the query', () => {
    const u = prometheusQueryUrl('http://prom:9090/prom/', 'rate(x{a="b c"}[1m]) > 0');
    expect(u.pathname).toBe('/prom/api/v1/query');
    expect(u.searchParams.get('query')).toBe('rate(x{a="b c"}[1m]) > 0');
    expect(u.search).not.toMatch(/[ {}"]/);
    expect(prometheusQueryUrl('http://prom:9090', 'up').pathname).toBe('/api/v1/query');
  });

  test("Prometheus's answers as readings", () => {
    const ok = (data: object) => prometheusReading(200, JSON.stringify({ status: 'success', data }));
    expect(ok({ resultType: 'vector', result: [{ metric: {}, value: [1, '1'] }, { value: [1, '2'] }] })).toEqual({
      value: 1,
      ok: true,
    });
    expect(ok({ resultType: 'vector', result: [{ metric: {}, value: [1, 'NaN'] }] })).toEqual({
      value: null,
      ok: true,
    });
    expect(ok({ resultType: 'vector', result: [{ metric: {}, value: [1, '+Inf'] }] })).toEqual({
      value: null,
      ok: true,
    });
    expect(ok({ resultType: 'vector', result: [] })).toEqual({ value: null, ok: false, error: 'no sample' });
    expect(ok({ resultType: 'scalar', result: [1, '-2.5'] })).toEqual({ value: -2.5, ok: true });
    expect(ok({ resultType: 'matrix', result: [] }).ok).toBe(false);
    expect(
      prometheusReading(400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at 1' })),
    ).toEqual({ value: null, ok: false, error: 'bad_data: parse error at 1' });
    expect(prometheusReading(502, '<html>Bad Gateway</html>')).toEqual({
      value: null,
      ok: false,
      error: 'HTTP 502: <html>Bad Gateway</html>',
    });
  });

  test('over HTTP, under a path prefix', async () => {
    const s = (query: string) => samplerOf(probe({ prometheus: { url: `${base}/prom`, query } })).sample();
    expect(await s('up')).toEqual({ value: 3.25, ok: true });
    expect(await s('none')).toEqual({ value: null, ok: false, error: 'no sample' });
    expect(await s('bad(')).toEqual({ value: null, ok: false, error: 'bad_data: parse error' });
  });
});

describe('kube', () => {
  const pod = (name: string, ready: string, deleting = false) => ({
    metadata: { name, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Ready', status: ready },
      ],
    },
  });

  test('ready pods of a selector through the transport: 2 ready of 3; unit pods', async () => {
    const calls: string[][] = [];
    const s = samplerOf(probe({ kube: { namespace: 'shop', selector: 'app=web' } }), {
      kubectl: async (args) => {
        calls.push(args);
        return { kind: 'List', items: [pod('web-0', 'True'), pod('web-1', 'False'), pod('web-2', 'True')] };
      },
    });
    expect(s.unit).toBe('pods');
    expect(await s.sample()).toEqual({ value: 2, ok: true });
    expect(calls).toEqual([['pods', '-n', 'shop', '-l', 'app=web']]);
  });

  test('a pod being deleted is not counted; kubectl failing is ok false', async () => {
    expect(readyPods({ items: [pod('a', 'True', true), pod('b', 'True'), { status: {} }, null] })).toBe(1);
    expect(readyPods({ items: [] })).toBe(0);
    const r = await samplerOf(probe({ kube: { selector: 'app=web' } }), {
      kubectl: async () => {
        throw new Error('kubectl get pods -n default -l app=web: the server could not find the requested resource');
      },
    }).sample();
    expect(r).toEqual({
      value: null,
      ok: false,
      error: 'kubectl get pods -n default -l app=web: the server could not find the requested resource',
    });
    const bad = await samplerOf(probe({ kube: { selector: 'a=b' } }), { kubectl: async () => 'nonsense' }).sample();
    expect(bad).toEqual({ value: null, ok: false, error: 'kubectl get pods: not a list of pods' });
  });
});

describe('host', () => {
  test('cpu busy %: the first sample over its own 100 ms window, then since the last (100 ms at least); 0..100', async () => {
    const s = samplerOf(probe({ host: { metric: 'cpu' } }));
    expect(s.unit).toBe('%');
    const first = await timed(s);
    expect(first.ms).toBeGreaterThanOrEqual(95);
    expect(first.r.ok).toBe(true);
    expect(first.r.value!).toBeGreaterThanOrEqual(0);
    expect(first.r.value!).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, 100));
    const second = await timed(s);
    expect(second.ms).toBeLessThan(50);
    expect(second.r.value!).toBeGreaterThanOrEqual(0);
    expect(second.r.value!).toBeLessThanOrEqual(100);
    // asked again at once: it waits out the rest of a 100 ms window (no jiffy would have passed)
    const third = await timed(s);
    expect(third.r.ok).toBe(true);
    expect(third.ms).toBeGreaterThanOrEqual(90);
  });

  test('memory used % and load1', async () => {
    const m = samplerOf(probe({ host: { metric: 'memory' } }));
    expect(m.unit).toBe('%');
    const mr = await m.sample();
    expect(mr.ok).toBe(true);
    expect(mr.value!).toBeGreaterThan(0);
    expect(mr.value!).toBeLessThan(100);
    const l = samplerOf(probe({ host: { metric: 'load1' } }));
    expect(l.unit).toBe('');
    const lr = await l.sample();
    expect(lr.ok).toBe(true);
    expect(lr.value!).toBeGreaterThanOrEqual(0);
  });

  test('/proc/stat parsed: idle and iowait are not busy', () => {
    expect(readCpuTimes('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n')).toEqual({ busy: 150, total: 1000 });
  });

  test('a container that does not exist: ok false, one line', async () => {
    const r = await samplerOf(
      probe({ host: { metric: 'cpu', container_id: 'no-such-container-for-probes', container_runtime: 'crio' } }),
    ).sample();
    expect(r).toMatchObject({ value: null, ok: false });
    expect(r.error).not.toMatch(/\n/);
  });
});

test('helpers: atPath and firstNumber', () => {
  expect(atPath({ a: [{ b: 1 }] }, 'a.0.b')).toBe(1);
  expect(atPath({ a: [1] }, 'a.x')).toBeUndefined();
  expect(atPath({ a: null }, 'a.b')).toBeUndefined();
  expect(atPath({}, 'constructor')).toBeUndefined();
  expect(firstNumber('x -1e3 y')).toBe(-1000);
  expect(firstNumber('v1.2.3')).toBe(1.2);
  expect(firstNumber('.5')).toBe(0.5);
  expect(firstNumber('')).toBeUndefined();
});
