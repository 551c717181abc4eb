import { badArgs, injectError } from '../../errors';
import { meminfo, memUsedPercent } from '../../host/meminfo';
import { formatBytes } from '../../util/units';
import { integer, oneOf, size } from '../flags';
import { defineFault } from '../types';

/** Never fill the last bit of memory: that is what `mem oom` is for. */
const RESERVE = 128 * 1024 * 1024;

export default defineFault({
  target: 'mem',
  fault: 'fill',
  volatile: true,
  summary: 'Fill memory: anonymous (ram) or page cache (cache)',
  description:
    'A native helper holds the memory until recover: ram mode touches and locks anonymous memory so it stays ' +
    'resident; cache mode fills a shared-memory (tmpfs) file, counted as buff/cache. --percent is the target ' +
    'total usage of the host; --bytes is how much to add.',
  examples: [
    'chaosmetad inject mem fill --percent 50 --mode ram --timeout 10m',
    'chaosmetad inject mem fill --bytes 200MB --mode cache -t 1m',
  ],
  flags: {
    percent: integer({ char: 'p', min: 1, max: 100, description: 'target total memory usage of the host, 1..100' }),
    bytes: size({
      char: 'b',
      unit: 'KB',
      strict: true,
      description: 'memory to add, e.g. 512MB, 2GB (KB, MB, GB, TB; bare numbers are KB)',
    }),
    mode: oneOf(['ram', 'cache'] as const, {
      char: 'm',
      default: 'cache',
      description: 'ram (anonymous, locked) or cache (tmpfs page cache)',
    }),
  },
  validate(a) {
    if (a.percent === undefined && a.bytes === undefined) throw badArgs('one of --percent or --bytes is required');
  },
  async inject(a, ctx) {
    const m = meminfo();
    let bytes = a.bytes;
    if (a.percent !== undefined) {
      // with both, the percent wins (as the original)
      const used = memUsedPercent(m);
      if (used >= a.percent)
        throw injectError(`memory usage is already ${used.toFixed(1)}%, not below --percent ${a.percent}`);
      bytes = Math.floor(((a.percent - used) / 100) * m.MemTotal);
    }
    if (bytes! > m.MemAvailable - RESERVE) {
      throw injectError(
        `--${a.percent !== undefined ? 'percent' : 'bytes'} asks for ${formatBytes(bytes!)} but only ${formatBytes(Math.max(0, m.MemAvailable - RESERVE))} can be filled safely (use "mem oom" to exhaust memory)`,
      );
    }
    const pid = await ctx.helper('memfill', { mode: a.mode, bytes: bytes! });
    return { bytes: bytes!, mode: a.mode, pids: [pid] };
  },
});
