/** Signals as flags take them, shared by the faults that send one (process kill, container kill). */
import { constants } from 'node:os';
import { badArgs } from '../errors';
import { shown } from '../util/units';
import type { FlagSpec } from './flags';

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

/** The --signal flag: a number or a name, default 9 (KILL). */
export const signalFlag: FlagSpec<NodeJS.Signals> = {
  kind: 'string',
  char: 's',
  default: 'SIGKILL',
  description: 'signal number or name: 9, KILL, TERM, HUP… (default 9)',
  parse: parseSignal,
};
