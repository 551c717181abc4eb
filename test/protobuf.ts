/**
 * A protobuf coder by hand, field numbers and all, for the tests: the CRI stand-in (test/cri.ts) makes pods and
 * containers with messages chaosmetad itself never sends, and test/unit/cri.test.ts builds replies byte by byte to
 * check the generated code (src/host/gen/) against runtime.v1's field numbers. chaosmetad codes its messages with
 * @bufbuild/protobuf (src/host/cri.ts).
 */

function varint(n: number | bigint): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // int64 negatives are 10-byte two's complement
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
export const pbString = (field: number, s: string): Buffer => pbBytes(field, Buffer.from(s, 'utf8'));
export const pbBytes = (field: number, b: Buffer): Buffer => Buffer.concat([key(field, 2), varint(b.length), b]);
export const pbInt = (field: number, n: number): Buffer => Buffer.concat([key(field, 0), varint(n)]);
export const pbMessage = (field: number, ...parts: Buffer[]): Buffer => pbBytes(field, Buffer.concat(parts));

/** A message's fields by number: varints as bigint, length-delimited ones as Buffer (fixed-width ones skipped). */
export type Fields = Map<number, Array<bigint | Buffer>>;

export function pbDecode(buf: Buffer): Fields {
  const out: Fields = new Map();
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[i++];
      v |= BigInt(b & 127) << shift;
      if (!(b & 128)) return v;
      shift += 7n;
      if (shift > 70n) throw new Error('protobuf varint too long');
    }
  };
  while (i < buf.length) {
    const k = Number(readVarint());
    const field = k >>> 3;
    const wire = k & 7;
    let value: bigint | Buffer | undefined;
    if (wire === 0) value = readVarint();
    else if (wire === 2) {
      const len = Number(readVarint());
      if (i + len > buf.length) throw new Error('truncated protobuf field');
      value = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`protobuf wire type ${wire} not handled`);
    if (value !== undefined) out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}
