import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs, injectError } from '../../errors';
import { fsUsage } from '../../host/fsinfo';
import { formatBytes } from '../../util/units';
import { boolean, integer, size } from '../flags';
import { defineFault } from '../types';
import { Dir, createExclusive, unguessable, withParent, workDirChecked } from '../../host/safefs';
import { pathFlag } from '../paths';
import { exists } from '../../host/files';

/** Kept free in the data dir when the fill is on its filesystem, and released first at recover (engine). */
export const RESERVE_BYTES = 8 * 1024 * 1024;
/** Left free by a fill on the data dir's filesystem, so the store can record the rest of the inject. */
const STORE_MARGIN = 512 * 1024;

const MB = 1024 * 1024;

export default defineFault({
  target: 'disk',
  fault: 'fill',
  summary: 'Fill the filesystem holding a directory',
  description:
    'Creates one fill file in --dir (fallocate, or plain writes where the filesystem has no fallocate) so that the ' +
    'filesystem reaches --percent usage, or grows by --bytes. A fill that would leave less than 1 % or 100 MB free ' +
    'needs --force. Recover deletes the file (its path is recorded before it is created). The fill file has a name ' +
    'nobody can guess and is created exclusively; a --dir other users can write without the sticky bit is refused. ' +
    "On the data dir's own filesystem a few MB are held back for the experiment store, so recover always works.",
  examples: [
    'chaosmetad inject disk fill --dir /tmp --bytes 100MB -t 1m',
    'chaosmetad inject disk fill -d /var/tmp -p 80 -t 5m',
  ],
  flags: {
    percent: integer({ char: 'p', min: 1, max: 100, description: 'target usage of the filesystem, 1..100' }),
    bytes: size({
      char: 'b',
      unit: 'KB',
      strict: true,
      description: 'bytes to add, e.g. 500MB, 2GB (bare numbers are KB)',
    }),
    dir: pathFlag({ char: 'd', description: 'a directory on the filesystem to fill (default /tmp)' }),
    force: boolean({ char: 'f', description: 'allow leaving less than 1 % or 100 MB free' }),
  },
  validate(a) {
    if (a.percent === undefined && a.bytes === undefined) throw badArgs('one of --percent or --bytes is required');
    if (a.percent !== undefined && a.bytes !== undefined)
      throw badArgs('--percent and --bytes cannot be used together; choose one');
    const dir = a.dir ?? '/tmp';
    if (!exists(dir) || !fs.statSync(dir).isDirectory()) throw badArgs(`--dir ${dir} is not a directory`);
    workDirChecked(dir, 'dir');
  },
  async inject(a, ctx) {
    const dir = workDirChecked(a.dir ?? '/tmp', 'dir');
    const storeHere = !ctx.dryRun && fs.statSync(dir).dev === fs.statSync(ctx.workDir()).dev;
    if (storeHere) {
      // the experiment store lives on this filesystem: keep room for it to record the recover
      const reserve = path.join(ctx.workDir(), 'reserve');
      await ctx.step('reserve', { path: reserve }, async () => {
        await ctx.exec.change(`hold ${formatBytes(RESERVE_BYTES)} in ${reserve} for the experiment store`, () =>
          fs.writeFileSync(reserve, Buffer.alloc(RESERVE_BYTES), { mode: 0o600, flag: 'wx' }),
        );
      });
    }
    const u = fsUsage(dir);
    let bytes = a.bytes ?? 0;
    if (a.percent !== undefined) {
      if (u.percent >= a.percent)
        throw injectError(
          `the filesystem of ${dir} is already ${u.percent.toFixed(1)}% used, not below --percent ${a.percent}`,
        );
      bytes = Math.ceil((a.percent / 100) * (u.used + u.avail) - u.used);
    }
    // on the store's filesystem: room for the store to finish recording this inject (the reserve is for the recover)
    if (storeHere) bytes = Math.min(bytes, u.avail - STORE_MARGIN);
    if (bytes > u.avail)
      throw injectError(`${dir} has ${formatBytes(u.avail)} available; cannot add ${formatBytes(bytes)}`);
    const left = u.avail - bytes;
    if (left < Math.max(0.01 * u.total, 100 * MB) && !a.force) {
      throw injectError(
        `filling ${formatBytes(bytes)} would leave ${formatBytes(left)} free on the filesystem of ${dir} (less than 1 % or 100 MB); add --force to do it anyway`,
      );
    }
    const file = path.join(dir, unguessable(`chaosmetad_fill_${ctx.uid}_`) + '.dat');
    await ctx.step('fill-file', { path: file, bytes }, async () => {
      await ctx.exec.change(`create ${file} of ${formatBytes(bytes)}`, async () => {
        const d = Dir.open(dir);
        const fd = createExclusive(d, path.basename(file));
        d.close();
        try {
          const r = await ctx.exec.run('fallocate', ['-l', String(bytes), '/proc/self/fd/3'], {
            allowFail: true,
            fds: [fd],
          });
          if (r.exitCode !== 0) await writeZeros(fd, file, bytes);
        } finally {
          fs.closeSync(fd);
        }
      });
    });
    return {
      path: file,
      bytes,
      usage_before: Number(u.percent.toFixed(2)),
      usage_after: Number(fsUsage(dir).percent.toFixed(2)),
    };
  },
  undo: {
    async 'fill-file'(d, ctx) {
      if (exists(d.path))
        await ctx.exec.change(`remove ${d.path}`, () => withParent(d.path, (dir, name) => fs.unlinkSync(dir.at(name))));
    },
    async reserve(d) {
      // (the engine releases it first thing at recover; this is the journal's record)
      fs.rmSync(d.path, { force: true });
    },
  },
  async check(_a, ctx) {
    const s = ctx.steps.find((x) => x.kind === 'fill-file');
    return s && exists(s.data.path) && fs.statSync(s.data.path).blocks * 512 >= s.data.bytes * 0.99
      ? 'in-place'
      : 'gone';
  },
});

/** The fallback where fallocate is not supported: write zeros, with progress on a terminal when it takes a while. */
async function writeZeros(fd: number, file: string, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(4 * MB);
  const start = Date.now();
  const tty = process.stderr.isTTY;
  try {
    for (let done = 0; done < bytes;) {
      const n = Math.min(chunk.length, bytes - done);
      fs.writeSync(fd, chunk, 0, n);
      done += n;
      if (tty && Date.now() - start > 1000 && (done / chunk.length) % 16 === 0) {
        process.stderr.write(
          `\rfilling ${file}: ${formatBytes(done)} of ${formatBytes(bytes)} (${((100 * done) / bytes).toFixed(0)}%)`,
        );
      }
    }
    fs.fsyncSync(fd);
  } finally {
    if (tty && Date.now() - start > 1000) process.stderr.write('\n');
  }
}
