/**
 * Drills through the daemon (`--server`): `drill run` runs in the daemon and the CLI follows it (events, verdict,
 * exit code); `drill list` and `query --parent-uid` read it there; `drill abort` and Ctrl-C of the client abort it
 * with every fault recovered; a drill schedule of 6 cron fields fires every 2 s and keeps each result; the daemon
 * stopped during a drill aborts it and recovers its faults before it exits. The probe is an HTTP probe of a server
 * in this process (no root command: no --allow-recover-cmd needed); the faults are file adds.
 *
 * @lane quiet (measures no CPU, rate or latency: HTTP probes of a local server, file adds)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { BIN, queryJson, sleep, tmpDir, waitFor } from '../helpers';
import { call, startDaemon, stopDaemons, type Daemon } from '../daemon';

jest.setTimeout(120_000);
const dir = tmpDir('drill-daemon');
const area = tmpDir('drill-daemon-area');
// the drill files: root's, in root's directories (a schedule reads them with the daemon's trusted read)
const files = tmpDir('drill-daemon-files');
let web: http.Server;
let webUrl = '';
let d: Daemon;
let server = '';

beforeAll(async () => {
  web = http.createServer((_q, s) => s.end('ok'));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webUrl = `http://127.0.0.1:${(web.address() as { port: number }).port}/`;
  d = await startDaemon(dir);
  server = `http://127.0.0.1:${d.port}`;
});

afterAll(async () => {
  await stopDaemons();
  await run(['recover', '--all']);
  await new Promise((r) => web.close(r));
  for (const p of [area, files, dir]) fs.rmSync(p, { recursive: true, force: true });
});

/** The CLI, asynchronously (the probed server lives in this process). */
function background(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stdout: () => stdout };
}
const run = (args: string[]) => background(args).done;
const viaServer = (args: string[]) => run([...args, '--server', server]);

function drillFile(name: string, text: string): string {
  const p = path.join(files, `${name}.yaml`);
  fs.writeFileSync(p, text, { mode: 0o644 });
  return p;
}

/** A drill: the web probe every 250 ms, one lane adding `target` for `hold`. */
const webDrill = (name: string, target: string, hold: string) => `
name: ${name}
interval: 250ms
probes:
  - name: web
    http: { url: "${webUrl}", timeout: 2s }
steady_state: { samples: 2, timeout: 10s }
faults:
  lease: 10s
  lanes:
    - name: one
      steps:
        - inject: { target: file, fault: add, args: { path: ${target}, content: x }, duration: ${hold} }
`;

const drills = async () =>
  (JSON.parse((await viaServer(['drill', 'list', '--json'])).stdout) as { drills: Array<Record<string, string>> })
    .drills;
const parts = (id: string) => queryJson(dir, ['--parent-uid', id]).experiments;

test('drill run --server: the daemon runs it, the CLI follows it to its verdict (exit 0); list and query see it', async () => {
  const target = path.join(area, 'run.txt');
  const f = drillFile('run', webDrill('through-daemon', target, '1s'));
  const r = await viaServer(['drill', 'run', f, '--plain']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // the events as they happened, passed on once each
  expect(r.stdout).toMatch(/drill through-daemon: d-[a-z0-9]{8}/);
  expect(r.stdout.match(/lane one: inject file add/g)).toHaveLength(1);
  expect(r.stdout.match(/lane one: recovered file add/g)).toHaveLength(1);
  expect(r.stdout).toMatch(/passed/);
  expect(fs.existsSync(target)).toBe(false);
  const [last] = await drills();
  expect(last).toMatchObject({ name: 'through-daemon', status: 'passed', source: f });
  const shown = JSON.parse((await viaServer(['drill', 'show', last.id, '--json'])).stdout) as Record<string, any>;
  expect(shown.runner.pid).toBe(d.proc.pid);
  expect(shown.series[0].samples.length).toBeGreaterThanOrEqual(2);
  // its experiments, through the daemon and in the store
  const q = await viaServer(['query', '--parent-uid', last.id, '--format', 'json']);
  expect(JSON.parse(q.stdout).experiments.map((e: { uid: string }) => e.uid)).toEqual([`${last.id}-1-1`]);
  expect(parts(last.id).map((e) => e.status)).toEqual(['destroyed']);
  const metrics = await call(d.port, 'GET', '/metrics');
  expect(metrics.text).toMatch(/chaosmetad_drills_total\{status="passed"\} 1/);
  // a dry run through the daemon: the plan, nothing stored
  const plan = await viaServer(['drill', 'run', f, '--dry-run']);
  expect(plan.code).toBe(0);
  expect(plan.stdout).toContain(`chaosmetad inject file add --path=${target} --content=x`);
  expect(await drills()).toHaveLength(1);
});

test('an invalid drill: the daemon says where (line, column, path), exit 1, nothing stored', async () => {
  const f = drillFile('bad', webDrill('bad', path.join(area, 'bad.txt'), 'soon'));
  // the CLI validates before it sends; the daemon's own answer, straight
  const r = await call(d.port, 'POST', '/v1/drill/run', { drill: fs.readFileSync(f, 'utf8'), source: f });
  expect(r.json.code).toBe(1);
  expect(r.json.message).toContain(`${f}:13:`);
  expect(r.json.message).toContain('faults.lanes[0].steps[0]');
  expect((await viaServer(['drill', 'run', f])).code).toBe(1);
  expect(await drills()).toHaveLength(1);
});

test('drill abort over the server, and Ctrl-C of the client: aborted, every fault recovered (exit 14)', async () => {
  for (const how of ['abort', 'ctrl-c'] as const) {
    const target = path.join(area, `${how}.txt`);
    const f = drillFile(how, webDrill(`stop-${how}`, target, '120s'));
    const client = background(['drill', 'run', f, '--plain', '--server', server]);
    expect(await waitFor(() => fs.existsSync(target), 20_000)).toBe(true);
    const id = /drill stop-\S+: (d-[a-z0-9]{8})/.exec(client.stdout())![1];
    const t0 = Date.now();
    if (how === 'abort') {
      const a = await viaServer(['drill', 'abort', id]);
      expect(a.code).toBe(0);
      expect(a.stdout).toContain(`drill ${id}: aborted`);
    } else client.child.kill('SIGINT');
    const r = await client.done;
    expect(r.code).toBe(14);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(fs.existsSync(target)).toBe(false);
    expect(parts(id).map((e) => e.status)).toEqual(['destroyed']);
    const shown = JSON.parse((await viaServer(['drill', 'show', id, '--json'])).stdout) as Record<string, any>;
    expect(shown.status).toBe('aborted');
    expect(shown.faults[0].state).toBe('recovered');
  }
});

test('a drill schedule of "*/2 * * * * *" fires every 2 s: two results within 6 s, then unscheduled', async () => {
  const target = path.join(area, 'sched.txt');
  const f = drillFile('sched', webDrill('scheduled', target, '300ms'));
  const t0 = Date.now();
  const s = await viaServer(['drill', 'run', f, '--schedule', '*/2 * * * * *', '--json']);
  expect(s.code).toBe(0);
  const id = (JSON.parse(s.stdout) as { id: string }).id;
  const mine = async () => (await drills()).filter((x) => x.schedule_id === id);
  let done: Array<Record<string, string>> = [];
  while (Date.now() - t0 < 6500) {
    done = (await mine()).filter((x) => x.status === 'passed');
    if (done.length >= 2) break;
    await sleep(250);
  }
  expect(done.length).toBeGreaterThanOrEqual(2);
  const u = await viaServer(['drill', 'unschedule', id]);
  expect(u.code).toBe(0);
  const left = JSON.parse((await viaServer(['drill', 'schedules', '--json'])).stdout) as { schedules: unknown[] };
  expect(left.schedules).toEqual([]);
  // the runs it started end; none after
  expect(await waitFor(() => !fs.existsSync(target), 5000)).toBe(true);
  await sleep(2500);
  const after = await mine();
  expect(after.every((x) => x.status === 'passed')).toBe(true);
  expect(after.length).toBeLessThanOrEqual(4);
  for (const x of after) expect(parts(x.id).map((e) => e.status)).toEqual(['destroyed']);
});

test('the daemon stopped (SIGTERM) during a drill: the drill aborted, its faults recovered before it exits', async () => {
  const target = path.join(area, 'stop.txt');
  const f = drillFile('stop', webDrill('daemon-stops', target, '120s'));
  const client = background(['drill', 'run', f, '--plain', '--server', server]);
  expect(await waitFor(() => fs.existsSync(target), 20_000)).toBe(true);
  const id = /drill daemon-stops: (d-[a-z0-9]{8})/.exec(client.stdout())![1];
  expect(await d.stop('SIGTERM')).toBe(0);
  // gone by the time the daemon has exited
  expect(fs.existsSync(target)).toBe(false);
  expect(parts(id).map((e) => e.status)).toEqual(['destroyed']);
  expect(d.logs()).toMatch(/"event":"drills-abort"/);
  // the client read how it ended before the listeners closed
  const r = await client.done;
  expect(r.code).toBe(14);
  expect(r.stdout).toMatch(/the daemon is stopping/);
});
