/**
 * `kube inject --follow`: stay attached to an injected kube experiment — renew every part's lease a few times per
 * lease, say each part's effect when it changes, and recover them all when told to stop (Ctrl-C). If the follower
 * dies, nothing renews: the leases expire and every node recovers its part by itself.
 *
 * The loop talks to the cluster through FollowCluster only (kubeFollowCluster: the agents over kubectl; a test: a
 * fake), and says what happens through FollowEvent (the CLI prints them as lines or JSON).
 */
import { ChaosError, ExitCode } from '../errors';
import type { Kube, TargetResult } from './fanout';

/** One injected part of the experiment: a sub-experiment on one node. */
export interface FollowedPart {
  sub_uid: string;
  node: string;
  target: string;
}

/** What following needs of the cluster. */
export interface FollowCluster {
  /** Renew the part's lease; a ChaosError other than Internal means the part has ended (it is not tried again). */
  renew(part: FollowedPart): Promise<void>;
  check(part: FollowedPart): Promise<{ effect: string }>;
  /** Recover every part of the experiment still live, on every node. */
  recover(uid: string): Promise<{
    results: Array<{ sub_uid: string; node: string; ok: boolean; message: string }>;
    unreachable: string[];
  }>;
}

/** What the follower says: the event as JSON fields, and the same as a line of text. */
export type Say = (event: Record<string, unknown> & { event: string }, text: string) => void;

export interface FollowOptions {
  uid: string;
  parts: FollowedPart[];
  /** the lease as given (for the first event) and in milliseconds (each part is renewed every third of it) */
  lease: string;
  leaseMs: number;
  say: Say;
  /** aborted: stop following and recover every part (the CLI aborts on SIGINT and SIGTERM) */
  stop: AbortSignal;
  /** how often each live part's effect is read (default 2 s) */
  checkEveryMs?: number;
}

/**
 * Follow until every part has ended by itself (returns) or `stop` is aborted (recovers every part; a part that
 * could not be recovered, or a node not reached, is ChaosError Recover).
 */
export async function follow(cluster: FollowCluster, o: FollowOptions): Promise<void> {
  const parts = o.parts.map((p) => ({ p, effect: '', done: false }));
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (o.stop.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        o.stop.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      o.stop.addEventListener('abort', done);
    });
  const period = o.leaseMs / 3;
  o.say(
    { event: 'following', uid: o.uid, lease: o.lease },
    `following ${o.uid}: renewing every ${(period / 1000).toFixed(1)}s; Ctrl-C recovers`,
  );
  const live = () => parts.filter((x) => !x.done);
  // each part renewed on its own clock (every lease/3; a slow kubectl exec to one node does not hold back the
  // others); a renewal that could not reach its node is said, and tried again next period
  const renewals = Promise.all(
    parts.map(async (x) => {
      while (!o.stop.aborted && !x.done) {
        const t0 = Date.now();
        try {
          await cluster.renew(x.p);
        } catch (e) {
          if (e instanceof ChaosError && e.code !== ExitCode.Internal) {
            x.done = true; // recovered meanwhile (its timeout, or someone else)
            o.say(
              { event: 'ended', sub_uid: x.p.sub_uid, message: e.message },
              `${x.p.sub_uid} on ${x.p.node}: ended (${e.message})`,
            );
            return;
          }
          o.say(
            { event: 'renew-failed', sub_uid: x.p.sub_uid, message: (e as Error).message },
            `${x.p.sub_uid} on ${x.p.node}: renew failed, trying again (${(e as Error).message})`,
          );
        }
        await pause(Math.max(0, period - (Date.now() - t0)));
      }
    }),
  );
  const effects = (async () => {
    while (!o.stop.aborted && live().length) {
      await Promise.all(
        live().map(async (x) => {
          try {
            const c = await cluster.check(x.p);
            if (c.effect !== x.effect && !x.done) {
              x.effect = c.effect;
              o.say(
                { event: 'effect', sub_uid: x.p.sub_uid, target: x.p.target, effect: c.effect },
                `${x.p.sub_uid} ${x.p.target}: ${c.effect}`,
              );
            }
          } catch {
            /* the next round */
          }
        }),
      );
      await pause(o.checkEveryMs ?? 2000);
    }
  })();
  await Promise.all([renewals, effects]);
  if (!o.stop.aborted) return;
  o.say({ event: 'recovering', uid: o.uid }, `recovering ${o.uid} on every node`);
  const r = await cluster.recover(o.uid);
  for (const x of r.results)
    o.say(
      { event: 'recovered', ...x },
      `${x.sub_uid} on ${x.node}: ${x.ok ? 'recovered' : `recover failed: ${x.message}`}`,
    );
  // a part its node had already recovered (its lease ran out, or someone recovered it) is said too, never skipped
  for (const x of parts.filter((q) => !r.results.some((y) => y.sub_uid === q.p.sub_uid)))
    o.say(
      { event: 'already-ended', sub_uid: x.p.sub_uid, node: x.p.node },
      `${x.p.sub_uid} on ${x.p.node}: had already ended on its node (nothing to recover)`,
    );
  for (const u of r.unreachable) o.say({ event: 'unreachable', node: u }, `unreachable: ${u}`);
  if (r.results.some((x) => !x.ok) || r.unreachable.length)
    throw new ChaosError(ExitCode.Recover, 'some parts could not be recovered');
}

/** The injected parts of a kube inject's results, followed through their agents (kubectl exec). */
export async function kubeFollowCluster(
  kube: Kube,
  results: TargetResult[],
): Promise<{ cluster: FollowCluster; parts: FollowedPart[] }> {
  const agents = await kube.agents();
  const injected = results.filter((r) => r.result === 'injected');
  const agentOf = (p: FollowedPart) => {
    const r = injected.find((x) => x.sub_uid === p.sub_uid)!;
    return agents.find((a) => `${a.namespace}/${a.name}` === r.agent)!;
  };
  return {
    parts: injected.map((r) => ({ sub_uid: r.sub_uid, node: r.node, target: r.target })),
    cluster: {
      renew: async (p) => {
        await kube.api(agentOf(p)).renew(p.sub_uid);
      },
      check: (p) => kube.api(agentOf(p)).check(p.sub_uid),
      recover: (uid) => kube.recover(uid),
    },
  };
}
