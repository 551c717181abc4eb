/** The CRI client's protobuf coder (a hostile or broken server's bytes are errors), and what needs no CRI call. */
import { pbDecode, pbInt, pbMessage, pbString } from '../../src/host/cri';
import { validateAction } from '../../src/host/runtimes';

test('fields round-trip: strings, varints (int64 negatives too), nested messages, repeated fields', () => {
  const buf = Buffer.concat([
    pbString(1, 'abc'),
    pbInt(2, 300),
    pbInt(3, -1),
    pbMessage(4, pbString(1, 'inner')),
    pbString(5, 'x'),
    pbString(5, 'y'),
  ]);
  const f = pbDecode(buf);
  expect(String(f.get(1)![0])).toBe('abc');
  expect(f.get(2)![0]).toBe(300n);
  expect(f.get(3)![0]).toBe((1n << 64n) - 1n);
  expect(String(pbDecode(f.get(4)![0] as Buffer).get(1)![0])).toBe('inner');
  expect(f.get(5)!.map(String)).toEqual(['x', 'y']);
});

test.each([
  ['a length past the end', Buffer.from([0x0a, 0x05, 0x61])],
  ['a varint cut short', Buffer.from([0x10, 0xff])],
  ['an endless varint', Buffer.from([0x10, ...Array(12).fill(0xff), 0x01])],
  ['a wire type no message here uses', Buffer.from([0x0b])],
])('%s is an error', (_why, bytes) => {
  expect(() => pbDecode(bytes)).toThrow(/protobuf/);
});

test("restart is refused where the kubelet's CRI manages the container (containerd k8s.io, CRI-O)", () => {
  const t = { kind: 'container' as const, id: 'a'.repeat(64), name: 'x', pid: 1, start: 1 };
  expect(() => validateAction({ ...t, runtime: 'containerd', namespace: 'k8s.io' }, 'restart')).toThrow(/k8s.io/);
  expect(() => validateAction({ ...t, runtime: 'crio' }, 'restart')).toThrow(/CRI-O/);
  expect(() => validateAction({ ...t, runtime: 'containerd', namespace: 'default' }, 'restart')).not.toThrow();
  expect(() => validateAction({ ...t, runtime: 'crio' }, 'pause')).not.toThrow();
});
