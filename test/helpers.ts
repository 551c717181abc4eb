/** Shared by the integration tests: run the real CLI, read the host, snapshot its state. */
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
export const BIN = path.join(ROOT, 'bin', 'chaosmetad');
export const SEA = path.join(ROOT, 'dist', 'chaosmetad');
export const HELPER = path.join(ROOT, 'native', 'build', 'chaosmetad-helper');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cmd-${prefix}-`));
}

/** Run chaosmetad (node + bin/chaosmetad, or the single executable) with a private data dir. */
export function cli(
  dataDir: string,
  args: string[],
  opts: { exe?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): RunResult {
  const exe = opts.exe ?? BIN;
  const [file, argv] = exe === BIN ? [process.execPath, [BIN, ...args]] : [exe, args];
  const r: SpawnSyncReturns<string> = spawnSync(file, argv, {
    encoding: 'utf8',
    cwd: opts.cwd ?? ROOT,
    timeout: opts.timeoutMs ?? 120_000,
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dataDir, ...(opts.env ?? {}) },
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function uidOf(r: RunResult): string {
  const m = /uid: ([A-Za-z0-9_-]+)/.exec(r.stdout);
  if (!m) throw new Error(`no uid in output: ${r.stdout} ${r.stderr}`);
  return m[1];
}

export function queryJson(
  dataDir: string,
  args: string[] = [],
): { experiments: Array<Record<string, string>>; total: number } {
  const r = cli(dataDir, ['query', '--format', 'json', '--limit', '0', ...args]);
  if (r.code !== 0) throw new Error(`query failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function coreTimes(): Map<number, { busy: number; total: number }> {
  const m = new Map<number, { busy: number; total: number }>();
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const x = /^cpu(\d+) (.*)$/.exec(line);
    if (!x) continue;
    const v = x[2].trim().split(/\s+/).map(Number).slice(0, 8);
    const total = v.reduce((a, b) => a + b, 0);
    m.set(Number(x[1]), { busy: total - v[3] - v[4], total });
  }
  return m;
}

/** Per-core utilisation (0..100) measured from /proc/stat over ms. */
export async function cpuPercent(ms: number): Promise<Map<number, number>> {
  const a = coreTimes();
  await sleep(ms);
  const b = coreTimes();
  const out = new Map<number, number>();
  for (const [core, t] of b) {
    const s = a.get(core)!;
    out.set(core, (100 * (t.busy - s.busy)) / Math.max(1, t.total - s.total));
  }
  return out;
}

/** Live processes whose argv carries this experiment's tag. */
export function taggedPids(uid?: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (argv.some((a) => (uid ? a === `--chaosmetad-uid=${uid}` : a.startsWith('--chaosmetad-uid='))))
        out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

export async function waitFor(pred: () => boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (pred()) return true;
    await sleep(stepMs);
  }
  return pred();
}

/** The host as scripts/host-state.js sees it (links, qdiscs, rules, cgroups, mounts, chaosmetad's processes…). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const HOST_STATE = require('../scripts/host-state.js') as {
  state(): string;
  difference(a: string, b: string): string[];
};
export function hostState(): string {
  return HOST_STATE.state();
}

/** What differs between two host states, line by line ('-' before only, '+' now only). */
export const hostDifference = (before: string, now: string): string[] => HOST_STATE.difference(before, now);

/** Wait until the host state equals `before` (zombies need a moment to be reaped); returns the last view. */
export async function hostSettles(before: string, timeoutMs = 5000): Promise<string> {
  let now = hostState();
  const until = Date.now() + timeoutMs;
  while (now !== before && Date.now() < until) {
    await sleep(200);
    now = hostState();
  }
  return now;
}

/**
 * A suite's last test: its cleanup, then its check of what the suite left (the host as before, mostly) — a test of
 * its own, since an expect in afterAll fails no test. Call it after the suite's (or describe block's) last test.
 * The cleanup runs once: in this test, or in afterAll when the test was filtered out or never reached.
 */
export function lastTest(
  title: string,
  cleanup: () => unknown,
  check: () => Promise<void> | void,
  timeoutMs?: number,
): void {
  let cleaned: Promise<unknown> | undefined;
  const once = () => (cleaned ??= Promise.resolve().then(cleanup));
  test(
    title,
    async () => {
      await once();
      await check();
    },
    timeoutMs,
  );
  afterAll(() => once());
}

/** The throwaway VM of scripts/vm (stock Debian kernel: netem, cgroup v2); host / is visible read-only in it. */
const VM_RUNNER = path.join(ROOT, 'scripts', 'vm', 'run.sh');
const VM_DIR =
  process.env.VM_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'chaosmetad-vm');

/** Why VM tests cannot run here ('' when they can). */
export function vmUnavailable(): string {
  if (spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status !== 0)
    return 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)';
  if (!fs.existsSync(path.join(VM_DIR, 'initramfs.cpio.gz')))
    return `no VM kernel in ${VM_DIR} (run scripts/vm/build-kernel.sh)`;
  return '';
}

/**
 * A test that runs in the VM, or is skipped with the reason in its title (the VM missing, or `also`: something else
 * it needs, '' when there).
 */
export function vmTest(title: string, fn: () => void, also = ''): void {
  const why = vmUnavailable() || also;
  (why ? test.skip : test)(why ? `${title} — skipped: ${why}` : title, fn);
}

/** For a VM script: containerd started in the VM (its own root and state under /tmp), $R a busybox rootfs. */
export const VM_CONTAINERD = `mkdir -p /run/containerd /tmp/ctd
containerd --root /tmp/ctd/root --state /tmp/ctd/state >/tmp/ctd.log 2>&1 &
for i in $(seq 1 120); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done
ctr version >/dev/null 2>&1 || { echo "CONTAINERD=failed"; tail -5 /tmp/ctd.log; exit 1; }
R=/tmp/rootfs; mkdir -p $R/bin $R/proc $R/sys $R/dev $R/tmp $R/etc
cp /bin/busybox $R/bin/busybox; ln -s busybox $R/bin/sleep; ln -s busybox $R/bin/sh`;

/** Run a bash script in the VM (env: e.g. VM_INIT=systemd); its output and the KEY=value lines it printed. */
export function runInVm(
  script: string,
  env: Record<string, string> = {},
): { code: number; out: string; vars: Record<string, string> } {
  // handed over as a file: the VM's /bin/sh cannot take bash's $'…' quoting of a multi-line argument
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-vm-'));
  const file = path.join(dir, 'script.sh');
  // its output goes to a file in a directory shared read-write (VM_RW), not to the serial console, where the
  // guest kernel's own messages (an RCU stall report on a busy host) can land in the middle of a line
  const outFile = path.join(dir, 'out');
  fs.writeFileSync(file, `exec >${outFile} 2>&1\n${script}`);
  const r = spawnSync(VM_RUNNER, ['bash', file], {
    encoding: 'utf8',
    cwd: ROOT,
    timeout: 850_000,
    // one vCPU: as fast for these scripts (one emulation thread), and the other core stays free for the host suites
    // that run beside the VM lane (scripts/test-integration.sh)
    env: { VM_CPUS: '1', ...process.env, VM_TIMEOUT: '800', VM_RW: dir, ...env },
  });
  const printed = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
  fs.rmSync(dir, { recursive: true, force: true });
  const out = `${printed}${r.stdout}${r.stderr}`;
  const vars: Record<string, string> = {};
  for (const m of printed.matchAll(/^([A-Z_]+)=(.*)$/gm)) vars[m[1]] = m[2].trim();
  return { code: r.status ?? -1, out, vars };
}

/** The detached deadline watchers of an experiment (chaosmetad watch <uid>). */
export function watcherPids(uid: string): number[] {
  return taggedPids(uid).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes('watch');
    } catch {
      return false;
    }
  });
}

/** SIGKILL processes and wait until they are gone (reaped or zombie). */
export async function killAndWait(pids: number[]): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (!(await waitFor(() => pids.every((p) => !taggedPids().includes(p)), 5000, 20)))
    throw new Error(`still running 5 s after SIGKILL: ${pids.filter((p) => taggedPids().includes(p)).join(', ')}`);
}

/** Run a command as the unprivileged user nobody (uid/gid 65534, no supplementary groups). */
export function asNobody(argv: string[], opts: { timeoutMs?: number; input?: string } = {}): RunResult {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...argv], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
    cwd: '/',
    input: opts.input,
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' },
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export interface NobodyReply {
  status?: number;
  json?: any;
  text?: string;
  error?: string;
}

/** An HTTP request sent by nobody (a local user with no rights) to a TCP port or a Unix socket. */
export function nobodyHttp(
  to: { port?: number; socket?: string },
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
): NobodyReply {
  const req = {
    ...(to.socket ? { socketPath: to.socket } : { host: '127.0.0.1', port: to.port }),
    method,
    path: route,
    headers,
  };
  const code =
    `const http=require('http');const r=http.request(${JSON.stringify(req)},(res)=>{let d='';res.on('data',(c)=>d+=c);` +
    `res.on('end',()=>console.log(JSON.stringify({status:res.statusCode,text:d})))});r.on('error',(e)=>console.log(JSON.stringify({error:e.code||e.message})));` +
    `r.end(${JSON.stringify(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body))});`;
  const r = asNobody([process.execPath, '-e', code]);
  if (r.code !== 0) throw new Error(`nobody's request did not run: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as NobodyReply;
  try {
    out.json = out.text ? JSON.parse(out.text) : undefined;
  } catch {
    /* text */
  }
  return out;
}

/** The environment of a live process (NUL-separated /proc/PID/environ as text). */
export function environOf(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').replace(/\0/g, '\n');
}

/**
 * Something on the host that keeps continuing `pid` (SIGCONT in a loop), so a stop cannot hold: at real-time
 * priority on a core of its own, returned once the loop itself runs. A plain loop on a loaded 2-core CI machine did
 * not always run between a stop and the check right after it (reboot.test once, daemon.test once).
 */
export async function startContinuer(pid: number): Promise<ChildProcess> {
  const core = String(os.cpus().length - 1);
  const c = spawn(
    'taskset',
    ['-c', core, 'chrt', '-f', '10', 'bash', '-c', `while kill -CONT ${pid} 2>/dev/null; do :; done`],
    { stdio: 'ignore' },
  );
  c.unref();
  // the loop itself running (bash, SCHED_FIFO = policy 1 in /proc/PID/stat), not still taskset or chrt starting
  const looping = () => {
    try {
      const st = fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8');
      return st.includes('(bash)') && st.slice(st.lastIndexOf(')') + 2).split(' ')[38] === '1';
    } catch {
      return false;
    }
  };
  if (!(await waitFor(looping, 10_000))) {
    c.kill('SIGKILL');
    throw new Error('the continuer loop did not start');
  }
  return c;
}
