/**
 * chaosmetad's tc layout, built so that several experiments share one interface without touching what the host had:
 *
 *   root htb c0de: (default 0: unclassified traffic passes untouched)
 *     class c0de:1   pass-through (exclude mode sends the traffic it keeps here)
 *     class c0de:N   one per experiment, leaf qdisc cNNN: (netem or tbf), fed by that experiment's u32 filters
 *
 * Ingress ("in") goes through an ifb device: ingress qdisc on the interface + a mirred redirect to the ifb, which
 * carries the same layout. Filters: pref 100+N keeps (exclude mode), 1000+N matches, 30000+N catch-all.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ChaosError, ExitCode } from '../errors';
import type { Executor } from './executor';

export const ROOT = 'c0de:';
export const PASS_CLASS = 'c0de:1';
export const classId = (band: number): string => `c0de:${band.toString(16)}`;
export const leafHandle = (band: number): string => `${(0xc000 + band).toString(16)}:`;
export const MIRRED_PREF = 49152;

export interface Qdisc {
  kind: string;
  handle: string;
  parent?: string;
  root?: boolean;
  options?: Record<string, unknown>;
}

/** The process whose net namespace the executor's commands enter (a container's init), or undefined: the host's. */
export function netnsPid(exec?: Executor): number | undefined {
  const t = exec?.context;
  return t && t.kind === 'ns' && t.namespaces.includes('net') ? t.pid : undefined;
}

/** Does the interface exist where the executor's commands run (the host, or a container's net namespace)? */
export function ifaceExists(name: string, exec?: Executor): boolean {
  const pid = netnsPid(exec);
  if (pid === undefined) return fs.existsSync(`/sys/class/net/${name}`);
  try {
    // /proc/PID/net/dev lists the interfaces of that process's net namespace
    return fs
      .readFileSync(`/proc/${pid}/net/dev`, 'utf8')
      .split('\n')
      .slice(2)
      .some((l) => l.split(':')[0].trim() === name);
  } catch {
    return false;
  }
}

/** The interface's MTU on the host; 1500 when it cannot be read (a container's sysfs is its own: not read). */
export function mtu(name: string, exec?: Executor): number {
  if (netnsPid(exec) !== undefined) return 1500;
  try {
    return Number(fs.readFileSync(`/sys/class/net/${name}/mtu`, 'utf8'));
  } catch {
    return 1500;
  }
}

/** The ifb device chaosmetad uses for an interface's ingress (≤ 15 characters). */
export function ifbName(iface: string): string {
  let h = 0;
  for (const c of iface) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `cmifb${h.toString(36).slice(0, 8)}`;
}

export async function qdiscs(exec: Executor, dev: string): Promise<Qdisc[]> {
  if (exec.dryRun) return [];
  const r = await exec.run('tc', ['-j', 'qdisc', 'show', 'dev', dev], { allowFail: true });
  if (r.exitCode !== 0) return [];
  try {
    return JSON.parse(r.stdout || '[]') as Qdisc[];
  } catch {
    return [];
  }
}

/** Bands (class minor numbers) in use under our root. */
export async function usedBands(exec: Executor, dev: string): Promise<number[]> {
  if (exec.dryRun) return [];
  const r = await exec.run('tc', ['class', 'show', 'dev', dev], { allowFail: true });
  return [...r.stdout.matchAll(/class htb c0de:([0-9a-f]+)/g)].map((m) => parseInt(m[1], 16));
}

/** Filter prefs present under our root (or the ingress qdisc). */
export async function filterPrefs(exec: Executor, dev: string, parent = ROOT): Promise<number[]> {
  if (exec.dryRun) return [];
  const r = await exec.run('tc', ['filter', 'show', 'dev', dev, 'parent', parent], { allowFail: true });
  return [...new Set([...r.stdout.matchAll(/pref (\d+)/g)].map((m) => Number(m[1])))];
}

/** Is the root qdisc one the host set up (not a kernel default, not ours)? */
export function foreignRoot(list: Qdisc[]): Qdisc | undefined {
  const root = list.find((q) => q.root);
  if (!root || root.handle === ROOT) return undefined;
  const defaults = ['noqueue', 'pfifo_fast', 'mq', 'fq_codel', 'pfifo', 'fq', 'noop'];
  if (defaults.includes(root.kind) && (root.handle === '0:' || root.handle === undefined)) return undefined;
  return root;
}

export function tcError(message: string): ChaosError {
  return new ChaosError(ExitCode.Inject, message);
}

// --- changing the tree (each call is one journaled step of a network fault; the fault holds the tc lock) -------

const HTB_CLASS = ['htb', 'rate', '100gbit', 'burst', '1m', 'cburst', '1m', 'quantum', '200000'];

/** Is sch_netem available: loaded, built in, or a module the kernel can load on demand (read-only checks)? */
export function netemAvailable(): boolean {
  if (fs.existsSync('/sys/module/sch_netem')) return true;
  const dir = `/lib/modules/${os.release()}`;
  const has = (file: string) => {
    try {
      return fs.readFileSync(`${dir}/${file}`, 'utf8').includes('sch_netem.ko');
    } catch {
      return false;
    }
  };
  return has('modules.builtin') || has('modules.dep');
}

/** Our root: htb c0de: (unclassified traffic passes) with the pass-through class; a foreign root is replaced. */
export async function addRoot(exec: Executor, dev: string, replaceForeign: boolean): Promise<void> {
  if (replaceForeign) await exec.run('tc', ['qdisc', 'del', 'dev', dev, 'root']);
  await exec.run('tc', ['qdisc', 'add', 'dev', dev, 'root', 'handle', ROOT, 'htb', 'default', '0']);
  await exec.run('tc', ['class', 'add', 'dev', dev, 'parent', ROOT, 'classid', PASS_CLASS, ...HTB_CLASS]);
}

/** Remove our root once no experiment's band is left under it; true when it was removed. */
export async function removeRootIfUnused(exec: Executor, dev: string): Promise<boolean> {
  if (!ifaceExists(dev, exec)) return false;
  if ((await usedBands(exec, dev)).some((b) => b !== 1)) return false; // another experiment still uses the tree
  if (!(await qdiscs(exec, dev)).some((q) => q.root && q.handle === ROOT)) return false;
  await exec.run('tc', ['qdisc', 'del', 'dev', dev, 'root']);
  return true;
}

/** One experiment's band: its class under our root and the leaf qdisc (e.g. netem delay 200ms) in it. */
export async function addBand(exec: Executor, dev: string, band: number, leaf: string[]): Promise<void> {
  await exec.run('tc', ['class', 'add', 'dev', dev, 'parent', ROOT, 'classid', classId(band), ...HTB_CLASS]);
  await exec.run('tc', ['qdisc', 'add', 'dev', dev, 'parent', classId(band), 'handle', leafHandle(band), ...leaf]);
}

export async function removeBand(exec: Executor, dev: string, band: number): Promise<void> {
  const leaf = ['qdisc', 'del', 'dev', dev, 'parent', classId(band), 'handle', leafHandle(band)];
  await exec.run('tc', leaf, { allowFail: true });
  await exec.run('tc', ['class', 'del', 'dev', dev, 'classid', classId(band)], { allowFail: true });
}

/** A u32 filter under our root sending what `match` selects (everything when empty) to `flowid`. */
export async function addFilter(
  exec: Executor,
  dev: string,
  proto: string,
  pref: number,
  match: string[],
  flowid: string,
): Promise<void> {
  const sel = match.length ? match : ['match', 'u32', '0', '0'];
  await exec.run('tc', [
    'filter',
    'add',
    'dev',
    dev,
    'parent',
    ROOT,
    'protocol',
    proto,
    'pref',
    String(pref),
    'u32',
    ...sel,
    'flowid',
    flowid,
  ]);
}

export async function removeFilter(exec: Executor, dev: string, proto: string, pref: number): Promise<void> {
  await exec.run('tc', ['filter', 'del', 'dev', dev, 'parent', ROOT, 'protocol', proto, 'pref', String(pref)], {
    allowFail: true,
  });
}

/** Ingress through an ifb: the device up, an ingress qdisc (unless there is one) and a mirred redirect into it. */
export async function addIngressRedirect(
  exec: Executor,
  iface: string,
  ifb: string,
  hasIngress: boolean,
): Promise<void> {
  if (!ifaceExists(ifb, exec)) await exec.run('ip', ['link', 'add', ifb, 'type', 'ifb']);
  await exec.run('ip', ['link', 'set', ifb, 'up']);
  if (!hasIngress) await exec.run('tc', ['qdisc', 'add', 'dev', iface, 'handle', 'ffff:', 'ingress']);
  await exec.run('tc', [
    'filter',
    'add',
    'dev',
    iface,
    'parent',
    'ffff:',
    'protocol',
    'all',
    'pref',
    String(MIRRED_PREF),
    'u32',
    'match',
    'u32',
    '0',
    '0',
    'action',
    'mirred',
    'egress',
    'redirect',
    'dev',
    ifb,
  ]);
}

/** Take the redirect, the ingress qdisc (if we added it) and the ifb away once no experiment uses the ifb. */
export async function removeIngressRedirectIfUnused(
  exec: Executor,
  iface: string,
  ifb: string,
  hadIngress: boolean,
): Promise<void> {
  if (ifaceExists(ifb, exec) && (await usedBands(exec, ifb)).some((b) => b !== 1)) return;
  const redirect = ['filter', 'del', 'dev', iface, 'parent', 'ffff:', 'protocol', 'all', 'pref', String(MIRRED_PREF)];
  await exec.run('tc', redirect, { allowFail: true });
  if (!hadIngress) await exec.run('tc', ['qdisc', 'del', 'dev', iface, 'ingress'], { allowFail: true });
  if (ifaceExists(ifb, exec)) await exec.run('ip', ['link', 'del', ifb], { allowFail: true });
}

/** Is our redirect of `iface`'s ingress into its ifb in place? */
export async function ingressRedirectInPlace(exec: Executor, iface: string, ifb: string): Promise<boolean> {
  return (await filterPrefs(exec, iface, 'ffff:')).includes(MIRRED_PREF) && ifaceExists(ifb, exec);
}
