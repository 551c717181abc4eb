import { badArgs, injectError } from '../../errors';
import { memLimits } from '../../host/cgroup';
import { isContainer } from '../../host/scope';
import { meminfo, memUsedPercent } from '../../host/meminfo';
import { formatBytes } from '../../util/units';
import { integer, oneOf, size } from '../flags';
import { defineFault } from '../types';

/** Never fill the last bit of memory: that is what `mem oom` is for. */
const RESERVE = 128 * 1024 * 1024;

export default defineFault({
  target: 'mem',
  fault: 'fill',
  container: 'cgroup',
  volatile: true,
  summary: 'Fill memory: anonymous (ram) or page cache (cache)',
  description:
    'A native helper holds the memory until recover: ram mode touches and locks anonymous memory so it stays ' +
    'resident; cache mode fills a shared-memory (tmpfs) file, counted as buff/cache. --percent is the target ' +
    'total usage of the host; --bytes is how much to add. In a container (--container-id) the helper joins its ' +
    'memory cgroup, so the memory is charged to it, and --percent is of its memory limit (of the host memory when ' +
    'it has none: the runtime summary says which).',
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
    if (isContainer(ctx.scope))
      return fillContainer(a, ctx.scope.pid, (bytes) => ctx.helper('memfill', { mode: a.mode, bytes }));
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

/** Fill inside a container's memory cgroup: --percent of its limit (or of the host's memory when it has none). */
async function fillContainer(
  a: { percent?: number; bytes?: number; mode: 'ram' | 'cache' },
  pid: number,
  start: (bytes: number) => Promise<number>,
) {
  const m = meminfo();
  const lim = memLimits(pid);
  const total = lim.limit ?? m.MemTotal;
  const used = lim.limit !== null ? (100 * lim.usage) / lim.limit : memUsedPercent(m);
  const of =
    lim.limit !== null
      ? `the container's memory limit (${formatBytes(lim.limit)})`
      : "the host's memory (the container has no limit)";
  let bytes = a.bytes!;
  if (a.percent !== undefined) {
    if (used >= a.percent)
      throw injectError(`memory usage is already ${used.toFixed(1)}% of ${of}, not below --percent ${a.percent}`);
    bytes = Math.floor(((a.percent - used) / 100) * total);
  }
  // never the last bit below the limit: the kernel would OOM-kill the container's own processes
  const room =
    lim.limit !== null ? lim.limit - lim.usage - Math.min(RESERVE, lim.limit / 20) : m.MemAvailable - RESERVE;
  if (bytes > room)
    throw injectError(
      `--${a.percent !== undefined ? 'percent' : 'bytes'} asks for ${formatBytes(bytes)} but only ${formatBytes(Math.max(0, room))} can be filled safely within ${of}`,
    );
  const helper = await start(bytes);
  return { bytes, mode: a.mode, pids: [helper], relative_to: of };
}
