/**
 * Attacks through the daemon's drills (issue 23 item 6). A drill's command probe (or an inject step's recover_cmd,
 * or a kubeconfig whose exec plugin kubectl runs) is a command run as root: over HTTP such a drill is refused unless
 * the daemon was started with --allow-recover-cmd, and refused means nothing stored and nothing run (the command
 * would have created a file). A drill schedule names a file the daemon reads as root at every run: it must be
 * root's, written by no one else, in directories no one else can write or swap — a file of nobody's, one of mode
 * 0666, one in a directory writable by others, a symlink in nobody's directory: each refused, saying why; and a file
 * made writable by others after it was registered: the daemon's run refuses it (last_error says why, no drill run).
 * The read-only token may read drills, never run one.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, nobodyHttp, sleep, tmpDir, waitFor } from '../helpers';
import { call, startDaemon, stopDaemons } from '../daemon';

jest.setTimeout(60_000);
const area = tmpDir('attack-drill');
fs.chmodSync(area, 0o755);
const dataDirs: string[] = [];
const dataDir = () => {
  const d = tmpDir('attack-drill-data');
  dataDirs.push(d);
  return d;
};

afterEach(stopDaemons);
afterAll(() => {
  for (const d of dataDirs) cli(d, ['recover', '--all']);
  for (const p of [area, ...dataDirs]) fs.rmSync(p, { recursive: true, force: true });
});

/** A drill whose command probe creates `proof` (it would run as root), lasting about a second. */
const commandDrill = (proof: string) => ({
  name: 'rooted',
  interval: '200ms',
  probes: [{ name: 'own', command: { argv: ['touch', proof] } }],
  steady_state: { samples: 1, timeout: '5s' },
  faults: { lanes: [{ name: 'a', steps: [{ wait: '500ms' }] }] },
});

const stored = async (port: number) => (await call(port, 'POST', '/v1/drill/query', {})).json.data.drills as unknown[];

test('a drill with a root command over HTTP: refused without --allow-recover-cmd (nothing stored, nothing run)', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  const proof = path.join(area, 'proof-refused');
  const tries: Array<[string, unknown]> = [
    ['/v1/drill/run', { drill: commandDrill(proof) }],
    ['/v1/drill/plan', { drill: commandDrill(proof) }],
    // as YAML text, too
    [
      '/v1/drill/run',
      {
        drill: `name: rooted\nprobes:\n  - name: own\n    command: { argv: [touch, ${proof}] }\nfaults:\n  lanes:\n    - { name: a, steps: [{ wait: 1s }] }\n`,
      },
    ],
    // recover_cmd of an inject step: the recover_cmd gate, reached through a drill
    [
      '/v1/drill/run',
      {
        drill: {
          name: 'recovercmd',
          faults: {
            lanes: [
              {
                name: 'a',
                steps: [
                  {
                    inject: {
                      target: 'process',
                      fault: 'kill',
                      args: { key: 'no-such-process-xyz', recover_cmd: `touch ${proof}` },
                      duration: '1s',
                    },
                  },
                ],
              },
            ],
          },
        },
      },
    ],
  ];
  for (const [route, body] of tries) {
    const r = await call(d.port, 'POST', route, body);
    expect([route, r.json.code]).toEqual([route, 1]);
    expect(r.json.message).toMatch(/would run commands as root on the daemon's host .*--allow-recover-cmd/);
  }
  const cmd = await call(d.port, 'POST', '/v1/drill/run', { drill: commandDrill(proof) });
  expect(cmd.json.message).toContain(`probe own runs the command "touch ${proof}"`);
  await sleep(1500);
  expect(fs.existsSync(proof)).toBe(false);
  expect(await stored(d.port)).toEqual([]);
  // the CLI through the daemon: the same refusal, exit 1
  const f = path.join(area, 'rooted.json');
  fs.writeFileSync(f, JSON.stringify(commandDrill(proof)));
  const r = cli(dir, ['drill', 'run', f, '--server', `http://127.0.0.1:${d.port}`]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/--allow-recover-cmd/);
  expect(fs.existsSync(proof)).toBe(false);
  expect(await stored(d.port)).toEqual([]);
});

test('with --allow-recover-cmd the command-probe drill is accepted and runs', async () => {
  const d = await startDaemon(dataDir(), ['--allow-recover-cmd']);
  const proof = path.join(area, 'proof-allowed');
  const r = await call(d.port, 'POST', '/v1/drill/run', { drill: commandDrill(proof) });
  expect(r.json.code).toBe(0);
  const id = r.json.data.id as string;
  expect(await waitFor(() => fs.existsSync(proof), 10_000)).toBe(true);
  let status = 'running';
  for (let i = 0; i < 50 && status === 'running'; i++) {
    await sleep(200);
    status = (await call(d.port, 'POST', '/v1/drill/query', { id })).json.data.drill.status as string;
  }
  expect(status).toBe('passed');
  fs.rmSync(proof);
});

test('the read-only token may read drills and drill schedules, never run or abort one (403)', async () => {
  const dir = dataDir();
  const d = await startDaemon(dir);
  const ro = fs.readFileSync(path.join(dir, 'token-ro'), 'utf8').trim();
  const bearer = { 'Content-Type': 'application/json', Authorization: `Bearer ${ro}` };
  const drill = { name: 'w', faults: { lanes: [{ name: 'a', steps: [{ wait: '1s' }] }] } };
  for (const [route, body] of [
    ['/v1/drill/run', { drill }],
    ['/v1/drill/plan', { drill }],
    ['/v1/drill/abort', { id: 'd-00000000' }],
    ['/v1/drill/schedule', { file: '/etc/passwd', cron: '* * * * *' }],
    ['/v1/drill/schedule/remove', { id: 'ds-00000000' }],
  ] as const) {
    const r = nobodyHttp({ port: d.port }, 'POST', route, body, bearer);
    expect([route, r.status]).toEqual([route, 403]);
  }
  expect(nobodyHttp({ port: d.port }, 'POST', '/v1/drill/query', {}, bearer).json).toMatchObject({
    code: 0,
    data: { drills: [] },
  });
  expect(nobodyHttp({ port: d.port }, 'POST', '/v1/drill/schedule/query', {}, bearer).json).toMatchObject({
    code: 0,
    data: { schedules: [] },
  });
  expect(await stored(d.port)).toEqual([]);
});

/** A valid drill file's text (a wait: no host change). */
const WAIT_DRILL = 'name: scheduled\nfaults:\n  lanes:\n    - { name: a, steps: [{ wait: 200ms }] }\n';

test('a drill schedule of a file others could write or swap: refused, saying why; nothing stored', async () => {
  const d = await startDaemon(dataDir());
  const root = path.join(area, 'sched');
  fs.mkdirSync(root, { mode: 0o755 });
  const good = path.join(root, 'good.yaml');
  fs.writeFileSync(good, WAIT_DRILL, { mode: 0o644 });

  const nobodys = path.join(root, 'nobodys.yaml');
  fs.writeFileSync(nobodys, WAIT_DRILL, { mode: 0o644 });
  fs.chownSync(nobodys, 65534, 65534);

  const open = path.join(root, 'open.yaml');
  fs.writeFileSync(open, WAIT_DRILL);
  fs.chmodSync(open, 0o666);

  const shared = path.join(area, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o777); // writable by all, not sticky: anyone may replace the file
  const inShared = path.join(shared, 'drill.yaml');
  fs.writeFileSync(inShared, WAIT_DRILL, { mode: 0o644 });

  const userDir = path.join(area, 'userdir');
  fs.mkdirSync(userDir, { mode: 0o755 });
  fs.chownSync(userDir, 65534, 65534);
  const link = path.join(userDir, 'link.yaml');
  fs.symlinkSync(good, link); // root's file, through a link nobody may point elsewhere

  const cases: Array<[string, RegExp]> = [
    [nobodys, new RegExp(`refused: the drill file ${nobodys} belongs to uid 65534, not root`)],
    [open, new RegExp(`refused: the drill file ${open} is writable by other users \\(mode 666\\)`)],
    [inShared, new RegExp(`refused: the directory ${shared} is writable by other users \\(mode 777\\)`)],
    [link, new RegExp(`refused: the directory ${userDir} belongs to uid 65534, not root`)],
  ];
  for (const [file, why] of cases) {
    const r = await call(d.port, 'POST', '/v1/drill/schedule', { file, cron: '* * * * * *' });
    expect([file, r.json.code]).toEqual([file, 1]);
    expect(r.json.message).toMatch(why);
  }
  expect((await call(d.port, 'POST', '/v1/drill/schedule/query', {})).json.data.schedules).toEqual([]);
  // the same root file, named without the link: accepted
  const ok = await call(d.port, 'POST', '/v1/drill/schedule', { file: good, cron: '0 3 * * *' });
  expect(ok.json.code).toBe(0);
  expect(ok.json.data.file).toBe(good);
  // a file only root may read (/etc/shadow is a valid YAML string): its validation errors would show parts of it
  const secret = path.join(root, 'secret.yaml');
  fs.writeFileSync(secret, 'root:$6$secret-hash-here:19000:0:99999:7:::\n', { mode: 0o600 });
  const s600 = await call(d.port, 'POST', '/v1/drill/schedule', { file: secret, cron: '* * * * * *' });
  expect(s600.json.code).toBe(1);
  expect(s600.json.message).toBe(`refused: the drill file ${secret} is not readable by all (mode 600)`);
  expect(s600.text).not.toContain('secret-hash');
  // a root-owned drill file that runs a root command (a command probe): behind the same gate as a drill run over HTTP
  const cmd = path.join(root, 'cmd.yaml');
  fs.writeFileSync(cmd, `${WAIT_DRILL}probes: [{ name: c, command: { argv: [touch, /tmp/never] } }]\n`, {
    mode: 0o644,
  });
  const r = await call(d.port, 'POST', '/v1/drill/schedule', { file: cmd, cron: '* * * * * *' });
  expect(r.json.code).toBe(1);
  expect(r.json.message).toMatch(/--allow-recover-cmd/);
  expect((await call(d.port, 'POST', '/v1/drill/schedule/query', {})).json.data.schedules).toHaveLength(1);
});

test('a drill file made writable by others after it was scheduled: the daemon refuses to run it', async () => {
  const d = await startDaemon(dataDir());
  const root = path.join(area, 'later');
  fs.mkdirSync(root, { mode: 0o755 });
  const f = path.join(root, 'later.yaml');
  fs.writeFileSync(f, WAIT_DRILL, { mode: 0o644 });
  // fine when registered; due 3 s from now (once a minute, at that second)
  const cron = `${(new Date().getSeconds() + 3) % 60} * * * * *`;
  const s = await call(d.port, 'POST', '/v1/drill/schedule', { file: f, cron });
  expect(s.json.code).toBe(0);
  const due = Date.parse(s.json.data.next_run as string);
  expect(due - Date.now()).toBeGreaterThan(1000);
  // then made writable by others (anyone may now change what root would run)
  fs.chmodSync(f, 0o666);
  let row: Record<string, unknown> = {};
  for (let i = 0; i < 60 && !row.last_error; i++) {
    await sleep(100);
    row = (await call(d.port, 'POST', '/v1/drill/schedule/query', {})).json.data.schedules[0] as Record<
      string,
      unknown
    >;
  }
  expect(Date.now()).toBeGreaterThanOrEqual(due);
  expect(row.last_error).toMatch(new RegExp(`refused: the drill file ${f} is writable by other users \\(mode 666\\)`));
  expect(row.runs).toBe(0);
  expect(row.last_drill).toBeUndefined();
  expect(await stored(d.port)).toEqual([]);
  expect(d.logs()).toMatch(/"event":"drill-schedule-refused"/);
});
