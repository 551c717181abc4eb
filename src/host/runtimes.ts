/**
 * Find a container through its runtime's own API, as the host sees it: its full id, name, init pid and that
 * process's start time (so a restarted container is never taken for the old one).
 *   docker      the Engine API on /var/run/docker.sock (DOCKER_HOST=unix://… when set): GET /containers/ID/json
 *   containerd  `ctr` (containerd's own client) on /run/containerd/containerd.sock, in --containerd-namespace
 *               (default k8s.io), then moby and default when the id is not there
 *   crio        CRI-O's info endpoint on its socket: GET /containers/ID on /var/run/crio/crio.sock
 *               (CONTAINER_RUNTIME_ENDPOINT=unix://… when set)
 * Not found, not running, ambiguous: exit 1 with the reason, before anything is recorded or changed.
 * Actions on the container itself (containerAct): docker's Engine API, ctr, and for CRI-O its CRI (host/cri.ts) on
 * the same socket, or the kernel where the CRI has no call (kill: a signal to the init; pause: the freezer).
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { badArgs } from '../errors';
import { Executor } from './executor';
import { criRemove, criStatus, criStop } from './cri';
import { freezerOf, isFrozen, setFrozen } from './cgroup';
import { alive, sameProcess, startTime } from './procs';
import { lazy } from '../util/lazy';

// loaded on first use: node:http costs a host fault's inject ~5 ms of start-up, and only containers need it
const nodeHttp = lazy<typeof http>(() => require('node:http'));
import { ContainerTarget, Runtime, RUNTIMES } from './target';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export interface ContainerQuery {
  /** a full id, a unique prefix, a name (docker), or Kubernetes' docker://…, containerd://…, cri-o://… */
  id: string;
  runtime?: string;
  /** containerd only */
  namespace?: string;
}

/** Split Kubernetes' `runtime://id` form and check both parts; the prefix names the runtime. */
export function parseContainerRef(q: ContainerQuery): { id: string; runtime: Runtime } {
  let id = q.id.trim();
  let runtime = q.runtime || '';
  const m = /^([a-z-]+):\/\/(.*)$/.exec(id);
  if (m) {
    const named = ({ docker: 'docker', containerd: 'containerd', 'cri-o': 'crio', crio: 'crio' } as const)[
      m[1] as 'docker'
    ];
    if (!named) throw badArgs(`--container-id ${q.id}: unknown runtime prefix ${m[1]}:// (docker, containerd, cri-o)`);
    if (runtime && runtime !== named)
      throw badArgs(`--container-id ${q.id} names runtime ${named} but --container-runtime is ${runtime}`);
    runtime = named;
    id = m[2];
  }
  if (runtime === 'pouch')
    throw badArgs('--container-runtime pouch is not supported (pouch is unmaintained); use docker, containerd or crio');
  if (!runtime) runtime = 'docker'; // as the original
  if (!RUNTIMES.includes(runtime as Runtime))
    throw badArgs(`--container-runtime must be one of ${RUNTIMES.join(', ')}, got "${runtime}"`);
  if (!ID_RE.test(id))
    throw badArgs(`--container-id must be a container id, unique prefix or name (letters, digits, _ . -), got "${id}"`);
  if (q.namespace !== undefined && q.namespace !== '' && !ID_RE.test(q.namespace))
    throw badArgs(`--containerd-namespace must be a namespace name (letters, digits, _ . -), got "${q.namespace}"`);
  return { id, runtime: runtime as Runtime };
}

export async function resolveContainer(q: ContainerQuery): Promise<ContainerTarget> {
  const { id, runtime } = parseContainerRef(q);
  let found: { id: string; name: string; pid: number; namespace?: string; state: string };
  if (runtime === 'docker') found = await docker(id);
  else if (runtime === 'containerd') found = await containerd(id, q.namespace || 'k8s.io');
  else found = await crio(id);
  if (found.state !== 'running')
    throw badArgs(`container ${found.id.slice(0, 12)} (${runtime}) is not running (${found.state}): nothing changed`);
  if (!(found.pid > 0) || !alive(found.pid))
    throw badArgs(`container ${found.id.slice(0, 12)} (${runtime}) has no live init process (pid ${found.pid})`);
  const start = startTime(found.pid);
  if (start === undefined) throw badArgs(`container ${found.id.slice(0, 12)}: its init process ${found.pid} is gone`);
  return {
    kind: 'container',
    runtime,
    id: found.id,
    name: found.name,
    namespace: found.namespace,
    pid: found.pid,
    start,
  };
}

/** GET a path on a Unix socket; the parsed JSON body and the status. */
export function unixGet(socketPath: string, p: string, timeoutMs = 10_000): Promise<{ status: number; body: any }> {
  return unixRequest(socketPath, 'GET', p, timeoutMs);
}

/** One request on a Unix socket (no body); the parsed JSON body and the status. */
export function unixRequest(
  socketPath: string,
  method: string,
  p: string,
  timeoutMs = 10_000,
): Promise<{ status: number; body: any }> {
  const { request } = nodeHttp();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path: p, headers: { Host: 'localhost' }, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        if (text.length > 8 << 20) req.destroy(new Error('reply larger than 8 MB'));
      });
      res.on('end', () => {
        let body: any = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* plain text (an error message) */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end();
  });
}

export type ContainerAction =
  | { op: 'kill'; signal: string }
  | { op: 'pause' }
  | { op: 'unpause' }
  | { op: 'restart'; waitS: number }
  | { op: 'rm' };

/**
 * Act on the container itself through its runtime: docker's Engine API (kill, pause, unpause, restart, remove);
 * containerd through ctr (task kill, pause, resume; rm = kill, task delete, container delete). What a runtime
 * cannot do is refused before anything changes (validateAction).
 */
export async function containerAct(t: ContainerTarget, a: ContainerAction): Promise<string[]> {
  if (t.runtime === 'docker') {
    const sock = socketFrom(process.env.DOCKER_HOST, '/var/run/docker.sock');
    const id = encodeURIComponent(t.id);
    const [method, p] =
      a.op === 'kill'
        ? ['POST', `/containers/${id}/kill?signal=${encodeURIComponent(a.signal)}`]
        : a.op === 'restart'
          ? ['POST', `/containers/${id}/restart?t=${a.waitS}`]
          : a.op === 'rm'
            ? ['DELETE', `/containers/${id}?force=true`]
            : ['POST', `/containers/${id}/${a.op}`];
    const r = await unixRequest(sock, method, p, 120_000);
    if (r.status >= 300) {
      const msg = typeof r.body === 'object' ? r.body.message : String(r.body);
      throw new Error(`docker ${a.op} ${t.id.slice(0, 12)}: ${String(msg).trim().slice(0, 300)}`);
    }
    return [];
  }
  if (t.runtime === 'containerd') {
    const exec = new Executor(false);
    const address = socketFrom(process.env.CONTAINERD_ADDRESS, '/run/containerd/containerd.sock');
    const base = ['--address', address, '-n', t.namespace ?? 'k8s.io'];
    const ctr = (args: string[]) => exec.run('ctr', [...base, ...args]);
    if (a.op === 'kill') await ctr(['tasks', 'kill', '-s', a.signal, t.id]);
    else if (a.op === 'pause') await ctr(['tasks', 'pause', t.id]);
    else if (a.op === 'unpause') await ctr(['tasks', 'resume', t.id]);
    else if (a.op === 'rm') {
      await exec.run('ctr', [...base, 'tasks', 'kill', '-s', 'SIGKILL', t.id], { allowFail: true });
      await ctr(['tasks', 'delete', '-f', t.id]);
      await ctr(['containers', 'delete', t.id]);
    } else return restartTask(t, a.waitS, (args, allowFail) => exec.run('ctr', [...base, ...args], { allowFail }));
    return [];
  }
  // CRI-O: the CRI has no kill with a signal and no pause; those act on the container's init and cgroup directly
  // (the identity of its init checked first), rm goes through the CRI on CRI-O's socket
  if (a.op === 'kill') {
    if (!sameProcess(t.pid, t.start)) throw new Error(`${t.id.slice(0, 12)}: its init process ${t.pid} is gone`);
    process.kill(t.pid, a.signal);
  } else if (a.op === 'pause' || a.op === 'unpause') await setFrozen(freezerOf(t.pid), a.op === 'pause');
  else if (a.op === 'rm') {
    const sock = crioSocket();
    await criStop(sock, t.id, 0);
    await criRemove(sock, t.id);
  } else throw new Error('CRI-O has no restart');
  return [];
}

/**
 * Where the new task's output goes: `ctr tasks start`'s arguments for the container's `nerdctl/log-uri` label.
 * That label is the container's, set by whoever created it (a CRI copies pod labels into container labels), and
 * containerd acts on it as root: a `binary://PROGRAM?args` URI runs PROGRAM as root, a `fifo://` or an odd file
 * path opens what it names. Only a plain `file:///absolute/path` is passed on (letters, digits and ._+@=,- in its
 * components; no "..", no query, no percent-escapes that a second parser could read differently; the file absent
 * or a regular file, never a link, a FIFO or a device); no label: the default, --null-io (output discarded).
 * Anything else (nerdctl's own binary:// logger included) is refused: --null-io, and a note saying so.
 */
export function logUriArgs(label: string | undefined): { args: string[]; note?: string } {
  const nullIo = { args: ['--null-io'] };
  if (label === undefined || label === '') return nullIo;
  const refuse = (why: string) => ({
    args: ['--null-io'],
    note: `the container's nerdctl/log-uri label ${JSON.stringify(label.slice(0, 200))} was not used (${why}): the restarted task's output is discarded (--null-io)`,
  });
  const m = /^file:\/\/(\/[A-Za-z0-9._+@=,/-]*)$/.exec(label);
  if (!m) return refuse('only a file:///absolute/path log URI is passed to containerd, which acts on it as root');
  const file = m[1];
  if (path.posix.normalize(file) !== file || file.endsWith('/') || file.split('/').includes('..'))
    return refuse('the path is not in its plain form');
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(file);
  } catch {
    /* absent: containerd creates it */
  }
  if (st && !st.isFile()) return refuse(`${file} exists and is not a regular file`);
  return { args: ['--log-uri', label] };
}

/**
 * containerd has no restart; its clients (ctr, nerdctl) stop the task and start a new one from the same container:
 * SIGTERM, SIGKILL after waitS, delete the task, start a new one — its output where nerdctl's log URI label says
 * when that is a plain file (logUriArgs), else to /dev/null. (CRI-managed ones, namespace k8s.io, are refused
 * before: the kubelet restarts those.) Returns notes for the operator.
 */
async function restartTask(
  t: ContainerTarget,
  waitS: number,
  ctr: (args: string[], allowFail?: boolean) => Promise<{ exitCode: number; stdout: string }>,
): Promise<string[]> {
  const stopped = async () => {
    const ls = await ctr(['tasks', 'ls'], true);
    const row = ls.stdout.split('\n').find((l) => l.trim().split(/\s+/)[0] === t.id);
    return !row || /STOPPED/.test(row);
  };
  const waitStopped = async (ms: number) => {
    for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 100)))
      if (await stopped()) return true;
    return stopped();
  };
  await ctr(['tasks', 'kill', '-s', 'SIGTERM', t.id], true);
  if (!(await waitStopped(waitS * 1000))) {
    await ctr(['tasks', 'kill', '-s', 'SIGKILL', t.id], true);
    if (!(await waitStopped(10_000))) throw new Error(`${t.id}: its task did not stop after SIGKILL`);
  }
  await ctr(['tasks', 'delete', t.id]);
  let label: string | undefined;
  try {
    const info = JSON.parse((await ctr(['containers', 'info', t.id])).stdout) as { Labels?: Record<string, string> };
    label = info.Labels?.['nerdctl/log-uri'];
  } catch {
    /* no labels: /dev/null */
  }
  const log = logUriArgs(typeof label === 'string' ? label : undefined);
  await ctr(['tasks', 'start', '-d', ...log.args, t.id]);
  return log.note ? [log.note] : [];
}

const crioSocket = () => socketFrom(process.env.CONTAINER_RUNTIME_ENDPOINT, '/var/run/crio/crio.sock');

/** Refuse, before anything changes, what this runtime cannot do. */
export function validateAction(t: ContainerTarget, op: ContainerAction['op']): void {
  if (op !== 'restart') return;
  if (t.runtime === 'crio')
    throw badArgs(
      'container restart on CRI-O is not supported (the CRI has no restart: the kubelet restarts what stops; ' +
        '`inject container kill` stops it)',
    );
  if (t.runtime === 'containerd' && (t.namespace ?? 'k8s.io') === 'k8s.io')
    throw badArgs(
      `container restart of ${t.id.slice(0, 12)} in containerd namespace k8s.io is not supported: the kubelet's CRI ` +
        'manages it (a task started behind its back would confuse it) and restarts what stops; ' +
        '`inject container kill` stops it',
    );
}

/** Is the container paused now (docker: State.Paused; containerd: its task's status)? */
export async function isPaused(t: ContainerTarget): Promise<boolean> {
  if (t.runtime === 'docker') {
    const sock = socketFrom(process.env.DOCKER_HOST, '/var/run/docker.sock');
    const r = await unixGet(sock, `/containers/${encodeURIComponent(t.id)}/json`);
    return r.status === 200 && r.body.State?.Paused === true;
  }
  if (t.runtime === 'containerd') {
    const address = socketFrom(process.env.CONTAINERD_ADDRESS, '/run/containerd/containerd.sock');
    const r = await new Executor(false).run(
      'ctr',
      ['--address', address, '-n', t.namespace ?? 'k8s.io', 'tasks', 'ls'],
      {
        allowFail: true,
      },
    );
    return r.stdout.split('\n').some((l) => l.trim().split(/\s+/)[0] === t.id && /PAUSED/.test(l));
  }
  return isFrozen(freezerOf(t.pid));
}

/** What a person needs to recreate a removed docker container: image, command, labels, mounts, env names. */
export async function recipe(t: ContainerTarget): Promise<Record<string, unknown>> {
  if (t.runtime === 'crio') {
    try {
      const st = await criStatus(crioSocket(), t.id);
      const config = (st.info.config ?? {}) as Record<string, unknown>;
      return {
        id: t.id,
        name: st.name || t.name,
        image: st.image,
        command: config.command,
        args: config.args,
        labels: st.labels,
        annotations: st.annotations,
        mounts: st.mounts,
        env_names: Array.isArray(config.envs) ? config.envs.map((e: { key?: string }) => e.key) : undefined,
      };
    } catch (e) {
      return { id: t.id, name: t.name, note: `CRI ContainerStatus failed: ${(e as Error).message}` };
    }
  }
  if (t.runtime !== 'docker') return { id: t.id, name: t.name };
  const sock = socketFrom(process.env.DOCKER_HOST, '/var/run/docker.sock');
  const r = await unixGet(sock, `/containers/${encodeURIComponent(t.id)}/json`);
  if (r.status !== 200) return { id: t.id, name: t.name };
  const b = r.body;
  return {
    id: t.id,
    name: t.name,
    image: b.Config?.Image,
    cmd: b.Config?.Cmd,
    entrypoint: b.Config?.Entrypoint,
    labels: b.Config?.Labels,
    mounts: (b.Mounts ?? []).map((m: any) => ({
      type: m.Type,
      source: m.Source,
      destination: m.Destination,
      rw: m.RW,
    })),
    env_names: (b.Config?.Env ?? []).map((e: string) => e.split('=')[0]),
    restart_policy: b.HostConfig?.RestartPolicy?.Name,
  };
}

function socketFrom(env: string | undefined, fallback: string): string {
  return env && env.startsWith('unix://') ? env.slice('unix://'.length) : fallback;
}

async function docker(id: string) {
  const sock = socketFrom(process.env.DOCKER_HOST, '/var/run/docker.sock');
  let r;
  try {
    r = await unixGet(sock, `/containers/${encodeURIComponent(id)}/json`);
  } catch (e) {
    throw badArgs(`--container-id ${id}: cannot ask docker on ${sock}: ${(e as Error).message} (is dockerd running?)`);
  }
  if (r.status === 404) throw badArgs(`--container-id ${id}: no such docker container`);
  if (r.status !== 200) {
    const msg = typeof r.body === 'object' ? r.body.message : String(r.body);
    // a prefix of several ids: docker says "multiple IDs found with provided prefix"
    throw badArgs(`--container-id ${id}: docker says: ${String(msg).trim().slice(0, 300)}`);
  }
  const b = r.body;
  const state = b.State?.Paused ? 'paused' : b.State?.Running ? 'running' : String(b.State?.Status ?? 'not running');
  return { id: String(b.Id), name: String(b.Name ?? '').replace(/^\//, ''), pid: Number(b.State?.Pid), state };
}

async function containerd(id: string, namespace: string) {
  const exec = new Executor(false);
  const address = socketFrom(process.env.CONTAINERD_ADDRESS, '/run/containerd/containerd.sock');
  const ctr = (ns: string, args: string[]) =>
    exec.run('ctr', ['--address', address, '-n', ns, ...args], { allowFail: true });
  const tried: string[] = [];
  for (const ns of [...new Set([namespace, 'moby', 'default'])]) {
    const ls = await ctr(ns, ['containers', 'ls', '-q']);
    if (ls.exitCode !== 0) {
      if (tried.length === 0 && /connect|no such file|permission/i.test(ls.stderr))
        throw badArgs(`--container-id ${id}: cannot ask containerd on ${address}: ${ls.stderr.trim().slice(0, 200)}`);
      tried.push(ns);
      continue;
    }
    tried.push(ns);
    const ids = ls.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const hits = ids.includes(id) ? [id] : ids.filter((c) => c.startsWith(id));
    if (hits.length > 1)
      throw badArgs(`--container-id ${id} is ambiguous in containerd namespace ${ns}: ${hits.slice(0, 5).join(', ')}`);
    if (!hits.length) continue;
    const full = hits[0];
    const tasks = await ctr(ns, ['tasks', 'ls']);
    const row = tasks.stdout
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .find((c) => c[0] === full);
    const state = row ? row[2].toLowerCase() : 'created, no task';
    return { id: full, name: full, pid: row ? Number(row[1]) : 0, namespace: ns, state };
  }
  throw badArgs(`--container-id ${id}: no such containerd container (namespaces ${tried.join(', ')})`);
}

async function crio(id: string) {
  const sock = socketFrom(process.env.CONTAINER_RUNTIME_ENDPOINT, '/var/run/crio/crio.sock');
  let r;
  try {
    r = await unixGet(sock, `/containers/${encodeURIComponent(id)}`);
  } catch (e) {
    throw badArgs(`--container-id ${id}: cannot ask CRI-O on ${sock}: ${(e as Error).message} (is crio running?)`);
  }
  if (r.status !== 200 || typeof r.body !== 'object')
    throw badArgs(
      `--container-id ${id}: CRI-O says: ${String(typeof r.body === 'object' ? JSON.stringify(r.body) : r.body)
        .trim()
        .slice(0, 300)}`,
    );
  const b = r.body;
  const pid = Number(b.pid);
  // CRI-O's info answer has no state: a container with a live init process is running
  return { id, name: String(b.name ?? ''), pid, state: pid > 0 ? 'running' : 'not running' };
}

/** The label the kubelet puts on every container of a pod (through the CRI: docker, containerd, CRI-O alike). */
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const POD_UID_LABEL = 'io.kubernetes.pod.uid';

/** The container's labels as its runtime reports them now ({} when it reports none). */
export async function containerLabels(t: ContainerTarget): Promise<Record<string, string>> {
  const strings = (o: unknown): Record<string, string> =>
    o && typeof o === 'object'
      ? (Object.fromEntries(
          Object.entries(o as Record<string, unknown>).filter(([, v]) => typeof v === 'string'),
        ) as Record<string, string>)
      : {};
  if (t.runtime === 'docker') {
    const sock = socketFrom(process.env.DOCKER_HOST, '/var/run/docker.sock');
    const r = await unixGet(sock, `/containers/${encodeURIComponent(t.id)}/json`);
    if (r.status !== 200) throw badArgs(`container ${t.id.slice(0, 12)}: docker says ${r.status}`);
    return strings(r.body?.Config?.Labels);
  }
  if (t.runtime === 'containerd') {
    const address = socketFrom(process.env.CONTAINERD_ADDRESS, '/run/containerd/containerd.sock');
    const r = await new Executor(false).run('ctr', [
      '--address',
      address,
      '-n',
      t.namespace ?? 'k8s.io',
      'containers',
      'info',
      t.id,
    ]);
    return strings((JSON.parse(r.stdout) as { Labels?: unknown }).Labels);
  }
  return (await criStatus(crioSocket(), t.id)).labels;
}
