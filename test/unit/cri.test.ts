/** The CRI client's protobuf coder: round trips, and a hostile or broken server's bytes are errors, not hangs. */
import { pbDecode, pbInt, pbMessage, pbString } from '../../src/host/cri';

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
