import { Flags } from '@oclif/core';
import * as fs from 'node:fs';
import { badArgs } from '../errors';
import { ChaosCommand, dataDirFlag } from './base';

export default class Server extends ChaosCommand {
  static override summary = 'Run the HTTP daemon (the original\'s API), on loopback unless told otherwise';
  static override description =
    'Serves POST /v1/experiment/inject|query|recover|renew|check, /v1/schedule/query|remove, GET /v1/version, /healthz, ' +
    '/metrics and /openapi.json on 127.0.0.1:29595. Recovers experiments at their deadline or lease expiry (also ones ' +
    'the CLI injected), recovers what expired while it was down, and fires schedules. Binding beyond loopback needs a ' +
    'bearer token (--token-file or CHAOSMETAD_TOKEN); clients send "Authorization: Bearer <token>".';
  static override examples = [
    'chaosmetad server',
    'CHAOSMETAD_TOKEN=s3cret-token chaosmetad server -a 0.0.0.0 -p 29595 --cert /etc/chaosmetad/tls.crt --key /etc/chaosmetad/tls.key',
    'systemd-run --unit chaosmetad /usr/local/bin/chaosmetad server',
  ];
  static override flags = {
    addr: Flags.string({ char: 'a', description: 'address to listen on (default 127.0.0.1)' }),
    port: Flags.string({ char: 'p', description: 'port (default 29595)' }),
    'token-file': Flags.string({ description: 'file holding the bearer token (else env CHAOSMETAD_TOKEN)' }),
    cert: Flags.string({ description: 'TLS certificate (PEM); with --key serves HTTPS' }),
    key: Flags.string({ description: 'TLS private key (PEM)' }),
    'data-dir': dataDirFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Server);
    // loaded here, not at the top: node:http cannot be part of the single executable's start-up snapshot
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { createServer, isLoopback } = require('../server/http') as typeof import('../server/http');
    const { Daemon } = require('../server/daemon') as typeof import('../server/daemon');
    const { Metrics } = require('../server/metrics') as typeof import('../server/metrics');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const host = flags.addr ?? '127.0.0.1';
    const port = flags.port === undefined ? 29595 : Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 || !/^\d+$/.test(flags.port ?? '0')) throw badArgs(`--port must be an integer in 0..65535, got "${flags.port}"`);
    let token = process.env.CHAOSMETAD_TOKEN || undefined;
    if (flags['token-file']) {
      try { token = fs.readFileSync(flags['token-file'], 'utf8').trim(); } catch (e) { throw badArgs(`--token-file: ${(e as Error).message}`); }
    }
    if (token !== undefined && token.length < 8) throw badArgs('the token must be at least 8 characters');
    if (!isLoopback(host) && !token) throw badArgs(`--addr ${host} is beyond loopback: give a bearer token (--token-file or CHAOSMETAD_TOKEN) first`);
    if (!!flags.cert !== !!flags.key) throw badArgs('--cert and --key go together');
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (flags.cert && flags.key) {
      try { tls = { cert: fs.readFileSync(flags.cert), key: fs.readFileSync(flags.key) }; } catch (e) { throw badArgs(`--cert/--key: ${(e as Error).message}`); }
    }
    const engine = this.engine(flags['data-dir'], { watcher: true });
    const log = (e: Record<string, unknown>) => process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
    const metrics = new Metrics();
    const startedAt = Date.now();
    const gauges = () => {
      const byKey = engine.store.counts().map((c) => ({ labels: { status: c.status, target: c.target }, v: c.n }));
      return [
        { name: 'chaosmetad_experiments', help: 'Experiments in the store by status and target', values: byKey },
        { name: 'chaosmetad_schedules', help: 'Registered schedules', values: [{ labels: {}, v: engine.store.schedules().length }] },
        { name: 'chaosmetad_process_resident_memory_bytes', help: 'Daemon RSS', values: [{ labels: {}, v: process.memoryUsage.rss() }] },
        { name: 'chaosmetad_uptime_seconds', help: 'Seconds since the daemon started', values: [{ labels: {}, v: (Date.now() - startedAt) / 1000 }] },
      ];
    };
    const daemon = new Daemon(engine, log, metrics);
    daemon.lock();
    let server;
    try {
      server = createServer(engine, { host, port, token, tls }, log, metrics, gauges);
      await new Promise<void>((resolve, reject) => { server!.once('error', reject); server!.listen(port, host, () => resolve()); });
    } catch (e) {
      await daemon.stop();
      throw badArgs(`cannot listen on ${host}:${port}: ${(e as Error).message}`);
    }
    const bound = server.address();
    log({ event: 'listening', addr: host, port: typeof bound === 'object' && bound ? bound.port : port, tls: !!tls, auth: token ? 'bearer' : 'none (loopback)', data_dir: engine.dataDir });
    await daemon.start();
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) { log({ event: 'already-stopping', signal: sig }); return; } // finish in-flight requests anyway
        stopping = true;
        log({ event: 'stopping', signal: sig });
        server!.close(() => resolve());
        server!.closeIdleConnections();
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
    await daemon.stop();
    log({ event: 'stopped' });
  }
}
