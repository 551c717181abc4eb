/**
 * An inject request, validated and normalised without touching the host or the store: the uid rule, the timeout
 * and lease durations, the creator, the container flags, the agent's policy, the fault's flags and its validate.
 */
import { customAlphabet } from 'nanoid';
import * as os from 'node:os';
import { badArgs } from '../errors';
import { type FlagSpecs, type ParsedFlags, parseFlags } from '../faults/flags';
import type { FaultDef } from '../faults/types';
import { resolveContainer } from '../host/runtimes';
import { HOST_SCOPE, type Scope, isContainer } from '../host/scope';
import { parseDuration, shown } from '../util/units';
import { agentPolicy, checkPolicy, checkPolicyPaths } from './policy';

export interface InjectRequest {
  target: string;
  fault: string;
  /** flag values keyed by camelCase, kebab-case or snake_case names (CLI strings or JSON values) */
  args: Record<string, unknown>;
  uid?: string;
  timeout?: string | number;
  creator?: string;
  containerId?: string;
  containerRuntime?: string;
  /** containerd only: where to look first (default k8s.io; then moby, default) */
  containerdNamespace?: string;
  dryRun?: boolean;
  /** dead-man lease: recover unless renewed within this long (duration; plain number = seconds) */
  lease?: string | number;
  /** set by the daemon for a scheduled run */
  scheduleId?: string;
  /** the experiment this one is part of (kube inject's uid; same form as a uid) */
  parentUid?: string;
}

/** A request validated completely: what inject records and runs. */
export interface PreparedInject {
  def: FaultDef;
  args: ParsedFlags<FlagSpecs>;
  target: Scope;
  /** 0 = no deadline */
  timeoutMs: number;
  /** 0 = no lease; whole ms */
  leaseMs: number;
  /** the request's, or a new one */
  uid: string;
  /** the timeout as given ('' for none), stored as is (compat) */
  timeout: string;
  creator: string;
  parentUid: string | null;
}

/** 5-36 of [A-Za-z0-9_-] (compat), not starting with "-" (it would read as an option in argv) */
const UID_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{4,35}$/;
const newUid = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 8);

/** A duration flag that is given: not absent, '' or 0 (each of which means none). */
const given = (v: string | number | undefined): v is string | number => v !== undefined && v !== '' && v !== 0;

/** The uid rule, for --uid and --parent-uid (absent or '' passes: none given). */
export function checkUid(uid: string | undefined, flag: '--uid' | '--parent-uid'): void {
  if (uid !== undefined && uid !== '' && !UID_RE.test(uid)) {
    throw badArgs(
      `${flag} must be 5 to 36 characters of letters, digits, "_" and "-" (not starting with "-"), got ${shown(uid)}`,
    );
  }
}

/** A --timeout in ms (plain number = seconds); 0 when none is given. */
export function parseTimeout(timeout: string | number | undefined): number {
  return given(timeout) ? parseDuration(timeout, 'timeout', 's') : 0;
}

/** A --lease in whole ms (plain number = seconds), at least 1 s; undefined when none is given. */
export function parseLease(lease: string | number | undefined): number | undefined {
  if (!given(lease)) return undefined;
  const ms = parseDuration(lease, 'lease', 's');
  if (ms < 1000) throw badArgs(`--lease must be at least 1s, got ${shown(lease)}`);
  return Math.round(ms);
}

export function defaultCreator(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

/**
 * Validate a request for fault `def` completely, without touching the host or the store. A container request needs
 * its target resolved first (resolveTarget: it asks the runtime).
 */
export function prepareInject(def: FaultDef, req: InjectRequest, target: Scope = HOST_SCOPE): PreparedInject {
  checkUid(req.uid, '--uid');
  const timeoutMs = parseTimeout(req.timeout);
  if (req.containerId && !isContainer(target)) throw new Error('internal: a container request without its target');
  if (!req.containerId && (req.containerRuntime || req.containerdNamespace))
    throw badArgs('--container-runtime and --containerd-namespace need --container-id');
  if (isContainer(target) && !def.container) {
    throw badArgs(
      def.containerRefusal
        ? `${def.target} ${def.fault} acts on ${def.containerRefusal}: it cannot be confined to a container (drop --container-id)`
        : `${def.target} ${def.fault} does not take --container-id yet (every fault but kernel ones takes it)`,
    );
  }
  checkUid(req.parentUid, '--parent-uid');
  if (req.creator !== undefined && (req.creator.length > 128 || /[\0\n\r]/.test(req.creator))) {
    throw badArgs('--creator must be at most 128 characters without control characters');
  }
  const leaseMs = parseLease(req.lease) ?? 0;
  // through the agent DaemonSet: its policy (engine/policy.ts) before anything else is looked at
  const policy = agentPolicy();
  if (policy) checkPolicy(policy, def, target, timeoutMs);
  const args = parseFlags(def.flags, req.args, target);
  if (policy) checkPolicyPaths(policy, def, args);
  def.validate?.(args, target);
  return {
    def,
    args,
    target,
    timeoutMs,
    leaseMs,
    uid: req.uid || newUid(),
    timeout: timeoutMs ? String(req.timeout) : '',
    creator: req.creator || defaultCreator(),
    parentUid: req.parentUid || null,
  };
}

/** The request's target: this host, or the container its runtime names (exit 1 when not found or not running). */
export async function resolveTarget(req: InjectRequest): Promise<Scope> {
  if (!req.containerId) return HOST_SCOPE;
  return resolveContainer({
    id: req.containerId,
    runtime: req.containerRuntime,
    namespace: req.containerdNamespace,
  });
}
