/**
 * Find a container through its runtime's own API, as the host sees it: its full id, name, init pid and that
 * process's start time (so a restarted container is never taken for the old one), and act on it through the same
 * runtime. Each runtime is a RuntimeClient (client.ts) in its own file:
 *   docker      the Engine API on /var/run/docker.sock (docker.ts)
 *   containerd  `ctr` on /run/containerd/containerd.sock, in --containerd-namespace (containerd.ts)
 *   crio        CRI-O's info endpoint and its CRI on /var/run/crio/crio.sock, the kernel for kill and pause (crio.ts)
 * Not found, not running, ambiguous: exit 1 with the reason, before anything is recorded or changed.
 */
import { badArgs } from '../../errors';
import { alive, startTime } from '../procs';
import { type ContainerScope, type Runtime, RUNTIMES } from '../scope';
import type { ContainerAction, RuntimeClient } from './client';
import { containerd } from './containerd';
import { crio } from './crio';
import { docker } from './docker';

export type { ContainerAction, FoundContainer, RuntimeClient } from './client';
export { unixGet, unixRequest } from './client';
export { logUriArgs } from './containerd';

const CLIENTS: Record<Runtime, RuntimeClient> = { docker, containerd, crio };

/** The client of a runtime. */
export function runtimeClient(runtime: Runtime): RuntimeClient {
  return CLIENTS[runtime];
}

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

export async function resolveContainer(q: ContainerQuery): Promise<ContainerScope> {
  const { id, runtime } = parseContainerRef(q);
  const found = await runtimeClient(runtime).find(id, q.namespace || 'k8s.io');
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

/**
 * Act on the container itself through its runtime: docker's Engine API (kill, pause, unpause, restart, remove);
 * containerd through ctr (task kill, pause, resume; rm = kill, task delete, container delete); CRI-O through its
 * CRI and the kernel. What a runtime cannot do is refused before anything changes (validateAction).
 */
export function containerAct(t: ContainerScope, a: ContainerAction): Promise<string[]> {
  return runtimeClient(t.runtime).act(t, a);
}

/** Refuse, before anything changes, what this runtime cannot do. */
export function validateAction(t: ContainerScope, op: ContainerAction['op']): void {
  runtimeClient(t.runtime).validate(t, op);
}

/** Is the container paused now (docker: State.Paused; containerd: its task's status; CRI-O: its freezer)? */
export function isPaused(t: ContainerScope): Promise<boolean> {
  return runtimeClient(t.runtime).isPaused(t);
}

/** What a person needs to recreate a removed container: image, command, labels, mounts, env names. */
export function recipe(t: ContainerScope): Promise<Record<string, unknown>> {
  return runtimeClient(t.runtime).recipe(t);
}

/** The label the kubelet puts on every container of a pod (through the CRI: docker, containerd, CRI-O alike). */
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const POD_UID_LABEL = 'io.kubernetes.pod.uid';

/** The container's labels as its runtime reports them now ({} when it reports none). */
export function containerLabels(t: ContainerScope): Promise<Record<string, string>> {
  return runtimeClient(t.runtime).labels(t);
}
