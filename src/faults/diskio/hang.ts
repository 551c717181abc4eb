import { oneOf } from '../flags';
import { defineFault } from '../types';
import { check, selectFlags, throttle, undo, validateSelection } from './common';

/** One byte per second: I/O of the throttled processes effectively stops (0 would mean "no limit"). */
const HANG = 1;

export default defineFault({
  target: 'diskio',
  fault: 'hang',
  summary: 'Make processes\' disk I/O hang',
  description:
    'Like diskio limit, with reads and/or writes held to 1 byte per second on the devices (--mode all, read or ' +
    'write): the processes block in I/O until recover moves them back.',
  examples: ['chaosmetad inject diskio hang --key "my-db" --mode write -t 30s'],
  flags: {
    ...selectFlags,
    mode: oneOf(['all', 'read', 'write'] as const, { char: 'm', default: 'all', description: 'which I/O hangs: all, read or write (default all)' }),
  },
  validate: validateSelection,
  inject: (a, ctx) => throttle(a, { rbps: a.mode !== 'write' ? HANG : undefined, wbps: a.mode !== 'read' ? HANG : undefined }, ctx),
  undo,
  check: (_a, ctx) => check(ctx),
});
