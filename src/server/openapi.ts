/**
 * The OpenAPI document of the daemon, generated from the HTTP contract (api/schema.ts): `npm run openapi` writes it
 * to src/server/openapi.json (served at GET /openapi.json), and a unit test fails when the committed file is not
 * what this makes. Request bodies are documented as a client sends them (the schemas' input side).
 */
import { ROUTE_SCHEMAS, z } from '../api/schema';
import { READ_ONLY_ROUTES } from './guard';
import { lazy } from '../util/lazy';

const pkg = lazy<{ version: string }>(() => require('../../package.json'));

type Json = Record<string, unknown>;

const DESCRIPTION =
  "Single-host fault injection daemon (`chaosmetad server`). Drop-in for ChaosMeta's chaosmetad API; every reply " +
  'is HTTP 200 with {code, message, trace_id, data} except 401/403/413. Every route but /healthz needs ' +
  '`Authorization: Bearer <token>` (unless the daemon runs with --insecure-no-auth): the full token ' +
  '(DATA_DIR/token, --token-file or CHAOSMETAD_TOKEN) for every route, or the read-only token (DATA_DIR/token-ro ' +
  'or --read-only-token-file) for the routes marked `x-read-only-token: true` (query, check, schedule query, ' +
  'version, metrics, this document); anything else with it is 403.';

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const idOf = (s: z.ZodType): string => {
  const id = z.globalRegistry.get(s)?.id;
  if (!id) throw new Error('a route schema without an id');
  return id;
};

/** what zod adds that says nothing here: each schema's own $id, and the safe-integer bounds of every integer */
function tidy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(tidy);
  if (!v || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === '$id') continue;
    if ((k === 'minimum' || k === 'maximum') && Math.abs(x as number) === Number.MAX_SAFE_INTEGER) continue;
    out[k] = tidy(x);
  }
  return out;
}

export function openApiDocument(): Json {
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    target: 'openapi-3.0',
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const unauthorized = { '401': { description: 'missing or wrong bearer token' } };
  const paths: Record<string, Record<string, Json>> = {};
  const add = (key: string, op: Json, needsToken = true) => {
    const [method, path] = key.split(' ');
    const readOnly = READ_ONLY_ROUTES.has(key) && needsToken;
    (paths[path] ??= {})[method.toLowerCase()] = {
      ...op,
      ...(needsToken ? {} : { security: [] }),
      ...(readOnly ? { 'x-read-only-token': true } : {}),
    };
  };
  for (const [key, r] of Object.entries(ROUTE_SCHEMAS)) {
    const post = key.startsWith('POST ');
    const open = key === 'GET /healthz';
    const reply = {
      description: post ? 'Always HTTP 200 with the envelope; `code` tells the outcome' : 'ok',
      content: { 'application/json': { schema: ref(idOf(r.reply)) } },
    };
    add(
      key,
      {
        summary: r.summary,
        ...('body' in r && r.body
          ? { requestBody: { required: false, content: { 'application/json': { schema: ref(idOf(r.body)) } } } }
          : {}),
        responses: {
          '200': reply,
          ...(open ? {} : unauthorized),
          ...(post ? { '413': { description: 'body over 1 MiB' } } : {}),
          ...(post && !READ_ONLY_ROUTES.has(key)
            ? {
                '403': {
                  description:
                    'the read-only token may not do this (it needs the full token); also a refused Origin or Host header',
                },
              }
            : {}),
        },
      },
      !open,
    );
  }
  add('GET /metrics', {
    summary: 'Prometheus metrics',
    responses: {
      '200': { description: 'ok', content: { 'text/plain': { schema: { type: 'string' } } } },
      ...unauthorized,
    },
  });
  add('GET /openapi.json', {
    summary: 'This document',
    responses: {
      '200': {
        description: 'this document as it is (not in the envelope)',
        content: { 'application/json': { schema: { type: 'object' } } },
      },
      ...unauthorized,
    },
  });
  return {
    openapi: '3.0.3',
    info: { title: 'chaosmetad', version: pkg().version, description: DESCRIPTION },
    servers: [{ url: 'http://127.0.0.1:29595' }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'the full token, or the read-only token (only the operations marked x-read-only-token)',
        },
      },
      schemas: tidy(schemas),
    },
    security: [{ bearer: [] }],
    paths,
  };
}

/** The document as src/server/openapi.json holds it. */
export const openApiText = (): string => JSON.stringify(openApiDocument(), null, 2) + '\n';
