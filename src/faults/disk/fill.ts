import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs, injectError } from '../../errors';
import { fsUsage } from '../../host/fsinfo';
import { formatBytes } from '../../util/units';
import { boolean, integer, size } from '../flags';
import { defineFault, defineStep } from '../types';
import { Dir, createExclusive, unguessable, workDirChecked } from '../../host/safefs';
import { pathFlag } from '../paths';
import { exists } from '../../host/files';
import { asSeen } from '../../host/scope';
import { type WorkFile, confirmHostPath, dirOf, hostPathFor, lstatOrNone, removeWorkFile } from '../workfiles';

/** Kept free in the data dir when the fill is on its filesystem, and released first at recover (engine). */
export const RESERVE_BYTES = 8 * 1024 * 1024;
/** Left free by a fill on the data dir's filesystem, so the store can record the rest of the inject. */
const STORE_MARGIN = 512 * 1024;

const MB = 1024 * 1024;

/** The fill file (bytes long); host_path, ino: the same file as the host sees it, in a container's layer. */
const fillFileStep = defineStep('fill-file', (d: WorkFile & { bytes: number }, ctx) =>
  removeWorkFile(d, ctx, 'fill file'),
);
/** Room kept for the experiment store on the fill's filesystem. */
const reserveStep = defineStep('reserve', async (d: { path: string }) => {
  // (the engine releases it first thing at recover; this is the journal's record)
  fs.rmSync(d.path, { force: true });
});

export default defineFault({
  target: 'disk',
  fault: 'fill',
  container: 'root',
  undoWhenGone: [fillFileStep, reserveStep],
  summary: 'Fill the filesystem holding a directory',
  description:
    'Creates one fill file in --dir (fallocate, or plain writes where the filesystem has no fallocate) so that the ' +
    'filesystem reaches --percent usage, or grows by --bytes. A fill that would leave less than 1 % or 100 MB free ' +
    'needs --force. Recover deletes the file (its path is recorded before it is created). The fill file has a name ' +
    'nobody can guess and is created exclusively; a --dir other users can write without the sticky bit is refused. ' +
    "On the data dir's own filesystem a few MB are held back for the experiment store, so recover always works. " +
    "In a container (--container-id) --dir is the container's (default its /tmp) and the filesystem it sees there " +
    'is filled; when the container stops before recover, the fill file is removed from its writable layer on the host.',
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
  validate(a, target) {
    if (a.percent === undefined && a.bytes === undefined) throw badArgs('one of --percent or --bytes is required');
    if (a.percent !== undefined && a.bytes !== undefined)
      throw badArgs('--percent and --bytes cannot be used together; choose one');
    const dir = dirOf(a.dir, target);
    if (!exists(dir) || !fs.statSync(dir).isDirectory())
      throw badArgs(`--dir ${asSeen(target, dir)} is not a directory`);
    workDirChecked(dir, 'dir');
  },
  async inject(a, ctx) {
    const dir = workDirChecked(dirOf(a.dir, ctx.scope), 'dir');
    const seen = asSeen(ctx.scope, dir);
    const storeHere = !ctx.dryRun && sameFilesystem(dir, ctx.workDir());
    if (storeHere) {
      // the experiment store lives on this filesystem: keep room for it to record the recover
      const reserve = path.join(ctx.workDir(), 'reserve');
      await ctx.step(reserveStep, { path: reserve }, async () => {
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
          `the filesystem of ${seen} is already ${u.percent.toFixed(1)}% used, not below --percent ${a.percent}`,
        );
      bytes = Math.ceil((a.percent / 100) * (u.used + u.avail) - u.used);
    }
    // on the store's filesystem: room for the store to finish recording this inject (the reserve is for the recover)
    if (storeHere) bytes = Math.min(bytes, u.avail - STORE_MARGIN);
    if (bytes > u.avail)
      throw injectError(`${seen} has ${formatBytes(u.avail)} available; cannot add ${formatBytes(bytes)}`);
    const left = u.avail - bytes;
    if (left < Math.max(0.01 * u.total, 100 * MB) && !a.force) {
      throw injectError(
        `filling ${formatBytes(bytes)} would leave ${formatBytes(left)} free on the filesystem of ${seen} (less than 1 % or 100 MB); add --force to do it anyway`,
      );
    }
    const file = path.join(dir, unguessable(`chaosmetad_fill_${ctx.uid}_`) + '.dat');
    // in a container: where the file is on the host too, to remove it should the container stop first
    const host = hostPathFor(ctx.scope, file);
    await ctx.step(fillFileStep, { path: file, bytes, ...host }, async () => {
      let ino: number | undefined;
      await ctx.exec.change(`create ${asSeen(ctx.scope, file)} of ${formatBytes(bytes)}`, async () => {
        const d = Dir.open(dir);
        const fd = createExclusive(d, path.basename(file));
        d.close();
        ino = fs.fstatSync(fd).ino;
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
      return confirmHostPath(host, ino!);
    });
    return {
      path: asSeen(ctx.scope, file),
      bytes,
      usage_before: Number(u.percent.toFixed(2)),
      usage_after: Number(fsUsage(dir).percent.toFixed(2)),
    };
  },
  steps: [fillFileStep, reserveStep],
  async check(_a, ctx) {
    const s = ctx.stepsOf(fillFileStep)[0];
    const st = s ? lstatOrNone(s.data.path) : undefined;
    return s && st && st.blocks * 512 >= s.data.bytes * 0.99 ? 'in-place' : 'gone';
  },
});

/**
 * Do two paths live on one filesystem? The same device, or (a container's overlay, a bind mount: other device
 * numbers over the same disk) the same size, free space and inode count.
 */
function sameFilesystem(a: string, b: string): boolean {
  if (fs.statSync(a).dev === fs.statSync(b).dev) return true;
  const x = fs.statfsSync(a);
  const y = fs.statfsSync(b);
  return x.blocks === y.blocks && x.bsize === y.bsize && x.files === y.files && Math.abs(x.bfree - y.bfree) < 4096;
}

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
