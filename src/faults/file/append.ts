import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../../errors';
import { boolean, integer, string } from '../flags';
import { defineFault } from '../types';
import { exists, meta, pathFlag, restoreMeta, sha256, writeAtomic } from './common';

export default defineFault({
  target: 'file',
  fault: 'append',
  summary: 'Append lines to a file (removed again on recover)',
  description:
    'Appends --content plus a newline to --path, --count times, --interval seconds apart (a helper keeps appending ' +
    'until done or recovered). Recover removes exactly the lines it added, leaving anything else written meanwhile, and ' +
    'restores the original times when the file is back to its original bytes. With --raw the lines stay.',
  examples: [
    'chaosmetad inject file append --path /tmp/chaos-demo.log --content "ERROR injected" --count 5 --interval 1 -t 1m',
    'chaosmetad inject file append -p /tmp/chaos-demo.log -c "kept line" --raw',
  ],
  flags: {
    path: pathFlag({ char: 'p', required: true, description: 'the file to append to (must exist)' }),
    content: string({ char: 'c', required: true, maxLength: 1 << 20, description: 'the line to append' }),
    raw: boolean({ char: 'r', description: 'leave the appended lines in place at recover' }),
    count: integer({ char: 'C', min: 1, max: 1_000_000, default: 1, description: 'how many times to append (default 1)' }),
    interval: integer({ char: 'i', min: 0, max: 86_400, default: 1, description: 'seconds between appends when --count > 1 (default 1)' }),
  },
  validate(a) {
    if (!exists(a.path)) throw badArgs(`--path ${a.path}: no such file`);
    if (!fs.lstatSync(a.path).isFile()) throw badArgs(`--path ${a.path} is not a regular file`);
  },
  claims: (a) => [`file:${path.resolve(a.path)}`],
  async inject(a, ctx) {
    const chunk = a.content + '\n';
    const m = meta(a.path);
    const original = path.join(ctx.workDir(), 'append-original');
    await ctx.step('append', { path: a.path, chunk, raw: !!a.raw, meta: m, original, ino: m.ino }, async () => {
      if (!a.raw) await ctx.exec.change(`keep a copy of ${a.path}`, () => fs.copyFileSync(a.path, original));
    });
    const src = path.join(ctx.workDir(), 'append-chunk');
    await ctx.exec.change(`write the line to ${src}`, () => fs.writeFileSync(src, chunk));
    await ctx.helper('append', { path: a.path, src, count: a.count, 'interval-ms': a.interval * 1000 });
    return { path: a.path, count: a.count };
  },
  undo: {
    async append(d, ctx) {
      if (d.raw || !exists(d.path)) return;
      const now = fs.readFileSync(d.path);
      const chunk = Buffer.from(d.chunk);
      // our lines went after the original end; take out every copy of our chunk there, keep everything else
      const head = now.subarray(0, Math.min(d.meta.size, now.length));
      let tail = now.subarray(head.length);
      const parts: Buffer[] = [];
      for (let i = tail.indexOf(chunk); i >= 0; i = tail.indexOf(chunk)) {
        parts.push(tail.subarray(0, i));
        tail = tail.subarray(i + chunk.length);
      }
      parts.push(tail);
      const restored = Buffer.concat([head, ...parts]);
      if (restored.length === now.length) return; // nothing of ours is there (a crash before the first append)
      await ctx.exec.change(`remove the appended lines from ${d.path}`, () => writeAtomic(d.path, restored, { mode: d.meta.mode, uid: d.meta.uid, gid: d.meta.gid }));
      if (exists(d.original) && sha256(d.original) === sha256(d.path)) await restoreMeta(ctx.exec, d.path, d.meta);
    },
  },
  async check(a, ctx) {
    const s = ctx.steps.find((x) => x.kind === 'append');
    if (!s || !exists(a.path)) return 'gone';
    return fs.readFileSync(a.path).subarray(s.data.meta.size).includes(Buffer.from(s.data.chunk)) ? 'in-place' : 'gone';
  },
});
