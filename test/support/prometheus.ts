/**
 * Debian's real Prometheus (/usr/bin/prometheus) and node exporter (/usr/bin/prometheus-node-exporter) for the
 * tests, each on a free loopback port, in a temporary directory of its own (config, rules, TSDB, log), stopped and
 * removed by stop(). startPrometheus returns once every target was scraped up (waitForTargets: false, at once).
 * Prometheus scrapes itself every second (job `prometheus`) and any scrapeTargets given (one job
 * each: `target-0`, `target-1`, …); `rules` is a rule file's text (groups: …), evaluated every evaluationInterval.
 * Or `configFile`: a config file used as it is (an example's, its rule files next to it), and `port`: a fixed port
 * (an example's) instead of a free one.
 *
 *   const prom = await startPrometheus({ scrapeTargets: [exporter.url], rules: 'groups: [...]' });
 *   … fetch(`${prom.url}/api/v1/query?query=up`) …
 *   await prom.stop();
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const PROMETHEUS = '/usr/bin/prometheus';
export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';

export interface Started {
  /** http://127.0.0.1:PORT */
  url: string;
  /** its temporary directory (config, data, log) */
  dir: string;
  pid: number;
  /** what it logged so far */
  log(): string;
  /** stop it (SIGTERM, then SIGKILL after 5 s) and remove its directory; idempotent */
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** a rule file's text (YAML: `groups: …`) */
  rules?: string;
  /** more things to scrape: URLs (http://host:port/path, default path /metrics) or host:port */
  scrapeTargets?: string[];
  /** how often rules are evaluated (default 1s) */
  evaluationInterval?: string;
  /** how often targets are scraped (default 1s) */
  scrapeInterval?: string;
  /**
   * return only once every target was scraped up (default true): Prometheus is ready at once but its first scrape
   * comes ~5 s later (its discovery manager sends target updates at most every 5 s)
   */
  waitForTargets?: boolean;
  /** a config file used as it is (rules, scrapeTargets and the intervals are then ignored) */
  configFile?: string;
  /** listen on this loopback port (default: a free one) */
  port?: number;
}

/** Why these cannot run here ('' = they can). */
export function prometheusUnavailable(): string {
  if (!fs.existsSync(PROMETHEUS)) return `${PROMETHEUS} is not installed (apt-get install prometheus)`;
  return '';
}
export function nodeExporterUnavailable(): string {
  if (!fs.existsSync(NODE_EXPORTER))
    return `${NODE_EXPORTER} is not installed (apt-get install prometheus-node-exporter)`;
  return '';
}

/** A loopback port free now (bound, then released: the process started next takes it). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function getText(url: string, timeoutMs = 1000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}
const get = async (url: string) => (await getText(url)).status;

/** Wait until every scrape target of this Prometheus is up (at most timeoutMs). */
export async function waitForTargets(prom: { url: string }, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const r = await getText(`${prom.url}/api/v1/targets?state=active`);
    if (r.status === 200) {
      const j = JSON.parse(r.body) as { data?: { activeTargets?: Array<{ health: string; scrapeUrl: string }> } };
      const ts = j.data?.activeTargets ?? [];
      last = ts.map((t) => `${t.scrapeUrl} ${t.health}`).join(', ');
      if (ts.length && ts.every((t) => t.health === 'up')) return;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${prom.url}: its targets are not all up after ${timeoutMs / 1000} s (${last || 'none'})`);
}

const running = new Set<ChildProcess>();
// a test that dies without stop(): no Prometheus left behind
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Start argv, wait until `ready` answers 200 (or give up after timeoutMs with its log). */
async function startDaemon(
  name: string,
  dir: string,
  argv: string[],
  url: string,
  readyPath: string,
  timeoutMs = 30_000,
): Promise<Started> {
  const logFile = path.join(dir, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out], cwd: dir });
  fs.closeSync(out);
  running.add(child);
  let exited = false;
  const gone = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      r();
    }),
  );
  const log = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + timeoutMs;
  while (!exited && Date.now() < until) {
    if ((await get(url + readyPath)) === 200) return { url, dir, pid: child.pid!, log, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = exited ? 'it exited' : `not ready after ${timeoutMs / 1000} s`;
  const text = log().split('\n').slice(-15).join('\n');
  await stop();
  throw new Error(`${name} (${argv.join(' ')}): ${why}\n${text}`);
}

/** Start twice at most: the free port may be taken between freePort() and the bind. A fixed port: once. */
async function withPort(start: (port: number) => Promise<Started>, fixed?: number): Promise<Started> {
  if (fixed !== undefined) return start(fixed);
  try {
    return await start(await freePort());
  } catch (e) {
    if (!/address already in use/i.test((e as Error).message)) throw e;
    return start(await freePort());
  }
}

/** A scrape target as a job: host:port and its metrics path. */
function job(target: string, i: number) {
  const u = new URL(/^https?:\/\//.test(target) ? target : `http://${target}`);
  return {
    job_name: `target-${i}`,
    scheme: u.protocol.replace(':', ''),
    metrics_path: u.pathname === '/' ? '/metrics' : u.pathname,
    static_configs: [{ targets: [u.host] }],
  };
}

function prometheusArgv(config: string, dir: string, addr: string): string[] {
  return [
    PROMETHEUS,
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=${addr}`,
    // the console pages Debian's default points to are not needed
    `--web.console.templates=${dir}`,
    `--web.console.libraries=${dir}`,
    '--log.level=warn',
  ];
}

/** Debian's Prometheus with its own config and TSDB, scraping itself (and scrapeTargets) every second. */
export async function startPrometheus(opts: PrometheusOptions = {}): Promise<Started> {
  const prom = await withPort(async (port) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-prometheus-'));
    const addr = `127.0.0.1:${port}`;
    if (opts.configFile !== undefined)
      return startDaemon('prometheus', dir, prometheusArgv(opts.configFile, dir, addr), `http://${addr}`, '/-/ready');
    if (opts.rules !== undefined) fs.writeFileSync(path.join(dir, 'rules.yml'), opts.rules);
    // YAML is a superset of JSON: the config is written as JSON
    const config = {
      global: {
        scrape_interval: opts.scrapeInterval ?? '1s',
        scrape_timeout: opts.scrapeInterval ?? '1s',
        evaluation_interval: opts.evaluationInterval ?? '1s',
      },
      ...(opts.rules !== undefined ? { rule_files: [path.join(dir, 'rules.yml')] } : {}),
      scrape_configs: [
        { job_name: 'prometheus', static_configs: [{ targets: [addr] }] },
        ...(opts.scrapeTargets ?? []).map(job),
      ],
    };
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
    if (opts.rules !== undefined) {
      const check = spawnSync('/usr/bin/promtool', ['check', 'rules', path.join(dir, 'rules.yml')], {
        encoding: 'utf8',
      });
      if (check.status !== 0 && !check.error) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw new Error(`the rules do not load: ${check.stdout}${check.stderr}`);
      }
    }
    return startDaemon(
      'prometheus',
      dir,
      prometheusArgv(path.join(dir, 'prometheus.yml'), dir, addr),
      `http://${addr}`,
      '/-/ready',
    );
  }, opts.port);
  if (opts.waitForTargets ?? true)
    await waitForTargets(prom).catch(async (e: unknown) => {
      await prom.stop();
      throw e;
    });
  return prom;
}

/** Debian's node exporter on a free loopback port (or `port`), with only the cpu, meminfo and loadavg collectors. */
export function startNodeExporter(opts: { port?: number } = {}): Promise<Started> {
  return withPort(async (port) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-node-exporter-'));
    const addr = `127.0.0.1:${port}`;
    return startDaemon(
      'node-exporter',
      dir,
      [
        NODE_EXPORTER,
        `--web.listen-address=${addr}`,
        '--collector.disable-defaults',
        '--collector.cpu',
        '--collector.meminfo',
        '--collector.loadavg',
        '--log.level=warn',
      ],
      `http://${addr}`,
      '/metrics',
    );
  }, opts.port);
}
