import * as path from 'node:path';
import { badArgs } from '../../errors';
import { boolean } from '../flags';
import { defineFault, defineStep } from '../types';
import { exists, meta, move, lstatSafe } from '../../host/files';
import { pathFlag } from '../paths';
import { restoreMoved } from './restore';

/** --path moved into the work dir (`backup`); recover moves it back (the original wins over a recreated file). */
const deleteStep = defineStep('delete', (d: { path: string; backup: string; ino: string }, ctx) =>
  restoreMoved({ from: d.path, to: d.backup, ino: d.ino }, ctx, { ours: true, recreated: 'replace' }),
);

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
    await ctx.step(deleteStep, { path: a.path, backup, ino: m.ino }, async () => {
      await ctx.exec.change(`move ${a.path} to ${backup}`, () => move(ctx.exec, a.path, backup));
    });
    return { path: a.path, backup };
  },
  steps: [deleteStep],
  async check(a) {
    return exists(a.path) ? 'gone' : 'in-place';
  },
});
