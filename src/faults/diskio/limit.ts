import { badArgs } from '../../errors';
import { integer, size } from '../flags';
import { defineFault } from '../types';
import { isContainer } from '../../host/scope';
import { check, selectFlags, steps, throttle, validateSelection } from './common';

export default defineFault({
  target: 'diskio',
  fault: 'limit',
  container: 'cgroup',
  volatile: true,
  summary: "Throttle processes' disk I/O (bytes or operations per second)",
  description:
    'Moves the processes (--pid-list or --key) into a cgroup of their own whose block I/O is limited on the given ' +
    "devices (--dev-list, default the disk holding each process's working directory): cgroup v1 blkio.throttle or " +
    'cgroup v2 io.max, whichever the host has. Recover moves them back where they were. ' +
    "In a container (--container-id, no --pid-list or --key) the limits go on the container's own cgroup, for " +
    'the disk under its root filesystem by default; recover puts back the limits that were there.',
  examples: [
    'chaosmetad inject diskio limit --key "my-db" --write-bytes 1MB --read-bytes 1MB -t 5m',
    'chaosmetad inject diskio limit -p 1234 --read-io 100 -t 1m',
  ],
  flags: {
    ...selectFlags,
    readBytes: size({ unit: 'B', description: 'read bytes per second, e.g. 1MB (bare numbers are bytes)' }),
    writeBytes: size({ unit: 'B', description: 'write bytes per second, e.g. 1MB (bare numbers are bytes)' }),
    readIo: integer({ min: 1, max: 1_000_000_000, description: 'read operations per second' }),
    writeIo: integer({ min: 1, max: 1_000_000_000, description: 'write operations per second' }),
  },
  validate(a, target) {
    if (!a.readBytes && !a.writeBytes && !a.readIo && !a.writeIo)
      throw badArgs('give at least one of --read-bytes, --write-bytes, --read-io, --write-io');
    validateSelection(a, target);
  },
  claims: (_a, target) => (isContainer(target) ? ['blkio limits'] : []),
  inject: (a, ctx) => throttle(a, limitsOf(a), ctx),
  steps,
  check: (a, ctx) => check(ctx, limitsOf(a)),
});

function limitsOf(a: { readBytes?: number; writeBytes?: number; readIo?: number; writeIo?: number }) {
  return { rbps: a.readBytes, wbps: a.writeBytes, riops: a.readIo, wiops: a.writeIo };
}
