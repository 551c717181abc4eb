import * as fs from 'node:fs';
import { badArgs } from '../../errors';
import { whichTool } from '../../host/executor';
import { shown } from '../../util/units';
import { integer, string } from '../flags';
import { defineFault } from '../types';
import { lazy } from '../../util/lazy';

const execa = lazy<typeof import('execa')>(() => require('execa')); // loaded on first use: start-up time

/** uid and gid of a user name (or numeric uid), through NSS (getent), so LDAP users work too. */
export function lookupUser(user: string): { uid: number; gid: number; name: string } {
  const getent = whichTool('getent');
  const r = getent ? execa().sync(getent, ['passwd', user], { reject: false }) : undefined;
  const fields = r?.exitCode === 0 ? r.stdout.split('\n')[0].split(':') : undefined;
  if (!fields || fields.length < 4) throw badArgs(`--user ${shown(user)}: no such user`);
  return { name: fields[0], uid: Number(fields[2]), gid: Number(fields[3]) };
}

export default defineFault({
  target: 'kernel',
  fault: 'nproc',
  containerRefusal: "the whole kernel (a user's process limit)",
  volatile: true,
  summary: "Exhaust a user's process limit (RLIMIT_NPROC)",
  description:
    'A helper becomes --user and forks idle children until fork fails (EAGAIN: the user has as many processes as ' +
    "the RLIMIT_NPROC the helper inherited — chaosmetad's, normally the user's own too) or --count children exist. " +
    'With --count 0 no process of that user can fork until recover; --count N holds N of its processes, and the ' +
    "user's other processes fail to fork only if N reaches their own limit (ulimit -u). Recover stops them all. " +
    'root ignores RLIMIT_NPROC, so the user must not be root.',
  examples: ['chaosmetad inject kernel nproc --user nobody --count 500 -t 1m'],
  flags: {
    user: string({
      char: 'u',
      required: true,
      maxLength: 32,
      pattern: /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/,
      form: 'a user name or uid',
      numeric: true,
      description: 'the user (name or uid) whose process limit to exhaust',
    }),
    count: integer({
      char: 'c',
      min: 0,
      max: 1_000_000,
      default: 0,
      description: 'children to fork (0 = until the limit)',
    }),
  },
  validate(a) {
    const u = lookupUser(a.user);
    if (u.uid === 0) throw badArgs('--user must not be root: root ignores RLIMIT_NPROC');
  },
  claims: (a) => [`nproc:${a.user}`],
  async inject(a, ctx) {
    const u = lookupUser(a.user);
    const pid = await ctx.helper('nproc', { uid: u.uid, gid: u.gid, count: a.count });
    // the limit the helper forks against: with --count below it, the user can still fork
    return { user: u.name, uid: u.uid, pids: [pid], limit: nprocLimit() };
  },
});

/** This process's RLIMIT_NPROC soft limit (the helper inherits it), or 'unlimited'. */
function nprocLimit(): number | string {
  const line = /^Max processes\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return line ? (/^\d+$/.test(line[1]) ? Number(line[1]) : line[1]) : 'unknown';
}
