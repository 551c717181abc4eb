/** process kill and stop, proven by /proc/PID/stat, through the real CLI. */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, hostSettles, hostState, queryJson, taggedPids, tmpDir, uidOf, waitFor } from '../helpers';

jest.setTimeout(60_000);
const dir = tmpDir('proc');
let before: string;
const children: ChildProcess[] = [];
beforeAll(() => { before = hostState(); });
afterAll(async () => {
  cli(dir, ['recover', '--all']);
  for (const c of children) c.kill('SIGKILL');
  expect(await hostSettles(before)).toBe(before);
});

/** A victim with a unique command line. */
function victim(tag: string): ChildProcess {
  const c = spawn('sleep', [`36${Math.floor(Math.random() * 1e6)}`], { stdio: 'ignore', detached: true, argv0: `victim-${tag}` });
  children.push(c);
  return c;
}
const state = (pid: number): string | undefined => {
  try { const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1'); return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3); } catch { return undefined; }
};
const gone = (pid: number) => { const s = state(pid); return s === undefined || s === 'Z'; };

test('process stop freezes the target (state T); recover continues it (state S)', async () => {
  const v = victim('stop');
  const uid = uidOf(cli(dir, ['inject', 'process', 'stop', '--pid', String(v.pid), '-t', '1m']));
  expect(state(v.pid!)).toBe('T');
  expect(cli(dir, ['check', uid]).stdout).toMatch(/in-place/);
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(state(v.pid!)).toBe('S');
});

test('process stop of a target that exits meanwhile recovers as success with a note', () => {
  const v = victim('stop-exit');
  const uid = uidOf(cli(dir, ['inject', 'process', 'stop', '-p', String(v.pid)]));
  v.kill('SIGKILL');
  const r = cli(dir, ['recover', uid]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/exited while stopped/);
});

test('process kill --key kills every match (never chaosmetad or its caller) and runs --recover-cmd as argv', async () => {
  const key = `sleep 36${Math.floor(Math.random() * 1e6)}`;
  const v1 = spawn('sleep', [key.split(' ')[1]], { stdio: 'ignore', detached: true });
  const v2 = spawn('sleep', [key.split(' ')[1]], { stdio: 'ignore', detached: true });
  children.push(v1, v2);
  const marker = path.join(dir, 'restarted; $(touch pwned)');
  const r = cli(dir, ['inject', 'process', 'kill', '--key', key, '--recover-cmd', `touch '${marker}'`]);
  expect(r.code).toBe(0);
  expect(await waitFor(() => gone(v1.pid!) && gone(v2.pid!), 3000)).toBe(true);
  const uid = uidOf(r);
  expect(JSON.parse(queryJson(dir, ['--uid', uid]).experiments[0].runtime).killed.sort()).toEqual([v1.pid, v2.pid].sort());
  const rec = cli(dir, ['recover', uid]);
  expect(rec.code).toBe(0);
  expect(rec.stdout).toMatch(/recover-cmd exit 0/);
  expect(fs.existsSync(marker)).toBe(true); // one argument, quotes honoured…
  expect(fs.existsSync(path.join(process.cwd(), 'pwned'))).toBe(false); // …and no shell ran the $(…)
});

test('process kill --signal by name; a failing recover-cmd is a recover error that stays retryable', () => {
  const v = victim('term');
  const r = cli(dir, ['inject', 'process', 'kill', '-p', String(v.pid), '-s', 'TERM', '-r', 'false']);
  expect(r.code).toBe(0);
  const uid = uidOf(r);
  const rec = cli(dir, ['recover', uid]);
  expect(rec.code).toBe(5);
  expect(rec.stderr).toMatch(/recover-cmd failed \(exit 1\)/);
  expect(queryJson(dir, ['--uid', uid]).experiments[0].status).toBe('success');
});

test('--recover-shell runs the command through /bin/sh explicitly', () => {
  const v = victim('shell');
  const out = path.join(dir, 'shell-out');
  const uid = uidOf(cli(dir, ['inject', 'process', 'kill', '-p', String(v.pid), '-r', `echo $((6*7)) > ${out}`, '--recover-shell']));
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.readFileSync(out, 'utf8')).toBe('42\n');
});

test.each([
  [['--pid', '999999'], /no such process/],
  [['--pid', '1'], /init/],
  [['--key', 'no-such-process-anywhere-xyz'], /matches no process/],
  [['--key', 'chaosmetad'], /matches no process/],
  [[], /one of --pid or --key is required/],
  [['--pid', '1', '--key', 'x'], /cannot be used together/],
  [['--pid', 'abc'], /--pid must be an integer/],
])('bad input %j: exit 1, nothing killed or stored as success', (args, msg) => {
  const total = queryJson(dir).total;
  const r = cli(dir, ['inject', 'process', 'kill', ...(args as string[])]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(msg);
  expect(queryJson(dir).total).toBe(total);
  expect(taggedPids()).toEqual([]);
});

test('a bad signal is refused before anything happens', () => {
  const v = victim('badsig');
  const r = cli(dir, ['inject', 'process', 'kill', '-p', String(v.pid), '-s', 'SIGNOPE']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/--signal must be a signal/);
  expect(state(v.pid!)).toBe('S');
});
