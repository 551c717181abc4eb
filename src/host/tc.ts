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

export function ifaceExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

export function mtu(name: string): number {
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
