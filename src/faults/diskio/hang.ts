import { oneOf } from '../flags';
import { defineFault } from '../types';
import { isContainer } from '../../host/scope';
import { check, selectFlags, steps, throttle, validateSelection } from './common';

/**
 * 512 bytes per second: the processes' I/O effectively stops. (0 would mean "no limit"; cgroup v2's io.max refuses
 * 1, so one small value serves both hierarchies.)
 */
const HANG = 512;

export default defineFault({
  target: 'diskio',
  fault: 'hang',
  container: 'cgroup',
  volatile: true,
  summary: "Make processes' disk I/O hang",
  description:
    'Like diskio limit, with reads and/or writes held to 512 bytes per second on the devices (--mode all, read or ' +
    'write): the processes block in I/O until recover moves them back. In a container (--container-id, no ' +
    "--pid-list or --key) the whole container's I/O hangs, through its own cgroup.",
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
  claims: (_a, target) => (isContainer(target) ? ['blkio limits'] : []),
  inject: (a, ctx) => throttle(a, limitsOf(a.mode), ctx),
  steps,
  check: (a, ctx) => check(ctx, limitsOf(a.mode)),
});

const limitsOf = (mode: 'all' | 'read' | 'write') => ({
  rbps: mode !== 'write' ? HANG : undefined,
  wbps: mode !== 'read' ? HANG : undefined,
});
