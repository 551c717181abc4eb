/** `kube inject --follow`'s loop (kube/follow.ts) driven on a fake cluster: no kubectl, milliseconds per case. */
import { ChaosError, ExitCode } from '../../src/errors';
import { type FollowCluster, type FollowedPart, follow } from '../../src/kube/follow';

const PARTS: FollowedPart[] = [
  { sub_uid: 'exp-1', node: 'node-a', target: 'shop/web-0' },
  { sub_uid: 'exp-2', node: 'node-b', target: 'shop/web-1' },
];

/** A cluster whose parts' effects and renew/recover answers the test sets; it records every call. */
function fakeCluster() {
  const calls: string[] = [];
  const effect: Record<string, string> = { 'exp-1': 'in place', 'exp-2': 'in place' };
  const renewError: Record<string, Error | undefined> = {};
  const recovered: Record<string, { ok: boolean; message: string }> = {
    'exp-1': { ok: true, message: 'recovered' },
    'exp-2': { ok: true, message: 'recovered' },
  };
  const unreachable: string[] = [];
  const cluster: FollowCluster = {
    renew: async (p) => {
      calls.push(`renew ${p.sub_uid}`);
      const e = renewError[p.sub_uid];
      if (e) throw e;
    },
    check: async (p) => {
      calls.push(`check ${p.sub_uid}`);
      return { effect: effect[p.sub_uid] };
    },
    recover: async (uid) => {
      calls.push(`recover ${uid}`);
      return {
        results: Object.entries(recovered).map(([sub_uid, r]) => ({
          sub_uid,
          node: PARTS.find((p) => p.sub_uid === sub_uid)!.node,
          ...r,
        })),
        unreachable,
      };
    },
  };
  return { cluster, calls, effect, renewError, recovered, unreachable };
}

function run(cluster: FollowCluster, stop: AbortController) {
  const events: Array<Record<string, unknown>> = [];
  const lines: string[] = [];
  const done = follow(cluster, {
    uid: 'exp',
    parts: PARTS,
    lease: '90ms',
    leaseMs: 90,
    checkEveryMs: 10,
    stop: stop.signal,
    say: (e, text) => {
      events.push(e);
      lines.push(text);
    },
  });
  return { done, events, lines };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const names = (events: Array<Record<string, unknown>>) => events.map((e) => e.event);

test('renews every part each third of the lease, says each effect once and when it changes; stop recovers all', async () => {
  const f = fakeCluster();
  const stop = new AbortController();
  const r = run(f.cluster, stop);
  await sleep(100);
  f.effect['exp-2'] = 'gone';
  await sleep(60);
  stop.abort();
  await r.done;
  expect(r.lines[0]).toBe('following exp: renewing every 0.0s; Ctrl-C recovers');
  // ~160 ms at a 30 ms period: several renewals of each part, not one per check
  for (const uid of ['exp-1', 'exp-2']) {
    const n = f.calls.filter((c) => c === `renew ${uid}`).length;
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(9);
  }
  expect(r.events.filter((e) => e.event === 'effect')).toEqual([
    { event: 'effect', sub_uid: 'exp-1', target: 'shop/web-0', effect: 'in place' },
    { event: 'effect', sub_uid: 'exp-2', target: 'shop/web-1', effect: 'in place' },
    { event: 'effect', sub_uid: 'exp-2', target: 'shop/web-1', effect: 'gone' },
  ]);
  expect(names(r.events).slice(-3)).toEqual(['recovering', 'recovered', 'recovered']);
  expect(r.lines.slice(-2)).toEqual(['exp-1 on node-a: recovered', 'exp-2 on node-b: recovered']);
  expect(f.calls.filter((c) => c.startsWith('recover'))).toEqual(['recover exp']);
});

test('a part that ended on its node is not renewed again; when every part has ended it returns without recovering', async () => {
  const f = fakeCluster();
  f.renewError['exp-1'] = new ChaosError(ExitCode.BadArgs, 'no such experiment');
  f.renewError['exp-2'] = new ChaosError(ExitCode.BadArgs, 'already destroyed');
  const r = run(f.cluster, new AbortController());
  await r.done;
  expect(f.calls.filter((c) => c.startsWith('renew'))).toEqual(['renew exp-1', 'renew exp-2']);
  expect(f.calls).not.toContain('recover exp');
  expect(r.lines).toContain('exp-1 on node-a: ended (no such experiment)');
  expect(r.lines).toContain('exp-2 on node-b: ended (already destroyed)');
});

test('a renewal that cannot reach its node is said and tried again', async () => {
  const f = fakeCluster();
  f.renewError['exp-1'] = new ChaosError(ExitCode.Internal, 'kubectl: connection refused');
  f.renewError['exp-2'] = new Error('kubectl: exec timed out');
  const stop = new AbortController();
  const r = run(f.cluster, stop);
  await sleep(80);
  f.renewError['exp-1'] = undefined;
  f.renewError['exp-2'] = undefined;
  await sleep(70);
  stop.abort();
  await r.done;
  const failed = r.events.filter((e) => e.event === 'renew-failed');
  expect(failed.length).toBeGreaterThanOrEqual(2);
  expect(failed[0]).toEqual({ event: 'renew-failed', sub_uid: 'exp-1', message: 'kubectl: connection refused' });
  expect(failed).toContainEqual({ event: 'renew-failed', sub_uid: 'exp-2', message: 'kubectl: exec timed out' });
  expect(r.events.filter((e) => e.event === 'ended')).toEqual([]);
  for (const uid of ['exp-1', 'exp-2']) {
    const tries = f.calls.filter((c) => c === `renew ${uid}`).length;
    expect(tries).toBeGreaterThan(failed.filter((e) => e.sub_uid === uid).length);
  }
});

test('stopped: a part already gone is said, and a part not recovered or a node not reached fails it (exit 5)', async () => {
  const f = fakeCluster();
  delete f.recovered['exp-1']; // its lease ran out on its node meanwhile
  f.recovered['exp-2'] = { ok: false, message: 'agent says: busy' };
  f.unreachable.push('node-c');
  const stop = new AbortController();
  const r = run(f.cluster, stop);
  await sleep(20);
  stop.abort();
  await expect(r.done).rejects.toMatchObject({ code: ExitCode.Recover, message: 'some parts could not be recovered' });
  expect(r.lines.slice(-3)).toEqual([
    'exp-2 on node-b: recover failed: agent says: busy',
    'exp-1 on node-a: had already ended on its node (nothing to recover)',
    'unreachable: node-c',
  ]);
});
