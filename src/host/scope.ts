/**
 * What an experiment acts on: this host, or one container. A scope is a value, stored with the experiment and
 * handed to validate, inject, undo and check; every reader and writer asks it instead of the global view:
 * paths resolve inside the container's root (safefs treats /proc/PID/root as a root no link leads out of),
 * commands enter only the namespaces a fault needs (the host's own binaries run there), helpers join the
 * container's namespaces and cgroups before they report ready. A container whose init pid and start time no
 * longer match is gone: check says so, recover notes it and touches nothing in it.
 */
import * as fs from 'node:fs';
import { Executor, HOST, ExecContext } from './executor';
import { sameProcess } from './procs';

export type Runtime = 'docker' | 'containerd' | 'crio';
export const RUNTIMES: Runtime[] = ['docker', 'containerd', 'crio'];

export interface ContainerScope {
  kind: 'container';
  runtime: Runtime;
  /** the runtime's full id */
  id: string;
  /** its name, for people (docker: without the leading /) */
  name: string;
  /** containerd: the namespace it was found in */
  namespace?: string;
  /** its init process, as the host sees it, and that process's start time (clock ticks since boot) */
  pid: number;
  start: number;
}
export type Scope = { kind: 'host' } | ContainerScope;
export const HOST_SCOPE: Scope = { kind: 'host' };

/** How a fault enters a container: its net namespace, its root (files), its cgroups (helpers), its pid namespace. */
export type ContainerAccess = 'net' | 'root' | 'cgroup' | 'pid' | 'runtime';

export const isContainer = (t: Scope | undefined): t is ContainerScope => t?.kind === 'container';

/** The container is still the one recorded (its init pid is alive and started when it did). */
export function scopeAlive(t: Scope): boolean {
  return !isContainer(t) || sameProcess(t.pid, t.start);
}

/** A path as the scope sees it, for the host to open: /proc/PID/root/… (resolved inside that root by safefs). */
export function inScope(t: Scope, p: string): string {
  return isContainer(t) ? `/proc/${t.pid}/root${p.startsWith('/') ? '' : '/'}${p}` : p;
}

/** The path as the scope sees it, for messages: strips the /proc/PID/root of inScope. */
export function asSeen(t: Scope, p: string): string {
  if (!isContainer(t)) return p;
  const pre = `/proc/${t.pid}/root`;
  return p === pre ? '/' : p.startsWith(pre + '/') ? p.slice(pre.length) : p;
}

/** Where commands of a fault with this entry run: the container's net namespace, else the host. */
export function execContext(t: Scope, entry: ContainerAccess | undefined): ExecContext {
  return isContainer(t) && entry === 'net' ? { kind: 'ns', pid: t.pid, namespaces: ['net'] } : HOST;
}

export function executorFor(
  t: Scope,
  entry: ContainerAccess | undefined,
  dryRun = false,
  log?: (l: string) => void,
): Executor {
  return new Executor(dryRun, execContext(t, entry), log);
}

/** "container 3f2a… (web, docker)" or "this host", for messages and dry-run output. */
export function describeScope(t: Scope): string {
  return isContainer(t) ? `container ${t.id.slice(0, 12)} (${t.name || 'no name'}, ${t.runtime})` : 'this host';
}

/** Helper arguments that make it join the scope before it reports ready (native/src/common.c enter_target). */
export function helperScopeParams(t: Scope, entry: ContainerAccess | undefined): Record<string, string | number> {
  if (!isContainer(t) || !entry) return {};
  const ns = entry === 'net' ? 'net' : entry === 'pid' ? 'pid' : '';
  return {
    target_pid: t.pid,
    target_start: t.start,
    cgroup: 1,
    ...(ns ? { ns } : {}),
  };
}

/** The net namespace's interfaces of the scope (/proc/PID/net/dev is that process's namespace's). */
export function interfacesOf(t: Scope): string[] {
  const file = isContainer(t) ? `/proc/${t.pid}/net/dev` : '/proc/net/dev';
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0].trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Parse the stored scope (experiments.target_info); old rows and host experiments have none. */
export function parseScope(json: string | null | undefined): Scope {
  if (!json) return HOST_SCOPE;
  try {
    const t = JSON.parse(json) as Scope;
    return t && t.kind === 'container' ? t : HOST_SCOPE;
  } catch {
    return HOST_SCOPE;
  }
}
