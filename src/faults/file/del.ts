import * as path from 'node:path';
import { badArgs, recoverError } from '../../errors';
import { boolean } from '../flags';
import { defineFault } from '../types';
import { exists, inodeOf, meta, move, removePartial, removeTree, lstatSafe } from '../../host/files';
import { pathFlag } from '../paths';

export default defineFault({
  target: 'file',
  fault: 'del',
  container: 'root',
  aliases: ['delete'],
  summary: 'Delete a file (kept aside, restored on recover)',
  description:
    "Moves --path into the experiment's backup directory under the data dir (not next to the file); recover moves it " +
    'back with its bytes, mode, owner, times and extended attributes. A directory is refused unless --recursive. ' +
    'Across filesystems the original is removed only after a complete copy is safely stored, and put back the same ' +
    'way: a kill or timeout at any moment never leaves a partial copy in place of the file.',
  examples: [
    'chaosmetad inject file del --path /tmp/chaos-demo.conf -t 1m',
    'chaosmetad inject file delete -p /tmp/chaos-demo-dir --recursive',
  ],
  flags: {
    path: pathFlag({ char: 'p', required: true, description: 'the file to delete' }),
    recursive: boolean({ char: 'R', description: 'allow deleting a directory (with everything in it)' }),
  },
  validate(a) {
    if (!exists(a.path)) throw badArgs(`--path ${a.path}: no such file`);
    if (lstatSafe(a.path).isDirectory() && !a.recursive)
      throw badArgs(`--path ${a.path} is a directory; add --recursive to delete it`);
  },
  claims: (a) => [`file:${path.resolve(a.path)}`],
  async inject(a, ctx) {
    const backup = path.join(ctx.workDir(), 'deleted');
    const m = meta(a.path);
    await ctx.step('delete', { path: a.path, backup, ino: m.ino }, async () => {
      await ctx.exec.change(`move ${a.path} to ${backup}`, () => move(ctx.exec, a.path, backup));
    });
    return { path: a.path, backup };
  },
  undo: {
    async delete(d, ctx) {
      await removePartial(ctx.exec, d.backup, { ours: true }); // a copy cut short: the original was never removed
      await removePartial(ctx.exec, d.path, { ino: d.ino }); // its removal cut short: the complete copy is kept
      if (!exists(d.backup)) return; // never moved (a crash before the move): nothing to undo
      if (exists(d.path) && inodeOf(d.path) === d.ino) {
        // killed after the copy was complete, before the original was removed: the original is intact
        await ctx.exec.change(`remove the unused copy ${d.backup}`, () => removeTree(ctx.exec, d.backup));
        return;
      }
      if (exists(d.path)) {
        if (lstatSafe(d.path).isDirectory() || lstatSafe(d.backup).isDirectory()) {
          throw recoverError(`${d.path} exists again; not overwriting it (the original is kept at ${d.backup})`);
        }
        ctx.note(`${d.path} had been recreated; replaced by the original`);
      }
      await ctx.exec.change(`move ${d.backup} back to ${d.path}`, () => move(ctx.exec, d.backup, d.path));
    },
  },
  async check(a) {
    return exists(a.path) ? 'gone' : 'in-place';
  },
});
