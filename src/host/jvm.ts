/**
 * JVMs: finding them, and talking to chaosmetad's Java agent in them through HotSpot's dynamic attach — no JDK on
 * this side (the native helper's `jattach` speaks the protocol, as the JVM's own user). The agent jar and each
 * command file are put in the JVM's own /tmp (a container's, through /proc/PID/root, created exclusively under
 * names nobody can guess, readable by the JVM); the agent answers in <command file>.reply, read back the same way.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { agentJar, helperPath } from './assets';
import { Dir, createExclusive, unguessable, withParent } from './safefs';

export interface Jvm {
  /** as this host sees it */
  pid: number;
  /** as it sees itself (its pid namespace's) */
  nspid: number;
  uid: number;
  gid: number;
}

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/**
 * Why pid is no JVM chaosmetad can attach to ('' = it is one): not a JVM, not HotSpot (OpenJ9 attaches another
 * way), or started with attach disabled.
 */
export function notAttachable(pid: number): string {
  let maps: string;
  try {
    maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return `process ${pid} is gone`;
  }
  if (/\/libj9vm\d*\.so/.test(maps))
    return `process ${pid} is an OpenJ9 JVM: only HotSpot JVMs (OpenJDK, Oracle) are supported`;
  if (!/\/libjvm\.so/.test(maps)) return `process ${pid} is not a JVM (no libjvm.so in it)`;
  const flags = [fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1')];
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    flags.push(...env.filter((e) => /^(JAVA_TOOL_OPTIONS|JDK_JAVA_OPTIONS|_JAVA_OPTIONS)=/.test(e)));
  } catch {
    /* unreadable */
  }
  if (flags.some((f) => f.includes('-XX:+DisableAttachMechanism')))
    return `the JVM ${pid} was started with -XX:+DisableAttachMechanism: it cannot be attached to (start it without)`;
  return '';
}

export function jvmOf(pid: number): Jvm {
  const st = status(pid);
  const ns = (st.NSpid ?? String(pid)).split(/\s+/);
  return {
    pid,
    nspid: Number(ns[ns.length - 1]),
    uid: Number((st.Uid ?? '0').split(/\s+/)[1]),
    gid: Number((st.Gid ?? '0').split(/\s+/)[1]),
  };
}

/** The JVM's /tmp as this host opens it. */
const tmpOf = (j: Jvm) => `/proc/${j.pid}/root/tmp`;

/** A new name for the agent jar in a JVM's /tmp (as the JVM sees it), chosen before it is put there. */
export const newJarPath = (): string => `/tmp/${unguessable('chaosmetad-agent-')}.jar`;

/** Copy the agent jar into the JVM's /tmp at `seen` (newJarPath), readable by the JVM, created exclusively. */
export function placeJar(j: Jvm, seen: string): void {
  const name = path.basename(seen);
  const d = Dir.open(tmpOf(j));
  try {
    const fd = createExclusive(d, name, 0o644);
    try {
      fs.writeSync(fd, fs.readFileSync(agentJar()));
      fs.fchmodSync(fd, 0o644);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    d.close();
  }
}

const cmdPrefix = (uid: string) => `chaosmetad-cmd-${uid}-`;

/**
 * Remove the command files (and answers) of this experiment from a /tmp (the JVM's, as the host opens it): those
 * left behind by a chaosmetad killed mid-attach. Regular files only, never through a link.
 */
export function sweepCommands(tmpDir: string, uid: string): number {
  let n = 0;
  try {
    const d = Dir.open(tmpDir);
    try {
      for (const f of fs.readdirSync(d.at('.'))) {
        if (!f.startsWith(cmdPrefix(uid))) continue;
        if (fs.lstatSync(d.at(f)).isFile()) {
          fs.unlinkSync(d.at(f));
          n++;
        }
      }
    } finally {
      d.close();
    }
  } catch {
    /* no such /tmp any more */
  }
  return n;
}

/** The JVM's /tmp as the host opens it (through its root). */
export const jvmTmp = (j: Jvm): string => tmpOf(j);

/**
 * Is the agent jar at `seen` complete (the same bytes as this build's)? One cut short by a kill while it was being
 * written was never attached with: the attach comes after the jar is whole.
 */
export function jarComplete(j: Jvm, seen: string): boolean {
  try {
    const have = withParent(`/proc/${j.pid}/root${seen}`, (dir, name) => {
      if (!fs.lstatSync(dir.at(name)).isFile()) throw new Error('not a file');
      return fs.readFileSync(dir.at(name));
    });
    const want = fs.readFileSync(agentJar());
    return have.length === want.length && sha(have) === sha(want);
  } catch {
    return false;
  }
}

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Is a file chaosmetad put in the JVM's /tmp still there? */
export function existsInJvm(j: Jvm, seen: string): boolean {
  try {
    return withParent(`/proc/${j.pid}/root${seen}`, (dir, name) => fs.lstatSync(dir.at(name)).isFile());
  } catch {
    return false;
  }
}

/** Remove a file chaosmetad put in the JVM's /tmp (and only a regular file there). */
export function removeInJvm(j: Jvm, seen: string): void {
  try {
    withParent(`/proc/${j.pid}/root${seen}`, (dir, name) => {
      if (fs.lstatSync(dir.at(name)).isFile()) fs.unlinkSync(dir.at(name));
    });
  } catch {
    /* gone already */
  }
}

export interface AgentReply {
  ok: boolean;
  error?: string;
  bad_args?: boolean;
  [k: string]: unknown;
}

export class AttachError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** Run the helper's jattach; resolves with the JVM's reply text, rejects with its message. */
function jattach(j: Jvm, jar: string, options: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      helperPath(),
      ['jattach', String(j.pid), String(j.nspid), String(j.uid), String(j.gid), jar, options],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => reject(new AttachError(`cannot run the helper: ${e.message}`, 4)));
    p.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else
        reject(
          new AttachError(
            code === 2
              ? `the JVM ${j.pid} did not start its attach listener (started with -XX:+DisableAttachMechanism, or not a HotSpot JVM)`
              : (err.trim().replace(/^jattach: /, '') || `attach exit ${code}`) + ` (JVM ${j.pid})`,
            code ?? 4,
          ),
        );
    });
  });
}

/**
 * One command to the agent: op=add|remove|status with its keys. Loads the agent (the jar at `jar`, in the JVM's
 * view) if it is not loaded yet; reuses it if it is. Returns the agent's JSON reply.
 */
export async function agentCommand(j: Jvm, jar: string, props: Record<string, string | number>, timeoutMs = 30_000) {
  // named after the experiment: a command file left by a process killed mid-attach is swept at its recover
  const name = unguessable(`${cmdPrefix(String(props.uid))}`) + '.properties';
  const text = Object.entries(props)
    .map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    .join('\n');
  const d = Dir.open(tmpOf(j));
  try {
    const fd = createExclusive(d, name, 0o644);
    try {
      fs.writeSync(fd, text + '\n');
      fs.fchmodSync(fd, 0o644);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    d.close();
  }
  const seen = `/tmp/${name}`;
  try {
    const raw = await jattach(j, jar, seen, timeoutMs);
    // the reply: the result code on the first line; for `load`, then "return code: N" (JDK 9+)
    const [code, ...rest] = raw.trim().split('\n');
    const rc = /return code: (-?\d+)/.exec(rest.join('\n'));
    if (code.trim() !== '0' || (rc && rc[1] !== '0'))
      throw new AttachError(`the JVM ${j.pid} refused to load the agent: ${raw.trim().replace(/\n/g, ' ')}`, 3);
    let reply: string;
    try {
      reply = withParent(`/proc/${j.pid}/root${seen}.reply`, (dir, n) => {
        if (!fs.lstatSync(dir.at(n)).isFile()) throw new Error('not a file');
        return fs.readFileSync(dir.at(n), 'utf8');
      });
    } catch {
      throw new AttachError(`the agent in JVM ${j.pid} wrote no answer`, 3);
    }
    return JSON.parse(reply) as AgentReply;
  } finally {
    removeInJvm(j, seen);
    removeInJvm(j, `${seen}.reply`);
  }
}
