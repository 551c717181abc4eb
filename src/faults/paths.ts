/** Flags every target with paths shares: safe paths and octal modes. File mechanics (symlink-proof): host/files.ts. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../errors';
import { resolveSafe } from '../host/safefs';
import { Scope, asSeen, inScope, isContainer } from '../host/scope';
import { shown } from '../util/units';
import type { FlagSpec } from './flags';

const FORBIDDEN = ['/proc', '/sys', '/dev'];

/**
 * Resolve a user path to an absolute one and refuse pseudo filesystems (also through symlinks). For a container
 * the path is the container's: the result is /proc/PID/root/… and every link on the way resolves inside that root.
 */
export function safePath(raw: unknown, flag: string, target?: Scope): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw badArgs(`--${flag} must be a file path, got ${shown(raw)}`);
  if (raw.length > 4096) throw badArgs(`--${flag} is too long (${raw.length} characters, at most 4096)`);
  if (/[\0\n\r]/.test(raw)) throw badArgs(`--${flag} must not contain NUL or newline characters`);
  if (!raw.startsWith('/')) throw badArgs(`--${flag} must be an absolute path (starting with /), got ${shown(raw)}`);
  if (raw.split('/').some((seg) => seg === '..' || seg === '.'))
    throw badArgs(`--${flag} must not contain "." or ".." segments, got ${shown(raw)}`);
  const abs = path.resolve(raw);
  if (isContainer(target)) return containerPath(abs, raw, flag, target);
  let real = abs;
  // the nearest existing ancestor, resolved: a symlink into /proc is refused too
  for (let p = abs; ; p = path.dirname(p)) {
    try {
      real = path.join(fs.realpathSync(p), path.relative(p, abs));
      break;
    } catch {
      if (p === '/') break;
    }
  }
  for (const f of FORBIDDEN) {
    if (abs === f || abs.startsWith(f + '/') || real === f || real.startsWith(f + '/')) {
      throw badArgs(
        `--${flag} ${shown(raw)} is under ${f}: chaosmetad does not change pseudo filesystems (/proc, /sys, /dev)`,
      );
    }
  }
  if (abs === '/') throw badArgs(`--${flag} must not be /`);
  // a link on the way that another user controls is refused before anything happens (UnsafePath: exit 1)
  try {
    resolveSafe(abs);
  } catch (e) {
    throw badArgs(`--${flag}: ${(e as Error).message}`);
  }
  return abs;
}

function forbidden(p: string): string | undefined {
  return FORBIDDEN.find((f) => p === f || p.startsWith(f + '/'));
}

function containerPath(abs: string, raw: string, flag: string, target: Scope): string {
  const inside = inScope(target, abs);
  let real: string;
  try {
    real = asSeen(target, resolveSafe(inside, { followFinal: true }).path);
  } catch (e) {
    throw badArgs(`--${flag}: ${(e as Error).message}`);
  }
  const f = forbidden(abs) ?? forbidden(real);
  if (f)
    throw badArgs(
      `--${flag} ${shown(raw)} is under ${f} in the container: chaosmetad does not change pseudo filesystems (/proc, /sys, /dev)`,
    );
  if (abs === '/') throw badArgs(`--${flag} must not be /`);
  return inside;
}

export function pathFlag<const O extends { char?: string; description: string; required?: boolean }>(
  o: O,
): FlagSpec<string> & Pick<O, Extract<keyof O, 'required'>> {
  return { kind: 'string', ...o, parse: safePath };
}

export function permissionFlag<const O extends { char?: string; description: string; required?: boolean }>(
  o: O,
): FlagSpec<number> & Pick<O, Extract<keyof O, 'required'>> {
  return {
    kind: 'string',
    ...o,
    parse(raw, flag) {
      const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      if (!/^0?[0-7]{3,4}$/.test(s))
        throw badArgs(`--${flag} must be an octal mode like 644, 0755 or 4755, got ${shown(raw)}`);
      return parseInt(s, 8) & 0o7777;
    },
  };
}
