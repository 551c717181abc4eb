/**
 * Attacks on the CLI's trust in the daemon (issue 21 item 2), by the user nobody: a listener squatting the daemon's
 * loopback address (while it is down, or on ::1 where `localhost` may resolve first) or its socket path received
 * the root CLI's token — `Authorization: Bearer …` on the code before this change — and with it acted as root
 * through the real daemon. Now the CLI verifies the other end in the kernel's socket tables before sending a byte.
 * Also the read-only token (DATA_DIR/token-ro): it may look, never act.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, cli, hostSettles, hostState, lastTest, nobodyHttp, tmpDir } from '../helpers';
import { call, startDaemon, stopDaemons } from '../daemon';

jest.setTimeout(60_000);
const files = tmpDir('attack-daemon');
fs.chmodSync(files, 0o755);
const canary = path.join(files, 'canary');
let before: string;
const dataDirs: string[] = [];
const dataDir = () => {
  const d = tmpDir('attack-daemon-data');
  dataDirs.push(d);
  return d;
};
const squatters = new Set<ChildProcess>();

beforeAll(() => {
  before = hostState();
  fs.writeFileSync(canary, 'root secret\n', { mode: 0o600 });
});
afterEach(async () => {
  for (const s of squatters) s.kill('SIGKILL');
  squatters.clear();
  await stopDaemons();
  expect([fs.readFileSync(canary, 'utf8'), fs.statSync(canary).mode & 0o7777, fs.statSync(canary).uid]).toEqual([
    'root secret\n',
    0o600,
    0,
  ]);
});

interface Squatter {
  /** stop it; what it received: connections and every byte, in order */
  stop: () => Promise<{ connections: number; received: string }>;
}

/**
 * nobody listening on host:port or on a Unix socket path, answering every request with a query reply (so the
 * code before this change finished its command), recording what it was sent.
 */
async function squat(at: { host: string; port: number } | { path: string }, asRoot = false): Promise<Squatter> {
  const listen =
    'path' in at ? JSON.stringify(at.path) : JSON.stringify({ host: at.host, port: at.port, ipv6Only: true });
  const code =
    `const net=require('net');let n=0;const body='{"code":0,"message":"success","data":{"experiments":[],"total":0}}';` +
    `const s=net.createServer((c)=>{const i=++n;console.log(JSON.stringify({conn:i}));c.on('error',()=>{});` +
    `c.on('data',(d)=>{console.log(JSON.stringify({conn:i,data:d.toString('latin1')}));` +
    `c.end('HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\nconnection: close\\r\\ncontent-length: '+body.length+'\\r\\n\\r\\n'+body)})});` +
    `s.on('error',(e)=>{console.log(JSON.stringify({error:e.message}));process.exit(1)});` +
    `s.listen(${listen},()=>console.log(JSON.stringify({listening:true})));process.on('SIGTERM',()=>process.exit(0));`;
  const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath];
  const p = spawn(asRoot ? process.execPath : 'setpriv', [...(asRoot ? [] : nobody), '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
  });
  squatters.add(p);
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => p.on('exit', () => r()));
  const t0 = Date.now();
  while (!out.includes('"listening":true')) {
    if (p.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`the squatter did not listen: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    stop: async () => {
      p.kill('SIGTERM');
      await exited;
      squatters.delete(p);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { conn?: number; data?: string });
      return {
        connections: lines.filter((l) => l.conn !== undefined && l.data === undefined).length,
        received: lines.map((l) => l.data ?? '').join(''),
      };
    },
  };
}

/** What nobody could do with a token it received: overwrite root's canary through the real daemon. */
function useStolen(received: string, port: number): void {
  const m = /authorization: Bearer (\S+)/i.exec(received);
  if (!m) return;
  nobodyHttp(
    { port },
    'POST',
    '/v1/experiment/inject',
    {
      target: 'file',
      fault: 'add',
      args: JSON.stringify({ path: canary, content: 'owned by nobody', force: true }),
    },
    { 'Content-Type': 'application/json', Authorization: `Bearer ${m[1]}` },
  );
}

test('(a) nobody holding the loopback port while the daemon is down receives nothing, from any token source', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  const port = d.port;
  const server = `http://127.0.0.1:${port}`;
  expect(cli(dir, ['query', '--server', server]).code).toBe(0);
  await stopDaemons(); // a restart, a boot, Restart=always: the port is free for a moment
  const token = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
  const tokenFile = path.join(dir, 'token');
  const sq = await squat({ host: '127.0.0.1', port });
  const runs = [
    cli(dir, ['query', '--server', server]), // DATA_DIR/token
    cli(dir, ['query', '--server', server, '--token-file', tokenFile]),
    cli(dir, ['query', '--server', server], { env: { CHAOSMETAD_TOKEN: token } }),
    cli(dir, ['inject', 'file', 'add', '-p', path.join(files, 'x'), '-c', 'x', '--server', server]),
    cli(dir, ['recover', 'some-uid', '--server', server]),
    cli(dir, ['schedule', 'list', '--server', server]), // the full oclif CLI
  ];
  const got = await sq.stop();
  // the daemon comes back (same token, as across every restart); nobody tries what it received
  const back = await startDaemon(dir);
  useStolen(got.received, back.port);
  // the code before this change: 6 connections, each sent "authorization: Bearer <the token>" (and exit 0)
  expect(got.received).not.toMatch(/authorization/i);
  expect(got.received).toBe('');
  for (const r of runs) {
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(
      new RegExp(
        `refusing the daemon at http://127\\.0\\.0\\.1:${port}: 127\\.0\\.0\\.1:${port}: the socket that answered belongs to uid 65534, not root.*not the token either`,
      ),
    );
  }
  // and with the daemon back, the same commands work
  expect(cli(dir, ['query', '--server', `http://127.0.0.1:${back.port}`]).code).toBe(0);
});

const ipv6 = spawnSync('ip', ['-6', 'addr', 'show', 'lo'], { encoding: 'utf8' }).stdout.includes('::1/128');
const unshare = spawnSync('unshare', ['--mount', '--', 'true']).status === 0;

/**
 * The CLI run where `localhost` resolves to ::1 first (as with "::1 localhost" first in /etc/hosts): a private
 * mount namespace with its own /etc/hosts, gone when the command exits.
 */
function cliLocalhostV6First(dir: string, args: string[]) {
  const hosts = path.join(files, 'hosts');
  fs.writeFileSync(hosts, '::1 localhost\n127.0.0.1 localhost\n');
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$0" /etc/hosts && exec "$@"',
      hosts,
      process.execPath,
      BIN,
      ...args,
    ],
    { encoding: 'utf8', env: { ...process.env, CHAOSMETAD_DATA_DIR: dir }, timeout: 60_000 },
  );
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

(ipv6 && unshare ? test : test.skip)(
  '(b) localhost: a squatter on ::1 beside the daemon on 127.0.0.1 receives nothing; alone, it is refused',
  async () => {
    const dir = dataDir();
    const d = await startDaemon(dir);
    const server = `http://localhost:${d.port}`;
    const sq = await squat({ host: '::1', port: d.port });
    const q = cliLocalhostV6First(dir, ['query', '--format', 'json', '--server', server]);
    const inj = cliLocalhostV6First(dir, [
      'inject',
      'file',
      'add',
      '-p',
      path.join(files, 'via-localhost'),
      '-c',
      'x',
      '--uid',
      'localhost-1',
      '--server',
      server,
    ]);
    const rec = cliLocalhostV6First(dir, ['recover', 'localhost-1', '--server', server]);
    await stopDaemons();
    // and while the daemon is down, only the squatter answers on localhost
    const down = cliLocalhostV6First(dir, ['query', '--server', server]);
    const got = await sq.stop();
    const back = await startDaemon(dir);
    useStolen(got.received, back.port);
    // the code before this change: the CLI resolved localhost to ::1 and sent the squatter the token every time
    expect(got.received).not.toMatch(/authorization/i);
    expect(got.received).toBe('');
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout).total).toBe(0); // the real daemon's answer
    expect(inj.stdout).toMatch(/uid: localhost-1/);
    expect(rec.code).toBe(0);
    expect(fs.existsSync(path.join(files, 'via-localhost'))).toBe(false);
    expect(down.code).toBe(4);
    expect(down.stderr).toMatch(
      new RegExp(`refusing the daemon at http://localhost:${d.port}: \\[::1\\]:${d.port}: .*uid 65534, not root`),
    );
  },
);

test('(a2) a Unix socket path in a directory nobody owns: nobody binds it, receives nothing', async () => {
  const dir = dataDir();
  const theirs = path.join(files, 'nobody-dir');
  fs.mkdirSync(theirs, { mode: 0o755 });
  fs.chownSync(theirs, 65534, 65534);
  const sock = path.join(theirs, 'chaosmetad.sock');
  const sq = await squat({ path: sock });
  expect(fs.statSync(sock).uid).toBe(65534);
  // the data dir holds a token, as after any start of its daemon
  fs.writeFileSync(path.join(dir, 'token'), 'the-root-token-0123456789\n', { mode: 0o600 });
  const r = cli(dir, ['query', '--server', `unix:${sock}`]);
  const got = await sq.stop();
  // the code before this change: "authorization: Bearer the-root-token-0123456789", exit 0
  expect(got.received).toBe('');
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(/refusing the daemon at .*nobody-dir\/chaosmetad.sock: the socket .* belongs to uid 65534/);
});

test('(c) the read-only token may look (query, check, schedules, metrics), never act (403)', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  const roFile = path.join(dir, 'token-ro');
  const st = fs.statSync(roFile);
  expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
  const ro = fs.readFileSync(roFile, 'utf8').trim();
  expect(ro.length).toBeGreaterThanOrEqual(32);
  expect(ro).not.toBe(fs.readFileSync(path.join(dir, 'token'), 'utf8').trim());
  expect(d.logs()).toMatch(/"event":"token-created","file":"[^"]*token-ro"/);
  const bearer = { 'Content-Type': 'application/json', Authorization: `Bearer ${ro}` };
  // a holder of the read-only token (here: nobody) tries to act
  const acts: [string, unknown][] = [
    [
      '/v1/experiment/inject',
      {
        target: 'file',
        fault: 'add',
        args: JSON.stringify({ path: canary, content: 'owned by nobody', force: true }),
      },
    ],
    ['/v1/experiment/recover', { all: true }],
    ['/v1/experiment/renew', { uid: 'x' }],
    ['/v1/schedule/remove', { id: 's-1' }],
  ];
  for (const [route, body] of acts) {
    const r = nobodyHttp({ port: d.port }, 'POST', route, body, bearer);
    expect([route, r.status]).toEqual([route, 403]);
    expect(r.json.message).toMatch(
      new RegExp(`read-only token may query, check, list schedules and read /metrics; POST ${route} needs the full`),
    );
  }
  // ... and may look
  const get = (p: string) => nobodyHttp({ port: d.port }, 'GET', p, undefined, { Authorization: `Bearer ${ro}` });
  expect(get('/metrics').status).toBe(200);
  expect(get('/v1/version').status).toBe(200);
  const q = nobodyHttp({ port: d.port }, 'POST', '/v1/experiment/query', {}, bearer);
  expect([q.status, q.json.code, q.json.data.total]).toEqual([200, 0, 0]);
  expect(nobodyHttp({ port: d.port }, 'POST', '/v1/schedule/query', {}, bearer).json.code).toBe(0);
  expect(nobodyHttp({ port: d.port }, 'POST', '/v1/experiment/check', { uid: 'none' }, bearer).status).toBe(200);
  // the CLI with it: query yes, inject no (exit 1, the daemon's reason)
  const server = `http://127.0.0.1:${d.port}`;
  expect(cli(dir, ['query', '--server', server, '--token-file', roFile]).code).toBe(0);
  const inj = cli(dir, [
    'inject',
    'file',
    'add',
    '-p',
    canary,
    '-c',
    'x',
    '-f',
    '--server',
    server,
    '--token-file',
    roFile,
  ]);
  expect(inj.code).toBe(1);
  expect(inj.stderr).toMatch(/read-only token .* needs the full token/);
  // --read-only-token-file gives one's own; the same as the full token is refused
  await stopDaemons();
  const own = path.join(dir, 'own-ro');
  fs.writeFileSync(own, 'my-read-only-token-1\n', { mode: 0o600 });
  const d2 = await startDaemon(dir, ['--read-only-token-file', own]);
  expect(
    nobodyHttp(
      { port: d2.port },
      'POST',
      '/v1/experiment/query',
      {},
      { ...bearer, Authorization: 'Bearer my-read-only-token-1' },
    ).json.code,
  ).toBe(0);
  expect(nobodyHttp({ port: d2.port }, 'POST', '/v1/experiment/query', {}, bearer).status).toBe(401);
  await stopDaemons();
  await expect(startDaemon(dir, ['--read-only-token-file', path.join(dir, 'token')])).rejects.toThrow(
    /the read-only token .* is the full token/,
  );
});

test('(d) the root daemon on this host: query, inject, recover over --server (127.0.0.1, localhost, a socket, each token source)', async () => {
  const dir = dataDir();
  const sockDir = path.join(files, 'root-sock');
  fs.mkdirSync(sockDir, { mode: 0o755 });
  const sock = path.join(sockDir, 'd.sock');
  const d = await startDaemon(dir, ['--socket', sock, '-a', '127.0.0.1']);
  const token = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
  const tokenFile = path.join(dir, 'token');
  const cases: [string, string[], Record<string, string>][] = [
    [`http://127.0.0.1:${d.port}`, [], {}],
    [`http://localhost:${d.port}`, [], {}],
    [`unix:${sock}`, [], {}],
    [`http://127.0.0.1:${d.port}`, ['--token-file', tokenFile], {}],
    [`unix:${sock}`, [], { CHAOSMETAD_TOKEN: token }],
  ];
  const other = dataDir(); // a client whose data dir has no token: only the given one is used
  for (const [i, [server, extra, env]] of cases.entries()) {
    const from = Object.keys(env).length || extra.length ? other : dir;
    const f = path.join(files, `normal-${i}`);
    const uid = `normal-${i}`;
    const inj = cli(from, ['inject', 'file', 'add', '-p', f, '-c', 'x', '--uid', uid, '--server', server, ...extra], {
      env,
    });
    expect([server, inj.stdout, inj.stderr]).toEqual([server, expect.stringMatching(`uid: ${uid}`), '']);
    expect(fs.readFileSync(f, 'utf8')).toBe('x');
    const q = cli(from, ['query', '--format', 'json', '-u', uid, '--server', server, ...extra], { env });
    expect(JSON.parse(q.stdout).experiments[0]).toMatchObject({ uid, status: 'success' });
    expect(cli(from, ['recover', uid, '--server', server, ...extra], { env }).code).toBe(0);
    expect(fs.existsSync(f)).toBe(false);
  }
  // the raw API, for the record: the token still works for any client that has it
  expect((await call(d.port, 'POST', '/v1/experiment/query', {})).json.data.total).toBe(cases.length);
});

test("(e) a root listener that is not the data dir's daemon (its pid file names another process) gets no token", async () => {
  const dir = dataDir();
  const d = await startDaemon(dir); // writes daemon.pid
  // another root service on a loopback port (the daemon's own port number, on 127.0.0.2)
  const other = await squat({ host: '127.0.0.2', port: d.port }, true);
  const server = `http://127.0.0.2:${d.port}`;
  const r = cli(dir, ['query', '--server', server]);
  // a token given explicitly names no daemon: the kernel's uid (root) is enough
  const given = cli(dir, ['query', '--server', server, '--token-file', path.join(dir, 'token')]);
  const got = await other.stop();
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(/the listener is not the daemon's \(pid \d+, from its pid file, does not hold it\)/);
  expect(given.code).toBe(0);
  expect(got.connections).toBe(2);
  expect(got.received.match(/authorization: Bearer/gi)?.length).toBe(1); // the second one's
  // and the daemon itself, by its pid file
  expect(cli(dir, ['query', '--server', `http://127.0.0.1:${d.port}`]).code).toBe(0);
});

lastTest(
  'leaves the host as it found it',
  async () => {
    for (const d of dataDirs) cli(d, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
// (after that test: the canary in files is read after each test)
afterAll(() => {
  fs.rmSync(files, { recursive: true, force: true });
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
});
