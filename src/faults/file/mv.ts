import * as path from 'node:path';
import { badArgs } from '../../errors';
import { defineFault, defineStep } from '../types';
import { exists, meta, move, statSafe } from '../../host/files';
import { pathFlag } from '../paths';
import { restoreMoved } from './restore';

/** --src moved to `dst`; recover moves it back unless --src was recreated meanwhile. */
const moveStep = defineStep('move', (d: { src: string; dst: string; ino: string; mtime: string }, ctx) =>
  restoreMoved({ from: d.src, to: d.dst, ino: d.ino, mtime: d.mtime }, ctx, { ours: false, recreated: 'leave' }),
);

export default defineFault({
  target: 'file',
  fault: 'mv',
  container: 'root',
  summary: 'Move a file away (moved back on recover)',
  description:
    'Moves --src to --dst (into it, when --dst is a directory). An existing --dst file is refused. Recover moves it back.',
  examples: ['chaosmetad inject file mv --src /tmp/chaos-demo.conf --dst /tmp/chaos-demo.conf.moved -t 1m'],
  flags: {
    src: pathFlag({ char: 's', required: true, description: 'the file to move' }),
    dst: pathFlag({
      char: 'd',
      required: true,
      description: 'where to move it (a new path, or an existing directory)',
    }),
  },
  validate(a) {
    if (!exists(a.src)) throw badArgs(`--src ${a.src}: no such file`);
    const dst = target(a.src, a.dst);
    if (exists(dst)) throw badArgs(`--dst ${dst} exists; refusing to overwrite it`);
    if (!exists(path.dirname(dst))) throw badArgs(`--dst: directory ${path.dirname(dst)} does not exist`);
    if (dst === a.src || dst.startsWith(a.src + '/')) throw badArgs('--dst must not be --src or inside it');
  },
  claims: (a) => [`file:${path.resolve(a.src)}`, `file:${path.resolve(a.dst)}`],
  async inject(a, ctx) {
    const dst = target(a.src, a.dst);
    const m = meta(a.src);
    await ctx.step(moveStep, { src: a.src, dst, ino: m.ino, mtime: m.mtime }, async () => {
      await ctx.exec.change(`move ${a.src} to ${dst}`, () => move(ctx.exec, a.src, dst));
    });
    return { src: a.src, dst };
  },
  steps: [moveStep],
  async check(a, ctx) {
    const s = ctx.stepsOf(moveStep)[0];
    return s && exists(s.data.dst) && !exists(a.src) ? 'in-place' : 'gone';
  },
});

function target(src: string, dst: string): string {
  return exists(dst) && statSafe(dst).isDirectory() ? path.join(dst, path.basename(src)) : dst;
}
