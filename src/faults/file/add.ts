import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../../errors';
import { boolean, string } from '../flags';
import { defineFault } from '../types';
import { backupFile, exists, meta, pathFlag, permissionFlag, removeTemp, restoreFile, sha256, writeAtomic } from './common';

export default defineFault({
  target: 'file',
  fault: 'add',
  summary: 'Create a file (or, with --force, replace one)',
  description:
    'Writes --content to --path atomically. An existing file is refused unless --force, which also creates missing ' +
    'directories; recover removes what was created and restores a replaced file exactly (bytes, mode, owner, times).',
  examples: [
    'chaosmetad inject file add --path /tmp/chaos-demo.conf --content "broken=1" --permission 600 -t 1m',
    'chaosmetad inject file add -p /tmp/chaos-demo/dir/new.txt -c hello --force',
  ],
  flags: {
    path: pathFlag({ char: 'p', required: true, description: 'the file to create' }),
    content: string({ char: 'c', default: '', maxLength: 1 << 20, description: 'its content (default: empty)' }),
    permission: permissionFlag({ char: 'P', description: 'its mode in octal, e.g. 644 (default 644, or the replaced file\'s)' }),
    force: boolean({ char: 'f', description: 'replace an existing file and create missing directories' }),
  },
  validate(a) {
    if (exists(a.path) && fs.lstatSync(a.path).isDirectory()) throw badArgs(`--path ${a.path} is a directory`);
    if (exists(a.path) && !a.force) throw badArgs(`--path ${a.path} exists; add --force to replace it (it is restored on recover)`);
    if (!exists(path.dirname(a.path)) && !a.force) throw badArgs(`--path: directory ${path.dirname(a.path)} does not exist; add --force to create it`);
  },
  claims: (a) => [`file:${path.resolve(a.path)}`],
  async inject(a, ctx) {
    const missing: string[] = [];
    for (let d = path.dirname(a.path); !exists(d); d = path.dirname(d)) missing.unshift(d);
    if (missing.length) {
      await ctx.step('mkdir', { dirs: missing }, async () => {
        for (const d of missing) await ctx.exec.change(`mkdir ${d}`, () => fs.mkdirSync(d, { mode: 0o755 }));
      });
    }
    const existed = exists(a.path);
    const backup = path.join(ctx.workDir(), `add-backup`);
    // what the file was, journaled before anything is touched: undo can tell whether the write happened
    const orig = existed && !ctx.dryRun ? { meta: meta(a.path), origSha: sha256(a.path) } : {};
    await ctx.step('write', { path: a.path, existed, backup, ...orig }, async () => {
      let mode = a.permission ?? 0o644;
      let owner = {};
      if (existed) {
        const m = (await ctx.exec.change(`back up ${a.path} to ${backup}`, () => backupFile(a.path, backup)))!;
        if (m) { mode = a.permission ?? m.mode; owner = { uid: m.uid, gid: m.gid }; }
        if (m) return { meta: m, ...(await write()) };
      }
      return write();
      async function write() {
        await ctx.exec.change(`write ${a.content.length} bytes to ${a.path} (mode ${mode.toString(8)})`, () => writeAtomic(a.path, a.content, { mode, ...owner }));
        return { sha: ctx.dryRun ? '' : sha256(a.path) };
      }
    });
    return { path: a.path, replaced: existed };
  },
  undo: {
    async write(d, ctx) {
      removeTemp(d.path);
      if (d.existed) {
        if (!d.meta || !exists(d.backup)) return;
        // killed before the write (or during the backup copy): the file is still the original
        if (d.origSha && exists(d.path) && sha256(d.path) === d.origSha) return;
        if (d.origSha && sha256(d.backup) !== d.origSha) throw new Error(`the backup of ${d.path} is incomplete; the file was left as it is`);
        await restoreFile(ctx.exec, d.path, d.backup, d.meta);
        return;
      }
      if (exists(d.path)) await ctx.exec.change(`remove ${d.path}`, () => fs.rmSync(d.path, { force: true }));
    },
    async mkdir(d, ctx) {
      for (const dir of [...(d.dirs as string[])].reverse()) {
        if (!exists(dir)) continue;
        if (fs.readdirSync(dir).length) { ctx.note(`left ${dir}: not empty`); continue; }
        await ctx.exec.change(`rmdir ${dir}`, () => fs.rmdirSync(dir));
      }
    },
  },
  async check(a, ctx) {
    const w = ctx.steps.find((s) => s.kind === 'write');
    if (!w) return 'gone';
    return exists(a.path) && sha256(a.path) === w.data.sha ? 'in-place' : 'gone';
  },
});
