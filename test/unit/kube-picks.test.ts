/**
 * Which pods a selector gives: a pod whose chosen container is not running — a CrashLoopBackOff pod is still in
 * phase Running, so the field selector keeps it — is skipped and listed with why, and the selection fails only when
 * too few remain; a pod named with --pod must be targetable (the user named it). (Through the real kubectl against
 * the stand-in: kube.test.ts.)
 */
import type { Kubectl } from '../../src/kube/kubectl';
import { pickPods } from '../../src/kube/picks';

const pod = (name: string, state: Record<string, unknown>) => ({
  metadata: { namespace: 'demo', name },
  spec: { nodeName: 'node-a', containers: [{ name: 'app' }] },
  status: {
    phase: 'Running',
    containerStatuses: [{ name: 'app', containerID: `docker://${'ab'.repeat(32)}`, state }],
  },
});
const running = { running: { startedAt: 'x' } };
const crashing = { waiting: { reason: 'CrashLoopBackOff' } };

function kubectl(items: unknown[]): Kubectl {
  return {
    getJson: async (args: string[]) => (args[0] === 'pods' ? { items } : items.find(() => true)),
  } as unknown as Kubectl;
}

test('a crash-looping pod among the matches is skipped and listed; two healthy ones are picked', async () => {
  const k = kubectl([pod('web-1', running), pod('web-2', running), pod('web-3', crashing)]);
  const r = await pickPods(k, { namespace: 'demo', selector: 'app=web', count: 2, seed: 1 });
  expect(r.picks.map((p) => p.label)).toEqual(['demo/web-1', 'demo/web-2']);
  expect(r.skipped).toEqual([
    {
      label: 'demo/web-3',
      node: 'node-a',
      reason: 'container app of pod demo/web-3 is not running (waiting: CrashLoopBackOff)',
    },
  ]);
});

test('too few left after the skips: refused, saying which were skipped and why', async () => {
  const k = kubectl([pod('web-1', running), pod('web-3', crashing)]);
  await expect(pickPods(k, { namespace: 'demo', selector: 'app=web', count: 2 })).rejects.toThrow(
    'only 1 of the 2 pods matching -l app=web can be targeted, --target-count 2 asked: demo/web-3: container app of pod demo/web-3 is not running (waiting: CrashLoopBackOff)',
  );
  await expect(pickPods(kubectl([pod('web-3', crashing)]), { namespace: 'demo', selector: 'app=web' })).rejects.toThrow(
    /no pod matching -l app=web in namespace demo can be targeted: demo\/web-3/,
  );
  // a percentage is of the pods that can be targeted
  const r = await pickPods(kubectl([pod('web-1', running), pod('web-2', running), pod('web-3', crashing)]), {
    namespace: 'demo',
    selector: 'app=web',
    percent: 50,
    seed: 3,
  });
  expect(r.picks).toHaveLength(1);
});

test('a pod named with --pod must be targetable: the user named it', async () => {
  await expect(pickPods(kubectl([pod('web-3', crashing)]), { pods: ['demo/web-3'] })).rejects.toThrow(
    'container app of pod demo/web-3 is not running (waiting: CrashLoopBackOff)',
  );
});
