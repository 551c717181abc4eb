/**
 * Kubernetes as the distributed engine: one experiment (one uid) over many targets, each a sub-experiment
 * `<uid>-<n>` on its node's agent that records the uid as its parent — so `kube query/recover <uid>` work from any
 * machine with kubectl access, by asking every agent. Injects run in parallel (bounded); a transport failure is
 * retried without ever injecting twice (the sub-uid already live on that node counts as injected); when some targets
 * fail, the ones that succeeded are recovered unless --keep-partial. The timeout (and a lease) go to every
 * sub-experiment, so the agents recover on their own.
 */
import { customAlphabet } from 'nanoid';
import type { ExperimentView } from '../api/views';
import { ChaosError, ExitCode, badArgs } from '../errors';
import { AGENT_BIN, AgentApi, type AgentPod, TransportError, injectArgv } from './agent-api';
import type { Kubectl } from './kubectl';
import { type AgentsOptions, type Selection, type PodPick, agentFor, listAgents, pickPods } from './picks';

const newUid = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 8);
/** a sub-uid `<uid>-<n>` must still be a uid (at most 36 characters) */
const PARENT_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{4,31}$/;

/** What fan-out reads of a pod (kubectl get pods -o json): its name and its containers' ids. */
interface PodStatus {
  metadata: { namespace: string; name: string };
  status?: { containerStatuses?: Array<{ containerID?: string }> };
}

export interface KubeInject {
  target: string;
  fault: string;
  args: Record<string, unknown>;
  uid?: string;
  timeout?: string;
  lease?: string;
  creator?: string;
  selection: Selection;
  parallel?: number;
  /** transport retries per target (default 3) */
  retries?: number;
  keepPartial?: boolean;
  dryRun?: boolean;
}

export interface TargetResult {
  target: string;
  node: string;
  container: string;
  sub_uid: string;
  agent: string;
  ok: boolean;
  /**
   * injected, failed, recovered (injected, then undone because others failed), planned (dry run), skipped (a pod
   * the selector matched whose container is not running: not a target; the message says why)
   */
  result: 'injected' | 'failed' | 'recovered' | 'planned' | 'skipped';
  code: number;
  message: string;
  attempts: number;
  command?: string[];
}

export interface SubExperiment extends ExperimentView {
  node: string;
  agent: string;
  pod: string;
}

/** Run fn over items, at most `limit` at once, results in order. */
export async function bounded<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isLive = (status: string) => status === 'created' || status === 'success';

export class Kube {
  constructor(
    readonly kubectl: Kubectl,
    readonly agentsOpts: AgentsOptions,
    readonly log: (line: string) => void = () => {},
  ) {}

  agents(): Promise<AgentPod[]> {
    return listAgents(this.kubectl, this.agentsOpts);
  }

  api(agent: AgentPod): AgentApi {
    return new AgentApi(this.kubectl, agent);
  }

  async inject(o: KubeInject): Promise<{ uid: string; results: TargetResult[] }> {
    const uid = o.uid || newUid();
    if (!PARENT_RE.test(uid))
      throw badArgs(
        `--uid must be 5 to 32 characters of letters, digits, "_" and "-" (each target adds -N), got "${uid}"`,
      );
    const [{ picks: targets, skipped }, agents] = await Promise.all([
      pickPods(this.kubectl, o.selection),
      this.agents(),
    ]);
    const skips: TargetResult[] = skipped.map((x) => ({
      target: x.label,
      node: x.node,
      container: '-',
      sub_uid: '-',
      agent: '-',
      ok: true,
      result: 'skipped',
      code: 0,
      message: x.reason,
      attempts: 0,
    }));
    const reqOf = (t: PodPick, i: number) => ({
      target: o.target,
      fault: o.fault,
      args: o.args,
      uid: `${uid}-${i + 1}`,
      parentUid: uid,
      timeout: o.timeout,
      lease: o.lease,
      creator: o.creator,
      containerId: t.containerId,
      containerRuntime: t.runtime,
    });
    const base = (t: PodPick, i: number, agent?: AgentPod) => ({
      target: t.label,
      node: t.node,
      container: t.pod?.container ?? '-',
      sub_uid: `${uid}-${i + 1}`,
      agent: agent ? `${agent.namespace}/${agent.name}` : '-',
    });
    if (o.dryRun) {
      return {
        uid,
        results: [
          ...targets.map((t, i): TargetResult => {
            const agent = agentFor(agents, t.node);
            const argv = [AGENT_BIN, ...injectArgv(reqOf(t, i))];
            return {
              ...base(t, i, agent),
              ok: !!agent,
              result: 'planned' as const,
              code: agent ? 0 : ExitCode.Inject,
              message: agent ? '' : `no ready chaosmetad agent on node ${t.node}`,
              attempts: 0,
              command: agent
                ? ['kubectl', 'exec', '-n', agent.namespace, agent.name, '-c', agent.container, '--', ...argv]
                : argv,
            };
          }),
          ...skips,
        ],
      };
    }
    // validated once, on a real target, before anything changes: a bad flag fails here with its message (one
    // target needs no rehearsal: its inject validates before it changes anything)
    const first = targets.length > 1 ? targets.findIndex((t) => agentFor(agents, t.node)) : -1;
    if (first >= 0) {
      const api = this.api(agentFor(agents, targets[first].node)!);
      try {
        await api.inject({ ...reqOf(targets[first], first), dryRun: true });
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
      }
    }
    const results = await bounded(targets, o.parallel ?? 10, async (t, i): Promise<TargetResult> => {
      const agent = agentFor(agents, t.node);
      if (!agent)
        return {
          ...base(t, i),
          ok: false,
          result: 'failed',
          code: ExitCode.Inject,
          message: `no ready chaosmetad agent on node ${t.node}`,
          attempts: 0,
        };
      return { ...base(t, i, agent), ...(await this.injectOne(this.api(agent), reqOf(t, i), o.retries ?? 3)) };
    });
    const failed = results.filter((r) => !r.ok);
    if (failed.length && !o.keepPartial) {
      await bounded(
        results.filter((r) => r.ok),
        o.parallel ?? 10,
        async (r) => {
          const agent = agents.find((a) => `${a.namespace}/${a.name}` === r.agent)!;
          try {
            await this.withRetry(() => this.api(agent).recover({ uid: r.sub_uid }), o.retries ?? 3);
            r.result = 'recovered';
            r.message = `recovered: ${failed.length} of ${results.length} targets failed (--keep-partial keeps the rest)`;
          } catch (e) {
            r.message = `recover after the partial failure failed: ${(e as Error).message}`;
          }
        },
      );
    }
    return { uid, results: [...results, ...skips] };
  }

  /** Transport failures retried with a growing pause; a command that ran and failed is not. */
  private async withRetry<R>(fn: () => Promise<R>, retries: number): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof TransportError) || attempt >= retries) throw e;
        await sleep(300 * (attempt + 1));
      }
    }
  }

  /**
   * One target: inject; after a transport failure ask the node whether the sub-uid is there already (the command
   * may have run before the connection broke) — live: it counts as injected, never injected twice.
   */
  private async injectOne(api: AgentApi, req: Parameters<AgentApi['inject']>[0], retries: number) {
    let attempts = 0;
    let lastTransport = '';
    for (;;) {
      attempts++;
      try {
        await api.inject(req);
        return {
          ok: true,
          result: 'injected' as const,
          code: 0,
          message: lastTransport ? `after a retry (${lastTransport})` : '',
          attempts,
        };
      } catch (e) {
        if (!(e instanceof TransportError)) {
          const err = e as ChaosError;
          return {
            ok: false,
            result: 'failed' as const,
            code: err.code ?? ExitCode.Inject,
            message: err.message,
            attempts,
          };
        }
        lastTransport = e.message;
        if (attempts > retries)
          return { ok: false, result: 'failed' as const, code: ExitCode.Inject, message: e.message, attempts };
      }
      await sleep(300 * attempts);
      try {
        const q = await this.withRetry(() => api.query({ uid: req.uid, limit: 1 }), retries);
        const row = q.experiments[0];
        if (row && isLive(row.status))
          return {
            ok: true,
            result: 'injected' as const,
            code: 0,
            message: `already in place after a lost connection (${lastTransport})`,
            attempts,
          };
        if (row)
          return {
            ok: false,
            result: 'failed' as const,
            code: ExitCode.Inject,
            message: row.error || `status ${row.status}`,
            attempts,
          };
      } catch (e) {
        return { ok: false, result: 'failed' as const, code: ExitCode.Inject, message: (e as Error).message, attempts };
      }
    }
  }

  /** Every part of an experiment (or of every kube experiment), from every ready agent, with its pod when known. */
  async query(uid?: string): Promise<{ parts: SubExperiment[]; unreachable: string[] }> {
    const agents = (await this.agents()).filter((a) => a.ready);
    const unreachable: string[] = [];
    const per = await bounded(agents, 10, async (a) => {
      try {
        const r = await this.withRetry(() => this.api(a).query({ parentUid: uid, limit: 0 }), 2);
        return r.experiments
          .filter((e) => (uid ? e.parent_uid === uid : !!e.parent_uid))
          .map((e) => ({ ...e, node: a.node, agent: `${a.namespace}/${a.name}`, pod: '' }));
      } catch (e) {
        unreachable.push(`${a.node}: ${(e as Error).message}`);
        return [];
      }
    });
    const parts = per.flat();
    if (parts.some((p) => p.container_id)) {
      // the pods of those containers, by the ids in their status (gone pods stay unnamed)
      try {
        const pods = await this.kubectl.getJson<{ items: PodStatus[] }>(['pods', '--all-namespaces']);
        const byId = new Map<string, string>();
        for (const p of pods.items)
          for (const c of p.status?.containerStatuses ?? [])
            if (c.containerID)
              byId.set(
                String(c.containerID).replace(/^[a-z-]+:\/\//, ''),
                `${p.metadata.namespace}/${p.metadata.name}`,
              );
        for (const p of parts) p.pod = byId.get(p.container_id) ?? '';
      } catch {
        /* names only */
      }
    }
    parts.sort((a, b) => a.uid.localeCompare(b.uid, undefined, { numeric: true }));
    return { parts, unreachable };
  }

  /** Recover every part of an experiment not yet recovered, on every node. */
  async recover(uid: string): Promise<{
    results: Array<{ sub_uid: string; node: string; ok: boolean; message: string }>;
    unreachable: string[];
  }> {
    if (!PARENT_RE.test(uid)) throw badArgs(`not a kube experiment uid: "${uid}"`);
    const { parts, unreachable } = await this.query(uid);
    if (!parts.length && !unreachable.length)
      throw new ChaosError(ExitCode.BadArgs, `no part of experiment ${uid} on any node`);
    const agents = await this.agents();
    const todo = parts.filter((p) => p.status !== 'destroyed');
    const results = await bounded(todo, 10, async (p) => {
      const agent = agents.find((a) => `${a.namespace}/${a.name}` === p.agent)!;
      try {
        const r = await this.withRetry(() => this.api(agent).recover({ uid: p.uid }), 3);
        return { sub_uid: p.uid, node: p.node, ok: true, message: r[0]?.message ?? 'recovered' };
      } catch (e) {
        return { sub_uid: p.uid, node: p.node, ok: false, message: (e as Error).message };
      }
    });
    return { results, unreachable };
  }
}
