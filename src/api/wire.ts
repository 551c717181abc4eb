/**
 * The HTTP encoding of the engine API, defined once: the client encodes with `encode*`, the server decodes with
 * `decode*` (snake_case keys, args as a JSON string — the original's format). Decoding validates types and sizes
 * and throws BadArgs naming the field.
 */
import { badArgs } from '../errors';
import { shown } from '../util/units';
import type { InjectRequest, QueryRequest, RecoverRequest } from './api';
import { STATUSES } from './api';

export type Body = Record<string, unknown>;

export const ROUTES = {
  inject: 'v1/experiment/inject',
  query: 'v1/experiment/query',
  recover: 'v1/experiment/recover',
  renew: 'v1/experiment/renew',
  check: 'v1/experiment/check',
  scheduleQuery: 'v1/schedule/query',
  scheduleRemove: 'v1/schedule/remove',
  version: 'v1/version',
} as const;

const absent = (v: unknown): boolean => v === undefined || v === null || v === '';

export const str = (b: Body, k: string, max = 4096): string | undefined => {
  const v = b[k];
  if (absent(v)) return undefined;
  if (typeof v !== 'string') throw badArgs(`${k} must be a string, got ${shown(v)}`);
  if (v.length > max) throw badArgs(`${k} must be at most ${max} characters`);
  return v;
};

const uint = (b: Body, k: string): number | undefined => {
  const v = b[k];
  if (absent(v)) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 1e9) throw badArgs(`${k} must be a whole number ≥ 0, got ${shown(v)}`);
  return n;
};

const bool = (b: Body, k: string): boolean => {
  const v = b[k];
  if (absent(v) || v === false) return false;
  if (v === true || v === 'true') return true;
  throw badArgs(`${k} must be true or false, got ${shown(v)}`);
};

const duration = (b: Body, k: string): string | number | undefined => {
  const v = b[k];
  if (absent(v)) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number')
    throw badArgs(`${k} must be a duration like 30s or 5m, got ${shown(v)}`);
  return v;
};

const snake = (k: string): string => k.replace(/-/g, '_').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function encodeInject(req: InjectRequest): Body {
  const args: Body = {};
  for (const [k, v] of Object.entries(req.args)) args[snake(k)] = v;
  return {
    target: req.target,
    fault: req.fault,
    args: JSON.stringify(args),
    uid: req.uid,
    timeout: req.timeout,
    creator: req.creator,
    container_id: req.containerId,
    container_runtime: req.containerRuntime,
    containerd_namespace: req.containerdNamespace,
    parent_uid: req.parentUid,
    lease: req.lease,
    schedule: req.schedule,
    duration: req.duration,
    dry_run: req.dryRun || undefined,
  };
}

export function decodeInject(body: Body): InjectRequest {
  const target = str(body, 'target', 64);
  const fault = str(body, 'fault', 64);
  if (!target || !fault) throw badArgs('target and fault are required');
  const rawArgs = body.args ?? '{}';
  let args: unknown;
  if (typeof rawArgs === 'string') {
    try {
      args = JSON.parse(rawArgs || '{}');
    } catch {
      throw badArgs("args must be a JSON string of the fault's flags (snake_case keys)");
    }
  } else args = rawArgs;
  if (!args || typeof args !== 'object' || Array.isArray(args))
    throw badArgs("args must be a JSON object of the fault's flags");
  const schedule = body.schedule;
  if (!absent(schedule) && typeof schedule !== 'string')
    throw badArgs(`schedule must be a cron string, got ${shown(schedule)}`);
  return {
    target,
    fault,
    args: args as Record<string, unknown>,
    uid: str(body, 'uid', 64),
    timeout: duration(body, 'timeout'),
    creator: str(body, 'creator', 256),
    containerId: str(body, 'container_id', 256),
    containerRuntime: str(body, 'container_runtime', 64),
    containerdNamespace: str(body, 'containerd_namespace', 128),
    parentUid: str(body, 'parent_uid', 64),
    lease: duration(body, 'lease'),
    schedule: absent(schedule) ? undefined : (schedule as string),
    duration: duration(body, 'duration'),
    dryRun: bool(body, 'dry_run'),
  };
}

export function encodeQuery(q: QueryRequest): Body {
  return {
    uid: q.uid,
    status: q.status,
    target: q.target,
    fault: q.fault,
    creator: q.creator,
    container_id: q.containerId,
    container_runtime: q.containerRuntime,
    parent_uid: q.parentUid,
    offset: q.offset,
    limit: q.limit,
    live: q.live || undefined,
  };
}

export function decodeQuery(body: Body): QueryRequest {
  const status = str(body, 'status', 16);
  if (status && !(STATUSES as readonly string[]).includes(status)) {
    throw badArgs(`status must be one of ${STATUSES.join(', ')}, got ${shown(status)}`);
  }
  return {
    uid: str(body, 'uid'),
    status,
    target: str(body, 'target'),
    fault: str(body, 'fault'),
    creator: str(body, 'creator'),
    containerId: str(body, 'container_id'),
    containerRuntime: str(body, 'container_runtime'),
    parentUid: str(body, 'parent_uid'),
    offset: uint(body, 'offset'),
    limit: uint(body, 'limit'),
    live: bool(body, 'live'),
  };
}

export function encodeRecover(r: RecoverRequest): Body {
  if (r.uid !== undefined) return r.abandon ? { uid: r.uid, abandon: true } : { uid: r.uid };
  return { all: r.all || !!r.target || undefined, expired: r.expired || undefined, target: r.target, fault: r.fault };
}

export function decodeRecover(body: Body): RecoverRequest {
  const uid = str(body, 'uid', 64);
  const abandon = bool(body, 'abandon');
  if (uid) return abandon ? { uid, abandon } : { uid };
  if (abandon) throw badArgs('abandon needs a uid: it gives up the failing undo of one experiment');
  const all = bool(body, 'all');
  const expired = bool(body, 'expired');
  if (!all && !expired) throw badArgs('uid is required (or all: true, or expired: true)');
  return { all, expired, target: str(body, 'target', 64), fault: str(body, 'fault', 64) };
}

export function decodeRenew(body: Body): { uid: string; lease?: string } {
  const uid = str(body, 'uid', 64);
  if (!uid) throw badArgs('uid is required');
  const lease = duration(body, 'lease');
  return { uid, lease: lease === undefined ? undefined : String(lease) };
}

export function decodeUid(body: Body): string {
  const uid = str(body, 'uid', 64);
  if (!uid) throw badArgs('uid is required');
  return uid;
}
