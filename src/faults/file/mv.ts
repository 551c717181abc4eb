import * as path from 'node:path';
import { badArgs } from '../../errors';
import { defineFault } from '../types';
import { exists, inodeOf, meta, move, removePartial, removeTree, statSafe } from '../../host/files';
import { pathFlag } from '../paths';

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
    await ctx.step('move', { src: a.src, dst, ino: m.ino, mtime: m.mtime }, async () => {
      await ctx.exec.change(`move ${a.src} to ${dst}`, () => move(ctx.exec, a.src, dst));
    });
    return { src: a.src, dst };
  },
  undo: {
    async move(d, ctx) {
      await removePartial(ctx.exec, d.dst);
      await removePartial(ctx.exec, d.src, { ino: d.ino });
      if (!exists(d.dst)) {
        if (!exists(d.src)) ctx.note(`${d.dst} is gone; nothing to move back`);
        return;
      }
      if (exists(d.src) && d.ino && inodeOf(d.src) === d.ino) {
        // a cross-filesystem move killed after its copy was complete: the original never left; drop the copy —
        // only if --dst is still that copy (its times are the original's to the ns): whoever can write --dst's
        // directory could have put another tree there
        if (d.mtime && meta(d.dst).mtime !== d.mtime) {
          ctx.note(`${d.src} is back and ${d.dst} is not the copy chaosmetad made; left both`);
          return;
        }
        await ctx.exec.change(`remove the unused copy ${d.dst}`, () => removeTree(ctx.exec, d.dst));
        return;
      }
      if (exists(d.src)) {
        ctx.note(`${d.src} exists again; left ${d.dst} where it is`);
        return;
      }
      await ctx.exec.change(`move ${d.dst} back to ${d.src}`, () => move(ctx.exec, d.dst, d.src));
    },
  },
  async check(a, ctx) {
    const s = ctx.steps.find((x) => x.kind === 'move');
    return s && exists(s.data.dst) && !exists(a.src) ? 'in-place' : 'gone';
  },
});

function target(src: string, dst: string): string {
  return exists(dst) && statSafe(dst).isDirectory() ? path.join(dst, path.basename(src)) : dst;
}
