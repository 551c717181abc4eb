import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs, injectError } from '../../errors';
import { fsUsage } from '../../host/fsinfo';
import { formatBytes } from '../../util/units';
import { oneOf, size } from '../flags';
import { defineFault, defineStep } from '../types';
import { unguessable, workDirChecked } from '../../host/safefs';
import { pathFlag } from '../paths';
import { exists } from '../../host/files';
import { asSeen, isContainer } from '../../host/scope';
import { type WorkFile, dirOf, hostPathFor, lstatOrNone, removeWorkFile } from '../workfiles';

const MB = 1024 * 1024;

/** The helper's I/O work file. */
const workFileStep = defineStep('work-file', (d: WorkFile, ctx) => removeWorkFile(d, ctx, 'I/O work file'));

export default defineFault({
  target: 'diskio',
  fault: 'burn',
  container: 'cgroup',
  undoWhenGone: [workFileStep],
  summary: 'Sustained disk read or write load',
  description:
    'A helper reads or writes --block sized direct I/O (O_DIRECT, bypassing the page cache) round and round over a ' +
    'work file in --dir (at most 256 MB, and at most a tenth of the free space) until recover, which stops it and ' +
    'deletes the file. The work file has a name nobody can guess and is created exclusively; a --dir other users ' +
    "can write without the sticky bit is refused. In a container (--container-id) --dir is the container's " +
    "(default its /tmp): the helper joins the container's cgroups and mount namespace, so the I/O is the " +
    "container's, on the disk under its filesystem.",
  examples: [
    'chaosmetad inject diskio burn --mode write --block 1M --dir /var/tmp -t 1m',
    'chaosmetad inject diskio burn -m read -t 30s',
  ],
  flags: {
    mode: oneOf(['read', 'write'] as const, {
      char: 'm',
      default: 'read',
      description: 'read or write (default read)',
    }),
    block: size({
      char: 'b',
      unit: 'KB',
      default: 10 * MB,
      description: 'size of each I/O, e.g. 4KB, 1M, 10M (default 10M)',
    }),
    dir: pathFlag({ char: 'd', description: 'directory on the disk to load (default /tmp)' }),
  },
  validate(a, target) {
    const dir = dirOf(a.dir, target);
    if (!exists(dir) || !fs.statSync(dir).isDirectory())
      throw badArgs(`--dir ${asSeen(target, dir)} is not a directory`);
    workDirChecked(dir, 'dir');
    if (a.block > 1024 * MB) throw badArgs(`--block must be at most 1GB, got ${formatBytes(a.block)}`);
  },
  async inject(a, ctx) {
    const dir = workDirChecked(dirOf(a.dir, ctx.scope), 'dir');
    const room = Math.floor(fsUsage(dir).avail / 10);
    const size = Math.min(256 * MB, room);
    if (size < a.block)
      throw injectError(
        `${asSeen(ctx.scope, dir)} has too little free space for --block ${formatBytes(a.block)} (work file would be ${formatBytes(size)})`,
      );
    const file = path.join(dir, unguessable(`chaosmetad_diskio_${ctx.uid}_`) + '.dat'); // the helper creates it O_EXCL|O_NOFOLLOW
    const seen = asSeen(ctx.scope, file);
    let pid = 0;
    // the work file is journaled first; the helper creates it (in a container it enters its mount namespace and
    // creates it at the path the container sees). Its inode is known then: the very file, in the layer on the host
    await ctx.step(workFileStep, { path: file, ...hostPathFor(ctx.scope, file) }, async () => {
      pid = await ctx.helper('diskio', {
        file: seen,
        mode: a.mode,
        block: a.block,
        size,
        ...(isContainer(ctx.scope) ? { ns: 'mnt' } : {}),
      });
      const ino = ctx.dryRun ? undefined : lstatOrNone(file)?.ino;
      return ino === undefined ? {} : { ino };
    });
    return { path: seen, mode: a.mode, block: a.block, pids: [pid] };
  },
  steps: [workFileStep],
});
