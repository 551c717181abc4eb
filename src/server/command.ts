import { Flags } from '@oclif/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../errors';
import { ChaosCommand, dataDirFlag } from '../oclif/base';

export default class Server extends ChaosCommand {
  static override summary = "Run the HTTP daemon (the original's API), on loopback unless told otherwise";
  static override description =
    'Serves POST /v1/experiment/inject|query|recover|renew|check, /v1/schedule/query|remove, GET /v1/version, /healthz, ' +
    '/metrics and /openapi.json on 127.0.0.1:29595 (and/or a Unix socket). Recovers experiments at their deadline or ' +
    'lease expiry (also ones the CLI injected), recovers what expired while it was down, and fires schedules. Every ' +
    'listener needs a bearer token: --token-file, $CREDENTIALS_DIRECTORY/token (systemd LoadCredential=), ' +
    'CHAOSMETAD_TOKEN, or DATA_DIR/token (generated root-only on first ' +
    'start; the local CLI\'s --server reads it); clients send "Authorization: Bearer <token>". A read-only token ' +
    '(--read-only-token-file, or DATA_DIR/token-ro, generated likewise) may only query, check, list schedules and read ' +
    '/metrics, /v1/version and /openapi.json (403 otherwise). Requests from web pages ' +
    '(an Origin header), POSTs that are not application/json and Host headers that do not name this daemon are refused; ' +
    'recover_cmd over HTTP only with --allow-recover-cmd.';
  static override examples = [
    'chaosmetad server',
    'chaosmetad server --token-file /etc/chaosmetad/token -a 0.0.0.0 -p 29595 --cert /etc/chaosmetad/tls.crt --key /etc/chaosmetad/tls.key',
    'chaosmetad server --socket /run/chaosmetad.sock',
    'systemd-run --unit chaosmetad /usr/local/bin/chaosmetad server',
  ];
  static override flags = {
    addr: Flags.string({ char: 'a', description: 'address to listen on (default 127.0.0.1)' }),
    port: Flags.string({ char: 'p', description: 'port (default 29595)' }),
    socket: Flags.string({
      description: 'also (or, without -a/-p, only) listen on this Unix socket, mode 0600 (0660 with --socket-group)',
      helpValue: 'PATH',
    }),
    'socket-group': Flags.string({
      description: 'with --socket: the group that may connect too (socket mode 0660)',
      helpValue: 'GROUP',
    }),
    'token-file': Flags.string({
      description:
        'file holding the bearer token (else $CREDENTIALS_DIRECTORY/token, a systemd credential; else env CHAOSMETAD_TOKEN; else DATA_DIR/token, generated on first start)',
    }),
    'read-only-token-file': Flags.string({
      description:
        'file holding the read-only token (query, check, schedule list, metrics; else DATA_DIR/token-ro, generated on first start)',
      helpValue: 'FILE',
    }),
    'insecure-no-auth': Flags.boolean({
      description: 'no token at all (loopback only; every local user can then act as root through the daemon)',
    }),
    'allow-origin': Flags.string({
      multiple: true,
      description: 'accept requests carrying this Origin header (a web UI of yours), e.g. https://chaos.example.com',
      helpValue: 'ORIGIN',
    }),
    'allow-host': Flags.string({
      multiple: true,
      description: 'accept this name in the Host header too (a DNS name clients use for this daemon)',
      helpValue: 'NAME',
    }),
    'allow-recover-cmd': Flags.boolean({
      description:
        'accept recover_cmd / recover_shell over HTTP (remote root: every token holder can run any command as root)',
    }),
    'metrics-addr': Flags.string({
      description:
        'also serve GET /metrics and /healthz, and nothing else, without a token on HOST:PORT (e.g. 10.0.0.5:29596 or [fd00::5]:29596: Prometheus scraping each node)',
      helpValue: 'HOST:PORT',
    }),
    'max-connections': Flags.string({
      description: 'open connections per listener (default 256); beyond it the oldest idle one is closed',
      helpValue: 'N',
    }),
    retention: Flags.string({
      description:
        'keep finished experiments (destroyed, or failed with nothing left to undo) this long (env CHAOSMETAD_RETENTION; default 30d; 0 = no age limit)',
      helpValue: 'DURATION',
    }),
    'retention-rows': Flags.string({
      description:
        'keep at most this many finished experiments, the newest (env CHAOSMETAD_RETENTION_ROWS; default 100000; 0 = no limit)',
      helpValue: 'N',
    }),
    cert: Flags.string({ description: 'TLS certificate (PEM); with --key serves HTTPS' }),
    key: Flags.string({ description: 'TLS private key (PEM)' }),
    'data-dir': dataDirFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Server);
    // loaded here, not at the top: node:http cannot be part of the single executable's start-up snapshot
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { createServer, createMetricsServer, MAX_CONNECTIONS } = require('./http') as typeof import('./http');
    const { READ_TOKEN_FILE, allowedHosts, daemonToken, isLoopback, readSecretFile } =
      require('./guard') as typeof import('./guard');
    const { Daemon } = require('../engine/clock') as typeof import('../engine/clock');
    const { parseRetention } = require('../engine/engine') as typeof import('../engine/engine');
    const { Metrics } = require('./metrics') as typeof import('./metrics');
    const { LocalApi } = require('../api/local') as typeof import('../api/local');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const tcp = !flags.socket || flags.addr !== undefined || flags.port !== undefined;
    const host = flags.addr ?? '127.0.0.1';
    const port = flags.port === undefined ? 29595 : Number(flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 || !/^\d+$/.test(flags.port ?? '0'))
      throw badArgs(`--port must be an integer in 0..65535, got "${flags.port}"`);
    if (flags['socket-group'] && !flags.socket) throw badArgs('--socket-group goes with --socket');
    const socketGid = flags['socket-group'] ? groupId(flags['socket-group']) : undefined;
    if (flags.socket) checkSocketPath(flags.socket);
    let token = process.env.CHAOSMETAD_TOKEN || undefined;
    // a systemd credential (LoadCredential=token:…): a file only this service can read, where an Environment= line
    // of the unit is shown to every user by systemctl show
    const credential = credentialFile();
    const tokenFrom = flags['token-file'] ?? credential;
    if (tokenFrom) {
      try {
        token = readSecretFile(tokenFrom, flags['token-file'] ? '--token-file' : 'the systemd credential');
      } catch (e) {
        throw badArgs(
          `${flags['token-file'] ? '--token-file' : '$CREDENTIALS_DIRECTORY/token'}: ${(e as Error).message}`,
        );
      }
    }
    const maxConnections = flags['max-connections'] === undefined ? MAX_CONNECTIONS : Number(flags['max-connections']);
    if (!/^\d{1,6}$/.test(flags['max-connections'] ?? '1') || maxConnections < 1)
      throw badArgs(`--max-connections must be a number from 1, got "${flags['max-connections']}"`);
    const retention = parseRetention(
      flags.retention ?? process.env.CHAOSMETAD_RETENTION,
      flags['retention-rows'] ?? process.env.CHAOSMETAD_RETENTION_ROWS,
      {
        age: flags.retention === undefined ? 'CHAOSMETAD_RETENTION' : '--retention',
        rows: flags['retention-rows'] === undefined ? 'CHAOSMETAD_RETENTION_ROWS' : '--retention-rows',
      },
    );
    if (token !== undefined && token.length < 8) throw badArgs('the token must be at least 8 characters');
    let readToken: string | undefined;
    if (flags['read-only-token-file']) {
      try {
        readToken = readSecretFile(flags['read-only-token-file'], '--read-only-token-file');
      } catch (e) {
        throw badArgs(`--read-only-token-file: ${(e as Error).message}`);
      }
      if (readToken.length < 8) throw badArgs('the read-only token must be at least 8 characters');
    }
    if (flags['insecure-no-auth']) {
      if (token || readToken)
        throw badArgs(
          '--insecure-no-auth and a token (--token-file, a systemd credential, --read-only-token-file or CHAOSMETAD_TOKEN) contradict each other; choose one',
        );
      if (tcp && !isLoopback(host))
        throw badArgs(`--insecure-no-auth is only allowed on loopback; --addr ${host} is beyond it`);
    }
    let metricsAt: { host: string; port: number } | undefined;
    if (flags['metrics-addr'] !== undefined) {
      // a bare IPv6 address is taken too (the DaemonSet's $(POD_IP):29596 on an IPv6 cluster): the port is last
      const m = /^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(
        flags['metrics-addr'],
      );
      if (!m || Number(m[2]) > 65535)
        throw badArgs(`--metrics-addr must be HOST:PORT, e.g. 0.0.0.0:29596, got "${flags['metrics-addr']}"`);
      metricsAt = { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
    }
    if (!!flags.cert !== !!flags.key) throw badArgs('--cert and --key go together');
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (flags.cert && flags.key) {
      try {
        tls = { cert: fs.readFileSync(flags.cert), key: fs.readFileSync(flags.key) };
      } catch (e) {
        throw badArgs(`--cert/--key: ${(e as Error).message}`);
      }
    }
    const origins = new Set(
      (flags['allow-origin'] ?? [])
        .flatMap((o) => o.split(','))
        .map((o) => o.trim().toLowerCase())
        .filter(Boolean),
    );
    for (const o of origins)
      if (!/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/.test(o))
        throw badArgs(`--allow-origin must be an origin like https://ui.example.com:8443, got ${JSON.stringify(o)}`);
    const extraHosts = (flags['allow-host'] ?? [])
      .flatMap((h) => h.split(','))
      .map((h) => h.trim())
      .filter(Boolean);
    for (const h of extraHosts)
      if (!/^[A-Za-z0-9._:-]{1,253}$/.test(h))
        throw badArgs(`--allow-host must be a host name or address, got ${JSON.stringify(h)}`);
    const engine = this.engine(flags['data-dir'], { watcher: true, retention });
    // one JSON line per event, written together at most every 10 ms (and at exit): a write per request (stdout is
    // synchronous for files and pipes) cost ~40 µs of each query request under load, one per turn of the event
    // loop still ~8 µs (under load a turn holds one or two requests)
    let pending: string[] = [];
    const flush = () => {
      if (!pending.length) return;
      const text = pending.join('');
      pending = [];
      process.stdout.write(text);
    };
    process.on('exit', flush);
    // the time's text is made once per millisecond and put in front of the event's own JSON (no spread copy):
    // 2.3 µs a line where {time, ...e} cost 4.5
    let isoMs = 0;
    let iso = '';
    const log = (e: Record<string, unknown>) => {
      const now = Date.now();
      if (now !== isoMs) iso = new Date((isoMs = now)).toISOString();
      const rest = JSON.stringify(e);
      pending.push(rest === '{}' ? `{"time":"${iso}"}\n` : `{"time":"${iso}",${rest.slice(1)}\n`);
      if (pending.length === 1) setTimeout(flush, 10);
    };
    const metrics = new Metrics();
    const startedAt = Date.now();
    // the store's gauges as the daemon last read them (when the store changed): a scrape runs no SQL
    let daemonGauges = (): import('../engine/clock').StoreGauges => ({
      experiments: [],
      schedules: 0,
      recoverFailures: 0,
      recoverFailing: 0,
    });
    const gauges = () => {
      const g = daemonGauges();
      return [
        {
          name: 'chaosmetad_experiments',
          help: 'Experiments in the store by status and target',
          values: g.experiments.map((c) => ({ labels: { status: c.status, target: c.target }, v: c.n })),
        },
        { name: 'chaosmetad_schedules', help: 'Registered schedules', values: [{ labels: {}, v: g.schedules }] },
        {
          name: 'chaosmetad_recover_failures',
          help: 'Failed recovers of experiments still to recover (each is retried)',
          values: [{ labels: {}, v: g.recoverFailures }],
        },
        {
          name: 'chaosmetad_experiments_recover_failing',
          help: 'Experiments still to recover whose last recover failed',
          values: [{ labels: {}, v: g.recoverFailing }],
        },
        {
          name: 'chaosmetad_process_resident_memory_bytes',
          help: 'Daemon RSS',
          values: [{ labels: {}, v: process.memoryUsage.rss() }],
        },
        {
          name: 'chaosmetad_uptime_seconds',
          help: 'Seconds since the daemon started',
          values: [{ labels: {}, v: (Date.now() - startedAt) / 1000 }],
        },
      ];
    };
    // the data dir's token files (made on first start) when no other source gave one
    const fromDataDir = (file: string | undefined, note: string) => {
      const t = daemonToken(engine.dataDir, file);
      if (t.created) log({ event: 'token-created', file: t.file, note });
      return t;
    };
    let tokenFile: string | undefined;
    if (!token && !flags['insecure-no-auth']) {
      ({ token, file: tokenFile } = fromDataDir(
        undefined,
        'clients on this host read it automatically; give it to remote clients with --token-file',
      ));
    }
    let readTokenFile = flags['read-only-token-file'];
    if (!readToken && !flags['insecure-no-auth']) {
      ({ token: readToken, file: readTokenFile } = fromDataDir(
        READ_TOKEN_FILE,
        'the read-only token: query, check, schedule list and metrics only',
      ));
    }
    if (readToken !== undefined && readToken === token)
      throw badArgs(`the read-only token (${readTokenFile}) is the full token: give it a token of its own`);
    if (flags['insecure-no-auth'])
      log({
        level: 'warning',
        event: 'insecure-no-auth',
        message:
          'no token: every local user (and any process on this host) can inject and recover as root through this daemon',
      });
    if (tcp && !isLoopback(host) && !tls)
      log({
        level: 'warning',
        event: 'plain-http',
        message: `listening on ${host} without TLS: the bearer token and every request travel in clear; use --cert/--key`,
      });
    if (flags['allow-recover-cmd'])
      log({
        level: 'warning',
        event: 'allow-recover-cmd',
        message: 'recover_cmd over HTTP is allowed: every token holder can run any command as root',
      });
    const daemon = new Daemon(engine, log, metrics);
    const api = new LocalApi(engine);
    daemon.lock();
    daemon.refreshGauges();
    daemonGauges = () => daemon.gauges;
    const limits = { maxConnections, changed: () => daemon.refreshGauges() };
    const servers: import('node:http').Server[] = [];
    const common = { token, readToken, tls, origins, allowRecoverCmd: !!flags['allow-recover-cmd'] };
    let boundPort: number | undefined;
    try {
      if (tcp) {
        const server = createServer(
          api,
          { ...common, hosts: allowedHosts(host, extraHosts) },
          log,
          metrics,
          gauges,
          limits,
        );
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => resolve());
        });
        const bound = server.address();
        boundPort = typeof bound === 'object' && bound ? bound.port : port;
      }
      if (flags.socket) {
        const server = createServer(api, { ...common, hosts: undefined }, log, metrics, gauges, limits);
        servers.push(server);
        await listenUnix(server, flags.socket, socketGid);
      }
      if (metricsAt) {
        // counts and latencies only: nothing to steer, nothing secret, so no token (Prometheus scrapes it as is);
        // each scrape renders memory (no SQL), and the listener has the API's connection cap and time limits
        const server = createMetricsServer(metrics, gauges, maxConnections);
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(metricsAt.port, metricsAt.host, () => resolve());
        });
      }
    } catch (e) {
      for (const s of servers) s.close();
      await daemon.stop();
      throw badArgs(
        `cannot listen on ${flags.socket && !tcp ? flags.socket : `${host}:${port}`}: ${(e as Error).message}`,
      );
    }
    log({
      event: 'listening',
      ...(tcp ? { addr: host, port: boundPort } : {}),
      ...(flags.socket ? { socket: flags.socket } : {}),
      ...(metricsAt ? { metrics: `${metricsAt.host}:${metricsAt.port}` } : {}),
      tls: !!tls,
      auth: token
        ? `bearer${tokenFile ? ` (token in ${tokenFile})` : ''}${readTokenFile ? `, read-only token in ${readTokenFile}` : ''}`
        : 'none (--insecure-no-auth)',
      data_dir: engine.dataDir,
    });
    await daemon.start();
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) {
          log({ event: 'already-stopping', signal: sig });
          return;
        } // finish in-flight requests anyway
        stopping = true;
        log({ event: 'stopping', signal: sig });
        let open = servers.length;
        for (const s of servers) {
          s.close(() => {
            if (--open === 0) resolve();
          });
          s.closeIdleConnections();
        }
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
    await daemon.stop();
    if (flags.socket) {
      try {
        fs.rmSync(flags.socket);
      } catch {
        /* gone */
      }
    }
    log({ event: 'stopped' });
    flush();
  }
}

/** $CREDENTIALS_DIRECTORY/token when systemd passed that credential (LoadCredential=token:…), else undefined. */
function credentialFile(): string | undefined {
  const dir = process.env.CREDENTIALS_DIRECTORY;
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

/** Listen on a Unix socket created mode 0600 (umask while binding: no window where others may connect). */
async function listenUnix(server: import('node:http').Server, file: string, gid: number | undefined): Promise<void> {
  try {
    if (fs.lstatSync(file).isSocket()) fs.unlinkSync(file);
  } catch {
    /* none */
  } // a stale socket (checkSocketPath ran)
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  if (gid !== undefined) {
    fs.chownSync(file, process.getuid?.() ?? 0, gid);
    fs.chmodSync(file, 0o660);
  }
}
