/** What process kill and stop share: choosing the targets (--pid or --key) and naming signals. */
import { badArgs } from '../../errors';
import { type ProcessRef, hostPidIn, identify, matchKey, protection, readArgv } from '../../host/procs';
import { type Scope as Where, isContainer } from '../../host/scope';

import { shown } from '../../util/units';
import { boolean, integer, string } from '../flags';

export const targetFlags = {
  pid: integer({ char: 'p', min: 1, max: 4_194_304, description: 'the process to act on' }),
  key: string({
    char: 'k',
    maxLength: 256,
    description: 'act on every process whose command line contains this (like ps -ef | grep KEY)',
  }),
  force: boolean({
    char: 'f',
    description: 'also hit sshd, the container runtime or kubelet when --pid names one (never init or chaosmetad)',
  }),
};

type Choice = { pid?: number; key?: string; force?: boolean };

/** --pid as the host sees it: in a container it is the pid inside the container's pid namespace. */
function hostPid(a: Choice, where?: Where): number | undefined {
  if (a.pid === undefined || !isContainer(where)) return a.pid;
  return hostPidIn(where.pid, a.pid);
}

export function checkOneTarget(a: Choice, where?: Where): void {
  if (a.pid === undefined && a.key === undefined) throw badArgs('one of --pid or --key is required');
  if (a.pid !== undefined && a.key !== undefined) throw badArgs('--pid and --key cannot be used together; choose one');
  if (a.key !== undefined && a.key.trim() === '') throw badArgs('--key must not be empty');
  const inside = isContainer(where) ? ' in the container' : '';
  if (a.pid !== undefined) {
    if (a.pid === 1) throw badArgs(`--pid 1 is init${inside}; refusing to act on it`);
    const pid = hostPid(a, where);
    if (pid === undefined) throw badArgs(`--pid ${a.pid}: no such process in the container's pid namespace`);
    const argv = readArgv(pid);
    const p = protection(pid, argv ?? []);
    if (p?.level === 'never') throw badArgs(`--pid ${a.pid} is ${p.why}; refusing to act on it`);
    if (!argv) throw badArgs(`--pid ${a.pid}: no such process (or a kernel thread)`);
    if (p && !a.force) throw badArgs(`--pid ${a.pid} is ${p.why}; add --force to act on it anyway`);
  } else if (!matchKey(a.key!, { force: a.force, nsOf: isContainer(where) ? where.pid : undefined }).length) {
    throw badArgs(
      `--key ${shown(a.key)} matches no process${inside} (init, chaosmetad, its caller, sshd, the container runtime and kubelet are never matched${a.force ? '' : ' without --force'})`,
    );
  }
}

/**
 * Resolve the targets now (at inject time), with their identity (start time) to survive pid reuse; in a container
 * only its own processes, and its init never by --key.
 */
export function resolveTargets(a: Choice, where?: Where): ProcessRef[] {
  if (a.pid !== undefined) {
    const pid = hostPid(a, where);
    return pid === undefined ? [] : identify([pid]);
  }
  const init = isContainer(where) ? where.pid : undefined;
  const hits = matchKey(a.key!, { force: a.force, nsOf: init }).filter((p) => p.pid !== init);
  return identify(hits.map((p) => p.pid));
}

export { parseSignal } from '../signals';
