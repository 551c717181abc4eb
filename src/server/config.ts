/**
 * `chaosmetad server`'s flags and what they configure: where it listens, its TLS, who may call it (the token
 * policy), the store's retention. Read and checked before anything listens; every mistake is BadArgs naming the flag.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseRetention } from '../engine/retention';
import type { Retention } from '../store/store';
import { badArgs } from '../errors';
import { type FlagSpecs, boolean, integer, string } from '../util/flags';
import type { RawFlags } from '../util/plain-argv';
import { READ_TOKEN_FILE, daemonToken, isLoopback, readSecretFile } from './guard';

export const SERVER_FLAGS = {
  addr: string({ char: 'a', description: 'address to listen on (default 127.0.0.1)' }),
  port: integer({ char: 'p', min: 0, max: 65535, description: 'port (default 29595)' }),
  socket: string({
    description: 'also (or, without -a/-p, only) listen on this Unix socket, mode 0600 (0660 with --socket-group)',
    helpValue: 'PATH',
  }),
  'socket-group': string({
    description: 'with --socket: the group that may connect too (socket mode 0660)',
    helpValue: 'GROUP',
  }),
  'token-file': string({
    description:
      'file holding the bearer token (else $CREDENTIALS_DIRECTORY/token, a systemd credential; else env CHAOSMETAD_TOKEN; else DATA_DIR/token, generated on first start)',
  }),
  'read-only-token-file': string({
    description:
      'file holding the read-only token (query, check, schedule list, metrics; else DATA_DIR/token-ro, generated on first start)',
    helpValue: 'FILE',
  }),
  'insecure-no-auth': boolean({
    description: 'no token at all (loopback only; every local user can then act as root through the daemon)',
  }),
  'allow-origin': string({
    multiple: true,
    description: 'accept requests carrying this Origin header (a web UI of yours), e.g. https://chaos.example.com',
    helpValue: 'ORIGIN',
  }),
  'allow-host': string({
    multiple: true,
    description: 'accept this name in the Host header too (a DNS name clients use for this daemon)',
    helpValue: 'NAME',
  }),
  'allow-recover-cmd': boolean({
    description:
      'accept recover_cmd / recover_shell over HTTP (remote root: every token holder can run any command as root)',
  }),
  'metrics-addr': string({
    description:
      'also serve GET /metrics and /healthz, and nothing else, without a token on HOST:PORT (e.g. 10.0.0.5:29596 or [fd00::5]:29596: Prometheus scraping each node)',
    helpValue: 'HOST:PORT',
  }),
  'max-connections': integer({
    min: 1,
    max: 999_999,
    description: 'open connections per listener (default 256); beyond it the oldest idle one is closed',
    helpValue: 'N',
  }),
  retention: string({
    description:
      'keep finished experiments (destroyed, or failed with nothing left to undo) this long (env CHAOSMETAD_RETENTION; default 30d; 0 = no age limit)',
    helpValue: 'DURATION',
  }),
  'retention-rows': string({
    description:
      'keep at most this many finished experiments, the newest (env CHAOSMETAD_RETENTION_ROWS; default 100000; 0 = no limit)',
    helpValue: 'N',
  }),
  cert: string({ description: 'TLS certificate (PEM); with --key serves HTTPS' }),
  key: string({ description: 'TLS private key (PEM)' }),
} satisfies FlagSpecs;

export interface HostPort {
  host: string;
  port: number;
}

/** Where the daemon listens: TCP unless only a socket is asked for, a Unix socket, a metrics-only port. */
export interface ListenConfig {
  tcp?: HostPort;
  socket?: { file: string; gid?: number };
  metrics?: HostPort;
  tls?: { cert: Buffer; key: Buffer };
  /** per listener; undefined: the HTTP layer's default */
  maxConnections?: number;
  /** Origin headers accepted (lower case) */
  origins: Set<string>;
  /** Host header names accepted besides the address itself */
  extraHosts: string[];
}

export interface ServerConfig {
  listen: ListenConfig;
  dataDir?: string;
  retention: Retention;
  allowRecoverCmd: boolean;
  /** no token at all (loopback only) */
  insecureNoAuth: boolean;
  /** a token given by --token-file, a systemd credential or CHAOSMETAD_TOKEN (else the data dir's, see tokens()) */
  token?: string;
  readToken?: string;
  readTokenFile?: string;
}

/** The server's flags (as oclif parsed them) and environment, checked. */
export function serverConfig(f: RawFlags, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const s = (k: keyof typeof SERVER_FLAGS) => f[k] as string | undefined;
  const list = (k: 'allow-origin' | 'allow-host') => (f[k] as string[] | undefined) ?? [];
  const socket = s('socket');
  const isTcp = !socket || s('addr') !== undefined || s('port') !== undefined;
  const host = s('addr') ?? '127.0.0.1';
  const port = s('port') === undefined ? 29595 : SERVER_FLAGS.port.parse(s('port'), 'port');
  if (s('socket-group') && !socket) throw badArgs('--socket-group goes with --socket');
  const socketGid = s('socket-group') ? groupId(s('socket-group')!) : undefined;
  if (socket) checkSocketPath(socket);
  let token = env.CHAOSMETAD_TOKEN || undefined;
  // a systemd credential (LoadCredential=token:…): a file only this service can read, where an Environment= line
  // of the unit is shown to every user by systemctl show
  const tokenFrom = s('token-file') ?? credentialFile(env);
  if (tokenFrom) {
    try {
      token = readSecretFile(tokenFrom, s('token-file') ? '--token-file' : 'the systemd credential');
    } catch (e) {
      throw badArgs(`${s('token-file') ? '--token-file' : '$CREDENTIALS_DIRECTORY/token'}: ${(e as Error).message}`);
    }
  }
  const maxConnections =
    s('max-connections') === undefined
      ? undefined
      : SERVER_FLAGS['max-connections'].parse(s('max-connections'), 'max-connections');
  const retention = parseRetention(
    s('retention') ?? env.CHAOSMETAD_RETENTION,
    s('retention-rows') ?? env.CHAOSMETAD_RETENTION_ROWS,
    {
      age: s('retention') === undefined ? 'CHAOSMETAD_RETENTION' : '--retention',
      rows: s('retention-rows') === undefined ? 'CHAOSMETAD_RETENTION_ROWS' : '--retention-rows',
    },
  );
  if (token !== undefined && token.length < 8) throw badArgs('the token must be at least 8 characters');
  let readToken: string | undefined;
  const readTokenFile = s('read-only-token-file');
  if (readTokenFile) {
    try {
      readToken = readSecretFile(readTokenFile, '--read-only-token-file');
    } catch (e) {
      throw badArgs(`--read-only-token-file: ${(e as Error).message}`);
    }
    if (readToken.length < 8) throw badArgs('the read-only token must be at least 8 characters');
  }
  const insecureNoAuth = f['insecure-no-auth'] === true;
  if (insecureNoAuth) {
    if (token || readToken)
      throw badArgs(
        '--insecure-no-auth and a token (--token-file, a systemd credential, --read-only-token-file or CHAOSMETAD_TOKEN) contradict each other; choose one',
      );
    if (isTcp && !isLoopback(host))
      throw badArgs(`--insecure-no-auth is only allowed on loopback; --addr ${host} is beyond it`);
  }
  const metrics = s('metrics-addr') === undefined ? undefined : hostPort(s('metrics-addr')!);
  if (!!s('cert') !== !!s('key')) throw badArgs('--cert and --key go together');
  let tls: ListenConfig['tls'];
  if (s('cert') && s('key')) {
    try {
      tls = { cert: fs.readFileSync(s('cert')!), key: fs.readFileSync(s('key')!) };
    } catch (e) {
      throw badArgs(`--cert/--key: ${(e as Error).message}`);
    }
  }
  const origins = new Set(
    list('allow-origin')
      .flatMap((o) => o.split(','))
      .map((o) => o.trim().toLowerCase())
      .filter(Boolean),
  );
  for (const o of origins)
    if (!/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/.test(o))
      throw badArgs(`--allow-origin must be an origin like https://ui.example.com:8443, got ${JSON.stringify(o)}`);
  const extraHosts = list('allow-host')
    .flatMap((h) => h.split(','))
    .map((h) => h.trim())
    .filter(Boolean);
  for (const h of extraHosts)
    if (!/^[A-Za-z0-9._:-]{1,253}$/.test(h))
      throw badArgs(`--allow-host must be a host name or address, got ${JSON.stringify(h)}`);
  return {
    listen: {
      tcp: isTcp ? { host, port } : undefined,
      socket: socket ? { file: socket, gid: socketGid } : undefined,
      metrics,
      tls,
      maxConnections,
      origins,
      extraHosts,
    },
    dataDir: f['data-dir'] as string | undefined,
    retention,
    allowRecoverCmd: f['allow-recover-cmd'] === true,
    insecureNoAuth,
    token,
    readToken,
    readTokenFile,
  };
}

/** The tokens the daemon checks, and the files they are in (for the log). */
export interface Tokens {
  token?: string;
  tokenFile?: string;
  readToken?: string;
  readTokenFile?: string;
}

/**
 * The token policy: the tokens given, else (unless --insecure-no-auth) the data dir's token files, made root-only
 * on first start (said in the log). The read-only token must differ from the full one.
 */
export function tokens(c: ServerConfig, dataDir: string, log: (e: Record<string, unknown>) => void): Tokens {
  const fromDataDir = (file: string | undefined, note: string) => {
    const t = daemonToken(dataDir, file);
    if (t.created) log({ event: 'token-created', file: t.file, note });
    return t;
  };
  const out: Tokens = { token: c.token, readToken: c.readToken, readTokenFile: c.readTokenFile };
  if (!out.token && !c.insecureNoAuth) {
    ({ token: out.token, file: out.tokenFile } = fromDataDir(
      undefined,
      'clients on this host read it automatically; give it to remote clients with --token-file',
    ));
  }
  if (!out.readToken && !c.insecureNoAuth) {
    ({ token: out.readToken, file: out.readTokenFile } = fromDataDir(
      READ_TOKEN_FILE,
      'the read-only token: query, check, schedule list and metrics only',
    ));
  }
  if (out.readToken !== undefined && out.readToken === out.token)
    throw badArgs(`the read-only token (${out.readTokenFile}) is the full token: give it a token of its own`);
  return out;
}

/**
 * HOST:PORT; a bare IPv6 address is taken too (the DaemonSet's $(POD_IP):29596 on an IPv6 cluster): the port is
 * last.
 */
function hostPort(raw: string): HostPort {
  const m = /^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) > 65535) throw badArgs(`--metrics-addr must be HOST:PORT, e.g. 0.0.0.0:29596, got "${raw}"`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** $CREDENTIALS_DIRECTORY/token when systemd passed that credential (LoadCredential=token:…), else undefined. */
function credentialFile(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir || !path.isAbsolute(dir)) return undefined;
  const file = path.join(dir, 'token');
  return fs.existsSync(file) ? file : undefined;
}

/** A group by name (from /etc/group) or number. */
function groupId(g: string): number {
  if (/^\d{1,9}$/.test(g)) return Number(g);
  for (const line of fs.readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === g && /^\d+$/.test(gid ?? '')) return Number(gid);
  }
  throw badArgs(`--socket-group: no group ${JSON.stringify(g)} (see /etc/group)`);
}

/** The socket's directory must be ours alone (else another user could swap the socket for theirs). */
function checkSocketPath(file: string): void {
  if (!path.isAbsolute(file) || file.length > 100)
    throw badArgs(`--socket must be an absolute path of at most 100 characters, got ${JSON.stringify(file)}`);
  let st: fs.Stats;
  try {
    st = fs.statSync(path.dirname(file));
  } catch {
    throw badArgs(`--socket: directory ${path.dirname(file)} does not exist`);
  }
  const me = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== me || st.mode & 0o022) {
    throw badArgs(
      `--socket: directory ${path.dirname(file)} must be owned by uid ${me} and writable by it alone (it is mode ${(st.mode & 0o777).toString(8)}, uid ${st.uid})`,
    );
  }
  try {
    const old = fs.lstatSync(file);
    if (!old.isSocket()) throw badArgs(`--socket ${file} exists and is not a socket; refusing to replace it`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
