import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../../errors';
import { UnsafePath, openNoFollow, withParent } from '../../host/safefs';
import { defineFault, defineStep } from '../types';
import { pathFlag, permissionFlag } from '../paths';
import { exists, meta, lstatSafe } from '../../host/files';

/** chmod through a descriptor of the file itself (never a link's target); with expectIno, only that inode. */
function fchmodPath(p: string, mode: number, expectIno?: string): void {
  withParent(p, (dir, name) => {
    const fd = openNoFollow(dir, name, fs.constants.O_RDONLY, 0, expectIno);
    try {
      fs.fchmodSync(fd, mode);
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** The mode of `path` (inode `ino`) changed from `mode` to `to`; recover puts `mode` back on that very file. */
const chmodStep = defineStep('chmod', async (d: { path: string; mode: number; ino: string; to: number }, ctx) => {
  try {
    await ctx.exec.change(`chmod ${d.mode.toString(8)} ${d.path}`, () => fchmodPath(d.path, d.mode, d.ino));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      ctx.note(`${d.path} no longer exists; mode not restored`);
      return;
    }
    if (!(e instanceof UnsafePath)) throw e;
    ctx.note(`${d.path} was replaced meanwhile (${e.message}); left it alone, mode not restored`);
  }
});

export default defineFault({
  target: 'file',
  fault: 'chmod',
  container: 'root',
  summary: "Change a file's permissions",
  description:
    'Sets the mode of --path to --permission; recover puts the original mode back — only on the same file: if the ' +
    'path was replaced meanwhile (another inode, or a symbolic link) it is left alone and the recover says so.',
  examples: ['chaosmetad inject file chmod --path /tmp/chaos-demo.conf --permission 000 -t 1m'],
  flags: {
    path: pathFlag({ char: 'p', required: true, description: 'the file or directory' }),
    permission: permissionFlag({ char: 'P', required: true, description: 'the new mode in octal, e.g. 000 or 777' }),
  },
  validate(a) {
    if (!exists(a.path)) throw badArgs(`--path ${a.path}: no such file`);
    const m = meta(a.path);
    if (m.link !== undefined) throw badArgs(`--path ${a.path} is a symbolic link; give its target`);
    if (!lstatSafe(a.path).isFile() && !lstatSafe(a.path).isDirectory())
      throw badArgs(`--path ${a.path} is not a regular file or directory`);
  },
  claims: (a) => [`file:${path.resolve(a.path)}`],
  async inject(a, ctx) {
    const m = meta(a.path);
    await ctx.step(chmodStep, { path: a.path, mode: m.mode, ino: m.ino, to: a.permission }, async () => {
      await ctx.exec.change(`chmod ${a.permission.toString(8)} ${a.path}  # was ${m.mode.toString(8)}`, () =>
        fchmodPath(a.path, a.permission, m.ino),
      );
    });
    return { path: a.path, from: m.mode.toString(8), to: a.permission.toString(8) };
  },
  steps: [chmodStep],
  async check(a, ctx) {
    const s = ctx.stepsOf(chmodStep)[0];
    if (!s || !exists(a.path)) return 'gone';
    const m = meta(a.path);
    return m.ino === s.data.ino && m.link === undefined && m.mode === s.data.to ? 'in-place' : 'gone';
  },
});
