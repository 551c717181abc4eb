/** The agent policy's schema (engine/policy.ts): strict, so a typo refuses instead of lifting a rule. */
import { DEFAULT_PROTECTED_PATHS, parsePolicy } from '../../src/engine/policy';

const ok = { faults: ['*'], namespaces: ['shop'], maxDuration: '30m' };
const parse = (o: unknown) => parsePolicy(typeof o === 'string' ? o : JSON.stringify(o), 'test');

test('a minimal policy: the defaults filled in', () => {
  expect(parse(ok)).toEqual({
    source: 'test',
    faults: ['*'],
    namespaces: ['shop'],
    nodeFaults: false,
    protectedPaths: DEFAULT_PROTECTED_PATHS,
    maxDurationMs: 30 * 60_000,
    maxDuration: '30m',
  });
  expect(parse({ ...ok, faults: ['network *', 'cpu burn'], protectedPaths: [] }).protectedPaths).toEqual([]);
});

test.each([
  [{ ...ok, namespace: ['x'] }, /unknown key "namespace"/],
  [{ faults: ['*'], maxDuration: '1m' }, /namespaces is missing/],
  [{ faults: ['*'], namespaces: [] }, /maxDuration is missing/],
  [{ namespaces: [], maxDuration: '1m' }, /faults is missing/],
  [{ ...ok, faults: 'cpu burn' }, /faults must be a list of strings/],
  [{ ...ok, faults: ['netwrok delay'] }, /faults: "netwrok delay"/],
  [{ ...ok, faults: ['nope *'] }, /no target "nope"/],
  [{ ...ok, faults: ['cpu'] }, /is not "target fault"/],
  [{ ...ok, namespaces: ['Shop'] }, /not a Kubernetes namespace name/],
  [{ ...ok, nodeFaults: 'yes' }, /nodeFaults must be true or false/],
  [{ ...ok, protectedPaths: ['etc/kubernetes'] }, /must be an absolute, normalized path/],
  [{ ...ok, protectedPaths: ['/var/lib/../lib/kubelet'] }, /must be an absolute, normalized path/],
  [{ ...ok, protectedPaths: ['/'] }, /other than \//],
  [{ ...ok, maxDuration: 30 }, /maxDuration must be a duration/],
  [{ ...ok, maxDuration: 'soon' }, /maxDuration/],
  [{ ...ok, maxDuration: '0s' }, /maxDuration must be longer than 0/],
  [[ok], /must be a JSON object/],
  ['{"faults": ["*"],', /not valid JSON/],
])('refused: %j', (doc, msg) => {
  expect(() => parse(doc)).toThrow(msg);
});
