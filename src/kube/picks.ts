/**
 * What a kube inject aims at: pods (by name, or a namespace and a label selector), one container in each (by
 * name, else the pod's kubectl.kubernetes.io/default-container, else its first), or nodes; a random subset of
 * them (--count / --percent, seeded by --seed); and the ready agent pod on each target's node.
 */
import { badArgs } from '../errors';
import type { AgentPod } from './agent-api';
import type { Kubectl } from './kubectl';

export interface PodPick {
  /** ns/name of the pod, or "node/NAME" for a host fault on a node */
  label: string;
  node: string;
  pod?: { namespace: string; name: string; container: string };
  /** the container as its runtime knows it: docker://…, containerd://…, cri-o://… */
  containerId?: string;
  runtime?: 'docker' | 'containerd' | 'crio';
}

export interface Selection {
  pods?: string[];
  namespace?: string;
  selector?: string;
  container?: string;
  nodes?: string[];
  count?: number;
  percent?: number;
  seed?: number;
}

interface PodJson {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: { nodeName?: string; containers: Array<{ name: string }> };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ name: string; containerID?: string; ready?: boolean; state?: Record<string, unknown> }>;
  };
}

const RUNTIME_OF: Record<string, PodPick['runtime']> = { docker: 'docker', containerd: 'containerd', 'cri-o': 'crio' };

/** One pod's target: its node and the chosen container's id (it must be running). */
export function podPick(p: PodJson, container?: string): PodPick {
  const label = `${p.metadata.namespace}/${p.metadata.name}`;
  const node = p.spec.nodeName;
  if (!node) throw badArgs(`pod ${label} is not scheduled on a node yet`);
  const name =
    container ?? p.metadata.annotations?.['kubectl.kubernetes.io/default-container'] ?? p.spec.containers[0]?.name;
  const st = p.status?.containerStatuses?.find((c) => c.name === name);
  if (!st)
    throw badArgs(
      `pod ${label} has no container ${name ?? ''} (it has: ${p.spec.containers.map((c) => c.name).join(', ')})`,
    );
  if (!st.containerID || !st.state || !('running' in st.state)) {
    const [state, detail] = Object.entries(st.state ?? {})[0] ?? [];
    const reason = (detail as { reason?: unknown } | undefined)?.reason;
    throw badArgs(
      `container ${name} of pod ${label} is not running${state ? ` (${state}${typeof reason === 'string' ? `: ${reason}` : ''})` : ''}`,
    );
  }
  const m = /^([a-z-]+):\/\/([0-9a-f]{12,64})$/.exec(st.containerID);
  if (!m || !RUNTIME_OF[m[1]]) throw badArgs(`pod ${label}: unknown container id form ${st.containerID}`);
  return {
    label,
    node,
    pod: { namespace: p.metadata.namespace, name: p.metadata.name, container: name },
    containerId: st.containerID,
    runtime: RUNTIME_OF[m[1]],
  };
}

/** A small, well-mixed PRNG: the same --seed picks the same targets. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** --count N or --percent P of the targets (at least one), chosen at random by the seed; all when neither. */
export function pick<T extends { label: string }>(all: T[], s: Pick<Selection, 'count' | 'percent' | 'seed'>): T[] {
  const sorted = [...all].sort((a, b) => a.label.localeCompare(b.label));
  let n = sorted.length;
  if (s.count !== undefined) n = Math.min(s.count, sorted.length);
  else if (s.percent !== undefined) n = Math.max(1, Math.round((s.percent / 100) * sorted.length));
  if (n >= sorted.length) return sorted;
  const rnd = mulberry32(s.seed ?? Date.now());
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
  }
  return sorted.slice(0, n).sort((a, b) => a.label.localeCompare(b.label));
}

/** A pod a selector matched that cannot be a target (its container not running, not scheduled yet), and why. */
export interface SkippedPod {
  label: string;
  node: string;
  reason: string;
}

/**
 * The targets: nodes, pods named with --pod (each must be targetable: the user named it), and the pods a selector
 * matches — of those, one whose chosen container is not running (a CrashLoopBackOff pod is still in phase Running)
 * or that is not scheduled yet is skipped and listed, and the selection fails only when too few remain.
 */
export async function pickPods(kubectl: Kubectl, s: Selection): Promise<{ picks: PodPick[]; skipped: SkippedPod[] }> {
  const all: PodPick[] = [];
  const skipped: SkippedPod[] = [];
  if (s.nodes?.length) {
    for (const n of s.nodes) {
      await kubectl.getJson(['node', n]); // exists (kubectl says why not)
      all.push({ label: `node/${n}`, node: n });
    }
  }
  for (const ref of s.pods ?? []) {
    const m = /^(?:([a-z0-9][a-z0-9.-]{0,252})\/)?([a-z0-9][a-z0-9.-]{0,252})$/.exec(ref);
    if (!m) throw badArgs(`--pod must be NAMESPACE/NAME or NAME (with -n), got ${JSON.stringify(ref)}`);
    const ns = m[1] ?? s.namespace ?? 'default';
    all.push(podPick(await kubectl.getJson<PodJson>(['pod', '-n', ns, m[2]]), s.container));
  }
  if (s.selector !== undefined) {
    const list = await kubectl.getJson<{ items: PodJson[] }>([
      'pods',
      '-n',
      s.namespace ?? 'default',
      '-l',
      s.selector,
      '--field-selector',
      'status.phase=Running',
    ]);
    if (!list.items.length)
      throw badArgs(`no running pod in namespace ${s.namespace ?? 'default'} matches -l ${s.selector}`);
    let eligible = 0;
    for (const p of list.items) {
      try {
        all.push(podPick(p, s.container));
        eligible++;
      } catch (e) {
        skipped.push({
          label: `${p.metadata.namespace}/${p.metadata.name}`,
          node: p.spec.nodeName ?? '-',
          reason: (e as Error).message,
        });
      }
    }
    const why = () => skipped.map((x) => `${x.label}: ${x.reason}`).join('; ');
    if (!eligible)
      throw badArgs(
        `no pod matching -l ${s.selector} in namespace ${s.namespace ?? 'default'} can be targeted: ${why()}`,
      );
    if (s.count !== undefined && skipped.length && eligible < s.count)
      throw badArgs(
        `only ${eligible} of the ${eligible + skipped.length} pods matching -l ${s.selector} can be targeted, ` +
          `--target-count ${s.count} asked: ${why()}`,
      );
  }
  if (!all.length) throw badArgs('name the targets: --pod NS/NAME, -l SELECTOR (with -n), or --node NAME');
  const seen = new Set<string>();
  return {
    picks: pick(
      all.filter((t) => !seen.has(t.label) && seen.add(t.label)),
      s,
    ),
    skipped,
  };
}

export interface AgentsOptions {
  namespace: string;
  selector: string;
}

export const DEFAULT_AGENTS: AgentsOptions = {
  namespace: 'chaosmetad',
  selector: 'app.kubernetes.io/name=chaosmetad-agent',
};

/** The agent pods, by node (a ready one preferred). */
export async function listAgents(kubectl: Kubectl, o: AgentsOptions): Promise<AgentPod[]> {
  const list = await kubectl.getJson<{ items: PodJson[] }>(['pods', '-n', o.namespace, '-l', o.selector]);
  return list.items
    .filter((p) => p.spec.nodeName)
    .map((p) => ({
      namespace: p.metadata.namespace,
      name: p.metadata.name,
      node: p.spec.nodeName!,
      container:
        p.metadata.annotations?.['kubectl.kubernetes.io/default-container'] ?? p.spec.containers[0]?.name ?? 'agent',
      ready:
        p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    }))
    .sort((a, b) => a.node.localeCompare(b.node) || Number(b.ready) - Number(a.ready));
}

export function agentFor(agents: AgentPod[], node: string): AgentPod | undefined {
  return agents.find((a) => a.node === node && a.ready);
}
