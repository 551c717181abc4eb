/** Behaviour the original's users and its own suite expect, checked through the real CLI without changing the host. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-behaviour-'));
afterAll(() => fs.rmSync(data, { recursive: true, force: true }));
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'chaosmetad'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, CHAOSMETAD_DATA_DIR: data },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('cpu burn --count above the core count burns every core (the original suite passes 999999)', () => {
  const r = cli(['inject', 'cpu', 'burn', '-p', '10', '--count', '999999', '--dry-run']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const cores = [...r.stdout.matchAll(/ burn .* core=(\d+) percent=10/g)].map((m) => Number(m[1]));
  expect(cores).toEqual(os.cpus().map((_, i) => i));
  // still a bounded integer
  expect(cli(['inject', 'cpu', 'burn', '-p', '10', '--count', '99999999999', '--dry-run']).code).toBe(1);
});

test('query -a shows the deadline in the layout of the other times (local YYYY-MM-DD HH:MM:SS), the JSON keeps ISO', () => {
  const f = path.join(data, 'demo.conf');
  const r = cli(['inject', 'file', 'add', '-p', f, '-c', 'x', '-t', '1m', '--uid', 'deadline-fmt']);
  expect(r.code).toBe(0);
  try {
    const table = cli(['query', '-a', '-u', 'deadline-fmt']).stdout.split('\n');
    const cols = table[0].split(/\s{2,}/);
    const row = table[1].split(/\s{2,}/);
    expect(row[cols.indexOf('DEADLINE')]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(row[cols.indexOf('CREATE_TIME')]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const json = JSON.parse(cli(['query', '-a', '-u', 'deadline-fmt', '--format', 'json']).stdout);
    expect(json.experiments[0].live.deadline).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  } finally {
    expect(cli(['recover', 'deadline-fmt']).code).toBe(0);
  }
});

test('fault help says each default once (file append --help printed "(default 1) (default: 1)")', async () => {
  const { allFaults } = await import('../../src/faults/index');
  const { oclifFlagsOf } = await import('../../src/oclif/base');
  const counts = allFaults().flatMap((def) =>
    Object.entries(oclifFlagsOf(def.flags)).map(
      ([n, f]) =>
        [`${def.target} ${def.fault} --${n}`, (f.description ?? '').match(/\bdefault\b/g)?.length ?? 0] as const,
    ),
  );
  expect(counts.filter(([, c]) => c > 1)).toEqual([]);
  const help = cli(['inject', 'file', 'append', '--help']).stdout;
  expect(help).toMatch(/how many times to append \(default: 1\)/);
});

test('--server messages: a missing --token-file says so plainly; a non-JSON reply names its HTTP status', async () => {
  const missing = cli(['query', '--server', 'http://127.0.0.1:9', '--token-file', '/no/such/token']);
  expect(missing.code).toBe(1);
  expect(missing.stderr.trim()).toBe('[error] --token-file /no/such/token: no such file');

  const http = await import('node:http');
  const { execFile } = await import('node:child_process');
  const server = http.createServer((_req, res) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<html>bad gateway</html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const tok = path.join(data, 'tok');
  fs.writeFileSync(tok, 'x'.repeat(32), { mode: 0o600 });
  try {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [path.join(ROOT, 'bin', 'chaosmetad'), 'query', '--server', `http://127.0.0.1:${port}`, '--token-file', tok],
        { env: { ...process.env, CHAOSMETAD_DATA_DIR: data } },
        (e, _o, stderr) => resolve({ code: e ? Number(e.code) : 0, stderr }),
      ),
    );
    expect(r.stderr).toMatch(/answered HTTP 502 with a reply that is not JSON: <html>bad gateway<\/html>/);
    expect(r.code).not.toBe(0);
  } finally {
    server.close();
  }
});

test('as the kubectl plugin, help names the commands as they are typed there', () => {
  const plugin = path.join(data, 'kubectl-chaosmetad');
  fs.symlinkSync(path.join(ROOT, 'bin', 'chaosmetad'), plugin);
  const help = (args: string[]) =>
    spawnSync(process.execPath, [plugin, ...args], {
      encoding: 'utf8',
      env: { ...process.env, CHAOSMETAD_DATA_DIR: data },
    }).stdout;
  const top = help(['--help']);
  expect(top).toMatch(/\$ kubectl chaosmetad COMMAND/);
  expect(top).toMatch(/^ {2}inject {2}Inject a fault into pods or nodes/m);
  expect(top).not.toMatch(/chaosmetad kube|^ {2}kube /m);
  const burn = help(['inject', 'cpu', 'burn', '--help']);
  expect(burn).toMatch(/\$ kubectl chaosmetad inject cpu burn/);
  expect(burn).toMatch(/-l app=web --target-count 2 --timeout 5m/); // README's spelling
});

test('output into a pipe that closed early ends the command normally (no EPIPE crash)', () => {
  // `true` exits at once: every write of the CLI meets a closed pipe
  const r = spawnSync(
    'bash',
    [
      '-c',
      `"$0" "$1" inject network limit -i lo -r 1mbit --dry-run | true; echo "exit \${PIPESTATUS[0]}" >&2`,
      process.execPath,
      path.join(ROOT, 'bin', 'chaosmetad'),
    ],
    { encoding: 'utf8', env: { ...process.env, CHAOSMETAD_DATA_DIR: data } },
  );
  expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
  expect(r.stderr.trim()).toBe('exit 0');
});
