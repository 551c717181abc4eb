/**
 * The daemon's clock and its operations: deadlines (also of CLI-injected experiments), restart and re-arm,
 * start-up recovery, leases, schedules (fire, no overlap, survive restart), metrics, OpenAPI, TLS, --server.
 * The CLI's own watcher is killed in these tests wherever the daemon must be the one that recovers.
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  cli,
  hostSettles,
  hostState,
  killAndWait,
  lastTest,
  queryJson,
  sleep,
  startContinuer,
  taggedPids,
  tmpDir,
  uidOf,
  waitFor,
  watcherPids,
  ROOT,
} from '../helpers';
import { call, startDaemon, stopDaemons } from '../daemon';

jest.setTimeout(120_000);
const files = tmpDir('daemon-files');
let before: string;
const dirs: string[] = [];
const dataDir = () => {
  const d = tmpDir('daemon');
  dirs.push(d);
  return d;
};

beforeAll(() => {
  before = hostState();
});
afterEach(stopDaemons);

/** Poll until pred holds; returns the time (ms epoch) it first held, or null. */
async function whenTrue(pred: () => boolean, timeoutMs: number): Promise<number | null> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (pred()) return Date.now();
    await sleep(20);
  }
  return null;
}

const statusOf = (dir: string, uid: string) => queryJson(dir, ['-u', uid]).experiments[0]?.status;

test('a CLI-injected experiment is recovered by the daemon at its deadline (watcher killed)', async () => {
  const dir = dataDir();
  await startDaemon(dir);
  const f = path.join(files, 'cli-deadline');
  const t0 = Date.now();
  const uid = uidOf(cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'x', '-t', '3s']));
  await killAndWait(watcherPids(uid));
  expect(fs.existsSync(f)).toBe(true);
  const gone = await whenTrue(() => !fs.existsSync(f), 10_000);
  expect(gone).not.toBeNull();
  expect(gone! - t0).toBeGreaterThanOrEqual(3000);
  // inject itself took part of the interval; the deadline is stored absolute
  expect(gone! - (t0 + 3000)).toBeLessThan(1500);
  expect(statusOf(dir, uid)).toBe('destroyed');
});

test('SIGTERM with an experiment live: exit 0, fault left in place; the restarted daemon re-arms it and recovers it ≤ 1 s after its deadline', async () => {
  const dir = dataDir();
  const d1 = await startDaemon(dir);
  const inj = await call(d1.port, 'POST', '/v1/experiment/inject', {
    target: 'cpu',
    fault: 'burn',
    args: '{"percent":30,"list":"1"}',
    timeout: '6s',
    uid: 'rearm-burn-1',
  });
  expect(inj.json.code).toBe(0);
  const deadline = Date.now() + 6000;
  await killAndWait(watcherPids('rearm-burn-1'));
  const helpers = taggedPids('rearm-burn-1');
  expect(helpers.length).toBe(1);
  expect(await d1.stop('SIGTERM')).toBe(0);
  expect(d1.logs()).toMatch(/"event":"stopped"/);
  // left as it was
  expect(taggedPids('rearm-burn-1')).toEqual(helpers);
  expect(statusOf(dir, 'rearm-burn-1')).toBe('success');
  const d2 = await startDaemon(dir);
  expect(await waitFor(() => /"event":"rearm","uid":"rearm-burn-1","effect":"in-place"/.test(d2.logs()), 3000)).toBe(
    true,
  );
  const gone = await whenTrue(() => taggedPids('rearm-burn-1').length === 0, 12_000);
  expect(gone).not.toBeNull();
  expect(gone! - deadline).toBeLessThanOrEqual(1000);
  expect(gone! - deadline).toBeGreaterThan(-300);
  expect(statusOf(dir, 'rearm-burn-1')).toBe('destroyed');
});

test('an experiment whose deadline passed while the daemon was down is recovered at start', async () => {
  const dir = dataDir();
  const f = path.join(files, 'while-down');
  const uid = uidOf(cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'down', '-t', '1s']));
  await killAndWait(watcherPids(uid));
  await sleep(1500);
  expect(fs.existsSync(f)).toBe(true); // nobody recovered it
  const d = await startDaemon(dir);
  const started = Date.now();
  expect(await whenTrue(() => !fs.existsSync(f), 5000)).not.toBeNull();
  expect(Date.now() - started).toBeLessThan(1500);
  expect(
    await waitFor(
      () => new RegExp(`"event":"recovered","uid":"${uid}","reason":"expired-at-start"`).test(d.logs()),
      3000,
    ),
  ).toBe(true);
});

test('a live experiment whose helpers vanished (reboot) is recovered at start and query says so', async () => {
  const dir = dataDir();
  const uid = uidOf(cli(dir, ['inject', 'cpu', 'load', '-c', '1']));
  await killAndWait(taggedPids(uid));
  expect(cli(dir, ['check', uid]).stdout).toMatch(/effect: gone/);
  const d = await startDaemon(dir);
  expect(await waitFor(() => /"reason":"effect-gone-at-start"/.test(d.logs()), 5000)).toBe(true);
  expect(statusOf(dir, uid)).toBe('destroyed');
  expect(queryJson(dir, ['-u', uid]).experiments[0].error).toMatch(/gone when the daemon started/);
});

test('lease: renewed it stays; not renewed it is recovered by the daemon ≤ 1 s after the lease runs out', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  const f = path.join(files, 'leased');
  const inj = await call(d.port, 'POST', '/v1/experiment/inject', {
    target: 'file',
    fault: 'add',
    args: JSON.stringify({ path: f, content: 'lease' }),
    // 3 s: a renew through the CLI (node + checkout start-up) took over the 0.8 s a 2 s lease left it on a loaded CI
    lease: '3s',
    uid: 'lease-file-1',
  });
  expect(inj.json.code).toBe(0);
  await killAndWait(watcherPids('lease-file-1'));
  for (let i = 0; i < 3; i++) {
    await sleep(1200);
    if (i % 2) expect(cli(dir, ['renew', 'lease-file-1']).stdout).toMatch(/renew lease-file-1 success/);
    else expect((await call(d.port, 'POST', '/v1/experiment/renew', { uid: 'lease-file-1' })).json.code).toBe(0);
  }
  const lastRenew = Date.now();
  expect(fs.existsSync(f)).toBe(true); // 3.6 s after inject, past the 3 s lease: renewals kept it
  const gone = await whenTrue(() => !fs.existsSync(f), 7000);
  expect(gone).not.toBeNull();
  expect(gone! - lastRenew).toBeGreaterThanOrEqual(2900);
  expect(gone! - (lastRenew + 3000)).toBeLessThanOrEqual(1000);
  expect(await waitFor(() => /"event":"recovered","uid":"lease-file-1","reason":"lease"/.test(d.logs()), 3000)).toBe(
    true,
  );
  expect(cli(dir, ['renew', 'lease-file-1']).code).toBe(1);
});

test('lease without a daemon: the CLI watcher recovers when renewals stop', async () => {
  const dir = dataDir();
  const f = path.join(files, 'leased-cli');
  const uid = uidOf(cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'x', '--lease', '2s']));
  await sleep(1200);
  expect(cli(dir, ['renew', uid, '--lease', '3s']).code).toBe(0);
  await sleep(2300);
  expect(fs.existsSync(f)).toBe(true);
  expect(await whenTrue(() => !fs.existsSync(f), 4000)).not.toBeNull();
  expect(cli(dir, ['inject', 'file', 'add', '-p', f, '--lease', '0.5s']).stderr).toMatch(/--lease must be at least 1s/);
});

test('a schedule fires, never overlaps its own live run, and survives a restart; removed, it stops', async () => {
  const dir = dataDir();
  const f = path.join(files, 'scheduled');
  // every 2 s, each run lasting 3 s: every other firing would overlap and must be skipped
  const reg = cli(dir, [
    'inject',
    'file',
    'add',
    '-p',
    f,
    '-c',
    'sched',
    '--schedule',
    '*/2 * * * * *',
    '--duration',
    '3s',
  ]);
  expect(reg.code).toBe(0);
  expect(reg.stderr).toMatch(/no chaosmetad server runs/);
  const id = /schedule (s-[a-z0-9]{8}) registered/.exec(reg.stdout)![1];
  let d = await startDaemon(dir);
  expect(await whenTrue(() => fs.existsSync(f), 5000)).not.toBeNull();
  await sleep(6500);
  let s = JSON.parse(cli(dir, ['query', '--schedules', '--json']).stdout).schedules[0];
  expect(s.id).toBe(id);
  expect(s.runs).toBeGreaterThanOrEqual(2);
  expect(s.skips).toBeGreaterThanOrEqual(1);
  expect(d.logs()).toMatch(/"event":"schedule-skip".*still live/);
  // never two runs live at once: the runs' intervals do not intersect
  const runs = queryJson(dir).experiments.filter((e) => e.uid.startsWith(id));
  const live = runs.filter((e) => e.status === 'success' || e.status === 'created');
  expect(live.length).toBeLessThanOrEqual(1);
  expect(await d.stop()).toBe(0);
  const runsBefore = s.runs;
  d = await startDaemon(dir);
  await sleep(5000);
  s = JSON.parse(cli(dir, ['schedule', 'list', '--json']).stdout).schedules[0];
  expect(s.runs).toBeGreaterThan(runsBefore);
  expect(cli(dir, ['schedule', 'remove', id]).code).toBe(0);
  const after = JSON.parse(cli(dir, ['query', '--limit', '0', '--format', 'json']).stdout).total;
  await sleep(4500);
  expect(JSON.parse(cli(dir, ['query', '--limit', '0', '--format', 'json']).stdout).total).toBe(after);
  expect(await whenTrue(() => !fs.existsSync(f), 4000)).not.toBeNull();
  expect(cli(dir, ['schedule', 'remove', id]).code).toBe(1);
  // bad schedules: code 1, nothing stored
  expect(cli(dir, ['inject', 'file', 'add', '-p', f, '--schedule', '61 * * * *', '--duration', '1m']).stderr).toMatch(
    /--schedule .*61/,
  );
  expect(cli(dir, ['inject', 'file', 'add', '-p', f, '--schedule', '* * * * *']).stderr).toMatch(
    /--duration is required/,
  );
  expect(JSON.parse(cli(dir, ['query', '--schedules', '--json']).stdout).total).toBe(0);
});

test('metrics count what happened; the OpenAPI document is served as in the repo', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  const f = path.join(files, 'metrics');
  expect(
    (
      await call(d.port, 'POST', '/v1/experiment/inject', {
        target: 'file',
        fault: 'add',
        args: JSON.stringify({ path: f }),
        uid: 'metric-1',
      })
    ).json.code,
  ).toBe(0);
  expect(
    (await call(d.port, 'POST', '/v1/experiment/inject', { target: 'cpu', fault: 'burn', args: '{"percent":0}' })).json
      .code,
  ).toBe(1);
  expect((await call(d.port, 'POST', '/v1/experiment/recover', { uid: 'metric-1' })).json.code).toBe(0);
  const m = await call(d.port, 'GET', '/metrics');
  expect(m.status).toBe(200);
  expect(m.text).toContain('chaosmetad_experiments{status="destroyed",target="file"} 1');
  expect(m.text).toContain('chaosmetad_injects_total{target="file",fault="add",result="ok"} 1');
  expect(m.text).toContain('chaosmetad_recovers_total{reason="api",result="ok"} 1');
  expect(m.text).toContain('chaosmetad_http_requests_total{route="/v1/experiment/inject",code="1"} 1');
  expect(m.text).toMatch(/chaosmetad_http_request_duration_seconds_count\{route="\/v1\/experiment\/inject"\} 2/);
  const doc = await call(d.port, 'GET', '/openapi.json');
  expect(doc.json).toEqual(JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'server', 'openapi.json'), 'utf8')));
  // no debug or profiling endpoints
  for (const p of ['/debug/pprof/', '/debug', '/v1/debug']) expect((await call(d.port, 'GET', p)).json.code).toBe(1);
});

test('TLS with --cert/--key; --server client mode with a token', async () => {
  const dir = dataDir();
  const key = path.join(dir, 'tls.key');
  const crt = path.join(dir, 'tls.crt');
  const ssl = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { encoding: 'utf8' },
  );
  if (ssl.status !== 0) throw new Error(`openssl failed (.ci/run installs it): ${ssl.stderr}`);
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, 'client-mode-token\n', { mode: 0o600 });
  const d = await startDaemon(dir, ['--cert', crt, '--key', key, '--token-file', tokenFile]);
  expect(
    (await call(d.port, 'GET', '/v1/version', undefined, { authorization: 'Bearer client-mode-token' }, true)).json
      .code,
  ).toBe(0);
  await expect(call(d.port, 'GET', '/v1/version')).rejects.toThrow(); // plain HTTP to a TLS port
  const server = `https://127.0.0.1:${d.port}`;
  const env = { NODE_EXTRA_CA_CERTS: crt };
  const other = dataDir(); // the client's own store stays untouched
  const f = path.join(files, 'remote');
  const inj = cli(
    other,
    [
      'inject',
      'file',
      'add',
      '-p',
      f,
      '-c',
      'remote',
      '--uid',
      'remote-1',
      '--server',
      server,
      '--token-file',
      tokenFile,
    ],
    { env },
  );
  expect(inj.stdout).toMatch(/\[success\] inject file add success, uid: remote-1/);
  expect(fs.readFileSync(f, 'utf8')).toBe('remote');
  expect(queryJson(other).total).toBe(0);
  expect(cli(other, ['query', '--server', server, '--token-file', tokenFile], { env }).stdout).toMatch(
    /remote-1\s+file\s+add\s+success/,
  );
  const q = JSON.parse(
    cli(other, ['query', '--format', 'json', '--server', server], {
      env: { ...env, CHAOSMETAD_TOKEN: 'client-mode-token' },
    }).stdout,
  );
  expect(q.experiments[0]).toMatchObject({ uid: 'remote-1', status: 'success' });
  const wrong = cli(other, ['recover', 'remote-1', '--server', server], {
    env: { ...env, CHAOSMETAD_TOKEN: 'not-the-token' },
  });
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/refused the token/);
  const bad = cli(other, ['inject', 'cpu', 'burn', '-p', '200', '--server', server, '--token-file', tokenFile], {
    env,
  });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/--percent must be an integer in 1\.\.100/);
  expect(cli(other, ['recover', 'remote-1', '--server', server, '--token-file', tokenFile], { env }).code).toBe(0);
  expect(fs.existsSync(f)).toBe(false);
  expect(cli(other, ['query', '--server', 'http://127.0.0.1:1']).stderr).toMatch(/cannot reach the daemon/);
});

test('one daemon per data dir, decided atomically: of five started at once exactly one serves', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  await expect(startDaemon(dir)).rejects.toThrow(/another chaosmetad server \(pid \d+\) already serves/);
  expect(await d.stop()).toBe(0);
  await (await startDaemon(dir)).stop();
  // a race: five at the same moment on a fresh store
  const race = dataDir();
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => startDaemon(race)));
  const won = results.filter((r) => r.status === 'fulfilled');
  expect(won.length).toBe(1);
  for (const r of results)
    if (r.status === 'rejected')
      expect(String(r.reason)).toMatch(/another chaosmetad server \(pid \d+\) already serves/);
  await stopDaemons();
  // a daemon killed with SIGKILL leaves its claim: the next one takes the store over
  const k = await startDaemon(race);
  k.proc.kill('SIGKILL');
  await k.exited;
  await (await startDaemon(race)).stop();
});

test('SIGTERM finishes the request in flight, then exits 0', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  // an inject that takes ~2 s: a stop that something keeps undoing (the fault then fails its check, exit 3)
  const victim = spawn('sleep', ['3610'], { stdio: 'ignore' });
  const continuer = await startContinuer(victim.pid!);
  try {
    const pending = call(d.port, 'POST', '/v1/experiment/inject', {
      target: 'process',
      fault: 'stop',
      args: JSON.stringify({ pid: victim.pid }),
      uid: 'inflight-1',
    });
    await sleep(700);
    d.proc.kill('SIGTERM');
    const r = await pending;
    expect(r.json).toMatchObject({ code: 3 });
    expect(r.json.message).toMatch(/not in place right after inject/);
    expect(await d.exited).toBe(0); // one SIGTERM: it finished the request, then exited by itself
    expect(d.logs()).toMatch(
      /"event":"stopping".*\n.*"path":"\/v1\/experiment\/inject".*"code":3[\s\S]*"event":"stopped"/,
    );
  } finally {
    continuer.kill('SIGKILL');
    victim.kill('SIGKILL');
  }
});

lastTest(
  'leaves the host as it found it',
  async () => {
    for (const d of dirs) cli(d, ['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
