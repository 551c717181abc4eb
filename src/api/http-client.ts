/**
 * The engine API answered by a chaosmetad daemon (`--server URL`: `http://host:port`, `https://…`, or
 * `unix:/path/to.sock`). The token comes from --token-file or CHAOSMETAD_TOKEN; for a daemon on this host
 * (loopback or a Unix socket) from the data dir's token file too. HTTPS servers with a private CA:
 * NODE_EXTRA_CA_CERTS=/path/ca.pem.
 */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { ChaosError, ExitCode, badArgs } from '../errors';
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

export interface RemoteOptions {
  server: string;
  tokenFile?: string;
  /** this host's data dir: its token is sent to a daemon on this host only */
  dataDir?: string;
}

const isLocalHost = (h: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(h);

export class HttpApi implements ChaosApi {
  readonly where: string;
  private readonly url: URL;
  private readonly socketPath?: string;
  private token?: string;
  private tokenRead = false;

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
        throw badArgs(`--token-file: ${(e as Error).message}`);
      }
    }
    if (process.env.CHAOSMETAD_TOKEN) return (this.token = process.env.CHAOSMETAD_TOKEN);
    if (!this.socketPath && !isLocalHost(this.url.hostname)) return undefined; // never send this host's token away
    try {
      this.token =
        fs.readFileSync(path.join(this.opts.dataDir || defaultDataDir(), 'token'), 'utf8').trim() || undefined;
    } catch {
      /* none */
    }
    return this.token;
  }

  /** POST (or GET without body); returns `data` or throws a ChaosError with the daemon's code (and data). */
  async call(route: string, body?: Record<string, unknown>): Promise<any> {
    const url = new URL(route, this.url);
    const token = this.bearer();
    /* eslint-disable-next-line @typescript-eslint/no-require-imports */
    const mod = (url.protocol === 'https:' ? require('node:https') : require('node:http')) as typeof http;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const text = await new Promise<string>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = token ? { authorization: `Bearer ${token}` } : {};
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      const req = mod.request(
        url,
        {
          ...(this.socketPath ? { socketPath: this.socketPath } : {}),
          method: payload === undefined ? 'GET' : 'POST',
          headers,
          timeout: 130_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const t = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 401) {
              reject(
                badArgs(
                  `the daemon at ${this.where} refused the token (missing or wrong; set CHAOSMETAD_TOKEN or --token-file)`,
                ),
              );
            } else resolve(t);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer in 130 s')));
      req.on('error', (e) =>
        reject(new ChaosError(ExitCode.Internal, `cannot reach the daemon at ${this.where}: ${e.message}`)),
      );
      req.end(payload);
    });
    let reply: { code?: number; message?: string; data?: unknown };
    try {
      reply = JSON.parse(text);
    } catch {
      throw new ChaosError(
        ExitCode.Internal,
        `the daemon at ${this.where} sent a reply that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (typeof reply.code !== 'number')
      throw new ChaosError(ExitCode.Internal, `unexpected reply from ${this.where}: ${text.slice(0, 200)}`);
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
