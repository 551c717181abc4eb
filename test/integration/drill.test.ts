/**
 * Drills end to end through the real CLI: a failing steady state injects nothing (exit 10); an abort guard that
 * holds recovers every fault within 2 s (exit 14); Ctrl-C recovers everything and still writes the report; a runner
 * killed with -9 leaves nothing behind once its faults' lease is out (+2 s); `recover <drill-id>` recovers a dead
 * drill's faults; `drill abort` stops a running drill from another shell; the parts are `query --parent-uid`'s.
 * The faults are file adds (their effect read from the file itself) and a cpu burn (its helper process).
 *
 * @lane quiet (measures no CPU, rate or latency: the probes are commands reading files)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, cli, hostSettles, hostState, lastTest, queryJson, sleep, taggedPids, tmpDir, waitFor } from '../helpers';

jest.setTimeout(120_000);
const dir = tmpDir('drill');
const area = tmpDir('drill-area');
const files = tmpDir('drill-files');

const before = hostState();

function drillFile(name: string, text: string): string {
  const p = path.join(files, `${name}.yaml`);
  fs.writeFileSync(p, text);
  return p;
}

/** A drill: a probe that holds while FLAG is absent, lanes given. */
const flagDrill = (o: {
  name: string;
  flag: string;
  lanes: string;
  abort?: string;
  lease?: string;
  extra?: string;
}) => `
name: ${o.name}
interval: 250ms
probes:
  - name: clear
    command: { argv: [sh, -c, 'test ! -e ${o.flag}'] }
steady_state: { samples: 2, timeout: 10s }
faults:
  lease: ${o.lease ?? '15s'}
  lanes:
${o.lanes}
${o.abort ?? ''}
${o.extra ?? ''}
`;

const lastDrill = () => {
  const r = cli(dir, ['drill', 'list', '--json']);
  return (JSON.parse(r.stdout) as { drills: Array<{ id: string; status: string }> }).drills[0];
};
const shown = (id: string) => JSON.parse(cli(dir, ['drill', 'show', id, '--json']).stdout) as Record<string, any>;
const parts = (id: string) => queryJson(dir, ['--parent-uid', id]).experiments;

test('validate: every problem with its line, column and path; exit 1', () => {
  const f = drillFile(
    'bad',
    `name: bad
probes:
  - name: p
    tcp: { host: x }
faults:
  lanes:
    - name: a
      steps:
        - inject: { target: cpu, fault: burn, args: { percent: 500 }, duration: 10s }
        - wait: soon
`,
  );
  const r = cli(dir, ['drill', 'validate', f]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`${f}:4:10: probes[0].tcp.port`);
  expect(r.stderr).toMatch(
    new RegExp(`${f}:9:\\d+: faults.lanes\\[0\\].steps\\[0\\].inject.args: --percent must be an integer in 1..100`),
  );
  expect(r.stderr).toMatch(new RegExp(`${f}:10:\\d+: faults.lanes\\[0\\].steps\\[1\\]: a step is`));
  // run refuses it the same way, storing nothing
  expect(cli(dir, ['drill', 'run', f]).code).toBe(1);
  expect(cli(dir, ['drill', 'list', '--json']).stdout).toBe('{"drills":[]}\n');
});

test('dry run: the plan with every exact inject; nothing changes, nothing stored', () => {
  const target = path.join(area, 'dry.txt');
  const f = drillFile(
    'dry',
    flagDrill({
      name: 'dry',
      flag: path.join(area, 'never'),
      lanes: `    - name: one
      steps:
        - inject: { target: file, fault: add, args: { path: ${target}, content: x }, duration: 5s }`,
    }),
  );
  const r = cli(dir, ['drill', 'run', f, '--dry-run']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`chaosmetad inject file add --path=${target} --content=x`);
  expect(r.stdout).toContain(`write 1 bytes to ${target}`);
  expect(fs.existsSync(target)).toBe(false);
  expect(queryJson(dir).total).toBe(0);
});

test('a failing steady state injects nothing: exit 10, status not-steady', () => {
  const flag = path.join(area, 'flag-ns');
  fs.writeFileSync(flag, '');
  const target = path.join(area, 'ns.txt');
  const f = drillFile(
    'ns',
    flagDrill({
      name: 'not-steady',
      flag,
      lanes: `    - name: one
      steps:
        - inject: { target: file, fault: add, args: { path: ${target}, content: x }, duration: 5s }`,
    }).replace('timeout: 10s', 'timeout: 2s'),
  );
  const r = cli(dir, ['drill', 'run', f]);
  expect(r.code).toBe(10);
  expect(r.stdout).toMatch(/not-steady/);
  expect(fs.existsSync(target)).toBe(false);
  const d = lastDrill();
  expect(d.status).toBe('not-steady');
  expect(parts(d.id)).toHaveLength(0);
  fs.rmSync(flag);
});

test('an abort guard that holds recovers every fault within 2 s: exit 14, aborted', () => {
  const flag = path.join(area, 'flag-abort');
  const slow = path.join(area, 'slow.txt');
  const f = drillFile(
    'abort',
    flagDrill({
      name: 'guarded',
      flag,
      lanes: `    - name: burn
      steps:
        - inject: { target: cpu, fault: burn, args: { percent: 20, count: 1 }, duration: 60s }
    - name: trip
      steps:
        - wait: 1s
        - inject: { target: file, fault: add, args: { path: ${flag}, content: x }, duration: 60s }
    - name: slow
      steps:
        - inject: { target: file, fault: add, args: { path: ${slow}, content: y }, duration: 60s }`,
      abort: `abort:
  - { probe: clear, ok: false }`,
    }),
  );
  const t0 = Date.now();
  const r = cli(dir, ['drill', 'run', f, '--json']);
  expect(r.code).toBe(14);
  expect(Date.now() - t0).toBeLessThan(30_000);
  const res = JSON.parse(r.stdout) as Record<string, any>;
  expect(res.status).toBe('aborted');
  const abortAt = Date.parse(res.points.abort as string);
  expect(res.faults).toHaveLength(3);
  for (const w of res.faults as Array<{ end: string; state: string }>) {
    expect(w.state).toBe('recovered');
    expect(Date.parse(w.end) - abortAt).toBeLessThan(2000);
  }
  expect(fs.existsSync(flag)).toBe(false);
  expect(fs.existsSync(slow)).toBe(false);
  const id = res.id as string;
  expect(taggedPids(`${id}-1-1`)).toEqual([]);
  expect(parts(id).map((e) => e.status)).toEqual(['destroyed', 'destroyed', 'destroyed']);
});

/** Start `drill run` in the background; resolves its exit code and output. */
function background(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, out })),
  );
  return { child, done, output: () => out };
}

const injected = (target: string) => waitFor(() => fs.existsSync(target), 20_000);

test('Ctrl-C: every fault recovered, the report written with status aborted (exit 14)', async () => {
  const target = path.join(area, 'int.txt');
  const out = tmpDir('drill-out');
  const f = drillFile(
    'int',
    flagDrill({
      name: 'interrupted',
      flag: path.join(area, 'never'),
      lanes: `    - name: one
      steps:
        - inject: { target: file, fault: add, args: { path: ${target}, content: x }, duration: 60s }`,
    }),
  );
  const run = background(['drill', 'run', f, '--out', out, '--plain']);
  expect(await injected(target)).toBe(true);
  run.child.kill('SIGINT');
  const r = await run.done;
  expect(r.code).toBe(14);
  expect(fs.existsSync(target)).toBe(false);
  const result = JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')) as Record<string, any>;
  expect(result.status).toBe('aborted');
  for (const name of ['report.html', 'report.md', 'junit.xml']) expect(fs.existsSync(path.join(out, name))).toBe(true);
  fs.rmSync(out, { recursive: true, force: true });
});

test('kill -9 of the runner: every fault recovered within its lease + 2 s', async () => {
  const target = path.join(area, 'k9.txt');
  const f = drillFile(
    'k9',
    flagDrill({
      name: 'killed',
      flag: path.join(area, 'never'),
      lease: '4s',
      lanes: `    - name: one
      steps:
        - inject: { target: file, fault: add, args: { path: ${target}, content: x }, duration: 120s }
    - name: two
      steps:
        - inject: { target: cpu, fault: burn, args: { percent: 10, count: 1 }, duration: 120s }`,
    }),
  );
  const run = background(['drill', 'run', f, '--plain']);
  expect(await injected(target)).toBe(true);
  const id = lastDrill().id;
  expect(await waitFor(() => parts(id).length === 2, 10_000)).toBe(true);
  await sleep(3000); // renewed at least once
  run.child.kill('SIGKILL');
  const killedAt = Date.now();
  await run.done;
  expect(await waitFor(() => !fs.existsSync(target) && parts(id).every((e) => e.status === 'destroyed'), 10_000)).toBe(
    true,
  );
  expect(Date.now() - killedAt).toBeLessThan(4000 + 2000);
  expect(taggedPids(`${id}-2-1`)).toEqual([]);
  expect(lastDrill().status).toBe('interrupted');
});

test('recover <drill-id> recovers the faults of a drill whose runner is gone', async () => {
  const target = path.join(area, 'rec.txt');
  const f = drillFile(
    'rec',
    flagDrill({
      name: 'orphan',
      flag: path.join(area, 'never'),
      lease: '60s',
      lanes: `    - name: one
      steps:
        - inject: { target: file, fault: add, args: { path: ${target}, content: x }, duration: 120s }`,
    }),
  );
  const run = background(['drill', 'run', f, '--plain']);
  expect(await injected(target)).toBe(true);
  run.child.kill('SIGKILL');
  await run.done;
  const id = lastDrill().id;
  expect(fs.existsSync(target)).toBe(true);
  const r = cli(dir, ['recover', id]);
  expect(r.code).toBe(0);
  expect(fs.existsSync(target)).toBe(false);
  expect(parts(id).map((e) => e.status)).toEqual(['destroyed']);
});

test('drill abort from another shell: the runner recovers everything and ends aborted', async () => {
  const target = path.join(area, 'ab.txt');
  const f = drillFile(
    'ab',
    flagDrill({
      name: 'abort-me',
      flag: path.join(area, 'never'),
      lanes: `    - name: one
      steps:
        - inject: { target: file, fault: add, args: { path: ${target}, content: x }, duration: 120s }`,
    }),
  );
  const run = background(['drill', 'run', f, '--plain']);
  expect(await injected(target)).toBe(true);
  const id = lastDrill().id;
  const a = cli(dir, ['drill', 'abort', id]);
  expect(a.code).toBe(0);
  expect(a.stdout).toContain('aborted');
  const r = await run.done;
  expect(r.code).toBe(14);
  expect(fs.existsSync(target)).toBe(false);
  expect(shown(id).status).toBe('aborted');
});

lastTest(
  'leaves the host as it found it',
  () => {
    cli(dir, ['recover', '--all']);
    fs.rmSync(area, { recursive: true, force: true });
    fs.rmSync(files, { recursive: true, force: true });
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
