/**
 * `--server URL`: send the request to a chaosmetad daemon instead of acting locally (`http://host:port`,
 * `https://…`, or `unix:/path/to.sock`). The token comes from --token-file or CHAOSMETAD_TOKEN; for a daemon on
 * this host (loopback or a Unix socket) from the data dir's token file too. HTTPS servers with a private CA:
 * NODE_EXTRA_CA_CERTS=/path/ca.pem.
 */
import { Flags } from '@oclif/core';
import * as fs from 'node:fs';
import { ChaosError, ExitCode, badArgs } from '../errors';
import { shown } from '../util/units';
import { defaultDataDir } from '../store/store';
import * as path from 'node:path';

export const clientFlags = {
  server: Flags.string({ description: 'act through a chaosmetad daemon at this URL (e.g. http://10.0.0.5:29595 or unix:/run/chaosmetad.sock) instead of locally', helpGroup: 'REMOTE' }),
  'token-file': Flags.string({ description: 'with --server: file holding the bearer token (else env CHAOSMETAD_TOKEN; for a daemon on this host, DATA_DIR/token)', helpGroup: 'REMOTE' }),
};

export interface ClientOpts { server: string; tokenFile?: string; dataDir?: string }

const isLocalHost = (h: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(h);

/** The token for this request: --token-file, CHAOSMETAD_TOKEN, or (a daemon on this host only) DATA_DIR/token. */
function clientToken(opts: ClientOpts, local: boolean): string | undefined {
  if (opts.tokenFile) {
    try { return fs.readFileSync(opts.tokenFile, 'utf8').trim(); } catch (e) { throw badArgs(`--token-file: ${(e as Error).message}`); }
  }
  if (process.env.CHAOSMETAD_TOKEN) return process.env.CHAOSMETAD_TOKEN;
  if (!local) return undefined; // never send this host's token to another machine
  try { return fs.readFileSync(path.join(opts.dataDir || defaultDataDir(), 'token'), 'utf8').trim() || undefined; } catch { return undefined; }
}

/** POST (or GET without body) to the daemon; returns `data` or throws a ChaosError with the daemon's code. */
export async function callDaemon(opts: ClientOpts, route: string, body?: Record<string, unknown>): Promise<any> {
  let url: URL;
  let socketPath: string | undefined;
  const unix = /^unix:(\/.+)$/.exec(opts.server);
  if (unix) {
    socketPath = unix[1].replace(/^\/\/(?=\/)/, '');
    url = new URL(route, 'http://localhost/');
  } else {
    try { url = new URL(route, opts.server.endsWith('/') ? opts.server : opts.server + '/'); } catch { throw badArgs(`--server must be a URL like http://host:29595 or unix:/run/chaosmetad.sock, got ${shown(opts.server)}`); }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badArgs(`--server must be an http://, https:// or unix: URL, got ${shown(opts.server)}`);
  }
  const where = socketPath ?? url.origin;
  const token = clientToken(opts, !!socketPath || isLocalHost(url.hostname));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = (url.protocol === 'https:' ? require('node:https') : require('node:http')) as typeof import('node:http');
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const text = await new Promise<string>((resolve, reject) => {
    const req = mod.request(url, {
      ...(socketPath ? { socketPath } : {}),
      method: payload === undefined ? 'GET' : 'POST',
      headers: { ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      timeout: 130_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 401) reject(badArgs(`the daemon at ${where} refused the token (missing or wrong; set CHAOSMETAD_TOKEN or --token-file)`));
        else resolve(t);
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 130 s')));
    req.on('error', (e) => reject(new ChaosError(ExitCode.Internal, `cannot reach the daemon at ${where}: ${e.message}`)));
    req.end(payload);
  });
  let reply: { code?: number; message?: string; data?: unknown };
  try { reply = JSON.parse(text); } catch { throw new ChaosError(ExitCode.Internal, `the daemon at ${where} sent a reply that is not JSON: ${text.slice(0, 200)}`); }
  if (typeof reply.code !== 'number') throw new ChaosError(ExitCode.Internal, `unexpected reply from ${where}: ${text.slice(0, 200)}`);
  if (reply.code !== 0) throw new ChaosError(reply.code in ExitCode ? reply.code : ExitCode.Unknown, reply.message ?? 'failed');
  return reply.data;
}
