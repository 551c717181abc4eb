/**
 * Whole-file reads of files a target controls are bounded (issue 21, item 6): /etc/hosts and resolv.conf are
 * refused past a cap before anything is allocated; file append's recover and check read a block at a time, and
 * keep exactly what the whole-tail edit (withoutChunks) kept.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TooLarge, rangeIncludes, readFrom, removeChunksInPlace } from '../../src/host/files';
import { withoutChunks } from '../../src/faults/file/append';
import { LINE_FILE_MAX, readText } from '../../src/faults/dns/common';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-unit-bounded-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a sparse 8 GB hosts file is refused at once, naming the file and the cap; nothing is allocated', () => {
  const f = path.join(dir, 'hosts');
  fs.writeFileSync(f, '127.0.0.1 localhost\n');
  expect(readText(f)).toBe('127.0.0.1 localhost\n');
  fs.truncateSync(f, 8 * 1024 ** 3);
  const rss = process.memoryUsage().rss;
  const t0 = Date.now();
  expect(() => readText(f)).toThrow(TooLarge);
  expect(() => readText(f)).toThrow(`${f} is 8GB: more than the 64MB chaosmetad reads of a file it edits whole`);
  expect(Date.now() - t0).toBeLessThan(1000);
  expect(process.memoryUsage().rss - rss).toBeLessThan(32 << 20);
  // at the cap exactly: read
  fs.truncateSync(f, LINE_FILE_MAX);
  expect(readFrom(f, LINE_FILE_MAX).length).toBe(LINE_FILE_MAX);
  fs.truncateSync(f, LINE_FILE_MAX + 1);
  expect(() => readFrom(f, LINE_FILE_MAX)).toThrow(/is 64\.0MB: more than the 64MB/);
});

/** A tail as file append leaves it: our chunk, others' lines, partial copies, copies not at a line start. */
function randomTail(rng: () => number, chunk: Buffer): Buffer {
  const parts: Buffer[] = [];
  const n = Math.floor(rng() * 12);
  for (let i = 0; i < n; i++) {
    const k = rng();
    if (k < 0.4) parts.push(chunk);
    else if (k < 0.55) parts.push(chunk.subarray(0, Math.floor(rng() * chunk.length)));
    else if (k < 0.7) parts.push(Buffer.from('x'), chunk);
    else parts.push(Buffer.from(['other\n', 'o', '\n', 'ERR\n', 'E'][Math.floor(rng() * 5)]));
  }
  return Buffer.concat(parts);
}

test('removeChunksInPlace keeps exactly what withoutChunks keeps, whatever the block size (2 000 cases)', () => {
  let seed = 21;
  const rng = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const f = path.join(dir, 'append');
  for (let c = 0; c < 2000; c++) {
    const chunk = Buffer.from(['ERR\n', 'a\nb\n', '\n', 'ERRERR\n', 'x'.repeat(9) + '\n'][c % 5]);
    const head = Buffer.from(rng() < 0.5 ? 'head\n' : 'partial-line');
    const tail = randomTail(rng, chunk);
    const block = 1 + Math.floor(rng() * 16);
    fs.writeFileSync(f, Buffer.concat([head, tail]));
    const fd = fs.openSync(f, 'r+');
    try {
      expect(rangeIncludes(fd, head.length, head.length + tail.length, chunk, block)).toBe(tail.includes(chunk));
      const r = removeChunksInPlace(fd, head.length, head.length + tail.length, chunk, block);
      const want = withoutChunks(tail, chunk);
      const now = fs.readFileSync(f);
      expect({ c, kept: now.subarray(head.length, r.keptEnd).toString() }).toEqual({ c, kept: want.toString() });
      expect(r.removed).toBe(want.length !== tail.length);
      expect(r.readTo).toBe(head.length + tail.length);
      expect(now.subarray(0, head.length)).toEqual(head);
      if (!r.removed) expect(now).toEqual(Buffer.concat([head, tail])); // nothing written
    } finally {
      fs.closeSync(fd);
    }
  }
});

test('removeChunksInPlace on a large tail holds one block: 64 MiB of others, our lines among them', () => {
  const f = path.join(dir, 'big');
  const chunk = Buffer.from('chaos line\n');
  const other = crypto
    .randomBytes(1 << 20)
    .toString('hex')
    .replace(/(.{79})/g, '$1\n');
  fs.writeFileSync(f, 'orig\n');
  for (let i = 0; i < 64; i++)
    fs.appendFileSync(f, Buffer.concat([chunk, Buffer.from(other.slice(0, (1 << 20) - 1) + '\n')]));
  const size = fs.statSync(f).size;
  const fd = fs.openSync(f, 'r+');
  const rss = process.memoryUsage().rss;
  try {
    const r = removeChunksInPlace(fd, 5, size, chunk);
    expect(r.removed).toBe(true);
    expect(r.keptEnd).toBe(size - 64 * chunk.length);
    expect(process.memoryUsage().rss - rss).toBeLessThan(48 << 20);
  } finally {
    fs.closeSync(fd);
  }
});
