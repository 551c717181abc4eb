import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../../errors';
import {
  backupFile,
  exists,
  inodeOf,
  meta,
  removePartial,
  removeTemp,
  restoreFile,
  sha256,
  writeAtomic,
  lstatSafe,
  type Meta,
} from '../../host/files';
import { withParent } from '../../host/safefs';
import { boolean, string } from '../flags';
import { defineFault, defineStep } from '../types';
import { pathFlag, permissionFlag } from '../paths';

/** The --path write: what the file was (meta, its sha when a file) and, once written, what it became. */
interface WriteData {
  path: string;
  existed: boolean;
  backup: string;
  meta?: Meta;
  origSha?: string;
  sha?: string;
  ino?: string;
}
const writeStep = defineStep('write', async (d: WriteData, ctx) => {
  removeTemp(d.path);
  await removePartial(ctx.exec, d.path); // a restore's staged copy cut short by a kill
  await removePartial(ctx.exec, d.backup, { ours: true });
  const now = exists(d.path) ? meta(d.path) : undefined;
  const ours =
    now !== undefined &&
    now.link === undefined &&
    (d.ino ? now.ino === d.ino : true) &&
    d.sha !== undefined &&
    sha256(d.path) === d.sha;
  if (d.existed) {
    if (!d.meta || !exists(d.backup)) return;
    // killed before the write (or during the backup copy): the path is still the original
    if (
      now &&
      (d.origSha
        ? now.link === undefined && sha256(d.path) === d.origSha
        : now.link === d.meta.link && now.ino === d.meta.ino)
    )
      return;
    if (now && !ours && d.sha !== undefined) {
      ctx.note(
        `${d.path} was changed by someone else meanwhile; left it as it is (the original is kept at ${d.backup})`,
      );
      return;
    }
    if (d.origSha && sha256(d.backup) !== d.origSha)
      throw new Error(`the backup of ${d.path} is incomplete; the file was left as it is`);
    await ctx.exec.change(`restore ${d.path} from ${d.backup}`, () => restoreFile(ctx.exec, d.path, d.backup));
    return;
  }
  if (!now) return;
  if (!ours && d.sha !== undefined) {
    ctx.note(`${d.path} was changed by someone else meanwhile; left it in place`);
    return;
  }
  await ctx.exec.change(`remove ${d.path}`, () => withParent(d.path, (dir, name) => fs.unlinkSync(dir.at(name))));
});

/** Directories created for --path (--force), outermost first; recover removes those still empty. */
const mkdirStep = defineStep('mkdir', async (d: { dirs: string[] }, ctx) => {
  for (const dir of [...d.dirs].reverse()) {
    if (!exists(dir)) continue;
    await withParent(dir, async (parent, name) => {
      if (fs.readdirSync(parent.at(name)).length) {
        ctx.note(`left ${dir}: not empty`);
        return;
      }
      await ctx.exec.change(`rmdir ${dir}`, () => fs.rmdirSync(parent.at(name)));
    });
  }
});

export default defineFault({
  target: 'file',
  fault: 'add',
  container: 'root',
  summary: 'Create a file (or, with --force, replace one)',
  description:
    'Writes --content to --path atomically. An existing file is refused unless --force, which also creates missing ' +
    'directories; recover removes what was created and restores a replaced file exactly (bytes, mode, owner, times, ' +
    'extended attributes). A symbolic link at --path is replaced itself (never written through) and restored as the ' +
    'same link. A file changed by someone else meanwhile is left alone, and the recover says so.',
  examples: [
    'chaosmetad inject file add --path /tmp/chaos-demo.conf --content "broken=1" --permission 600 -t 1m',
    'chaosmetad inject file add -p /tmp/chaos-demo/dir/new.txt -c hello --force',
  ],
  flags: {
    path: pathFlag({ char: 'p', required: true, description: 'the file to create' }),
    content: string({ char: 'c', default: '', maxLength: 1 << 20, description: 'its content (default: empty)' }),
    permission: permissionFlag({
      char: 'P',
      description: "its mode in octal, e.g. 644 (default 644, or the replaced file's)",
    }),
    force: boolean({ char: 'f', description: 'replace an existing file and create missing directories' }),
  },
  validate(a) {
    if (exists(a.path) && lstatSafe(a.path).isDirectory()) throw badArgs(`--path ${a.path} is a directory`);
    if (exists(a.path) && !a.force)
      throw badArgs(`--path ${a.path} exists; add --force to replace it (it is restored on recover)`);
    if (!exists(path.dirname(a.path)) && !a.force)
      throw badArgs(`--path: directory ${path.dirname(a.path)} does not exist; add --force to create it`);
  },
  claims: (a) => [`file:${path.resolve(a.path)}`],
  async inject(a, ctx) {
    const missing: string[] = [];
    for (let d = path.dirname(a.path); !exists(d); d = path.dirname(d)) missing.unshift(d);
    if (missing.length) {
      await ctx.step(mkdirStep, { dirs: missing }, async () => {
        for (const d of missing)
          await ctx.exec.change(`mkdir ${d}`, () =>
            withParent(d, (dir, name) => fs.mkdirSync(dir.at(name), { mode: 0o755 })),
          );
      });
    }
    const existed = exists(a.path);
    const backup = path.join(ctx.workDir(), `add-backup`);
    // what the file was, journaled before anything is touched: undo can tell whether the write happened
    const m = existed && !ctx.dryRun ? meta(a.path) : undefined;
    const orig = m ? { meta: m, ...(m.link === undefined ? { origSha: sha256(a.path) } : {}) } : {};
    await ctx.step(writeStep, { path: a.path, existed, backup, ...orig }, async () => {
      const mode = a.permission ?? (m && m.link === undefined ? m.mode : 0o644);
      // a replaced link gets a root-owned file; a replaced file keeps its owner
      const owner = m && m.link === undefined ? { uid: m.uid, gid: m.gid } : {};
      if (existed) await ctx.exec.change(`back up ${a.path} to ${backup}`, () => backupFile(ctx.exec, a.path, backup));
      await ctx.exec.change(`write ${a.content.length} bytes to ${a.path} (mode ${mode.toString(8)})`, () =>
        writeAtomic(a.path, a.content, { mode, ...owner }),
      );
      return ctx.dryRun ? {} : { sha: sha256(a.path), ino: inodeOf(a.path) };
    });
    return { path: a.path, replaced: existed };
  },
  steps: [writeStep, mkdirStep],
  async check(a, ctx) {
    const w = ctx.stepsOf(writeStep)[0];
    if (!w) return 'gone';
    return exists(a.path) && meta(a.path).link === undefined && sha256(a.path) === w.data.sha ? 'in-place' : 'gone';
  },
});
