/**
 * The engine API answered by a chaosmetad daemon (`--server URL`: `http://host:port`, `https://…`, or
 * `unix:/path/to.sock`). The token comes from --token-file or CHAOSMETAD_TOKEN; for a daemon on this host
 * (loopback or a Unix socket) from the data dir's token file too. HTTPS servers with a private CA:
 * NODE_EXTRA_CA_CERTS=/path/ca.pem.
 *
 * The server is authenticated before a byte is sent (api/peer.ts): a daemon on this host — a Unix socket, or a TCP
 * connection whose other end is an address of this host — must be root's by the kernel's own tables, else nothing
 * is sent (not the token, whichever source it came from) and the command fails with exit code 4. `localhost` is
 * never resolved: 127.0.0.1, then ::1, each verified. HTTPS is authenticated by its certificate, as before.
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';
import { ChaosError, ExitCode, badArgs, fileProblem } from '../errors';
import { defaultDataDir } from '../store/store';
import { shown } from '../util/units';
import type {
  ChaosApi,
  CheckReply,
  InjectReply,
  InjectRequest,
  QueryReply,
  QueryRequest,
  RecoverRequest,
  RecoverResult,
} from './api';
import type { ScheduleView } from './views';
import type { VersionInfo } from './version';
import { ROUTES, encodeInject, encodeQuery, encodeRecover } from './wire';
import { checkedSocketPath, isThisHost, notHeldBy, unixListeners, untrustedTcpPeer } from './peer';
import { lazy } from '../util/lazy';

// loaded on first use: start-up time
const nodeNet = lazy<typeof import('node:net')>(() => require('node:net'));
const nodeHttp = lazy<typeof import('node:http')>(() => require('node:http'));
const nodeHttps = lazy<typeof http>(() => require('node:https')); // its request() is node:http's, over TLS

export interface RemoteOptions {
  server: string;
  tokenFile?: string;
  /** this host's data dir: its token is sent to a daemon on this host only */
  dataDir?: string;
}

const isLocalHost = (h: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(h);

/** The most of a daemon's reply that is read. */
const REPLY_MAX = 64 << 20;

export class HttpApi implements ChaosApi {
  readonly where: string;
  private readonly url: URL;
  private readonly socketPath?: string;
  private token?: string;
  private tokenRead = false;
  /** where the token came from: the data dir's file names its daemon (daemon.pid), the others any daemon */
  private tokenFromDataDir = false;

  constructor(readonly opts: RemoteOptions) {
    const unix = /^unix:(\/.+)$/.exec(opts.server);
    if (unix) {
      this.socketPath = unix[1].replace(/^\/\/(?=\/)/, '');
      this.url = new URL('http://localhost/');
    } else {
      try {
        this.url = new URL(opts.server.endsWith('/') ? opts.server : opts.server + '/');
      } catch {
        throw badArgs(
          `--server must be a URL like http://host:29595 or unix:/run/chaosmetad.sock, got ${shown(opts.server)}`,
        );
      }
      if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') {
        throw badArgs(`--server must be an http://, https:// or unix: URL, got ${shown(opts.server)}`);
      }
    }
    this.where = this.socketPath ?? this.url.origin;
  }

  /** --token-file, CHAOSMETAD_TOKEN, or (a daemon on this host only) DATA_DIR/token. */
  private bearer(): string | undefined {
    if (this.tokenRead) return this.token;
    this.tokenRead = true;
    if (this.opts.tokenFile) {
      try {
        return (this.token = fs.readFileSync(this.opts.tokenFile, 'utf8').trim());
      } catch (e) {
        throw badArgs(`--token-file ${this.opts.tokenFile}: ${fileProblem(e)}`);
      }
    }
    if (process.env.CHAOSMETAD_TOKEN) return (this.token = process.env.CHAOSMETAD_TOKEN);
    if (!this.socketPath && !isLocalHost(this.url.hostname)) return undefined; // never send this host's token away
    try {
      this.token = fs.readFileSync(path.join(this.dataDir(), 'token'), 'utf8').trim() || undefined;
      this.tokenFromDataDir = this.token !== undefined;
    } catch {
      /* none */
    }
    return this.token;
  }

  private dataDir(): string {
    return this.opts.dataDir || defaultDataDir();
  }

  /** The pid in DATA_DIR/daemon.pid when the token is that data dir's (the daemon that must hold the listener). */
  private daemonPid(): number | undefined {
    if (!this.tokenFromDataDir) return undefined;
    let fd: number;
    try {
      fd = fs.openSync(
        path.join(this.dataDir(), 'daemon.pid'),
        fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
      );
    } catch {
      return undefined; // none: the kernel's uid alone decides
    }
    try {
      const buf = Buffer.alloc(24);
      const text = buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0)).trim();
      return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
    } catch {
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * A connection to the daemon whose other end is verified (see the top of this file); undefined for HTTPS (the
   * request connects, and the certificate is checked, as before).
   */
  private async connect(): Promise<net.Socket | undefined> {
    if (this.url.protocol === 'https:') return undefined;
    const { connect } = nodeNet();
    const dial = (o: net.NetConnectOpts) =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = connect(o);
        const late = () => s.destroy(new Error('no answer in 130 s'));
        s.setTimeout(130_000, late);
        s.once('error', reject);
        s.once('connect', () => {
          s.setTimeout(0);
          s.off('timeout', late);
          s.off('error', reject);
          s.on('error', () => undefined); // while it is verified; the request listens from then on
          resolve(s);
        });
      });
    const unreachable = (why: string) =>
      new ChaosError(ExitCode.Internal, `cannot reach the daemon at ${this.where}: ${why}`);
    const refused = (why: string) =>
      new ChaosError(
        ExitCode.Internal,
        `refusing the daemon at ${this.where}: ${why}; is it down and another user holding its address? Nothing was sent to it${this.token ? ', not the token either' : ''}`,
      );
    if (this.socketPath) {
      const c = checkedSocketPath(this.socketPath);
      if ('why' in c) {
        if (!fs.existsSync(this.socketPath)) throw unreachable(c.why);
        throw refused(c.why);
      }
      const pid = this.daemonPid();
      if (pid !== undefined) {
        let table = '';
        try {
          table = fs.readFileSync('/proc/net/unix', 'latin1');
        } catch {
          /* none */
        }
        const why = notHeldBy(pid, unixListeners(table, [this.socketPath, c.path]));
        if (why) throw refused(why);
      }
      try {
        return await dial({ path: c.path });
      } catch (e) {
        throw unreachable((e as Error).message);
      }
    }
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(this.url.port || 80);
    // never resolved: a name could lead to another listener than the daemon's (::1 first while it is on 127.0.0.1)
    const addrs = host.toLowerCase() === 'localhost' ? ['127.0.0.1', '::1'] : [host];
    const errors: string[] = [];
    const refusals: string[] = [];
    for (const addr of addrs) {
      let s: net.Socket;
      try {
        s = await dial({ host: addr, port });
      } catch (e) {
        errors.push((e as Error).message);
        continue;
      }
      const at = `${(s.remoteAddress ?? addr).includes(':') ? `[${s.remoteAddress ?? addr}]` : (s.remoteAddress ?? addr)}:${port}`;
      // a daemon elsewhere: as before (only a token given for it is sent, see bearer())
      if (!isThisHost(s.remoteAddress ?? '')) return s;
      const why = await untrustedTcpPeer(s, this.daemonPid());
      if (!why && !s.destroyed) return s;
      s.destroy();
      if (why) refusals.push(`${at}: ${why}`);
      else errors.push(`${at}: the connection was closed`);
    }
    if (refusals.length) throw refused([...refusals, ...errors].join('; '));
    throw unreachable(errors.join('; '));
  }

  /** POST (or GET without body); returns `data` or throws a ChaosError with the daemon's code (and data). */
  async call(route: string, body?: Record<string, unknown>): Promise<any> {
    const url = new URL(route, this.url);
    const token = this.bearer();
    const socket = await this.connect();
    const mod = url.protocol === 'https:' ? nodeHttps() : nodeHttp();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = token ? { authorization: `Bearer ${token}` } : {};
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      const req = mod.request(
        url,
        {
          ...(socket ? { createConnection: () => socket } : {}),
          method: payload === undefined ? 'GET' : 'POST',
          headers,
          timeout: 130_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            // a reply is a few kilobytes (a query page at most a few megabytes): never hold what a server sizes
            if ((size += c.length) > REPLY_MAX) {
              res.destroy();
              reject(
                new ChaosError(ExitCode.Internal, `the daemon at ${this.where} sent more than ${REPLY_MAX} bytes`),
              );
            } else chunks.push(c);
          });
          res.on('end', () => {
            const t = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 401) {
              reject(
                badArgs(
                  `the daemon at ${this.where} refused the token (missing or wrong; set CHAOSMETAD_TOKEN or --token-file)`,
                ),
              );
            } else resolve({ status: res.statusCode ?? 0, text: t });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer in 130 s')));
      req.on('error', (e) =>
        reject(new ChaosError(ExitCode.Internal, `cannot reach the daemon at ${this.where}: ${e.message}`)),
      );
      req.end(payload);
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ChaosError(
        ExitCode.Internal,
        `the daemon at ${this.where} answered HTTP ${status} with a reply that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    // an envelope { code, message, data }: anything else (not an object, no numeric code) is refused below
    const reply = (parsed !== null && typeof parsed === 'object' ? parsed : {}) as {
      code?: number;
      message?: string;
      data?: unknown;
    };
    if (typeof reply.code !== 'number')
      throw new ChaosError(
        ExitCode.Internal,
        `unexpected reply from ${this.where} (HTTP ${status}): ${text.slice(0, 200)}`,
      );
    if (reply.code !== 0) {
      throw new ChaosError(
        reply.code in ExitCode ? reply.code : ExitCode.Unknown,
        reply.message ?? 'failed',
        reply.data ?? undefined,
      );
    }
    return reply.data;
  }

  inject(req: InjectRequest): Promise<InjectReply> {
    return this.call(ROUTES.inject, encodeInject(req));
  }

  query(q: QueryRequest): Promise<QueryReply> {
    return this.call(ROUTES.query, encodeQuery(q));
  }

  async recover(r: RecoverRequest): Promise<RecoverResult[]> {
    try {
      const data = (await this.call(ROUTES.recover, encodeRecover(r))) as { results?: RecoverResult[] } | null;
      // a daemon of an older version answers a uid with no data
      return data?.results ?? [{ uid: r.uid ?? '', status: 'destroyed', ok: true, message: 'recovered' }];
    } catch (e) {
      const results = (e as ChaosError).data as { results?: RecoverResult[] } | undefined;
      if (r.uid === undefined && e instanceof ChaosError && e.code === ExitCode.Recover && results?.results)
        return results.results;
      throw e;
    }
  }

  renew(uid: string, lease?: string): Promise<{ uid: string; lease_until: string }> {
    return this.call(ROUTES.renew, { uid, lease });
  }

  check(uid: string): Promise<CheckReply> {
    return this.call(ROUTES.check, { uid });
  }

  async schedules(id?: string): Promise<ScheduleView[]> {
    return ((await this.call(ROUTES.scheduleQuery, { id })) as { schedules: ScheduleView[] }).schedules;
  }

  async removeSchedule(id: string): Promise<void> {
    await this.call(ROUTES.scheduleRemove, { id });
  }

  version(): Promise<VersionInfo> {
    return this.call(ROUTES.version);
  }

  close(): void {
    /* no connection is kept */
  }
}
