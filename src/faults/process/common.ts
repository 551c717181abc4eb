/** What process kill and stop share: choosing the targets (--pid or --key) and naming signals. */
import { constants } from 'node:os';
import { badArgs } from '../../errors';
import { type Target, identify, matchKey, protection, readArgv } from '../../host/procs';

export type { Target };
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

export function checkOneTarget(a: { pid?: number; key?: string; force?: boolean }): void {
  if (a.pid === undefined && a.key === undefined) throw badArgs('one of --pid or --key is required');
  if (a.pid !== undefined && a.key !== undefined) throw badArgs('--pid and --key cannot be used together; choose one');
  if (a.key !== undefined && a.key.trim() === '') throw badArgs('--key must not be empty');
  if (a.pid !== undefined) {
    if (a.pid === 1) throw badArgs('--pid 1 is init; refusing to act on it');
    const argv = readArgv(a.pid);
    const p = protection(a.pid, argv ?? []);
    if (p?.level === 'never') throw badArgs(`--pid ${a.pid} is ${p.why}; refusing to act on it`);
    if (!argv) throw badArgs(`--pid ${a.pid}: no such process (or a kernel thread)`);
    if (p && !a.force) throw badArgs(`--pid ${a.pid} is ${p.why}; add --force to act on it anyway`);
  } else if (!matchKey(a.key!, { force: a.force }).length) {
    throw badArgs(
      `--key ${shown(a.key)} matches no process (init, chaosmetad, its caller, sshd, the container runtime and kubelet are never matched${a.force ? '' : ' without --force'})`,
    );
  }
}

/** Resolve the targets now (at inject time), with their identity (start time) to survive pid reuse. */
export function resolveTargets(a: { pid?: number; key?: string; force?: boolean }): Target[] {
  return identify(a.pid !== undefined ? [a.pid] : matchKey(a.key!, { force: a.force }).map((p) => p.pid));
}

/** A signal by number (9) or name (KILL, SIGKILL, kill). */
export function parseSignal(raw: unknown, flag: string): NodeJS.Signals {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const sigs = constants.signals as Record<string, number>;
  if (/^\d{1,2}$/.test(s)) {
    const name = Object.keys(sigs).find((k) => sigs[k] === Number(s));
    if (name) return name as NodeJS.Signals;
  } else if (s) {
    const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
    if (name in sigs) return name as NodeJS.Signals;
  }
  throw badArgs(`--${flag} must be a signal number (1-31) or name like KILL, TERM, HUP, got ${shown(raw)}`);
}
