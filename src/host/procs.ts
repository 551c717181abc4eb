/** Reading processes from /proc: find chaosmetad's tagged helpers and watchers, check liveness, stop them. */
import * as fs from 'node:fs';

export const TAG_PREFIX = '--chaosmetad-uid=';

export interface ProcInfo {
  pid: number;
  argv: string[];
}

export function readArgv(pid: number): string[] | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    if (!raw) return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** Process state letter from /proc/PID/stat (R, S, D, T, Z, …), or undefined when gone. */
export function procState(pid: number): string | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  const st = procState(pid);
  return st !== undefined && st !== 'Z' && st !== 'X';
}

export function listPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Processes whose argv carries the exact tag arguments (all of them). */
export function findTagged(tags: string[]): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const argv = readArgv(pid);
    if (argv && tags.every((t) => argv.includes(t)) && alive(pid)) out.push({ pid, argv });
  }
  return out;
}

/** Is this live process the one tagged so (argv carries every tag)? One /proc read, where findTagged reads all. */
export function isTagged(pid: number, tags: string[]): boolean {
  const argv = readArgv(pid);
  return !!argv && tags.every((t) => argv.includes(t)) && alive(pid);
}

/** All live processes tagged for some experiment, keyed by uid. */
export function allTagged(): Map<string, ProcInfo[]> {
  const m = new Map<string, ProcInfo[]>();
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const argv = readArgv(pid);
    const tag = argv?.find((a) => a.startsWith(TAG_PREFIX));
    if (!argv || !tag || !alive(pid)) continue;
    const uid = tag.slice(TAG_PREFIX.length);
    m.set(uid, [...(m.get(uid) ?? []), { pid, argv }]);
  }
  return m;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait up to graceMs, then SIGKILL; resolves when every pid is gone. */
export async function terminate(pids: number[], graceMs = 2000): Promise<void> {
  const send = (sig: NodeJS.Signals) => {
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        /* gone */
      }
    }
  };
  // a stopped process (SIGSTOP) would not act on SIGTERM until continued
  send('SIGTERM');
  send('SIGCONT');
  const until = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < until) await sleep(20);
  if (pids.some(alive)) {
    send('SIGKILL');
    const hard = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < hard) await sleep(20);
  }
  // a zombie still counts (e.g. against its user's RLIMIT_NPROC) until reaped: wait for the ones whose parent is
  // one of ours (a helper reaping its workers); those left to init are reaped on init's own schedule
  const reapable = () => pids.filter((p) => procState(p) === 'Z' && ppidOf(p) !== 1);
  const reap = Date.now() + 3000;
  while (reapable().length && Date.now() < reap) await sleep(20);
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; with the pid, a process's identity. */
export function startTime(pid: number): number | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

/** The same process as recorded (not a reused pid)? */
export function sameProcess(pid: number, start: number | undefined): boolean {
  return alive(pid) && (start === undefined || startTime(pid) === start);
}

function ppidOf(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** This process and its ancestors (a `sudo chaosmetad … --key nginx` must not match sudo). */
export function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  for (let p = process.pid; p > 1 && !out.has(p); p = ppidOf(p)) out.add(p);
  return out;
}

/** Is this chaosmetad itself (CLI, watcher, daemon) or one of its helpers? */
export function isChaosmetad(argv: string[]): boolean {
  if (argv.some((a) => a.startsWith(TAG_PREFIX))) return true;
  const base = (s: string | undefined) => (s ?? '').split('/').pop();
  return (
    base(argv[0]) === 'chaosmetad' ||
    base(argv[0]) === 'chaosmetad-helper' ||
    (/^node(js)?$/.test(base(argv[0]) ?? '') && base(argv[1]) === 'chaosmetad')
  );
}

/** The short command name (/proc/PID/comm), or ''. */
export function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return '';
  }
}

/** What keeps a node reachable and its containers running: never hit by a --key match; by --pid only with --force. */
const GUARDED = /^(sshd|dockerd|containerd|containerd-shim.*|runc|crio|conmon|cri-dockerd|kubelet|podman)$/;

/**
 * Why chaosmetad must not kill or stop this process: `never` — init, chaosmetad itself (CLI, daemon, watchers,
 * helpers, also under another file name), the caller's chain of ancestors (its shell, sudo, sshd session);
 * `guarded` — sshd, the container runtime and kubelet, which only an explicit --force for that pid may hit.
 */
export function protection(
  pid: number,
  argv = readArgv(pid) ?? [],
): { level: 'never' | 'guarded'; why: string } | undefined {
  if (pid === 1) return { level: 'never', why: 'init (pid 1)' };
  if (selfAndAncestors().has(pid))
    return { level: 'never', why: 'chaosmetad itself or its caller (its shell, sudo or ssh session)' };
  let exe = '';
  try {
    exe = fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    /* kernel thread or gone */
  }
  if (isChaosmetad(argv) || (exe && exe === process.execPath && !/\/node(js)?$/.test(exe)))
    return { level: 'never', why: 'a chaosmetad process (recover its experiment instead)' };
  const comm = commOf(pid);
  if (GUARDED.test(comm))
    return { level: 'guarded', why: `${comm}, which keeps this node reachable or its containers running` };
  return undefined;
}

/**
 * Processes whose command line contains key, as `ps -ef | grep key` would — never init, chaosmetad or its callers,
 * nor (the `guarded` list: sshd, container runtime, kubelet) unless `force`.
 */
export function matchKey(key: string, opts: { force?: boolean; nsOf?: number } = {}): ProcInfo[] {
  const out: ProcInfo[] = [];
  const ns = opts.nsOf !== undefined ? pidNsOf(opts.nsOf) : undefined;
  if (opts.nsOf !== undefined && !ns) return out;
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    if (ns && pidNsOf(pid) !== ns) continue;
    const argv = readArgv(pid);
    if (!argv || !alive(pid) || !argv.join(' ').includes(key)) continue;
    const p = protection(pid, argv);
    if (p && (p.level === 'never' || !opts.force)) continue;
    out.push({ pid, argv });
  }
  return out;
}

/** The pid namespace a process is in (its /proc/PID/ns/pid link, e.g. "pid:[4026532345]"), or undefined. */
export function pidNsOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/**
 * The host pid of the process that is `nsPid` inside the pid namespace of `initPid` (a container's init): the last
 * field of NSpid in /proc/PID/status is the pid as the innermost namespace sees it.
 */
export function hostPidIn(initPid: number, nsPid: number): number | undefined {
  const ns = pidNsOf(initPid);
  if (!ns) return undefined;
  for (const pid of listPids()) {
    if (pidNsOf(pid) !== ns) continue;
    try {
      const line = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (line && Number(line.trim().split(/\s+/).pop()) === nsPid) return pid;
    } catch {
      /* gone */
    }
  }
  return undefined;
}

/** A process as a fault records it: pid, start time (its identity across pid reuse) and command line. */
export interface ProcessRef {
  pid: number;
  start: number | undefined;
  cmdline: string;
}

/** These processes as targets, identified now. */
export function identify(pids: number[]): ProcessRef[] {
  return pids.map((pid) => ({ pid, start: startTime(pid), cmdline: (readArgv(pid) ?? []).join(' ').slice(0, 200) }));
}
