/** Start the real daemon on a loopback port and talk to it (shared by the daemon and hardening tests). */
import { ChildProcess, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN } from './helpers';
import { ROUTE_SCHEMAS } from '../src/api/schema';

/** The token of the daemon on each port (its data dir's generated token, or the one it was given). */
const tokens = new Map<number, string>();

export interface Daemon {
  port: number;
  proc: ChildProcess;
  logs: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

export function startDaemon(
  dataDir: string,
  args: string[] = [],
  env: Record<string, string> = {},
  exe = BIN,
): Promise<Daemon> {
  const [file, argv] =
    exe === BIN ? [process.execPath, [BIN, 'server', '-p', '0', ...args]] : [exe, ['server', '-p', '0', ...args]];
  const proc = spawn(file, argv, {
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  proc.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) =>
    proc.on('exit', (code) => {
      running.delete(proc);
      r(code);
    }),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode !== null) return proc.exitCode;
    proc.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = /"event":"listening".*"port":(\d+)/.exec(out);
      if (m) {
        clearInterval(t);
        const port = Number(m[1]);
        const given = env.CHAOSMETAD_TOKEN;
        try {
          tokens.set(port, given || fs.readFileSync(path.join(dataDir, 'token'), 'utf8').trim());
        } catch {
          tokens.delete(port);
        }
        resolve({ port, proc, logs: () => out, stop, exited });
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(t);
      reject(new Error(`server exited ${code}: ${out}`));
    });
  });
}

/** Stop every daemon these helpers started (afterAll/afterEach). */
export async function stopDaemons(): Promise<void> {
  await Promise.all(
    [...running].map(
      (p) =>
        new Promise<void>((r) => {
          if (p.exitCode !== null) return r();
          p.on('exit', () => r());
          p.kill('SIGTERM');
        }),
    ),
  );
}

export interface Reply {
  status: number;
  json: any;
  text: string;
}

/**
 * One request to the daemon on port, with its token unless `headers.authorization` is given ('' sends none),
 * as a JSON POST unless `headers['content-type']` says otherwise.
 */
/** Keys of `got` that `parsed` (the schema's parse, which drops unknown keys) lost: fields the schema lacks. */
function undeclared(got: unknown, parsed: unknown, at: string): string[] {
  if (Array.isArray(got)) return got.flatMap((g, i) => undeclared(g, (parsed as unknown[])[i], `${at}[${i}]`));
  if (!got || typeof got !== 'object') return [];
  const p = (parsed ?? {}) as Record<string, unknown>;
  return Object.entries(got).flatMap(([k, v]) => (k in p ? undeclared(v, p[k], `${at}.${k}`) : [`${at}.${k}`]));
}

/**
 * Every reply of a JSON route checked against the HTTP contract (src/api/schema.ts): the envelope, the route's data
 * when the code is 0, and no field the schema does not declare. A problem fails the call that got the reply.
 */
function replyProblem(method: string, route: string, json: unknown): string | undefined {
  const key = `${method} ${route.split('?')[0]}`;
  if (!(key in ROUTE_SCHEMAS)) return undefined;
  const r = ROUTE_SCHEMAS[key as keyof typeof ROUTE_SCHEMAS];
  const whole = r.reply.safeParse(json);
  if (!whole.success) return `${key}: the reply is not the schema's: ${whole.error.message}`;
  const code = (json as { code: number }).code;
  const data = code === 0 ? r.data.safeParse((json as { data: unknown }).data) : whole;
  if (!data.success) return `${key}: the reply's data is not the schema's: ${data.error.message}`;
  const extra = undeclared(json, whole.data, 'reply');
  return extra.length ? `${key}: fields the schema does not declare: ${extra.join(', ')}` : undefined;
}

export function call(
  port: number,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
  tls = false,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const mod = tls ? https : http;
    // a fresh connection each time: a kept-alive socket may have been closed while the event loop was blocked
    const token = tokens.get(port);
    const all: Record<string, string> = {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    };
    for (const k of Object.keys(all)) if (all[k] === '') delete all[k];
    const req = mod.request(
      { agent: false, host: '127.0.0.1', port, method, path: route, rejectUnauthorized: false, headers: all },
      (res) => {
        let data = '';
        res.on('data', (d) => {
          data += d;
        });
        res.on('end', () => {
          let json: any = null;
          try {
            json = data ? JSON.parse(data) : null;
          } catch {
            /* text */
          }
          const wrong = json ? replyProblem(method, route, json) : undefined;
          if (wrong) reject(new Error(wrong));
          else resolve({ status: res.statusCode ?? 0, json, text: data });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}
