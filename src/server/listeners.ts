/**
 * The daemon's listeners: the API on TCP and/or a Unix socket, and a metrics-only port; and their end (SIGTERM or
 * SIGINT: no new connection, the requests in flight finish). Loaded when the server starts: node:http cannot be part
 * of the single executable's start-up snapshot.
 */
import * as fs from 'node:fs';
import type { Server } from 'node:http';
import type { ChaosApi } from '../api/api';
import type { DrillDaemon } from '../drill/daemon';
import { badArgs } from '../errors';
import type { ListenConfig, Tokens } from './config';
import type { Gauges } from './gauges';
import { allowedHosts } from './guard';
import { MAX_CONNECTIONS, createMetricsServer, createServer } from './http';
import type { EventLog } from './logger';
import type { Metrics } from './metrics';

/** What the API listeners serve, and who is told of a change (the store's gauges are read again). */
export interface ListenDeps {
  api: ChaosApi;
  tokens: Tokens;
  allowRecoverCmd: boolean;
  log: EventLog;
  metrics: Metrics;
  gauges: () => Gauges;
  changed: () => void;
  /** the daemon's drills (POST /v1/drill/…) */
  drills?: DrillDaemon;
}

export interface Listeners {
  servers: Server[];
  /** the TCP port bound (the one asked for, or the kernel's pick for port 0) */
  port?: number;
}

/** Listen as configured; when one listener cannot, the others are closed and it is BadArgs saying where. */
export async function listen(c: ListenConfig, d: ListenDeps): Promise<Listeners> {
  const maxConnections = c.maxConnections ?? MAX_CONNECTIONS;
  const limits = { maxConnections, changed: d.changed, drills: d.drills };
  const common = {
    token: d.tokens.token,
    readToken: d.tokens.readToken,
    tls: c.tls,
    origins: c.origins,
    allowRecoverCmd: d.allowRecoverCmd,
  };
  const out: Listeners = { servers: [] };
  try {
    if (c.tcp) {
      const hosts = allowedHosts(c.tcp.host, c.extraHosts);
      const server = createServer(d.api, { ...common, hosts }, d.log, d.metrics, d.gauges, limits);
      out.servers.push(server);
      await listening(server, (s, cb) => s.listen(c.tcp!.port, c.tcp!.host, cb));
      const bound = server.address();
      out.port = typeof bound === 'object' && bound ? bound.port : c.tcp.port;
    }
    if (c.socket) {
      const server = createServer(d.api, { ...common, hosts: undefined }, d.log, d.metrics, d.gauges, limits);
      out.servers.push(server);
      await listenUnix(server, c.socket.file, c.socket.gid);
    }
    if (c.metrics) {
      // counts and latencies only: nothing to steer, nothing secret, so no token (Prometheus scrapes it as is);
      // each scrape renders memory (no SQL), and the listener has the API's connection cap and time limits
      const server = createMetricsServer(d.metrics, d.gauges, maxConnections);
      out.servers.push(server);
      await listening(server, (s, cb) => s.listen(c.metrics!.port, c.metrics!.host, cb));
    }
  } catch (e) {
    for (const s of out.servers) s.close();
    const where = c.socket && !c.tcp ? c.socket.file : `${c.tcp?.host ?? '127.0.0.1'}:${c.tcp?.port ?? 29595}`;
    throw badArgs(`cannot listen on ${where}: ${(e as Error).message}`);
  }
  return out;
}

function listening(server: Server, start: (s: Server, cb: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    start(server, () => resolve());
  });
}

/**
 * Resolves once SIGTERM or SIGINT has closed every listener (in-flight requests finish, idle connections close);
 * a second signal is only logged. `first`, when given, runs before the listeners close (the drills aborted, while
 * their clients can still read how they ended).
 */
export function closedBySignal(l: Listeners, log: EventLog, first?: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const close = () => {
      let open = l.servers.length;
      if (!open) resolve();
      for (const s of l.servers) {
        s.close(() => {
          if (--open === 0) resolve();
        });
        s.closeIdleConnections();
      }
    };
    const stop = (sig: string) => {
      if (stopping) {
        log({ event: 'already-stopping', signal: sig });
        return;
      } // finish in-flight requests anyway
      stopping = true;
      log({ event: 'stopping', signal: sig });
      if (!first) return close();
      first().then(close, (e: Error) => {
        log({ event: 'stop-error', error: e.message });
        close();
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

/** Listen on a Unix socket created mode 0600 (umask while binding: no window where others may connect). */
async function listenUnix(server: Server, file: string, gid: number | undefined): Promise<void> {
  try {
    if (fs.lstatSync(file).isSocket()) fs.unlinkSync(file);
  } catch {
    /* none */
  } // a stale socket (config.ts checked the path)
  const old = process.umask(0o177);
  try {
    await listening(server, (s, cb) => s.listen(file, cb));
  } finally {
    process.umask(old);
  }
  if (gid !== undefined) {
    fs.chownSync(file, process.getuid?.() ?? 0, gid);
    fs.chmodSync(file, 0o660);
  }
}
