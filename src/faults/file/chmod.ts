import * as path from 'node:path';
import * as fs from 'node:fs';
import { badArgs } from '../../errors';
import { defineFault } from '../types';
import { exists, meta, pathFlag, permissionFlag } from './common';

export default defineFault({
  target: 'file',
  fault: 'chmod',
  summary: "Change a file's permissions",
  description: 'Sets the mode of --path to --permission; recover puts the original mode back.',
  examples: ['chaosmetad inject file chmod --path /tmp/chaos-demo.conf --permission 000 -t 1m'],
  flags: {
    path: pathFlag({ char: 'p', required: true, description: 'the file or directory' }),
    permission: permissionFlag({ char: 'P', required: true, description: 'the new mode in octal, e.g. 000 or 777' }),
  },
  validate(a) {
    if (!exists(a.path)) throw badArgs(`--path ${a.path}: no such file`);
    if (fs.lstatSync(a.path).isSymbolicLink()) throw badArgs(`--path ${a.path} is a symbolic link; give its target`);
  },
  claims: (a) => [`file:${path.resolve(a.path)}`],
  async inject(a, ctx) {
    const m = meta(a.path);
    await ctx.step('chmod', { path: a.path, mode: m.mode, ino: m.ino, to: a.permission }, async () => {
      await ctx.exec.change(`chmod ${a.permission.toString(8)} ${a.path}  # was ${m.mode.toString(8)}`, () => fs.chmodSync(a.path, a.permission));
    });
    return { path: a.path, from: m.mode.toString(8), to: a.permission.toString(8) };
  },
  undo: {
    async chmod(d, ctx) {
      if (!exists(d.path)) { ctx.note(`${d.path} no longer exists; mode not restored`); return; }
      if (meta(d.path).ino !== d.ino) ctx.note(`${d.path} was replaced meanwhile; restoring the mode on the new file`);
      await ctx.exec.change(`chmod ${Number(d.mode).toString(8)} ${d.path}`, () => fs.chmodSync(d.path, d.mode));
    },
  },
  async check(a, ctx) {
    const s = ctx.steps.find((x) => x.kind === 'chmod');
    if (!s || !exists(a.path)) return 'gone';
    return meta(a.path).mode === s.data.to ? 'in-place' : 'gone';
  },
});
