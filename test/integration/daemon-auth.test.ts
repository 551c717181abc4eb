/**
 * Attacks on the daemon, from a local user (nobody) and from web pages: each one performed, each refused, and a
 * root-owned canary whose bytes and mode must not change. (On the code before this change a default daemon took
 * nobody's text/plain cross-origin inject and ran recover_cmd as root.)
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BIN,
  cli,
  environOf,
  hostSettles,
  hostState,
  lastTest,
  nobodyHttp,
  taggedPids,
  tmpDir,
  waitFor,
  watcherPids,
} from '../helpers';
import { call, startDaemon, stopDaemons } from '../daemon';

jest.setTimeout(60_000);
const files = tmpDir('auth-files');
fs.chmodSync(files, 0o755);
const canary = path.join(files, 'canary');
const pwned = path.join(files, 'pwned');
let before: string;
const dataDirs: string[] = [];
const dataDir = () => {
  const d = tmpDir('auth');
  dataDirs.push(d);
  return d;
};
const canaryState = () => ({
  bytes: fs.readFileSync(canary, 'utf8'),
  mode: fs.statSync(canary).mode & 0o7777,
  uid: fs.statSync(canary).uid,
});

const addPwned = { target: 'file', fault: 'add', args: JSON.stringify({ path: pwned, content: 'owned by root' }) };

beforeAll(() => {
  before = hostState();
  fs.writeFileSync(canary, 'root secret\n', { mode: 0o600 });
});
afterEach(async () => {
  await stopDaemons();
  expect(fs.existsSync(pwned)).toBe(false);
  expect(canaryState()).toEqual({ bytes: 'root secret\n', mode: 0o600, uid: 0 });
});

test("a default daemon: the issue's exact attack by nobody is refused, and so is every tokenless request", async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  // the reported attack: text/plain, cross-origin, no token
  const attack = nobodyHttp({ port: d.port }, 'POST', '/v1/experiment/inject', addPwned, {
    'Content-Type': 'text/plain',
    Origin: 'http://evil.example',
  });
  expect(attack.status).toBe(403);
  expect(attack.json.message).toMatch(/Origin "http:\/\/evil.example"/);
  // the same as a plain local client without the token
  const plain = nobodyHttp({ port: d.port }, 'POST', '/v1/experiment/inject', addPwned, {
    'Content-Type': 'application/json',
  });
  expect(plain.status).toBe(401);
  expect(nobodyHttp({ port: d.port }, 'GET', '/v1/version').status).toBe(401);
  expect(
    nobodyHttp(
      { port: d.port },
      'POST',
      '/v1/experiment/query',
      {},
      { 'Content-Type': 'application/json', Authorization: 'Bearer guessed-token-1' },
    ).status,
  ).toBe(401);
  // the generated token is root's alone
  const tokenFile = path.join(dir, 'token');
  const st = fs.statSync(tokenFile);
  expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
  expect(fs.readFileSync(tokenFile, 'utf8').trim().length).toBeGreaterThanOrEqual(32);
  expect(d.logs()).toMatch(/"event":"token-created"/);
  const steal = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', tokenFile], {
    encoding: 'utf8',
  });
  expect(steal.status).not.toBe(0);
  expect(cli(dir, ['query', '--format', 'json']).stdout).toMatch(/"total":0/);
  // the local root CLI reads the token by itself; the token is reused at the next start
  const token = fs.readFileSync(tokenFile, 'utf8');
  expect(cli(dir, ['query', '--server', `http://127.0.0.1:${d.port}`]).code).toBe(0);
  await stopDaemons();
  const d2 = await startDaemon(dir);
  expect(fs.readFileSync(tokenFile, 'utf8')).toBe(token);
  expect(d2.logs()).not.toMatch(/token-created/);
  // the healthz probe needs no token, but is still behind the Host and Origin checks
  expect(nobodyHttp({ port: d2.port }, 'GET', '/healthz').status).toBe(200);
  expect(nobodyHttp({ port: d2.port }, 'GET', '/healthz', undefined, { Origin: 'http://evil.example' }).status).toBe(
    403,
  );
});

test('a token file other users can read, or a symlink, is refused', async () => {
  const dir = dataDir();
  fs.writeFileSync(path.join(dir, 'token'), 'a-readable-token-1234\n', { mode: 0o644 });
  fs.chmodSync(path.join(dir, 'token'), 0o644);
  await expect(startDaemon(dir)).rejects.toThrow(/mode 644: other users can read or change it/);
  fs.rmSync(path.join(dir, 'token'));
  fs.symlinkSync(canary, path.join(dir, 'token'));
  await expect(startDaemon(dir)).rejects.toThrow(/is a symbolic link/);
  fs.rmSync(path.join(dir, 'token'));
});

test('recover_cmd over HTTP is refused unless the daemon allows it (then it runs, as root)', async () => {
  const dir = dataDir();
  const out = path.join(files, 'recover-cmd-out');
  const victim = spawn('sleep', ['3620'], { stdio: 'ignore' });
  try {
    const d = await startDaemon(dir);
    for (const args of [
      { pid: victim.pid, recover_cmd: `id > ${out}`, recover_shell: true },
      { pid: victim.pid, recoverCmd: `id > ${out}` },
      { pid: victim.pid, 'recover-shell': true },
    ]) {
      const r = await call(d.port, 'POST', '/v1/experiment/inject', {
        target: 'process',
        fault: 'kill',
        args: JSON.stringify(args),
      });
      expect(r.json.code).toBe(1);
      expect(r.json.message).toMatch(
        /recover_cmd \/ recover_shell over HTTP would run a command as root.*--allow-recover-cmd/,
      );
    }
    // a scheduled one too
    const s = await call(d.port, 'POST', '/v1/experiment/inject', {
      target: 'process',
      fault: 'kill',
      args: JSON.stringify({ pid: victim.pid, recover_cmd: 'id' }),
      schedule: '* * * * *',
      duration: '10s',
    });
    expect(s.json.code).toBe(1);
    expect((await call(d.port, 'POST', '/v1/experiment/query', { limit: 0 })).json.data.total).toBe(0);
    expect((await call(d.port, 'POST', '/v1/schedule/query', {})).json.data.schedules).toEqual([]);
    expect(victim.exitCode).toBe(null);
    await stopDaemons();

    const open = await startDaemon(dir, ['--allow-recover-cmd']);
    expect(open.logs()).toMatch(/"level":"warning","event":"allow-recover-cmd"/);
    const r = await call(open.port, 'POST', '/v1/experiment/inject', {
      target: 'process',
      fault: 'kill',
      args: JSON.stringify({ pid: victim.pid, recover_cmd: `id -u > ${out}` }),
      uid: 'allowed-cmd-1',
    });
    expect(r.json.code).toBe(0);
    expect((await call(open.port, 'POST', '/v1/experiment/recover', { uid: 'allowed-cmd-1' })).json.code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe('0\n');
  } finally {
    victim.kill('SIGKILL');
    fs.rmSync(out, { force: true });
  }
});

test('browsers are shut out even with --insecure-no-auth: Origin, Content-Type and Host (DNS rebinding)', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir, ['--insecure-no-auth']);
  expect(d.logs()).toMatch(/"level":"warning","event":"insecure-no-auth"/);
  expect(fs.existsSync(path.join(dir, 'token'))).toBe(false);
  const json = { 'Content-Type': 'application/json' };
  expect(nobodyHttp({ port: d.port }, 'GET', '/v1/version').status).toBe(200);
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
    const r = nobodyHttp(
      { port: d.port },
      'POST',
      '/v1/experiment/inject',
      addPwned,
      type ? { 'Content-Type': type } : {},
    );
    expect(r.status).toBe(415);
    expect(r.json.message).toMatch(/Content-Type: application\/json/);
  }
  expect(
    nobodyHttp({ port: d.port }, 'POST', '/v1/experiment/inject', addPwned, { ...json, Origin: 'http://evil.example' })
      .status,
  ).toBe(403);
  expect(
    nobodyHttp({ port: d.port }, 'POST', '/v1/experiment/inject', addPwned, { ...json, Origin: 'null' }).status,
  ).toBe(403);
  const rebound = nobodyHttp({ port: d.port }, 'POST', '/v1/experiment/inject', addPwned, {
    ...json,
    Host: `evil.example:${d.port}`,
  });
  expect(rebound.status).toBe(403);
  expect(rebound.json.message).toMatch(/DNS-rebinding/);
  expect(
    nobodyHttp({ port: d.port }, 'OPTIONS', '/v1/experiment/inject', undefined, {
      Origin: 'http://evil.example',
      'Access-Control-Request-Method': 'POST',
    }).status,
  ).toBe(403);
  expect(nobodyHttp({ port: d.port }, 'GET', '/v1/version', undefined, { Host: `localhost:${d.port}` }).status).toBe(
    200,
  );
  expect(nobodyHttp({ port: d.port }, 'GET', '/v1/version', undefined, { Host: `[::1]:${d.port}` }).status).toBe(200);
  await stopDaemons();

  const allowed = await startDaemon(dir, [
    '--insecure-no-auth',
    '--allow-origin',
    'http://ui.example:8080',
    '--allow-host',
    'chaos.internal',
  ]);
  expect(
    nobodyHttp({ port: allowed.port }, 'GET', '/v1/version', undefined, { Origin: 'http://ui.example:8080' }).status,
  ).toBe(200);
  expect(
    nobodyHttp({ port: allowed.port }, 'GET', '/v1/version', undefined, { Origin: 'http://ui.example:8081' }).status,
  ).toBe(403);
  expect(
    nobodyHttp({ port: allowed.port }, 'GET', '/v1/version', undefined, { Host: 'chaos.internal:29595' }).status,
  ).toBe(200);
  await stopDaemons();

  const wide = spawnSync(process.execPath, [BIN, 'server', '-a', '0.0.0.0', '-p', '0', '--insecure-no-auth'], {
    encoding: 'utf8',
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dir },
    timeout: 20_000,
  });
  expect(wide.status).toBe(1);
  expect(wide.stderr).toMatch(/--insecure-no-auth is only allowed on loopback/);
});

test('a Unix socket listener: mode 0600 (nobody cannot connect), 0660 with --socket-group; the local CLI uses it', async () => {
  const dir = dataDir();
  const sock = path.join(files, 'chaosmetad.sock');
  const d = await startDaemon(dir, ['--socket', sock, '-a', '127.0.0.1']);
  const st = fs.statSync(sock);
  expect([st.isSocket(), st.mode & 0o777, st.uid]).toEqual([true, 0o600, 0]);
  expect(
    nobodyHttp({ socket: sock }, 'POST', '/v1/experiment/inject', addPwned, { 'Content-Type': 'application/json' })
      .error,
  ).toBe('EACCES');
  const q = cli(dir, ['query', '--format', 'json', '--server', `unix:${sock}`]);
  expect(q.code).toBe(0);
  expect(JSON.parse(q.stdout).total).toBe(0);
  expect((await call(d.port, 'GET', '/v1/version')).status).toBe(200); // the TCP listener too
  await stopDaemons();
  expect(fs.existsSync(sock)).toBe(false);

  await startDaemon(dir, ['--socket', sock, '--socket-group', 'nogroup']);
  const g = fs.statSync(sock);
  expect([g.mode & 0o777, g.gid]).toEqual([0o660, 65534]);
  // the group may connect, and still needs the token
  expect(
    nobodyHttp({ socket: sock }, 'POST', '/v1/experiment/inject', addPwned, { 'Content-Type': 'application/json' })
      .status,
  ).toBe(401);
  const inj = cli(dir, [
    'inject',
    'file',
    'add',
    '-p',
    path.join(files, 'via-socket'),
    '-c',
    'x',
    '--uid',
    'sock-add-1',
    '--server',
    `unix:${sock}`,
  ]);
  expect(inj.stdout).toMatch(/uid: sock-add-1/);
  expect(cli(dir, ['recover', 'sock-add-1', '--server', `unix:${sock}`]).code).toBe(0);
  expect(fs.existsSync(path.join(files, 'via-socket'))).toBe(false);
  await stopDaemons();

  // a socket in a directory another user can write is refused (they could swap it)
  const open = tmpDir('auth-open');
  fs.chmodSync(open, 0o777);
  await expect(startDaemon(dir, ['--socket', path.join(open, 's.sock')])).rejects.toThrow(
    /must be owned by uid 0 and writable by it alone/,
  );
});

test('helpers, watchers and recover commands get a clean environment (no token, no inherited secrets)', async () => {
  const dir = dataDir();
  const secrets = { CHAOSMETAD_TOKEN: 'tok-secret-0123456789', AWS_SECRET_ACCESS_KEY: 'aws-s3cr3t-value' };
  const d = await startDaemon(dir, [], secrets);
  const r = await call(d.port, 'POST', '/v1/experiment/inject', {
    target: 'cpu',
    fault: 'load',
    args: '{"count":1}',
    timeout: '30s',
    uid: 'env-http-1',
  });
  expect(r.json.code).toBe(0);
  const procs = taggedPids('env-http-1');
  expect(procs.length).toBeGreaterThanOrEqual(2); // the helper and the watcher
  expect(watcherPids('env-http-1').length).toBe(1);
  for (const pid of procs) {
    const env = environOf(pid);
    expect(env).toMatch(/^PATH=/m);
    expect(env).not.toMatch(/tok-secret|aws-s3cr3t/);
  }
  expect((await call(d.port, 'POST', '/v1/experiment/recover', { uid: 'env-http-1' })).json.code).toBe(0);

  // from the CLI: the watcher and the recover command
  const out = path.join(files, 'recover-env');
  const victim = spawn('sleep', ['3621'], { stdio: 'ignore' });
  const inj = cli(
    dir,
    ['inject', 'process', 'kill', '-p', String(victim.pid), '-r', `env > ${out}`, '-t', '30s', '--uid', 'env-cli-1'],
    { env: secrets },
  );
  expect(inj.code).toBe(0);
  const w = watcherPids('env-cli-1');
  expect(w.length).toBe(1);
  expect(environOf(w[0])).not.toMatch(/tok-secret|aws-s3cr3t/);
  expect(cli(dir, ['recover', 'env-cli-1'], { env: secrets }).code).toBe(0);
  expect(await waitFor(() => fs.existsSync(out), 3000)).toBe(true);
  const env = fs.readFileSync(out, 'utf8');
  expect(env).toMatch(/^PATH=/m);
  expect(env).not.toMatch(/tok-secret|aws-s3cr3t|CHAOSMETAD_TOKEN/);
  fs.rmSync(out);
});

lastTest(
  'leaves the host as it found it',
  async () => {
    for (const d of dataDirs) cli(d, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
