/**
 * `--server URL`: send the request to a chaosmetad daemon instead of acting locally. The token comes from
 * --token-file or CHAOSMETAD_TOKEN; HTTPS servers with a private CA: NODE_EXTRA_CA_CERTS=/path/ca.pem.
 */
import { Flags } from '@oclif/core';
import * as fs from 'node:fs';
import { ChaosError, ExitCode, badArgs } from '../errors';
import { shown } from '../util/units';

export const clientFlags = {
  server: Flags.string({ description: 'act through a chaosmetad daemon at this URL (e.g. http://10.0.0.5:29595) instead of locally', helpGroup: 'REMOTE' }),
  'token-file': Flags.string({ description: 'with --server: file holding the bearer token (else env CHAOSMETAD_TOKEN)', helpGroup: 'REMOTE' }),
};

export interface ClientOpts { server: string; tokenFile?: string }

/** POST (or GET without body) to the daemon; returns `data` or throws a ChaosError with the daemon's code. */
export async function callDaemon(opts: ClientOpts, path: string, body?: Record<string, unknown>): Promise<any> {
  let url: URL;
  try { url = new URL(path, opts.server.endsWith('/') ? opts.server : opts.server + '/'); } catch { throw badArgs(`--server must be a URL like http://host:29595, got ${shown(opts.server)}`); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badArgs(`--server must be an http:// or https:// URL, got ${shown(opts.server)}`);
  let token = process.env.CHAOSMETAD_TOKEN || undefined;
  if (opts.tokenFile) {
    try { token = fs.readFileSync(opts.tokenFile, 'utf8').trim(); } catch (e) { throw badArgs(`--token-file: ${(e as Error).message}`); }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = (url.protocol === 'https:' ? require('node:https') : require('node:http')) as typeof import('node:http');
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const text = await new Promise<string>((resolve, reject) => {
    const req = mod.request(url, {
      method: payload === undefined ? 'GET' : 'POST',
      headers: { ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      timeout: 130_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 401) reject(badArgs(`the daemon at ${url.origin} refused the token (missing or wrong; set CHAOSMETAD_TOKEN or --token-file)`));
        else resolve(t);
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 130 s')));
    req.on('error', (e) => reject(new ChaosError(ExitCode.Internal, `cannot reach the daemon at ${url.origin}: ${e.message}`)));
    req.end(payload);
  });
  let reply: { code?: number; message?: string; data?: unknown };
  try { reply = JSON.parse(text); } catch { throw new ChaosError(ExitCode.Internal, `the daemon at ${url.origin} sent a reply that is not JSON: ${text.slice(0, 200)}`); }
  if (typeof reply.code !== 'number') throw new ChaosError(ExitCode.Internal, `unexpected reply from ${url.origin}: ${text.slice(0, 200)}`);
  if (reply.code !== 0) throw new ChaosError(reply.code in ExitCode ? reply.code : ExitCode.Unknown, reply.message ?? 'failed');
  return reply.data;
}
