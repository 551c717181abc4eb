/**
 * containerd: `ctr` (containerd's own client) on /run/containerd/containerd.sock (CONTAINERD_ADDRESS=unix://… when
 * set), in --containerd-namespace (default k8s.io), then moby and default when the id is not there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../../errors';
import { Executor } from '../executor';
import type { ContainerScope } from '../scope';
import { type RuntimeClient, socketFrom, stringValues } from './client';

const containerdSocket = () => socketFrom(process.env.CONTAINERD_ADDRESS, '/run/containerd/containerd.sock');

/** `ctr --address … -n NAMESPACE ARGS…` */
function ctrIn(namespace: string | undefined) {
  const exec = new Executor(false);
  const base = ['--address', containerdSocket(), '-n', namespace ?? 'k8s.io'];
  return (args: string[], allowFail = false) => exec.run('ctr', [...base, ...args], { allowFail });
}

export const containerd: RuntimeClient = {
  runtime: 'containerd',

  async find(id, namespace) {
    const address = containerdSocket();
    const tried: string[] = [];
    for (const ns of [...new Set([namespace, 'moby', 'default'])]) {
      const ctr = ctrIn(ns);
      const ls = await ctr(['containers', 'ls', '-q'], true);
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
        throw badArgs(
          `--container-id ${id} is ambiguous in containerd namespace ${ns}: ${hits.slice(0, 5).join(', ')}`,
        );
      if (!hits.length) continue;
      const full = hits[0];
      const tasks = await ctr(['tasks', 'ls'], true);
      const row = tasks.stdout
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .find((c) => c[0] === full);
      const state = row ? row[2].toLowerCase() : 'created, no task';
      return { id: full, name: full, pid: row ? Number(row[1]) : 0, namespace: ns, state };
    }
    throw badArgs(`--container-id ${id}: no such containerd container (namespaces ${tried.join(', ')})`);
  },

  validate(t, op) {
    if (op === 'restart' && (t.namespace ?? 'k8s.io') === 'k8s.io')
      throw badArgs(
        `container restart of ${t.id.slice(0, 12)} in containerd namespace k8s.io is not supported: the kubelet's CRI ` +
          'manages it (a task started behind its back would confuse it) and restarts what stops; ' +
          '`inject container kill` stops it',
      );
  },

  /** task kill, pause, resume; rm = kill, task delete, container delete; restart: restartTask */
  async act(t, a) {
    const ctr = ctrIn(t.namespace);
    if (a.op === 'kill') await ctr(['tasks', 'kill', '-s', a.signal, t.id]);
    else if (a.op === 'pause') await ctr(['tasks', 'pause', t.id]);
    else if (a.op === 'unpause') await ctr(['tasks', 'resume', t.id]);
    else if (a.op === 'rm') {
      await ctr(['tasks', 'kill', '-s', 'SIGKILL', t.id], true);
      await ctr(['tasks', 'delete', '-f', t.id]);
      await ctr(['containers', 'delete', t.id]);
    } else return restartTask(t, a.waitS, ctr);
    return [];
  },

  /** its task's status */
  async isPaused(t) {
    const r = await ctrIn(t.namespace)(['tasks', 'ls'], true);
    return r.stdout.split('\n').some((l) => l.trim().split(/\s+/)[0] === t.id && /PAUSED/.test(l));
  },

  async labels(t) {
    const r = await ctrIn(t.namespace)(['containers', 'info', t.id]);
    return stringValues((JSON.parse(r.stdout) as { Labels?: unknown }).Labels);
  },

  async recipe(t) {
    return { id: t.id, name: t.name };
  },
};

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
  t: ContainerScope,
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
