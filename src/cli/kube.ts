/**
 * `chaosmetad kube …` (also the kubectl plugin `kubectl-chaosmetad`): faults in pods and on nodes, through the
 * chaosmetad agent DaemonSet, with kubectl as the transport (src/kube/). `kube inject <target> <fault>` commands are
 * generated from the fault registry like `inject`'s; query, recover and agents act on every node's agent.
 */
import { Args, Command } from '@oclif/core';
import { ChaosError, ExitCode, badArgs } from '../errors';
import type { FaultDef } from '../faults/types';
import { Kube, type TargetResult, bounded } from '../kube/fanout';
import { follow, kubeFollowCluster } from '../kube/follow';
import { Kubectl } from '../kube/kubectl';
import { DEFAULT_AGENTS } from '../kube/picks';
import { type FlagSpecs, boolean, integer, kebab, string } from '../util/flags';
import { type RawFlags, outputFlag, outputFormat } from '../util/plain-argv';
import { parseDuration } from '../util/units';
import { cliValues, oclifFlagsOf } from '../oclif/base';
import { table } from './present';
import { forTerminal } from '../util/terminal';

/** Short flags kubectl users expect; a fault's own flag with the same letter keeps only its long name here. */
const KUBE_CHARS = ['n', 'l', 'o'];

const CONNECTION_FLAGS = {
  kubeconfig: string({
    description: "kubeconfig file (default: kubectl's: $KUBECONFIG, ~/.kube/config)",
    helpGroup: 'KUBE',
  }),
  context: string({ description: 'kubeconfig context to use', helpGroup: 'KUBE' }),
  output: outputFlag({ name: 'output', char: 'o', helpGroup: 'KUBE' }),
  'agent-namespace': string({
    description: `namespace of the agent DaemonSet (default ${DEFAULT_AGENTS.namespace})`,
    helpGroup: 'KUBE',
  }),
  'agent-selector': string({
    description: `label selector of the agent pods (default ${DEFAULT_AGENTS.selector})`,
    helpGroup: 'KUBE',
  }),
} satisfies FlagSpecs;

const connection = oclifFlagsOf(CONNECTION_FLAGS);

function kubeOf(f: RawFlags, log?: (l: string) => void): Kube {
  const s = (k: keyof typeof CONNECTION_FLAGS) => f[k] as string | undefined;
  return new Kube(
    new Kubectl({ kubeconfig: s('kubeconfig'), context: s('context') }),
    {
      namespace: s('agent-namespace') ?? DEFAULT_AGENTS.namespace,
      selector: s('agent-selector') ?? DEFAULT_AGENTS.selector,
    },
    log,
  );
}

const out = (line: string) => process.stdout.write(forTerminal(line) + '\n');

function resultsTable(results: TargetResult[]): string {
  return table(
    ['TARGET', 'NODE', 'CONTAINER', 'SUB-UID', 'RESULT', 'MESSAGE'],
    results.map((r) => [r.target, r.node, r.container, r.sub_uid, r.result, r.message || '-']),
  );
}

/**
 * How many of the matching targets: --target-count N / --target-percent P, also spelled --count / --percent for the
 * faults that have no flag of that name themselves (cpu burn's --percent stays the CPU's).
 */
function pickFlags(def: FaultDef) {
  const own = new Set(Object.keys(def.flags).map(kebab));
  return {
    'target-count': integer({
      min: 1,
      max: 100_000,
      description: 'only N of the matching targets, chosen at random',
      aliases: own.has('count') ? [] : ['count'],
      helpGroup: 'TARGETS',
    }),
    'target-percent': integer({
      min: 1,
      max: 100,
      description: 'only P % of the matching targets (at least one), at random',
      aliases: own.has('percent') ? [] : ['percent'],
      helpGroup: 'TARGETS',
    }),
  };
}

/** The flags of `kube inject <target> <fault>` besides the fault's own, in the order help lists them. */
function kubeInjectFlags(def: FaultDef) {
  return {
    pod: string({ description: 'a target pod, NAMESPACE/NAME (repeatable)', multiple: true, helpGroup: 'TARGETS' }),
    namespace: string({
      char: 'n',
      description: 'namespace of -l and of bare --pod names (default default)',
      helpGroup: 'TARGETS',
    }),
    selector: string({
      char: 'l',
      description: 'pods matching this label selector, e.g. app=web',
      helpGroup: 'TARGETS',
    }),
    container: string({
      description: 'the container in each pod (default: its kubectl.kubernetes.io/default-container, else its first)',
      helpGroup: 'TARGETS',
    }),
    node: string({ description: 'a host fault on this node (repeatable)', multiple: true, helpGroup: 'TARGETS' }),
    ...pickFlags(def),
    seed: integer({
      min: 0,
      max: 2 ** 31 - 1,
      description: 'seed of the random choice (the same seed picks the same targets)',
      helpGroup: 'TARGETS',
    }),
    uid: string({
      description: 'experiment id, 5-32 of [A-Za-z0-9_-] (generated when absent)',
      helpGroup: 'EXPERIMENT',
    }),
    timeout: string({
      char: 't',
      description: 'every sub-experiment recovers by itself after this long',
      helpGroup: 'EXPERIMENT',
    }),
    lease: string({
      description: 'dead-man lease of every sub-experiment (renewed by --follow)',
      helpGroup: 'EXPERIMENT',
    }),
    creator: string({ description: 'who runs it (default: the OS user)', helpGroup: 'EXPERIMENT' }),
    'dry-run': boolean({
      description: 'print per target the node, agent pod and exact command; run nothing',
      helpGroup: 'EXPERIMENT',
    }),
    'keep-partial': boolean({
      description: 'when some targets fail, keep the fault on the others',
      helpGroup: 'EXPERIMENT',
    }),
    follow: boolean({
      description:
        'stay attached: renew a lease on every part, show each effect; Ctrl-C recovers all (if this machine dies, the leases expire and every node recovers)',
      helpGroup: 'EXPERIMENT',
    }),
    parallel: integer({
      min: 1,
      max: 1000,
      description: 'targets injected at once (default 10)',
      helpGroup: 'EXPERIMENT',
    }),
    retries: integer({
      min: 0,
      max: 100,
      description: 'retries of a failed kubectl connection per target (default 3)',
      helpGroup: 'EXPERIMENT',
    }),
    ...CONNECTION_FLAGS,
  } satisfies FlagSpecs;
}

export function kubeInjectCommand(def: FaultDef): Command.Class {
  class KubeInject extends Command {
    static override summary = `${def.summary} — in pods or on nodes, through the agents`;
    static override description =
      `${def.description ?? ''}\n\nEach target (a pod's container, or a node) gets a sub-experiment <uid>-<n> on its ` +
      "node's agent, recorded with the experiment's uid as parent. When some targets fail, the others are recovered " +
      'unless --keep-partial. --timeout (and --lease) go to every sub-experiment: the agents recover by themselves.';
    static override examples = [
      `kubectl chaosmetad inject ${def.target} ${def.fault} -n shop -l app=web --target-count 2 --timeout 5m …`,
      `chaosmetad kube inject ${def.target} ${def.fault} --pod shop/web-0 --dry-run …`,
    ];
    static override strict = true;
    static override flags = { ...oclifFlagsOf(def.flags, KUBE_CHARS), ...oclifFlagsOf(kubeInjectFlags(def)) };

    async run(): Promise<void> {
      const f = cliValues((await this.parse(KubeInject)).flags);
      const decl = kubeInjectFlags(def);
      const s = (k: keyof typeof decl) => f[k] as string | undefined;
      const list = (k: 'pod' | 'node') => f[k] as string[] | undefined;
      const int = (k: 'target-count' | 'target-percent' | 'seed' | 'parallel' | 'retries') =>
        f[k] === undefined ? undefined : decl[k].parse(f[k], k);
      const format = outputFormat(f);
      const count = int('target-count');
      const percent = int('target-percent');
      if (count !== undefined && percent !== undefined)
        throw badArgs('--target-count and --target-percent cannot be used together');
      const following = f.follow === true;
      const lease = s('lease') ?? (following ? '30s' : undefined);
      if (following && lease && parseDuration(lease, 'lease', 's') < 5000)
        throw badArgs(`--follow needs a --lease of at least 5s (each renewal is a kubectl exec), got ${lease}`);
      const args: Record<string, unknown> = {};
      for (const name of Object.keys(def.flags).map(kebab)) if (f[name] !== undefined) args[name] = f[name];
      const kube = kubeOf(f);
      const dryRun = f['dry-run'] === true;
      const { uid, results } = await kube.inject({
        target: def.target,
        fault: def.fault,
        args,
        uid: s('uid'),
        timeout: s('timeout'),
        lease,
        creator: s('creator'),
        dryRun,
        keepPartial: f['keep-partial'] === true,
        parallel: int('parallel'),
        retries: int('retries'),
        selection: {
          pods: list('pod'),
          namespace: s('namespace'),
          selector: s('selector'),
          container: s('container'),
          nodes: list('node'),
          count,
          percent,
          seed: int('seed'),
        },
      });
      if (dryRun) {
        if (format === 'json') out(JSON.stringify({ uid, dry_run: true, results }));
        else {
          out(`[dry-run] kube inject ${def.target} ${def.fault} would, for uid: ${uid}`);
          for (const r of results)
            out(
              r.result === 'skipped'
                ? `  ${r.target} on node ${r.node}: skipped (${r.message})`
                : `  ${r.target} on node ${r.node} via ${r.agent}: ${r.ok ? r.command!.join(' ') : r.message}`,
            );
        }
        return;
      }
      if (format === 'json') out(JSON.stringify({ uid, results }));
      else {
        out(resultsTable(results));
        const ok = results.filter((r) => r.result === 'injected').length;
        const skipped = results.filter((r) => r.result === 'skipped').length;
        out(
          `uid: ${uid}  injected: ${ok} of ${results.length - skipped}${skipped ? `  (${skipped} skipped: not running)` : ''}`,
        );
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length)
        throw new ChaosError(
          failed[0].code || ExitCode.Inject,
          `${failed.length} of ${results.filter((r) => r.result !== 'skipped').length} targets failed (${failed[0].target}: ${failed[0].message})`,
        );
      if (following) await followParts(kube, uid, results, lease!, format);
    }
  }
  return KubeInject;
}

/** --follow (kube/follow.ts): its events printed as lines or JSON; SIGINT or SIGTERM stops it (recovering all). */
async function followParts(kube: Kube, uid: string, results: TargetResult[], lease: string, format: string) {
  const { cluster, parts } = await kubeFollowCluster(kube, results);
  const stop = new AbortController();
  process.on('SIGINT', () => stop.abort());
  process.on('SIGTERM', () => stop.abort());
  await follow(cluster, {
    uid,
    parts,
    lease,
    leaseMs: parseDuration(lease, 'lease', 's'),
    stop: stop.signal,
    say: (o, text) =>
      out(
        format === 'json'
          ? JSON.stringify({ time: new Date().toISOString(), ...o })
          : `${new Date().toISOString()} ${text}`,
      ),
  });
}

export class KubeQuery extends Command {
  static override summary = 'The parts of a kube experiment (or of every one) on every node, from their agents';
  static override examples = ['kubectl chaosmetad query', 'kubectl chaosmetad query 4f8a2c1d -o json'];
  static override args = { uid: Args.string({ description: 'the experiment (kube inject printed it)' }) };
  static override flags = { ...connection };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(KubeQuery);
    const format = outputFormat(cliValues(flags));
    const { parts, unreachable } = await kubeOf(cliValues(flags)).query(args.uid);
    if (format === 'json') out(JSON.stringify({ uid: args.uid ?? null, parts, unreachable }));
    else {
      out(
        table(
          ['UID', 'SUB-UID', 'NODE', 'POD', 'TARGET', 'FAULT', 'STATUS', 'CREATE_TIME', 'ERROR'],
          parts.map((p) => [
            p.parent_uid ?? '-',
            p.uid,
            p.node,
            p.pod || '-',
            p.target,
            p.fault,
            p.status,
            p.create_time,
            p.error || '-',
          ]),
        ),
      );
      for (const u of unreachable) out(`unreachable: ${u}`);
    }
    if (args.uid && !parts.length)
      throw new ChaosError(ExitCode.BadArgs, `no part of experiment ${args.uid} on any node`);
  }
}

export class KubeRecover extends Command {
  static override summary = 'Recover every part of a kube experiment, on every node';
  static override examples = ['kubectl chaosmetad recover 4f8a2c1d'];
  static override args = { uid: Args.string({ description: 'the experiment', required: true }) };
  static override flags = { ...connection };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(KubeRecover);
    const format = outputFormat(cliValues(flags));
    const { results, unreachable } = await kubeOf(cliValues(flags)).recover(args.uid);
    if (format === 'json') out(JSON.stringify({ uid: args.uid, results, unreachable }));
    else {
      for (const r of results)
        out(
          r.ok
            ? `[success] recover ${r.sub_uid} on ${r.node} success (${r.message})`
            : `[error] recover ${r.sub_uid} on ${r.node} failed: ${r.message}`,
        );
      if (!results.length) out(`[success] nothing left to recover of ${args.uid}`);
      for (const u of unreachable) out(`unreachable: ${u}`);
    }
    const failed = results.filter((r) => !r.ok).length + unreachable.length;
    if (failed) throw new ChaosError(ExitCode.Recover, `${failed} part(s) or node(s) could not be recovered`);
  }
}

export class KubeAgents extends Command {
  static override summary = 'The chaosmetad agent on each node: its pod, whether it is ready, its version';
  static override examples = ['kubectl chaosmetad agents'];
  static override flags = { ...connection };
  async run(): Promise<void> {
    const { flags } = await this.parse(KubeAgents);
    const format = outputFormat(cliValues(flags));
    const kube = kubeOf(cliValues(flags));
    const agents = await kube.agents();
    const rows = await bounded(agents, 10, async (a) => {
      let version = '-';
      if (a.ready) {
        try {
          version = (await kube.api(a).version()).version;
        } catch (e) {
          version = `unreachable: ${(e as Error).message}`;
        }
      }
      return { node: a.node, pod: `${a.namespace}/${a.name}`, ready: a.ready, version };
    });
    if (format === 'json') out(JSON.stringify({ agents: rows }));
    else
      out(
        table(
          ['NODE', 'POD', 'READY', 'VERSION'],
          rows.map((r) => [r.node, r.pod, String(r.ready), r.version]),
        ),
      );
  }
}
