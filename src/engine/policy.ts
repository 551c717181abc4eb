/**
 * The agent policy: what an inject may do when it comes through the agent DaemonSet (`kubectl exec` into the agent
 * pod, which `kubectl chaosmetad` uses). `pods/exec` cannot restrict the command, so the agent restricts what its
 * own executable does: which faults, on the containers of pods of which namespaces (or on the node itself), never
 * on paths under the protected ones, and for how long at most. It is read from a ConfigMap mounted read-only
 * (host/policyfile.ts checks that only root can have written it), validated strictly (an unknown key or a typo is
 * refused, never read as "no rule"), and enforced by the engine on every inject, dry runs and schedules included;
 * a refusal names the rule and stores nothing (exit 1).
 *
 * Where it comes from (first match):
 * - CHAOSMETAD_POLICY_ERROR: the agent pod's process could not read its file (host/hostexec.ts): every inject is
 *   refused with that reason;
 * - CHAOSMETAD_POLICY_JSON: the file's text, read in the pod by host/hostexec.ts and handed to the process it runs
 *   on the node (which cannot see the pod's mounts); `kubectl exec` cannot set environment variables;
 * - CHAOSMETAD_POLICY: the file's path, read here under the same rules;
 * - none: no policy (a chaosmetad not run by the agent DaemonSet, or one whose manifest dropped it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChaosError, ExitCode, badArgs } from '../errors';
import { findFault, targets } from '../faults/index';
import { safePath } from '../faults/paths';
import type { FaultDef } from '../faults/types';
import { readPolicyFile } from '../host/policyfile';
import { hostPathOf } from '../host/mounts';
import { POD_NAMESPACE_LABEL, POD_UID_LABEL, containerLabels } from '../host/runtimes';
import { resolveSafe, splitRoot } from '../host/safefs';
import { type Scope, isContainer } from '../host/scope';
import { parseDuration, shown } from '../util/units';

export interface AgentPolicy {
  /** where it was read, for messages */
  source: string;
  /** "target fault", "target *" or "*" */
  faults: string[];
  /** Kubernetes namespaces whose pods' containers may be targeted */
  namespaces: string[];
  /** injects on the node itself (no --container-id: `kube inject --node`) */
  nodeFaults: boolean;
  /** absolute paths no path flag may be at or under (on the node, and in a container where it is the node's: links,
   * bind mounts; the pod's own directory under KUBELET_PODS excepted) */
  protectedPaths: string[];
  /** the longest --timeout (ms); a --timeout is required */
  maxDurationMs: number;
  maxDuration: string;
}

export const DEFAULT_PROTECTED_PATHS = ['/etc/kubernetes', '/var/lib/kubelet', '/var/lib/etcd'];

const KEYS: Record<string, string> = {
  faults: 'required: ["target fault", "target *" or "*", …]',
  namespaces: 'required: [namespace, …] ([] = no pod)',
  nodeFaults: 'optional: true to allow injects on the node itself (default false)',
  protectedPaths: `optional: [absolute path, …] (default ${DEFAULT_PROTECTED_PATHS.join(', ')})`,
  maxDuration: 'required: the longest --timeout, e.g. "30m"',
};

const NS_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Parse and validate a policy document strictly: every key known, every value of its type, every fault real. */
export function parsePolicy(text: string, source: string): AgentPolicy {
  const fail = (why: string): never => {
    throw badArgs(`agent policy ${source}: ${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail(`not valid JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return fail('must be a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!(k in KEYS))
      fail(
        `unknown key ${shown(k)} (a typo would silently lift a rule, so it is refused); the keys: ${Object.entries(KEYS)
          .map(([n, d]) => `${n} (${d})`)
          .join('; ')}`,
      );
  for (const k of ['faults', 'namespaces', 'maxDuration']) if (!(k in o)) fail(`${k} is missing (${KEYS[k]})`);
  const strings = (k: string): string[] => {
    const v = o[k];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      return fail(`${k} must be a list of strings, got ${shown(JSON.stringify(v))}`);
    return v as string[];
  };
  const faults = strings('faults');
  for (const f of faults) {
    if (f === '*') continue;
    const m = /^([a-z0-9-]+) ([a-z0-9-]+|\*)$/.exec(f);
    if (!m) fail(`faults: ${shown(f)} is not "target fault", "target *" or "*"`);
    if (m![2] === '*') {
      if (!targets().includes(m![1])) fail(`faults: no target ${shown(m![1])} (targets: ${targets().join(', ')})`);
      continue;
    }
    try {
      findFault(m![1], m![2]);
    } catch (e) {
      fail(`faults: ${shown(f)}: ${(e as Error).message}`);
    }
  }
  const namespaces = strings('namespaces');
  for (const n of namespaces) if (!NS_RE.test(n)) fail(`namespaces: ${shown(n)} is not a Kubernetes namespace name`);
  if ('nodeFaults' in o && typeof o.nodeFaults !== 'boolean')
    fail(`nodeFaults must be true or false, got ${shown(JSON.stringify(o.nodeFaults))}`);
  const protectedPaths = 'protectedPaths' in o ? strings('protectedPaths') : DEFAULT_PROTECTED_PATHS;
  for (const p of protectedPaths)
    if (!p.startsWith('/') || p === '/' || path.posix.normalize(p) !== p.replace(/\/+$/, '') || p.endsWith('/'))
      fail(`protectedPaths: ${shown(p)} must be an absolute, normalized path other than /`);
  if (typeof o.maxDuration !== 'string') return fail(`maxDuration must be a duration like "30m"`);
  let maxDurationMs = 0;
  try {
    maxDurationMs = parseDuration(o.maxDuration, 'maxDuration', 's');
  } catch (e) {
    fail((e as Error).message);
  }
  if (!(maxDurationMs > 0)) fail('maxDuration must be longer than 0');
  return {
    source,
    faults,
    namespaces,
    nodeFaults: o.nodeFaults === true,
    protectedPaths,
    maxDurationMs,
    maxDuration: o.maxDuration,
  };
}

let loaded: { policy: AgentPolicy | undefined } | undefined;

/** The policy this process is under (see the top of this file), read once; a bad one throws (exit 1). */
export function agentPolicy(): AgentPolicy | undefined {
  if (loaded) return loaded.policy;
  const env = process.env;
  const file = env.CHAOSMETAD_POLICY;
  let policy: AgentPolicy | undefined;
  if (env.CHAOSMETAD_POLICY_ERROR) throw badArgs(`refused: ${env.CHAOSMETAD_POLICY_ERROR}`);
  else if (env.CHAOSMETAD_POLICY_JSON !== undefined)
    policy = parsePolicy(env.CHAOSMETAD_POLICY_JSON, file ?? 'CHAOSMETAD_POLICY_JSON');
  else if (file) policy = parsePolicy(readPolicyFile(file), file);
  loaded = { policy };
  return policy;
}

/** Is any policy configured for this process (even one that fails to load)? */
export function policyConfigured(): boolean {
  const env = process.env;
  return !!(env.CHAOSMETAD_POLICY_ERROR || env.CHAOSMETAD_POLICY_JSON !== undefined || env.CHAOSMETAD_POLICY);
}

function refuse(p: AgentPolicy, rule: string, why: string): never {
  throw new ChaosError(ExitCode.BadArgs, `refused by the agent policy (${p.source}), rule ${rule}: ${why}`);
}

const under = (p: string, root: string) => p === root || p.startsWith(root + '/');

/** The rules that need no runtime and no flags: the fault, the node, the duration. */
export function checkPolicy(p: AgentPolicy, def: FaultDef, target: Scope, timeoutMs: number): void {
  const name = `${def.target} ${def.fault}`;
  if (!p.faults.some((f) => f === '*' || f === name || f === `${def.target} *`))
    refuse(p, 'faults', `${name} is not among the allowed faults (${p.faults.join(', ') || 'none'})`);
  if (!isContainer(target) && !p.nodeFaults)
    refuse(p, 'nodeFaults', `${name} on the node itself (no --container-id) is not allowed; only containers of pods`);
  if (!timeoutMs) refuse(p, 'maxDuration', `a --timeout is required (at most ${p.maxDuration})`);
  if (timeoutMs > p.maxDurationMs) refuse(p, 'maxDuration', `--timeout is longer than the allowed ${p.maxDuration}`);
}

/** The paths rule, on the parsed flags (path flags resolved by faults/paths.ts: absolute, or /proc/PID/root/…). */
export function checkPolicyPaths(p: AgentPolicy, def: FaultDef, args: Record<string, unknown>): void {
  for (const [key, spec] of Object.entries(def.flags)) {
    const v = args[key];
    if (spec.parse !== safePath || typeof v !== 'string') continue;
    const hit = protectedHit(v, p.protectedPaths);
    if (hit) refuse(p, 'protectedPaths', `${shown(splitRoot(v).rest)} is ${hit}`);
  }
}

/**
 * Is this path (host absolute, or /proc/PID/root/… of a container) at or under a protected path? Checked as
 * written, as resolved (every link followed, inside the container's root for a container), and by identity: a
 * directory on its resolved way that IS a protected directory of the node (a link to it, a bind mount of it into
 * a container) counts too. A path that cannot be resolved safely is refused.
 */
function protectedHit(v: string, roots: string[]): string | undefined {
  const { base, rest } = splitRoot(v);
  let resolved: string;
  try {
    resolved = resolveSafe(v, { followFinal: true }).path;
  } catch (e) {
    return `not safely resolvable (${(e as Error).message})`;
  }
  const inside = splitRoot(resolved).rest;
  for (const r of roots) {
    if (under(rest, r)) return `under the protected ${r}`;
    if (under(inside, r)) return `under the protected ${r} (resolved: ${inside})`;
  }
  const ids = new Map<string, string>();
  for (const r of roots) {
    try {
      const st = fs.statSync(r);
      ids.set(`${st.dev}:${st.ino}`, r);
    } catch {
      /* not on this node */
    }
  }
  const top = base || '/';
  for (let d = resolved; ; d = path.dirname(d)) {
    try {
      const st = fs.statSync(d);
      const r = ids.get(`${st.dev}:${st.ino}`);
      if (r) return `the protected ${r} itself or under it (by way of ${splitRoot(d).rest})`;
    } catch {
      /* not there yet */
    }
    if (d === top || d === '/' || d.length <= top.length) break;
  }
  return undefined;
}

/** Where the kubelet keeps each pod's own directory (its volumes among them), by the pod's uid. */
export const KUBELET_PODS = '/var/lib/kubelet/pods';

/**
 * The rules that need the runtime, for a container: the namespace of the pod it belongs to (by the kubelet's label,
 * as its runtime reports it), and where each path flag is on the node — a bind mount from the node (a hostPath
 * volume, even of a sub-directory of a protected path) is judged by the node's path; the pod's own directory under
 * the kubelet's (its emptyDir volumes) is its own.
 */
export async function checkPolicyTarget(
  p: AgentPolicy,
  target: Scope,
  def: FaultDef,
  args: Record<string, unknown>,
): Promise<void> {
  if (!isContainer(target)) return;
  let labels: Record<string, string> = {};
  try {
    labels = await containerLabels(target);
  } catch (e) {
    refuse(p, 'namespaces', `cannot read the labels of container ${target.id.slice(0, 12)}: ${(e as Error).message}`);
  }
  const ns = labels[POD_NAMESPACE_LABEL];
  if (ns === undefined)
    refuse(p, 'namespaces', `container ${target.id.slice(0, 12)} is not a pod's (no ${POD_NAMESPACE_LABEL} label)`);
  if (!p.namespaces.includes(ns))
    refuse(
      p,
      'namespaces',
      `container ${target.id.slice(0, 12)} belongs to a pod in namespace ${ns}, not one of ${p.namespaces.join(', ') || '(none)'}`,
    );
  const own = labels[POD_UID_LABEL];
  const roots = p.protectedPaths.flatMap((r) => {
    try {
      return [r, fs.realpathSync(r)];
    } catch {
      return [r];
    }
  });
  for (const [key, spec] of Object.entries(def.flags)) {
    const v = args[key];
    if (spec.parse !== safePath || typeof v !== 'string') continue;
    let inside: string;
    try {
      inside = splitRoot(resolveSafe(v, { followFinal: true }).path).rest;
    } catch (e) {
      return refuse(
        p,
        'protectedPaths',
        `${shown(splitRoot(v).rest)} is not safely resolvable (${(e as Error).message})`,
      );
    }
    const onNode = hostPathOf(target.pid, inside);
    if (!onNode) continue;
    if (own && /^[0-9a-f-]{1,64}$/.test(own) && under(onNode, `${KUBELET_PODS}/${own}`)) continue;
    const r = roots.find((x) => under(onNode, x));
    if (r)
      refuse(
        p,
        'protectedPaths',
        `${shown(splitRoot(v).rest)} in the container is the node's ${onNode}, under the protected ${r}`,
      );
  }
}
