/**
 * A valid argument set for every fault, on a fixture host: the base that the hostile-input sweeps (in-process,
 * test/unit/refusals.test.ts, and over HTTP, test/integration/hostile.test.ts) change one flag of at a time.
 */
import * as path from 'node:path';
import { snake } from '../../src/util/flags';

export interface FixtureHost {
  /** a directory of the test's own, holding a file `a` */
  files: string;
  /** a sleeping process of the test's own (`sleep 3607`) */
  pid: number;
  /** the interface network faults act on */
  iface: string;
  /** a JVM running test/jvm/Loop.java, when there is one */
  jvmPid?: number;
}

/**
 * Hostile values every flag is tried with that a command line can carry (no NUL): shell metacharacters that would
 * create `pwn` if anything ran them, option and path injection, an empty value.
 */
export function hostileText(pwn: string): Array<[string, string]> {
  return [
    ['empty', ''],
    ['unicode', 'ünï☃𝔘'],
    ['newline', 'a\nb'],
    ['semicolon', `; touch ${pwn}`],
    ['subshell', `$(touch ${pwn})`],
    ['backticks', `\`touch ${pwn}\``],
    ['option injection', '--foo'],
    ['traversal', '../../etc/shadow'],
  ];
}

/** Flags whose value is free text: a hostile-looking value is data there (stored verbatim, never interpreted). */
export const TEXT_FLAGS: ReadonlySet<string> = new Set(['content', 'key']);

/** The base arguments of `target fault` (snake_case keys), without the alternative of the flag being changed. */
export function baseArgs(h: FixtureHost, target: string, fault: string, flag: string): Record<string, unknown> {
  const p = String(h.pid);
  const net = { interface: h.iface };
  const b: Record<string, Record<string, unknown>> = {
    'cpu burn': { percent: 10, count: 1 },
    'cpu load': { count: 1 },
    'mem fill': { bytes: '1MB', mode: 'ram' },
    'mem oom': { mode: 'ram' },
    'process kill': { key: 'sleep 3607', signal: '18' },
    'process stop': { key: 'sleep 3607' },
    'file add': { path: path.join(h.files, 'new'), content: 'x' },
    'file append': { path: path.join(h.files, 'a'), content: 'y' },
    'file chmod': { path: path.join(h.files, 'a'), permission: '600' },
    'file del': { path: path.join(h.files, 'a') },
    'file mv': { src: path.join(h.files, 'a'), dst: path.join(h.files, 'moved') },
    'disk fill': { dir: h.files, bytes: '1MB' },
    'diskio burn': { dir: h.files, block: '1M', mode: 'read' },
    'diskio hang': { pid_list: p, mode: 'all' },
    'diskio limit': { pid_list: p, read_bytes: '1MB' },
    'kernel fdfull': { mode: 'fill', count: 10 },
    'kernel nproc': { user: 'nobody', count: 5 },
    'network delay': { ...net, latency: '10ms' },
    'network loss': { ...net, percent: 10 },
    'network corrupt': { ...net, percent: 10 },
    'network duplicate': { ...net, percent: 10 },
    'network reorder': { ...net, latency: '10ms', gap: 5 },
    'network limit': { ...net, rate: '1mbit' },
    'network occupy': { port: 29977 },
    'network partition': { ip: '10.77.9.9' },
    'dns record': { domain: 'hostile.example', ip: '10.9.9.9' },
    'dns server': { ip: '192.0.2.53' },
    'jvm methoddelay': { pid: h.jvmPid, method: 'Loop@work@1' },
    'jvm methodexception': { pid: h.jvmPid, method: 'Loop@work@boom' },
    'jvm methodreturn': { pid: h.jvmPid, method: 'Loop@value@1' },
  };
  const args = b[`${target} ${fault}`];
  if (!args) throw new Error(`no base fixture for ${target} ${fault}: add one to test/support/fault-fixtures.ts`);
  const out = { ...args };
  // flags that exclude each other: the hostile one replaces its alternative
  const alternatives: Record<string, string[]> = {
    pid: ['key'],
    key: ['pid', 'pid_list'],
    pid_list: ['key'],
    percent: ['bytes'],
    bytes: ['percent'],
  };
  for (const a of alternatives[snake(flag)] ?? []) delete out[a];
  return out;
}
