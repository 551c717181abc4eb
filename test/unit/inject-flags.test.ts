/** The one table of an inject request's own fields (api/inject-flags.ts): CLI flags → request → agent argv → back. */
import type { InjectRequest } from '../../src/api/api';
import { INJECT_FLAGS, injectFieldsOf } from '../../src/api/inject-flags';
import { parseInjectArgv } from '../../src/cli/fast';
import { findFault } from '../../src/faults/index';
import { injectArgv } from '../../src/kube/agent-api';
import { kebab } from '../../src/util/flags';

const full: InjectRequest = {
  target: 'cpu',
  fault: 'burn',
  args: { percent: '10' },
  uid: 'u-12345',
  timeout: '1m',
  creator: 'me',
  containerId: 'docker://abc',
  containerRuntime: 'docker',
  containerdNamespace: 'k8s.io',
  parentUid: 'p-123',
  dryRun: true,
  lease: '30s',
  schedule: '*/5 * * * *',
  duration: '2m',
};

test('the agent argv of a request: fault flags, then uid, parent-uid, timeout, lease, then the table order', () => {
  expect(injectArgv(full)).toEqual([
    'inject',
    'cpu',
    'burn',
    '--percent=10',
    '--uid=u-12345',
    '--parent-uid=p-123',
    '--timeout=1m',
    '--lease=30s',
    '--creator=me',
    '--container-id=docker://abc',
    '--container-runtime=docker',
    '--containerd-namespace=k8s.io',
    '--dry-run',
    '--schedule=*/5 * * * *',
    '--duration=2m',
    '--json',
  ]);
  expect(injectArgv({ target: 'cpu', fault: 'burn', args: {}, uid: '', dryRun: false })).toEqual([
    'inject',
    'cpu',
    'burn',
    '--json',
  ]);
});

test('the argv parses back (the CLI) to the same request', () => {
  const argv = injectArgv(full);
  const flags = parseInjectArgv(findFault('cpu', 'burn'), argv.slice(3));
  expect(flags).toBeDefined();
  const { target: _t, fault: _f, args: _a, ...fields } = full;
  expect(injectFieldsOf(flags!)).toEqual(fields);
  expect(flags!.json).toBe(true);
});

test('every field has a CLI flag of its own name and an HTTP form', () => {
  for (const [k, spec] of Object.entries(INJECT_FLAGS)) {
    expect(kebab(k)).toMatch(/^[a-z]+(-[a-z]+)*$/);
    expect(spec.kind === 'boolean').toBe(spec.wire === 'switch');
  }
});
