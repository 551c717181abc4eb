import { oneOf } from '../flags';
import { defineFault } from '../types';
import { check, selectFlags, throttle, undo, validateSelection } from './common';

/**
 * 512 bytes per second: the processes' I/O effectively stops. (0 would mean "no limit"; cgroup v2's io.max refuses
 * 1, so one small value serves both hierarchies.)
 */
const HANG = 512;

export default defineFault({
  target: 'diskio',
  fault: 'hang',
  volatile: true,
  summary: "Make processes' disk I/O hang",
  description:
    'Like diskio limit, with reads and/or writes held to 512 bytes per second on the devices (--mode all, read or ' +
    'write): the processes block in I/O until recover moves them back.',
  examples: ['chaosmetad inject diskio hang --key "my-db" --mode write -t 30s'],
  flags: {
    ...selectFlags,
    mode: oneOf(['all', 'read', 'write'] as const, {
      char: 'm',
      default: 'all',
      description: 'which I/O hangs: all, read or write (default all)',
    }),
  },
  validate: validateSelection,
  inject: (a, ctx) =>
    throttle(a, { rbps: a.mode !== 'write' ? HANG : undefined, wbps: a.mode !== 'read' ? HANG : undefined }, ctx),
  undo,
  check: (_a, ctx) => check(ctx),
});
