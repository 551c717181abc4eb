/**
 * The HTTP encoding of the engine API's requests, as the client sends them (snake_case keys, args as a JSON string —
 * the original's format). The server decodes them with the route's schema (api/schema.ts, the one declaration of
 * the contract); this file stays free of zod so that the CLI's start-up does not load it.
 */
import type { InjectRequest, QueryRequest, RecoverRequest } from './api';

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

const snake = (k: string): string => k.replace(/-/g, '_').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Fields under their HTTP names (containerId → container_id); a request's switches are sent only when true. */
const snakeKeys = (o: object, switches = true): Body =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [snake(k), v === false && switches ? undefined : v]));

export function encodeInject(req: InjectRequest): Body {
  const { args, ...fields } = req;
  return { ...snakeKeys(fields), args: JSON.stringify(snakeKeys(args, false)) };
}

export function encodeQuery(q: QueryRequest): Body {
  return snakeKeys(q);
}

export function encodeRecover(r: RecoverRequest): Body {
  if (r.uid !== undefined) return r.abandon ? { uid: r.uid, abandon: true } : { uid: r.uid };
  return { all: r.all || !!r.target || undefined, expired: r.expired || undefined, target: r.target, fault: r.fault };
}
