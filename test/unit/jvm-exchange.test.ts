/**
 * readRegular: how root reads a file the JVM's user controls (the agent's answer, the agent jar): a regular file of
 * the expected owner, never through a link, never blocking on a FIFO, never more than the cap read or allocated.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRegular } from '../../src/host/jvm';

const root = process.getuid?.() === 0;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-jvmx-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const me = process.getuid?.() ?? 0;

test('a regular file of the owner within the cap is read whole', () => {
  const p = path.join(dir, 'ok');
  fs.writeFileSync(p, '{"ok":true}');
  expect(readRegular(p, { cap: 11, owner: me }).toString()).toBe('{"ok":true}');
});

test('refused: one byte over the cap, a sparse 2 GB file (at once), a link, a FIFO (without blocking)', () => {
  const over = path.join(dir, 'over');
  fs.writeFileSync(over, 'x'.repeat(12));
  expect(() => readRegular(over, { cap: 11, owner: me })).toThrow(/larger than 11 bytes/);
  const sparse = path.join(dir, 'sparse');
  fs.writeFileSync(sparse, '');
  fs.truncateSync(sparse, 2 ** 31 - 4096);
  const t0 = Date.now();
  expect(() => readRegular(sparse, { cap: 1 << 20, owner: me })).toThrow(/larger than 1048576 bytes/);
  expect(Date.now() - t0).toBeLessThan(100);
  const link = path.join(dir, 'link');
  fs.symlinkSync(over, link);
  expect(() => readRegular(link, { cap: 1 << 20, owner: me })).toThrow(/symbolic link/);
  const fifo = path.join(dir, 'fifo');
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  expect(() => readRegular(fifo, { cap: 1 << 20, owner: me })).toThrow(/not a regular file/);
});

(root ? test : test.skip)('refused: a file of another user', () => {
  const p = path.join(dir, 'theirs');
  fs.writeFileSync(p, '{}');
  fs.chownSync(p, 65534, 65534);
  expect(() => readRegular(p, { cap: 100, owner: 1 })).toThrow(/belongs to uid 65534, not 1/);
});
