import * as fs from 'node:fs';
import { badArgs, injectError } from '../../errors';
import { integer, oneOf } from '../flags';
import { defineFault, defineStep } from '../types';
import { thousands } from '../../util/units';

const FILE_MAX = '/proc/sys/fs/file-max';
const FILE_NR = '/proc/sys/fs/file-nr';
const allocated = (): number => Number(fs.readFileSync(FILE_NR, 'utf8').trim().split(/\s+/)[0]);
const fileMax = (): number => Number(fs.readFileSync(FILE_MAX, 'utf8').trim());
const FILL_CAP = 5_000_000;

/** A sysctl written (`key`: its /proc/sys path): the original value back, over whatever it is now. */
const sysctlStep = defineStep('sysctl', async (d: { key: string; original: string; value: string }, ctx) => {
  const now = fs.readFileSync(d.key, 'utf8').trim();
  if (now === d.original) return;
  if (now !== d.value) ctx.note(`${d.key} was changed meanwhile (to ${now}); restoring the original ${d.original}`);
  await ctx.exec.change(`write ${d.original} to ${d.key}`, () => fs.writeFileSync(d.key, d.original));
});

export default defineFault({
  target: 'kernel',
  fault: 'fdfull',
  containerRefusal: "the whole kernel (fs.file-max and every process's open files)",
  volatile: true,
  summary: 'Exhaust the system-wide open-file table',
  description:
    'conf mode (default) lowers fs.file-max to --count (0 = 1), below the files open now, so new opens by ' +
    'unprivileged processes fail with ENFILE; recover writes the exact original value back. fill mode makes a helper hold --count ' +
    `open files (0 = up to fs.file-max, refused above ${thousands(FILL_CAP)}). Processes with CAP_SYS_ADMIN (root) are exempt from fs.file-max, as the kernel does.`,
  examples: [
    'chaosmetad inject kernel fdfull --mode conf -t 1m',
    'chaosmetad inject kernel fdfull -m fill -c 50000 -t 1m',
  ],
  flags: {
    mode: oneOf(['conf', 'fill'] as const, {
      char: 'm',
      default: 'conf',
      description: 'conf (lower fs.file-max) or fill (hold open files)',
    }),
    count: integer({
      char: 'c',
      min: 0,
      max: 100_000_000,
      default: 0,
      description: 'conf: the new fs.file-max (0 = 1); fill: files to hold (0 = up to fs.file-max)',
    }),
  },
  validate(a) {
    if (!fs.existsSync(FILE_MAX)) throw badArgs(`${FILE_MAX} is missing: this kernel has no fs.file-max`);
    if (a.mode === 'fill' && a.count === 0 && fileMax() - allocated() > FILL_CAP) {
      throw badArgs(
        `--count 0 would open ${thousands(fileMax() - allocated())} files (fs.file-max is ${thousands(fileMax())}); give --count at most ${thousands(FILL_CAP)} or use --mode conf`,
      );
    }
  },
  claims: (a) => (a.mode === 'conf' ? ['sysctl:fs.file-max'] : []),
  async inject(a, ctx) {
    if (a.mode === 'conf') {
      const original = fs.readFileSync(FILE_MAX, 'utf8').trim();
      const value = a.count || 1;
      if (value >= Number(original))
        throw injectError(`fs.file-max is ${original}, already at or below --count ${value}`);
      if (value > allocated())
        throw injectError(
          `--count ${value} is above the ${allocated()} files open now: nothing would fail; give a lower --count (0 = 1)`,
        );
      await ctx.step(sysctlStep, { key: FILE_MAX, original, value: String(value) }, async () => {
        await ctx.exec.change(`write ${value} to ${FILE_MAX}  # was ${original}`, () =>
          fs.writeFileSync(FILE_MAX, String(value)),
        );
      });
      return { mode: 'conf', original: Number(original), value };
    }
    const count = a.count || fileMax() - allocated();
    if (count <= 0) throw injectError('fs.file-max is already reached');
    const pid = await ctx.helper('fdfill', { count });
    return { mode: 'fill', count, pids: [pid] };
  },
  steps: [sysctlStep],
  async check(_a, ctx) {
    const s = ctx.stepsOf(sysctlStep)[0];
    if (s) return fs.readFileSync(FILE_MAX, 'utf8').trim() === s.data.value ? 'in-place' : 'gone';
    return 'unknown';
  },
});
