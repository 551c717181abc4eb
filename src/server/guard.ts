/**
 * Who may drive the daemon. chaosmetad runs as root, so every request is a root action: a bearer token on every
 * listener (generated into a root-only file under the data dir on first start, reused after), and, whatever the
 * token, browsers shut out — a request with an Origin header is refused unless allowed, POST bodies must be
 * `application/json` (no "simple" cross-site form/text posts), and the Host header must name this daemon (DNS
 * rebinding). recover_cmd over HTTP runs a command as root: refused unless the daemon allows it explicitly.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as http from 'node:http';
import type { Drill } from '../drill/schema';
import { badArgs } from '../errors';

export const TOKEN_FILE = 'token';
/**
 * The read-only token beside it: query, check, schedule query, drill query, drill schedule query, version, metrics,
 * the OpenAPI document.
 */
export const READ_TOKEN_FILE = 'token-ro';

/** What the read-only token may do ("METHOD path"); everything else needs the full token. */
export const READ_ONLY_ROUTES: ReadonlySet<string> = new Set([
  'GET /v1/version',
  'GET /healthz',
  'GET /metrics',
  'GET /openapi.json',
  'POST /v1/experiment/query',
  'POST /v1/experiment/check',
  'POST /v1/schedule/query',
  'POST /v1/drill/query',
  'POST /v1/drill/schedule/query',
]);

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}

export const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::' || host === '[::]';

/**
 * The daemon's token: from --token-file / CHAOSMETAD_TOKEN if given, else `<dataDir>/token`, created on first start
 * (O_EXCL, mode 0600, never through a symlink) and reused; a token file another user owns or can read is refused.
 * The read-only token likewise, in `<dataDir>/token-ro`.
 */
export function daemonToken(
  dataDir: string,
  name: string = TOKEN_FILE,
): { token: string; file: string; created: boolean } {
  const file = path.join(dataDir, name);
  try {
    const token = readSecretFile(file, 'the daemon token file');
    return { token, file, created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = crypto.randomBytes(24).toString('base64url');
  const fd = fs.openSync(
    file,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
    0o600,
  );
  try {
    fs.writeSync(fd, token + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { token, file, created: true };
}

/** Read a token file that must be ours and private (not a symlink, owned by this user, no group/other access). */
export function readSecretFile(file: string, what: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw badArgs(`${what} ${file} is a symbolic link; refusing to read it`);
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    const me = process.getuid?.() ?? 0;
    if (!st.isFile()) throw badArgs(`${what} ${file} is not a regular file`);
    if (st.uid !== me)
      throw badArgs(`${what} ${file} is owned by uid ${st.uid}, not by this user (uid ${me}); refusing it`);
    if (st.mode & 0o077)
      throw badArgs(
        `${what} ${file} has mode ${(st.mode & 0o777).toString(8)}: other users can read or change it; chmod 600 it`,
      );
    return fs.readFileSync(fd, 'utf8').trim();
  } finally {
    fs.closeSync(fd);
  }
}

/** Names a Host header may carry of a TCP listener on `addr`: the address, loopback and local names, --allow-host. */
export function allowedHosts(addr: string, extra: string[]): Set<string> {
  const out = new Set<string>();
  const add = (h: string) => out.add(h.replace(/^\[|\]$/g, '').toLowerCase());
  add(addr);
  if (isLoopback(addr) || isWildcard(addr)) for (const h of ['localhost', '127.0.0.1', '::1']) add(h);
  if (isWildcard(addr)) {
    for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) add(i.address);
    add(os.hostname());
  }
  for (const h of extra) add(h);
  return out;
}

/** The host part of a Host header (`name`, `name:port`, `[v6]:port`), lower case; undefined when malformed. */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h);
  if (v6) return v6[1];
  const m = /^([a-z0-9._-]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1] : undefined;
}

export interface GuardOptions {
  /** the token's bytes; undefined only with --insecure-no-auth */
  token?: Buffer;
  /** the read-only token's bytes (READ_ONLY_ROUTES only) */
  readToken?: Buffer;
  /** Host header names accepted; undefined = any (a Unix socket: no browser can reach it) */
  hosts?: Set<string>;
  origins: Set<string>;
}

export interface Refusal {
  status: number;
  message: string;
}

/** Why this request may not proceed, or undefined when it may. */
export function refuse(req: http.IncomingMessage, path: string, g: GuardOptions): Refusal | undefined {
  if (g.hosts) {
    const h = hostOf(req.headers.host);
    if (!h || !g.hosts.has(h)) {
      return {
        status: 403,
        message: `Host ${JSON.stringify(String(req.headers.host ?? '').slice(0, 100))} is not an address of this daemon (a DNS-rebinding page?); start it with --allow-host NAME to accept that name`,
      };
    }
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !g.origins.has(String(origin).toLowerCase())) {
    return {
      status: 403,
      message: `requests from web pages (Origin ${JSON.stringify(String(origin).slice(0, 100))}) are refused; start the daemon with --allow-origin ORIGIN to allow one`,
    };
  }
  if (g.token && path !== '/healthz') {
    // constant time in the token's bytes (its length is no secret: 32 characters when generated); a sha256 per
    // request cost ~28 µs, a tenth of a query request's time
    const m = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
    const got = m ? Buffer.from(m[1]) : undefined;
    const full = tokenIs(got, g.token);
    const readOnly = tokenIs(got, g.readToken);
    if (!full && !readOnly) return { status: 401, message: 'missing or wrong bearer token' };
    if (!full && !READ_ONLY_ROUTES.has(`${req.method} ${path}`))
      return {
        status: 403,
        message: `the read-only token may query, check, list schedules and read /metrics; ${String(req.method).slice(0, 10)} ${path.slice(0, 100)} needs the full token`,
      };
  }
  if (req.method === 'POST') {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (type !== 'application/json')
      return {
        status: 415,
        message: `POST bodies must be sent with Content-Type: application/json, got ${JSON.stringify(type.slice(0, 100))}`,
      };
  }
  return undefined;
}

/** Is this the token (constant time in its bytes)? */
function tokenIs(got: Buffer | undefined, token: Buffer | undefined): boolean {
  return !!got && !!token && got.length === token.length && crypto.timingSafeEqual(got, token);
}

/** Does an inject's args ask for a recover command (any spelling of recover_cmd / recover_shell, set)? */
export function asksRecoverCmd(args: Record<string, unknown>): boolean {
  return Object.entries(args).some(
    ([k, v]) =>
      /^recover(cmd|shell)$/.test(k.replace(/[-_]/g, '').toLowerCase()) &&
      v !== undefined &&
      v !== null &&
      v !== '' &&
      v !== false,
  );
}

/**
 * What in a drill would run a command as root on this host, each named: command probes, an inject step's
 * recover_cmd / recover_shell, and a kubeconfig file (kubectl runs its exec credential plugin). Over HTTP such a
 * drill is refused unless the daemon allows root commands (--allow-recover-cmd), as recover_cmd is.
 */
export function drillRootCommands(d: Drill): string[] {
  const out: string[] = [];
  for (const p of d.probes) {
    if (p.command)
      out.push(`probe ${p.name} runs the command ${JSON.stringify(p.command.argv.join(' ').slice(0, 100))}`);
    if (p.kube?.kubeconfig) out.push(`probe ${p.name} names the kubeconfig ${p.kube.kubeconfig}`);
  }
  for (const lane of d.faults.lanes)
    for (const [i, step] of lane.steps.entries()) {
      if (!('inject' in step)) continue;
      const at = `lane ${lane.name} step ${i + 1}`;
      if (asksRecoverCmd(step.inject.args)) out.push(`${at} asks for recover_cmd / recover_shell`);
      if (step.inject.kube?.kubeconfig) out.push(`${at} names the kubeconfig ${step.inject.kube.kubeconfig}`);
    }
  return out;
}
