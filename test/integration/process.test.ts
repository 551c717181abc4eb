/**
 * process kill and stop, proven by /proc/PID/stat, through the real CLI.
 *
 * @lane quiet (measures nothing; its --key keys are random numbers no other process holds, and `--key chaosmetad`
 * is a dry run: it once stopped the VM's qemu, whose paths hold the word, when it ran for real)
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, cli, hostSettles, hostState, lastTest, queryJson, taggedPids, tmpDir, uidOf, waitFor } from '../helpers';

jest.setTimeout(60_000);
const dir = tmpDir('proc');
let before: string;
const children: ChildProcess[] = [];
beforeAll(() => {
  before = hostState();
});

/** A victim with a unique command line. */
function victim(tag: string): ChildProcess {
  const c = spawn('sleep', [`36${Math.floor(Math.random() * 1e6)}`], {
    stdio: 'ignore',
    detached: true,
    argv0: `victim-${tag}`,
  });
  children.push(c);
  return c;
}
const state = (pid: number): string | undefined => {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
};
const gone = (pid: number) => {
  const s = state(pid);
  return s === undefined || s === 'Z';
};

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

test('process kill --key kills every match (never chaosmetad or its caller) and runs --recover-cmd as a shell line', async () => {
  const key = `sleep 36${Math.floor(Math.random() * 1e6)}`;
  const v1 = spawn('sleep', [key.split(' ')[1]], { stdio: 'ignore', detached: true });
  const v2 = spawn('sleep', [key.split(' ')[1]], { stdio: 'ignore', detached: true });
  children.push(v1, v2);
  const marker = path.join(dir, 'restarted');
  // the original's form: a command line for bash -c (|| and quotes work)
  const r = cli(dir, ['inject', 'process', 'kill', '--key', key, '--recover-cmd', `false || touch '${marker}'`]);
  expect(r.code).toBe(0);
  expect(await waitFor(() => gone(v1.pid!) && gone(v2.pid!), 3000)).toBe(true);
  const uid = uidOf(r);
  expect(JSON.parse(queryJson(dir, ['--uid', uid]).experiments[0].runtime).killed.sort()).toEqual(
    [v1.pid, v2.pid].sort(),
  );
  const rec = cli(dir, ['recover', uid]);
  expect(rec.code).toBe(0);
  expect(rec.stdout).toMatch(/recover-cmd exit 0/);
  expect(fs.existsSync(marker)).toBe(true);
});

test('--recover-cmd keeps the command line the shell gives it; a missing command fails the recover (5), not the inject', async () => {
  const n = String(1579_000_000 + Math.floor(Math.random() * 1e6));
  const v = victim('cmdline');
  const uid = uidOf(cli(dir, ['inject', 'process', 'kill', '-p', String(v.pid), '-r', `sleep ${n}`]));
  expect(cli(dir, ['recover', uid]).stdout).toMatch(/recover-cmd still running/);
  const restarted = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/cmdline`, 'latin1') === `sleep\0${n}\0`;
      } catch {
        return false;
      }
    });
  expect(restarted.length).toBe(1); // argv[0] "sleep", as bash -c leaves it (not /usr/bin/sleep)
  process.kill(Number(restarted[0]), 'SIGKILL');

  const w = victim('missing');
  const inj = cli(dir, ['inject', 'process', 'kill', '-p', String(w.pid), '-r', 'no-such-command-xyz --now']);
  expect(inj.code).toBe(0);
  const id = uidOf(inj);
  for (let i = 0; i < 2; i++) {
    const rec = cli(dir, ['recover', id]);
    expect(rec.code).toBe(5);
    expect(rec.stderr).toMatch(/recover-cmd failed \(exit 127\).*no-such-command-xyz/);
    expect(queryJson(dir, ['--uid', id]).experiments[0].status).toBe('success');
  }
});

test('process kill --signal by name; a failing recover-cmd is a recover error that stays retryable', async () => {
  const v = victim('term');
  const got = new Promise<NodeJS.Signals | null>((resolve) => v.on('exit', (_code, sig) => resolve(sig)));
  const r = cli(dir, ['inject', 'process', 'kill', '-p', String(v.pid), '-s', 'TERM', '-r', 'false']);
  expect(r.code).toBe(0);
  expect(await got).toBe('SIGTERM'); // the signal asked for, not the default 9
  const uid = uidOf(r);
  const rec = cli(dir, ['recover', uid]);
  expect(rec.code).toBe(5);
  expect(rec.stderr).toMatch(/recover-cmd failed \(exit 1\)/);
  expect(queryJson(dir, ['--uid', uid]).experiments[0].status).toBe('success');
});

test('--recover-shell (accepted for compatibility) runs the same shell line', () => {
  const v = victim('shell');
  const out = path.join(dir, 'shell-out');
  const uid = uidOf(
    cli(dir, ['inject', 'process', 'kill', '-p', String(v.pid), '-r', `echo $((6*7)) > ${out}`, '--recover-shell']),
  );
  expect(cli(dir, ['recover', uid]).code).toBe(0);
  expect(fs.readFileSync(out, 'utf8')).toBe('42\n');
});

// (bad flags and pids are refused in-process: test/unit/refusals.test.ts; this one is about our own processes)
test("--key chaosmetad matches none of chaosmetad's own processes; nothing stored (a dry run: kills nothing else)", () => {
  // chaosmetad's own processes to be tempted by: a helper (tagged) and the deadline watcher (node bin/chaosmetad)
  const burn = uidOf(cli(dir, ['inject', 'cpu', 'burn', '-p', '1', '-c', '1', '-t', '1m']));
  expect(taggedPids(burn).length).toBeGreaterThanOrEqual(2);
  const total = queryJson(dir).total;
  // a dry run: the same match as the real inject, but what else on this host has "chaosmetad" in its command line
  // (another session's `flock /tmp/chaosmetad-….lock`, an editor on chaosmetad.conf) is listed, never killed
  const r = cli(dir, ['inject', 'process', 'kill', '--key', 'chaosmetad', '--dry-run']);
  const listed = [...r.stdout.matchAll(/kill -SIGKILL (\d+) {2}# (.*)$/gm)].map((m) => Number(m[1]));
  const argvOf = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return [];
    }
  };
  const base = (s: string | undefined) => (s ?? '').split('/').pop();
  // ours: the CLI (the single executable, or node running bin/chaosmetad), a helper, anything carrying a uid tag
  const ours = (argv: string[]) =>
    argv.some((a) => a.startsWith('--chaosmetad-uid=')) ||
    ['chaosmetad', 'chaosmetad-helper'].includes(base(argv[0]) ?? '') ||
    (base(argv[0]) === 'node' && base(argv[1]) === 'chaosmetad');
  if (listed.length === 0) {
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/matches no process/);
  } else
    console.log(
      `--key chaosmetad: other processes here match it: ${listed.map((p) => argvOf(p).join(' ')).join('; ')}`,
    );
  expect(listed.filter((pid) => ours(argvOf(pid)))).toEqual([]);
  expect(queryJson(dir).total).toBe(total);
  expect(cli(dir, ['recover', burn]).code).toBe(0);
  expect(taggedPids()).toEqual([]);
});

test('safety rails: --key never hits init, chaosmetad, its caller chain, sshd, the runtime or kubelet; --pid of one needs --force', async () => {
  const bin = tmpDir('proc-guarded');
  const n = String(3626_000 + Math.floor(Math.random() * 1000));
  fs.symlinkSync('/bin/sleep', path.join(bin, 'kubelet')); // its comm is "kubelet"
  const kubelet = spawn(path.join(bin, 'kubelet'), [n], { stdio: 'ignore', detached: true });
  children.push(kubelet);
  expect(
    await waitFor(() => {
      try {
        return fs.readFileSync(`/proc/${kubelet.pid}/comm`, 'utf8').trim() === 'kubelet';
      } catch {
        return false;
      }
    }, 2000),
  ).toBe(true);
  const byKey = cli(dir, ['inject', 'process', 'kill', '--key', n]);
  expect(byKey.code).toBe(1);
  expect(byKey.stderr).toMatch(
    /matches no process \(init, chaosmetad, its caller, sshd, the container runtime and kubelet are never matched without --force\)/,
  );
  const byPid = cli(dir, ['inject', 'process', 'stop', '--pid', String(kubelet.pid)]);
  expect(byPid.code).toBe(1);
  expect(byPid.stderr).toMatch(/is kubelet, which keeps this node reachable or its containers running; add --force/);
  expect(state(kubelet.pid!)).toBe('S');
  // the caller chain: a shell whose own command line holds the key calls chaosmetad; it must survive
  const chain = spawnSync(
    'bash',
    ['-c', `: ${n}-caller; ${process.execPath} ${BIN} inject process kill --key ${n}-caller; echo survived`],
    { encoding: 'utf8', env: { ...process.env, CHAOSMETAD_DATA_DIR: dir } },
  );
  expect(chain.stdout).toMatch(/survived/);
  expect(chain.stderr).toMatch(/matches no process/);
  // init and chaosmetad itself, even with --force
  expect(cli(dir, ['inject', 'process', 'kill', '--pid', '1', '--force']).stderr).toMatch(/init/);
  // an explicit --force for that pid
  const forced = cli(dir, ['inject', 'process', 'stop', '--pid', String(kubelet.pid), '--force']);
  expect(forced.code).toBe(0);
  expect(state(kubelet.pid!)).toBe('T');
  expect(cli(dir, ['recover', uidOf(forced)]).code).toBe(0);
  expect(state(kubelet.pid!)).toBe('S');
});

lastTest(
  'leaves the host as it found it',
  async () => {
    cli(dir, ['recover', '--all']);
    for (const c of children) c.kill('SIGKILL');
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
