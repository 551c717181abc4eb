/**
 * `chaosmetad kube …` (also the kubectl plugin `kubectl-chaosmetad`): faults in pods and on nodes, through the
 * chaosmetad agent DaemonSet, with kubectl as the transport (src/kube/). `kube inject <target> <fault>` commands are
 * generated from the fault registry like `inject`'s; query, recover and agents act on every node's agent.
 */
import { Args, Command, Flags } from '@oclif/core';
import { ChaosError, ExitCode, badArgs } from '../errors';
import { kebab } from '../faults/flags';
import type { FaultDef } from '../faults/types';
import { Kube, type TargetResult, bounded } from '../kube/fanout';
import { Kubectl } from '../kube/kubectl';
import { DEFAULT_AGENTS } from '../kube/targets';
import { oclifFlags } from './inject';
import { table } from './present';
import { forTerminal } from '../util/terminal';

/** Short flags kubectl users expect; a fault's own flag with the same letter keeps only its long name here. */
const KUBE_CHARS = ['n', 'l', 'o'];

const connection = {
  kubeconfig: Flags.string({
    description: "kubeconfig file (default: kubectl's: $KUBECONFIG, ~/.kube/config)",
    helpGroup: 'KUBE',
  }),
  context: Flags.string({ description: 'kubeconfig context to use', helpGroup: 'KUBE' }),
  output: Flags.string({ char: 'o', description: 'table (default) or json', helpGroup: 'KUBE' }),
  'agent-namespace': Flags.string({
    description: `namespace of the agent DaemonSet (default ${DEFAULT_AGENTS.namespace})`,
    helpGroup: 'KUBE',
  }),
  'agent-selector': Flags.string({
    description: `label selector of the agent pods (default ${DEFAULT_AGENTS.selector})`,
    helpGroup: 'KUBE',
  }),
};

type ConnFlags = {
  kubeconfig?: string;
  context?: string;
  output?: string;
  'agent-namespace'?: string;
  'agent-selector'?: string;
};

function kubeOf(f: ConnFlags, log?: (l: string) => void): Kube {
  return new Kube(
    new Kubectl({ kubeconfig: f.kubeconfig, context: f.context }),
    {
      namespace: f['agent-namespace'] ?? DEFAULT_AGENTS.namespace,
      selector: f['agent-selector'] ?? DEFAULT_AGENTS.selector,
    },
    log,
  );
}

function outputOf(f: ConnFlags): 'table' | 'json' {
  const o = f.output ?? 'table';
  if (o !== 'table' && o !== 'json') throw badArgs(`--output must be table or json, got "${o}"`);
  return o;
}

function int(raw: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw badArgs(`--${flag} must be a whole number in ${min}..${max}, got "${raw}"`);
  return Number(raw);
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
    'target-count': Flags.string({
      description: 'only N of the matching targets, chosen at random',
      aliases: own.has('count') ? [] : ['count'],
      helpGroup: 'TARGETS',
    }),
    'target-percent': Flags.string({
      description: 'only P % of the matching targets (at least one), at random',
      aliases: own.has('percent') ? [] : ['percent'],
      helpGroup: 'TARGETS',
    }),
  };
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
    static override flags = {
      ...oclifFlags(def, KUBE_CHARS),
      pod: Flags.string({
        description: 'a target pod, NAMESPACE/NAME (repeatable)',
        multiple: true,
        helpGroup: 'TARGETS',
      }),
      namespace: Flags.string({
        char: 'n',
        description: 'namespace of -l and of bare --pod names (default default)',
        helpGroup: 'TARGETS',
      }),
      selector: Flags.string({
        char: 'l',
        description: 'pods matching this label selector, e.g. app=web',
        helpGroup: 'TARGETS',
      }),
      container: Flags.string({
        description: 'the container in each pod (default: its kubectl.kubernetes.io/default-container, else its first)',
        helpGroup: 'TARGETS',
      }),
      node: Flags.string({
        description: 'a host fault on this node (repeatable)',
        multiple: true,
        helpGroup: 'TARGETS',
      }),
      ...pickFlags(def),
      seed: Flags.string({
        description: 'seed of the random choice (the same seed picks the same targets)',
        helpGroup: 'TARGETS',
      }),
      uid: Flags.string({
        description: 'experiment id, 5-32 of [A-Za-z0-9_-] (generated when absent)',
        helpGroup: 'EXPERIMENT',
      }),
      timeout: Flags.string({
        char: 't',
        description: 'every sub-experiment recovers by itself after this long',
        helpGroup: 'EXPERIMENT',
      }),
      lease: Flags.string({
        description: 'dead-man lease of every sub-experiment (renewed by --follow)',
        helpGroup: 'EXPERIMENT',
      }),
      creator: Flags.string({ description: 'who runs it (default: the OS user)', helpGroup: 'EXPERIMENT' }),
      'dry-run': Flags.boolean({
        description: 'print per target the node, agent pod and exact command; run nothing',
        helpGroup: 'EXPERIMENT',
      }),
      'keep-partial': Flags.boolean({
        description: 'when some targets fail, keep the fault on the others',
        helpGroup: 'EXPERIMENT',
      }),
      follow: Flags.boolean({
        description:
          'stay attached: renew a lease on every part, show each effect; Ctrl-C recovers all (if this machine dies, the leases expire and every node recovers)',
        helpGroup: 'EXPERIMENT',
      }),
      parallel: Flags.string({ description: 'targets injected at once (default 10)', helpGroup: 'EXPERIMENT' }),
      retries: Flags.string({
        description: 'retries of a failed kubectl connection per target (default 3)',
        helpGroup: 'EXPERIMENT',
      }),
      ...connection,
    };

    async run(): Promise<void> {
      const { flags } = await this.parse(KubeInject);
      const f = flags as Record<string, unknown> & ConnFlags;
      const format = outputOf(f);
      const count = int(f['target-count'] as string | undefined, 'target-count', 1, 100_000);
      const percent = int(f['target-percent'] as string | undefined, 'target-percent', 1, 100);
      if (count !== undefined && percent !== undefined)
        throw badArgs('--target-count and --target-percent cannot be used together');
      const follow = flags.follow;
      const lease = flags.lease ?? (follow ? '30s' : undefined);
      if (follow && lease) {
        const { parseDuration } = require('../util/units') as typeof import('../util/units'); // eslint-disable-line @typescript-eslint/no-require-imports
        if (parseDuration(lease, 'lease', 's') < 5000)
          throw badArgs(`--follow needs a --lease of at least 5s (each renewal is a kubectl exec), got ${lease}`);
      }
      const args: Record<string, unknown> = {};
      for (const name of Object.keys(def.flags).map(kebab)) if (f[name] !== undefined) args[name] = f[name];
      const kube = kubeOf(f);
      const { uid, results } = await kube.inject({
        target: def.target,
        fault: def.fault,
        args,
        uid: flags.uid,
        timeout: flags.timeout,
        lease,
        creator: flags.creator,
        dryRun: flags['dry-run'],
        keepPartial: flags['keep-partial'],
        parallel: int(flags.parallel, 'parallel', 1, 1000),
        retries: int(flags.retries, 'retries', 0, 100),
        selection: {
          pods: flags.pod,
          namespace: flags.namespace,
          selector: flags.selector,
          container: flags.container,
          nodes: flags.node,
          count,
          percent,
          seed: int(flags.seed, 'seed', 0, 2 ** 31 - 1),
        },
      });
      if (flags['dry-run']) {
        if (format === 'json') out(JSON.stringify({ uid, dry_run: true, results }));
        else {
          out(`[dry-run] kube inject ${def.target} ${def.fault} would, for uid: ${uid}`);
          for (const r of results)
            out(`  ${r.target} on node ${r.node} via ${r.agent}: ${r.ok ? r.command!.join(' ') : r.message}`);
        }
        return;
      }
      if (format === 'json') out(JSON.stringify({ uid, results }));
      else {
        out(resultsTable(results));
        const ok = results.filter((r) => r.result === 'injected').length;
        out(`uid: ${uid}  injected: ${ok} of ${results.length}`);
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length)
        throw new ChaosError(
          failed[0].code || ExitCode.Inject,
          `${failed.length} of ${results.length} targets failed (${failed[0].target}: ${failed[0].message})`,
        );
      if (follow) await followParts(kube, uid, results, lease!, format);
    }
  }
  return KubeInject;
}

/**
 * --follow: renew every part's lease a few times per lease, print each part's effect when it changes, and
 * recover them all on Ctrl-C (SIGINT) or SIGTERM. If this process dies, nothing renews: the leases expire and every
 * node recovers its part by itself.
 */
async function followParts(kube: Kube, uid: string, results: TargetResult[], lease: string, format: string) {
  const { parseDuration } = require('../util/units') as typeof import('../util/units'); // eslint-disable-line @typescript-eslint/no-require-imports
  const leaseMs = parseDuration(lease, 'lease', 's');
  const agents = await kube.agents();
  const parts = results
    .filter((r) => r.result === 'injected')
    .map((r) => ({ r, agent: agents.find((a) => `${a.namespace}/${a.name}` === r.agent)!, effect: '', done: false }));
  let stop = false;
  const wakers = new Set<() => void>();
  const pause = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wakers.delete(done);
        r();
      }
      wakers.add(done);
    });
  const onSignal = () => {
    stop = true;
    for (const w of [...wakers]) w();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const say = (o: Record<string, unknown>, text: string) =>
    out(
      format === 'json'
        ? JSON.stringify({ time: new Date().toISOString(), ...o })
        : `${new Date().toISOString()} ${text}`,
    );
  const period = leaseMs / 3;
  say(
    { event: 'following', uid, lease },
    `following ${uid}: renewing every ${(period / 1000).toFixed(1)}s; Ctrl-C recovers`,
  );
  const live = () => parts.filter((p) => !p.done);
  // each part renewed on its own clock (every lease/3; a slow kubectl exec to one node does not hold back the
  // others); a renewal that could not reach its node is said, and tried again next period
  const renewals = Promise.all(
    parts.map(async (p) => {
      while (!stop && !p.done) {
        const t0 = Date.now();
        try {
          await kube.api(p.agent).renew(p.r.sub_uid);
        } catch (e) {
          if (e instanceof ChaosError && e.code !== ExitCode.Internal) {
            p.done = true; // recovered meanwhile (its timeout, or someone else)
            say(
              { event: 'ended', sub_uid: p.r.sub_uid, message: e.message },
              `${p.r.sub_uid} on ${p.r.node}: ended (${e.message})`,
            );
            return;
          }
          say(
            { event: 'renew-failed', sub_uid: p.r.sub_uid, message: (e as Error).message },
            `${p.r.sub_uid} on ${p.r.node}: renew failed, trying again (${(e as Error).message})`,
          );
        }
        await pause(Math.max(0, period - (Date.now() - t0)));
      }
    }),
  );
  const effects = (async () => {
    while (!stop && live().length) {
      await Promise.all(
        live().map(async (p) => {
          try {
            const c = await kube.api(p.agent).check(p.r.sub_uid);
            if (c.effect !== p.effect && !p.done) {
              p.effect = c.effect;
              say(
                { event: 'effect', sub_uid: p.r.sub_uid, target: p.r.target, effect: c.effect },
                `${p.r.sub_uid} ${p.r.target}: ${c.effect}`,
              );
            }
          } catch {
            /* the next round */
          }
        }),
      );
      await pause(2000);
    }
  })();
  await Promise.all([renewals, effects]);
  if (!stop) return;
  say({ event: 'recovering', uid }, `recovering ${uid} on every node`);
  const r = await kube.recover(uid);
  for (const x of r.results)
    say(
      { event: 'recovered', ...x },
      `${x.sub_uid} on ${x.node}: ${x.ok ? 'recovered' : `recover failed: ${x.message}`}`,
    );
  // a part its node had already recovered (its lease ran out, or someone recovered it) is said too, never skipped
  for (const p of parts.filter((q) => !r.results.some((x) => x.sub_uid === q.r.sub_uid)))
    say(
      { event: 'already-ended', sub_uid: p.r.sub_uid, node: p.r.node },
      `${p.r.sub_uid} on ${p.r.node}: had already ended on its node (nothing to recover)`,
    );
  for (const u of r.unreachable) say({ event: 'unreachable', node: u }, `unreachable: ${u}`);
  if (r.results.some((x) => !x.ok) || r.unreachable.length)
    throw new ChaosError(ExitCode.Recover, 'some parts could not be recovered');
}

export class KubeQuery extends Command {
  static override summary = 'The parts of a kube experiment (or of every one) on every node, from their agents';
  static override examples = ['kubectl chaosmetad query', 'kubectl chaosmetad query 4f8a2c1d -o json'];
  static override args = { uid: Args.string({ description: 'the experiment (kube inject printed it)' }) };
  static override flags = { ...connection };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(KubeQuery);
    const format = outputOf(flags);
    const { parts, unreachable } = await kubeOf(flags).query(args.uid);
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
    const format = outputOf(flags);
    const { results, unreachable } = await kubeOf(flags).recover(args.uid);
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
    const format = outputOf(flags);
    const kube = kubeOf(flags);
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
