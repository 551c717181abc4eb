import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs, injectError } from '../../errors';
import { fsUsage } from '../../host/fsinfo';
import { formatBytes } from '../../util/units';
import { oneOf, size } from '../flags';
import { defineFault } from '../types';
import { unguessable, withParent, workDirChecked } from '../../host/safefs';
import { pathFlag } from '../paths';
import { exists } from '../../host/files';

const MB = 1024 * 1024;

export default defineFault({
  target: 'diskio',
  fault: 'burn',
  summary: 'Sustained disk read or write load',
  description:
    'A helper reads or writes --block sized direct I/O (O_DIRECT, bypassing the page cache) round and round over a ' +
    'work file in --dir (at most 256 MB, and at most a tenth of the free space) until recover, which stops it and ' +
    'deletes the file. The work file has a name nobody can guess and is created exclusively; a --dir other users ' +
    'can write without the sticky bit is refused.',
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
  validate(a) {
    const dir = a.dir ?? '/tmp';
    if (!exists(dir) || !fs.statSync(dir).isDirectory()) throw badArgs(`--dir ${dir} is not a directory`);
    workDirChecked(dir, 'dir');
    if (a.block > 1024 * MB) throw badArgs(`--block must be at most 1GB, got ${formatBytes(a.block)}`);
  },
  async inject(a, ctx) {
    const dir = workDirChecked(a.dir ?? '/tmp', 'dir');
    const room = Math.floor(fsUsage(dir).avail / 10);
    const size = Math.min(256 * MB, room);
    if (size < a.block)
      throw injectError(
        `${dir} has too little free space for --block ${formatBytes(a.block)} (work file would be ${formatBytes(size)})`,
      );
    const file = path.join(dir, unguessable(`chaosmetad_diskio_${ctx.uid}_`) + '.dat'); // the helper creates it O_EXCL|O_NOFOLLOW
    await ctx.step('work-file', { path: file }, async () => {});
    const pid = await ctx.helper('diskio', { file, mode: a.mode, block: a.block, size });
    return { path: file, mode: a.mode, block: a.block, pids: [pid] };
  },
  undo: {
    async 'work-file'(d, ctx) {
      if (exists(d.path))
        await ctx.exec.change(`remove ${d.path}`, () => withParent(d.path, (dir, name) => fs.unlinkSync(dir.at(name))));
    },
  },
});
