/**
 * Where a drill's inject steps go: this host's engine (the engine API: a host fault, or one in a container) or
 * Kubernetes pods and nodes (the kube layer's fan-out over the agents). Both journal before they change anything,
 * carry a timeout and a lease, and recover by uid; the runner renews the leases while it lives.
 */
import type { ChaosApi, InjectRequest, RecoverResult } from '../api/api';
import { injectFlagArgv } from '../api/inject-flags';
import { ChaosError, ExitCode } from '../errors';
import { Kube, type TargetResult } from '../kube/fanout';
import { Kubectl } from '../kube/kubectl';
import { DEFAULT_AGENTS } from '../kube/picks';
import { kebab } from '../util/flags';
import type { Step } from './schema';

export type InjectStep = Extract<Step, { inject: unknown }>['inject'];

/** A fault of a drill as the runner holds it: injected, renewed, recovered by this handle. */
export interface PlacedFault {
  uid: string;
  where: string;
  command: string;
  renew(): Promise<void>;
  recover(): Promise<void>;
}

/** How a fault is placed: the drill it belongs to, its timeout (the safety net) and its lease. */
export interface PlaceOptions {
  parentUid: string;
  timeoutMs: number;
  leaseMs: number;
}

export interface FaultPort {
  /** inject the step's fault as `uid` (throws when it did not land: nothing is left behind) */
  inject(step: InjectStep, uid: string, o: PlaceOptions): Promise<PlacedFault>;
  /** the exact injects a run would make (dry run: nothing changes, nothing is stored) */
  plan(step: InjectStep, uid: string, o: PlaceOptions): Promise<string[]>;
}

const secs = (ms: number) => `${Math.ceil(ms / 1000)}s`;

/** A drill file's snake_case arg name as the fault's flag is declared (camelCase): `src_port` → `srcPort`. */
const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * A step's args keyed by the flags' own (camelCase) names: what the agent's command line is made of (kebab-case
 * flags), so that `src_port` reaches the agent as `--src-port` (its CLI has no `--src_port`).
 */
export const flagArgs = (args: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(args).map(([k, v]) => [camel(k), v]));

/** `--name=value` flags of a fault's args (snake_case keys as in drill files), for the command line shown. */
export function argFlags(args: Record<string, unknown>): string[] {
  const flag = (k: string) => `--${kebab(camel(k))}`;
  return Object.entries(args).flatMap(([k, v]) =>
    v === true
      ? [flag(k)]
      : v === false || v === undefined || v === null
        ? []
        : [`${flag(k)}=${typeof v === 'object' ? JSON.stringify(v) : String(v as string | number)}`],
  );
}

const quote = (a: string) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** Host and container faults through the engine API (the local engine, or the daemon's when the daemon runs it). */
export class HostPort implements FaultPort {
  constructor(private readonly api: ChaosApi) {}

  private request(step: InjectStep, uid: string, o: PlaceOptions, dryRun: boolean): InjectRequest {
    return {
      target: step.target,
      fault: step.fault,
      args: step.args,
      uid,
      parentUid: o.parentUid,
      timeout: secs(o.timeoutMs),
      lease: secs(o.leaseMs),
      containerId: step.container_id,
      containerRuntime: step.container_runtime,
      dryRun,
    };
  }

  private command(req: InjectRequest): string {
    const argv = [
      'chaosmetad',
      'inject',
      req.target,
      req.fault,
      ...argFlags(req.args),
      ...injectFlagArgv({ ...req, dryRun: false }),
    ];
    return argv.map(quote).join(' ');
  }

  async plan(step: InjectStep, uid: string, o: PlaceOptions): Promise<string[]> {
    const req = this.request(step, uid, o, true);
    const reply = await this.api.inject(req);
    const planned = 'planned' in reply && Array.isArray(reply.planned) ? reply.planned.map(String) : [];
    return [this.command(req), ...planned.map((p) => `  ${p}`)];
  }

  async inject(step: InjectStep, uid: string, o: PlaceOptions): Promise<PlacedFault> {
    const req = this.request(step, uid, o, false);
    await this.api.inject(req);
    const api = this.api;
    return {
      uid,
      where: step.container_id ? `container ${step.container_id}` : 'host',
      command: this.command(req),
      renew: async () => {
        await api.renew(uid);
      },
      recover: async () => {
        await api.recover({ uid });
      },
    };
  }
}

/** Pods and nodes through the agents (kube inject): one kube experiment per step, a part per target. */
export class KubePort implements FaultPort {
  private kube(step: InjectStep): Kube {
    const k = step.kube!;
    return new Kube(new Kubectl({ kubeconfig: k.kubeconfig, context: k.context }), {
      namespace: k.agent_namespace ?? DEFAULT_AGENTS.namespace,
      selector: k.agent_selector ?? DEFAULT_AGENTS.selector,
    });
  }

  private args(step: InjectStep, uid: string, o: { timeoutMs: number; leaseMs: number }, dryRun: boolean) {
    const k = step.kube!;
    return {
      target: step.target,
      fault: step.fault,
      args: flagArgs(step.args),
      uid,
      timeout: secs(o.timeoutMs),
      lease: secs(o.leaseMs),
      selection: {
        namespace: k.namespace,
        selector: k.selector,
        pods: k.pod,
        nodes: k.node,
        container: k.container,
        count: k.count,
        percent: k.percent,
        seed: k.seed,
      },
      dryRun,
    };
  }

  private command(step: InjectStep, uid: string, o: { timeoutMs: number; leaseMs: number }): string {
    const k = step.kube!;
    const argv = [
      'chaosmetad',
      'kube',
      'inject',
      step.target,
      step.fault,
      '-n',
      k.namespace,
      ...(k.selector ? ['-l', k.selector] : []),
      ...(k.pod ?? []).flatMap((p) => ['--pod', p]),
      ...(k.node ?? []).flatMap((n) => ['--node', n]),
      ...(k.container ? ['--container', k.container] : []),
      ...(k.count ? [`--target-count=${k.count}`] : []),
      ...(k.percent ? [`--target-percent=${k.percent}`] : []),
      ...(k.seed !== undefined ? [`--seed=${k.seed}`] : []),
      ...(k.kubeconfig ? ['--kubeconfig', k.kubeconfig] : []),
      ...(k.context ? ['--context', k.context] : []),
      ...(k.agent_namespace ? ['--agent-namespace', k.agent_namespace] : []),
      ...(k.agent_selector ? ['--agent-selector', k.agent_selector] : []),
      ...argFlags(step.args),
      `--uid=${uid}`,
      `--timeout=${secs(o.timeoutMs)}`,
      `--lease=${secs(o.leaseMs)}`,
    ];
    return argv.map(quote).join(' ');
  }

  async plan(step: InjectStep, uid: string, o: PlaceOptions): Promise<string[]> {
    const r = await this.kube(step).inject(this.args(step, uid, o, true));
    return [
      this.command(step, uid, o),
      ...r.results.map((t) =>
        t.result === 'skipped'
          ? `  ${t.target} on ${t.node}: skipped (${t.message})`
          : `  ${t.target} on ${t.node}: ${(t.command ?? []).map(quote).join(' ')}${t.ok ? '' : ` (${t.message})`}`,
      ),
    ];
  }

  /**
   * The parts of a step's kube experiment still in place, recovered through the agents: a drill whose runner is gone
   * (`drill abort`), its parts being on the nodes, not in this host's store. Nothing when the step never injected.
   */
  async recoverLeft(step: InjectStep, uid: string): Promise<RecoverResult[]> {
    try {
      const r = await this.kube(step).recover(uid);
      return [
        ...r.results.map((x) => ({
          uid: x.sub_uid,
          status: x.ok ? 'destroyed' : 'error',
          ok: x.ok,
          message: `${x.node}: ${x.message}`,
        })),
        ...r.unreachable.map((u) => ({ uid, status: 'unknown', ok: false, message: `agent unreachable: ${u}` })),
      ];
    } catch (e) {
      // no part of it on any node: the step never injected
      if (e instanceof ChaosError && e.code === ExitCode.BadArgs) return [];
      return [{ uid, status: 'unknown', ok: false, message: (e as Error).message }];
    }
  }

  async inject(step: InjectStep, uid: string, o: PlaceOptions): Promise<PlacedFault> {
    const kube = this.kube(step);
    const r = await kube.inject(this.args(step, uid, o, false));
    const failed = r.results.filter((t) => !t.ok);
    if (failed.length || !r.results.length)
      throw new Error(
        r.results.length
          ? `kube inject: ${failed.map((t) => `${t.target}: ${t.message}`).join('; ')}`
          : 'kube inject: no target matched',
      );
    const injected: TargetResult[] = r.results.filter((t) => t.result === 'injected');
    const k = step.kube!;
    const picked = k.selector ? `${k.namespace}/${k.selector}` : [...(k.pod ?? []), ...(k.node ?? [])].join(',');
    return {
      uid,
      // the targets themselves (the report's fault window names them): "kube shop/app=web: shop/web-1 on node-a, …"
      where: `kube ${picked}: ${injected.map((t) => `${t.target} on ${t.node}`).join(', ')}`,
      command: this.command(step, uid, o),
      renew: async () => {
        const agents = await kube.agents();
        await Promise.all(
          injected.map(async (t) => {
            const a = agents.find((x) => `${x.namespace}/${x.name}` === t.agent);
            if (a) await kube.api(a).renew(t.sub_uid);
          }),
        );
      },
      recover: async () => {
        const res = await kube.recover(uid);
        const bad = res.results.filter((x) => !x.ok);
        if (bad.length || res.unreachable.length)
          throw new Error(
            `kube recover ${uid}: ${[...bad.map((b) => `${b.sub_uid}: ${b.message}`), ...res.unreachable].join('; ')}`,
          );
      },
    };
  }
}
