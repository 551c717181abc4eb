/**
 * JVMs: finding them, and talking to chaosmetad's Java agent in them through HotSpot's dynamic attach — no JDK on
 * this side (the native helper's `jattach` speaks the protocol, as the JVM's own user). The agent jar is put in the
 * JVM's own /tmp (a container's, through /proc/PID/root, created exclusively under a name nobody can guess, root's,
 * readable by the JVM). Each command is exchanged in a directory of its own that chaosmetad creates in that /tmp:
 * 0700, an unguessable name, handed to the JVM's user for the command only (the agent, running as that user,
 * writes its answer there; nobody else can enter), then taken back before the answer is read: a regular file of the
 * JVM's user, opened without following links and without blocking, at most 1 MiB. A local user who sees the name
 * in a world-listable /tmp can neither plant an answer nor swap one in.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { agentJar, helperPath } from './assets';
import { Dir, UnsafePath, createExclusive, unguessable, withParent } from './safefs';

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
    return `no such process ${pid}`;
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
const C = fs.constants;
/** an entry of a directory held open as fd */
const at = (fd: number, name: string) => `/proc/self/fd/${fd}/${name}`;
const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Unlink the exchange's own files (command, reply, the agent's temporary reply) if they are not directories; true
 * when nothing else is left in the directory.
 */
function removeKnown(fd: number): boolean {
  for (const f of [COMMAND, REPLY, `${REPLY}.tmp`]) {
    try {
      if (!fs.lstatSync(at(fd, f)).isDirectory()) fs.unlinkSync(at(fd, f));
    } catch {
      /* absent */
    }
  }
  try {
    return fs.readdirSync(at(fd, '.')).length === 0;
  } catch {
    return false;
  }
}

/**
 * Remove an exchange directory `name` of `tmp` (open): taken back as root's 0700 first (through its own descriptor,
 * no link followed), emptied through that descriptor, then removed if the name still is that directory.
 */
function removeExchange(tmp: Dir, name: string, owners: number[]): boolean {
  let fd: number;
  try {
    fd = fs.openSync(tmp.at(name), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!owners.includes(st.uid)) return false; // not one chaosmetad made (a look-alike of another user's)
    fs.fchownSync(fd, 0, 0);
    fs.fchmodSync(fd, 0o700);
    // only the exchange's own files go (never recursively: the JVM's user could have renamed a directory of
    // root's in here to have root empty it); anything else keeps the directory
    if (!removeKnown(fd)) return false;
    const now = fs.lstatSync(tmp.at(name));
    if (now.ino !== st.ino || now.dev !== st.dev) return false;
    fs.rmdirSync(tmp.at(name));
    return true;
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Remove the command exchanges of this experiment from a /tmp (the JVM's, as the host opens it): those left behind
 * by a chaosmetad killed mid-command. A directory (emptied through descriptors) or a regular file (the earlier
 * layout: a command file and its answer in /tmp itself) only when it is root's or the JVM's user's (`owner`);
 * never through a link.
 */
export function sweepCommands(tmpDir: string, uid: string, owner?: number): number {
  let n = 0;
  try {
    const d = Dir.open(tmpDir);
    try {
      for (const f of fs.readdirSync(d.at('.'))) {
        if (!f.startsWith(cmdPrefix(uid))) continue;
        const st = fs.lstatSync(d.at(f));
        if (st.isDirectory()) {
          if (removeExchange(d, f, owner === undefined ? [0] : [0, owner])) n++;
        } else if (st.isFile() && (st.uid === 0 || st.uid === owner)) {
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
    const want = fs.readFileSync(agentJar());
    // at most the jar's own size is read: a file of another size is not it
    const have = withParent(`/proc/${j.pid}/root${seen}`, (dir, name) =>
      readRegular(dir.at(name), { cap: want.length, owner: 0 }),
    );
    return have.length === want.length && sha(have) === sha(want);
  } catch {
    return false;
  }
}

/**
 * Read a file that another party may control: opened without following a link and without blocking (a FIFO or a
 * device is refused, never waited on), a regular file of `owner` with at most `cap` bytes — never more is read or
 * allocated. Throws UnsafePath saying what it is instead.
 */
export function readRegular(p: string, want: { cap: number; owner: number }): Buffer {
  const shown = p.replace(/^\/proc\/self\/fd\/\d+\//, '');
  let fd: number;
  try {
    fd = fs.openSync(p, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY);
  } catch (e) {
    if (errno(e) === 'ELOOP') throw new UnsafePath(`${shown} is a symbolic link; not following it`);
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new UnsafePath(`${shown} is not a regular file`);
    if (st.uid !== want.owner) throw new UnsafePath(`${shown} belongs to uid ${st.uid}, not ${want.owner}`);
    if (st.size > want.cap) throw new UnsafePath(`${shown} is larger than ${want.cap} bytes (${st.size})`);
    // it may still grow while read: one byte more than its size is read at most, to see that
    const buf = Buffer.alloc(st.size + 1);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) break;
      off += n;
    }
    if (off > st.size) throw new UnsafePath(`${shown} grew while it was read`);
    return buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
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

/** The agent's answer is at most this long (its JSON is a few hundred bytes). */
export const REPLY_MAX = 1 << 20;
const COMMAND = 'command.properties';
/** the agent answers in <command file>.reply (as every version of it did) */
const REPLY = `${COMMAND}.reply`;

/**
 * One command to the agent: op=add|remove|status with its keys. Loads the agent (the jar at `jar`, in the JVM's
 * view) if it is not loaded yet; reuses it if it is. Returns the agent's JSON reply.
 *
 * The exchange: a directory made in the JVM's /tmp (opened component by component, no link followed) with mkdir
 * 0700 under an unguessable name, opened O_NOFOLLOW and checked (root's, a directory) before it is handed to the
 * JVM's uid and gid through that descriptor; the command file created in it O_EXCL (root's, 0644). After the attach
 * the directory is taken back (root's again: no one else can add, rename or swap an entry while the answer is read
 * and everything is removed), then the answer is read (readRegular: the JVM's uid, regular, ≤ 1 MiB).
 */
export async function agentCommand(j: Jvm, jar: string, props: Record<string, string | number>, timeoutMs = 30_000) {
  // named after the experiment: an exchange left by a process killed mid-attach is swept at its recover
  const name = unguessable(cmdPrefix(String(props.uid)));
  const text = Object.entries(props)
    .map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    .join('\n');
  const tmp = Dir.open(tmpOf(j));
  try {
    fs.mkdirSync(tmp.at(name), 0o700);
    let x = -1;
    try {
      x = fs.openSync(tmp.at(name), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      const st = fs.fstatSync(x);
      if (!st.isDirectory() || st.uid !== 0) throw new UnsafePath(`${tmp.path}/${name} is not the directory just made`);
      fs.fchmodSync(x, 0o700);
      const fd = fs.openSync(at(x, COMMAND), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o644);
      try {
        fs.writeSync(fd, text + '\n');
        fs.fchmodSync(fd, 0o644);
      } finally {
        fs.closeSync(fd);
      }
      // the JVM's user may now write its answer there (and only that user: 0700)
      fs.fchownSync(x, j.uid, j.gid);
      let raw: string;
      try {
        raw = await jattach(j, jar, `/tmp/${name}/${COMMAND}`, timeoutMs);
      } finally {
        // taken back: from here no one but root changes what is in it
        fs.fchownSync(x, 0, 0);
        fs.fchmodSync(x, 0o700);
      }
      // the reply: the result code on the first line; for `load`, then "return code: N" (JDK 9+)
      const [code, ...rest] = raw.trim().split('\n');
      const rc = /return code: (-?\d+)/.exec(rest.join('\n'));
      if (code.trim() !== '0' || (rc && rc[1] !== '0'))
        throw new AttachError(`the JVM ${j.pid} refused to load the agent: ${raw.trim().replace(/\n/g, ' ')}`, 3);
      let reply: Buffer;
      try {
        reply = readRegular(at(x, REPLY), { cap: REPLY_MAX, owner: j.uid });
      } catch (e) {
        throw new AttachError(
          errno(e) === 'ENOENT'
            ? `the agent in JVM ${j.pid} wrote no answer`
            : `the agent's answer in JVM ${j.pid} is refused: ${(e as Error).message}`,
          3,
        );
      }
      try {
        return JSON.parse(reply.toString('utf8')) as AgentReply;
      } catch {
        throw new AttachError(`the agent's answer in JVM ${j.pid} is not JSON`, 3);
      }
    } finally {
      if (x >= 0) fs.closeSync(x);
      removeExchange(tmp, name, [0, j.uid]);
    }
  } finally {
    tmp.close();
  }
}
