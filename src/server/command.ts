/**
 * `chaosmetad server`: reads its configuration (config.ts), opens the engine, starts the daemon (deadlines, leases,
 * schedules) and its listeners (listeners.ts), logs (logger.ts) and serves until SIGTERM or SIGINT.
 */
import * as fs from 'node:fs';
import { ChaosCommand, cliValues, dataDirFlag, oclifFlagsOf } from '../oclif/base';
import { SERVER_FLAGS, serverConfig, tokens } from './config';
import { isLoopback } from './guard';
import { daemonGauges } from './gauges';
import { eventLog } from './logger';
import { lazy } from '../util/lazy';

// loaded when the server starts, not at the top: node:http cannot be part of the single executable's start-up snapshot
const listenersModule = lazy<typeof import('./listeners')>(() => require('./listeners'));
const daemonModule = lazy<typeof import('../engine/daemon')>(() => require('../engine/daemon'));
const metricsModule = lazy<typeof import('./metrics')>(() => require('./metrics'));
const localApiModule = lazy<typeof import('../api/local')>(() => require('../api/local'));
const drillDaemonModule = lazy<typeof import('../drill/daemon')>(() => require('../drill/daemon'));
const localDrillModule = lazy<typeof import('../drill/local')>(() => require('../drill/local'));

export default class Server extends ChaosCommand {
  static override summary = "Run the HTTP daemon (the original's API), on loopback unless told otherwise";
  static override description =
    'Serves POST /v1/experiment/inject|query|recover|renew|check, /v1/schedule/query|remove, ' +
    '/v1/drill/run|plan|query|abort|schedule (drills: its drill schedules fire here), GET /v1/version, /healthz, ' +
    '/metrics and /openapi.json on 127.0.0.1:29595 (and/or a Unix socket). Recovers experiments at their deadline or ' +
    'lease expiry (also ones the CLI injected), recovers what expired while it was down, and fires schedules. Every ' +
    'listener needs a bearer token: --token-file, $CREDENTIALS_DIRECTORY/token (systemd LoadCredential=), ' +
    'CHAOSMETAD_TOKEN, or DATA_DIR/token (generated root-only on first ' +
    'start; the local CLI\'s --server reads it); clients send "Authorization: Bearer <token>". A read-only token ' +
    '(--read-only-token-file, or DATA_DIR/token-ro, generated likewise) may only query, check, list schedules and read ' +
    '/metrics, /v1/version and /openapi.json (403 otherwise). Requests from web pages ' +
    '(an Origin header), POSTs that are not application/json and Host headers that do not name this daemon are refused; ' +
    'recover_cmd over HTTP, and drills with command probes, only with --allow-recover-cmd. On SIGTERM the drills ' +
    'running here are aborted and their faults recovered before it exits.';
  static override examples = [
    'chaosmetad server',
    'chaosmetad server --token-file /etc/chaosmetad/token -a 0.0.0.0 -p 29595 --cert /etc/chaosmetad/tls.crt --key /etc/chaosmetad/tls.key',
    'chaosmetad server --socket /run/chaosmetad.sock',
    'systemd-run --unit chaosmetad /usr/local/bin/chaosmetad server',
  ];
  static override flags = { ...oclifFlagsOf(SERVER_FLAGS), 'data-dir': dataDirFlag };

  async run(): Promise<void> {
    const config = serverConfig(cliValues((await this.parse(Server)).flags));
    const { listen, closedBySignal } = listenersModule();
    const { Daemon } = daemonModule();
    const { Metrics } = metricsModule();
    const { LocalApi } = localApiModule();
    const { listen: at } = config;
    const engine = this.engine(config.dataDir, { watcher: true, retention: config.retention });
    const { log, flush } = eventLog();
    process.on('exit', flush);
    const metrics = new Metrics();
    const startedAt = Date.now();
    const auth = tokens(config, engine.dataDir, log);
    if (config.insecureNoAuth)
      log({
        level: 'warning',
        event: 'insecure-no-auth',
        message:
          'no token: every local user (and any process on this host) can inject and recover as root through this daemon',
      });
    if (at.tcp && !isLoopback(at.tcp.host) && !at.tls)
      log({
        level: 'warning',
        event: 'plain-http',
        message: `listening on ${at.tcp.host} without TLS: the bearer token and every request travel in clear; use --cert/--key`,
      });
    if (config.allowRecoverCmd)
      log({
        level: 'warning',
        event: 'allow-recover-cmd',
        message: 'recover_cmd over HTTP is allowed: every token holder can run any command as root',
      });
    const daemon = new Daemon(engine, log, metrics);
    const api = new LocalApi(engine);
    // the drills it runs: the runner's `server` names this daemon (its address, once it listens)
    const where: { server?: string } = { server: at.socket?.file ?? (at.tcp ? `${at.tcp.host}:${at.tcp.port}` : '') };
    const drills = new (drillDaemonModule().DrillDaemon)(
      new (localDrillModule().LocalDrillApi)(engine, where),
      log,
      metrics,
    );
    daemon.lock();
    daemon.refreshGauges();
    let listeners;
    try {
      listeners = await listen(at, {
        api,
        tokens: auth,
        allowRecoverCmd: config.allowRecoverCmd,
        log,
        metrics,
        gauges: daemonGauges(() => daemon.gauges, startedAt),
        changed: () => daemon.refreshGauges(),
        drills,
      });
    } catch (e) {
      await daemon.stop();
      throw e;
    }
    if (at.tcp && !at.socket) where.server = `${at.tcp.host}:${listeners.port}`;
    log({
      event: 'listening',
      ...(at.tcp ? { addr: at.tcp.host, port: listeners.port } : {}),
      ...(at.socket ? { socket: at.socket.file } : {}),
      ...(at.metrics ? { metrics: `${at.metrics.host}:${at.metrics.port}` } : {}),
      tls: !!at.tls,
      auth: auth.token
        ? `bearer${auth.tokenFile ? ` (token in ${auth.tokenFile})` : ''}${auth.readTokenFile ? `, read-only token in ${auth.readTokenFile}` : ''}`
        : 'none (--insecure-no-auth)',
      data_dir: engine.dataDir,
    });
    await daemon.start();
    drills.start();
    // every drill running here aborted and its faults recovered while the engine is open and the listeners too
    await closedBySignal(listeners, log, () => drills.stop());
    await drills.stop();
    await daemon.stop();
    if (at.socket) {
      try {
        fs.rmSync(at.socket.file);
      } catch {
        /* gone */
      }
    }
    log({ event: 'stopped' });
    flush();
  }
}
