#!/usr/bin/env node
// Daemon benchmark (prints numbers, asserts nothing): the single executable's `server` on a loopback port, driven
// by a keep-alive load generator in this process. query req/s and p50/p99 at 10 000 stored rows; inject+recover of a
// file fault under concurrency; daemon RSS after the requests. Targets (2 cores): >= 2000 query req/s, p99 <= 10 ms,
// RSS <= 100 MB.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const exe = fs.existsSync(path.join(root, 'dist', 'chaosmetad')) ? path.join(root, 'dist', 'chaosmetad') : null;
const QUERIES = Number(process.env.BENCH_QUERIES || 10_000);
const CYCLES = Number(process.env.BENCH_CYCLES || 1_000);
const WRK_ROUNDS = Number(process.env.BENCH_WRK_ROUNDS || 5);
const WRK_SECS = Number(process.env.BENCH_WRK_SECS || 4);
// wrk's threads (-t): 2 by default; with 1 the server has a core of its own on a 2-core machine
const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS || 2);
// the daemon runs as the shipped systemd unit runs it (its V8 heap option), or with BENCH_DAEMON_NODE_OPTIONS
const UNIT = fs.readFileSync(path.join(__dirname, 'systemd', 'chaosmetad.service'), 'utf8');
const DAEMON_NODE_OPTIONS =
  process.env.BENCH_DAEMON_NODE_OPTIONS ?? /^Environment=NODE_OPTIONS=(.*)$/m.exec(UNIT)?.[1] ?? '';

function rss(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)[1]);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

function seed(dir, n) {
  spawnSync(exe, ['query'], { env: { ...process.env, CHAOSMETAD_DATA_DIR: dir } }); // create + migrate
  const Database = require('better-sqlite3');
  const db = new Database(path.join(dir, 'chaosmetad.db'));
  const ins =
    db.prepare(`INSERT INTO experiments (uid,target,fault,args,runtime,status,phase,creator,timeout,deadline,error,create_time,update_time,create_ms,update_ms,container_id,container_runtime)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const now = Date.now() - 86_400_000;
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const t = new Date(now - i * 1000).toISOString().replace('T', ' ').slice(0, 19);
      ins.run(
        `seed-${i}`,
        i % 2 ? 'cpu' : 'mem',
        i % 2 ? 'burn' : 'fill',
        '{"percent":50}',
        '{}',
        'destroyed',
        'recovered',
        'root',
        '10m',
        null,
        '',
        t,
        t,
        now - i * 1000,
        now - i * 1000,
        '',
        '',
      );
    }
  })();
  db.close();
}

function start(dir) {
  const proc = spawn(exe, ['server', '-p', '0'], {
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dir, NODE_OPTIONS: DAEMON_NODE_OPTIONS },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /"event":"listening".*"port":(\d+)/.exec(out);
      if (m) {
        proc.stdout.removeAllListeners('data');
        proc.stdout.resume();
        TOKEN = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
        resolve({ proc, port: Number(m[1]) });
      }
    });
    proc.on('exit', (c) => reject(new Error(`server exited ${c}: ${out}`)));
  });
}

/** The daemon's token (generated into its data dir on first start). */
let TOKEN = '';

function post(agent, port, p, body) {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: p,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          authorization: `Bearer ${TOKEN}`,
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          const json = JSON.parse(Buffer.concat(chunks).toString());
          if (json.code !== 0) reject(new Error(`${p}: ${json.message}`));
          else resolve(ms);
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** n requests from `concurrency` keep-alive clients; each job(i) returns the latencies it measured */
async function load(n, concurrency, job) {
  const lat = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        lat.push(...(await job(i)));
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { secs, lat };
}

/**
 * wrk's summary: req/s, p50, p99 (ms). Run without blocking this process: the daemon's log goes to a pipe read here,
 * and a blocked reader would make it queue every log line in memory (under systemd, journald reads it).
 */
async function wrk(url, token, secs = WRK_SECS) {
  const lua = path.join(os.tmpdir(), `cmd-bench-wrk-${process.pid}.lua`);
  fs.writeFileSync(
    lua,
    'wrk.method = "POST"\nwrk.body = \'{"limit":10}\'\nwrk.headers["Content-Type"] = "application/json"\n' +
      (token ? `wrk.headers["Authorization"] = "Bearer ${token}"\n` : ''),
  );
  const w = spawn('wrk', [`-t${WRK_THREADS}`, '-c8', `-d${secs}s`, '--latency', '-s', lua, url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  w.stdout.on('data', (d) => (stdout += d));
  w.stderr.on('data', (d) => (stderr += d));
  const status = await new Promise((resolve) => w.on('exit', resolve));
  fs.rmSync(lua, { force: true });
  if (status !== 0) throw new Error(`wrk failed: ${stderr}`);
  const ms = (label) => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(stdout);
    return m ? Number((Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]]).toFixed(3)) : NaN;
  };
  if (/Non-2xx/.test(stdout)) throw new Error(`wrk got error replies: ${stdout}`);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)[1]), p50: ms('50'), p99: ms('99') };
}

const median = (xs) => pct(xs, 0.5);

/**
 * The daemon's /v1/experiment/query (10 rows of 10 000, with its token) against a bare node:http server answering
 * a fixed JSON, both under wrk (Debian's; keep-alive, 8 connections, WRK_THREADS threads), in the same run:
 * WRK_ROUNDS rounds that alternate the two (a 2-core VM's neighbours come and go: one round alone can be 3 times
 * slower), each printed, then the median of the rounds (after a warm-up round of each).
 */
async function wrkSideBySide(port, dir) {
  if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
    console.log('wrk: not installed (apt-get install wrk): the side-by-side query benchmark is skipped');
    return;
  }
  const bare = spawn(
    process.execPath,
    [
      '-e',
      `const body = JSON.stringify({ code: 0, message: 'success', trace_id: 'x', data: { experiments: [], total: 0 } });
       const s = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => {
         r.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); r.end(body); }); });
       s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const barePort = Number(await new Promise((resolve) => bare.stdout.once('data', (d) => resolve(String(d).trim()))));
    const token = fs.readFileSync(path.join(dir, 'token'), 'utf8').trim();
    // a warm-up round of each first, not counted (the first round's p99 was 2-3 times the others', the bare
    // server's too: JIT and first connections)
    await wrk(`http://127.0.0.1:${barePort}/v1/experiment/query`, '', 2);
    await wrk(`http://127.0.0.1:${port}/v1/experiment/query`, token, 2);
    const rounds = [];
    for (let i = 0; i < WRK_ROUNDS; i++) {
      const b = await wrk(`http://127.0.0.1:${barePort}/v1/experiment/query`, '');
      const d = await wrk(`http://127.0.0.1:${port}/v1/experiment/query`, token);
      rounds.push({ b, d, ratio: d.rps / b.rps });
      console.log(
        `  wrk round ${i + 1}: bare ${b.rps.toFixed(0)} req/s (p50 ${b.p50} ms, p99 ${b.p99} ms); daemon ` +
          `${d.rps.toFixed(0)} req/s = ${(100 * (d.rps / b.rps)).toFixed(0)} % (p50 ${d.p50} ms, p99 ${d.p99} ms)`,
      );
    }
    const m = (f) => median(rounds.map(f));
    console.log(
      `wrk -t${WRK_THREADS} -c8, median of ${WRK_ROUNDS} rounds: bare node:http ${m((r) => r.b.rps).toFixed(0)} req/s (p99 ` +
        `${m((r) => r.b.p99)} ms); daemon query ${m((r) => r.d.rps).toFixed(0)} req/s = ${(100 * m((r) => r.ratio)).toFixed(0)} ` +
        `% of it (p50 ${m((r) => r.d.p50)} ms, p99 ${m((r) => r.d.p99)} ms)   (target >= 35 %, p99 <= 3 ms)`,
    );
  } finally {
    bare.kill();
  }
}

(async () => {
  if (!exe) {
    console.log('dist/chaosmetad missing: run npm run build');
    return;
  }
  console.log(
    `# daemon (dist/chaosmetad server, NODE_OPTIONS=${DAEMON_NODE_OPTIONS || '(none)'}), ${os.cpus().length} cores, ` +
      'load generator: this node process, keep-alive',
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-d-'));
  seed(dir, 10_000);
  const { proc, port } = await start(dir);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  try {
    console.log(
      `daemon RSS at start: ${rss(proc.pid).rss.toFixed(1)} MB (private ${rss(proc.pid).anon.toFixed(1)} MB, executable pages ${rss(proc.pid).file.toFixed(1)} MB)`,
    );
    // first, before the agent below holds idle keep-alive sockets (the daemon closes them after 5 s)
    await wrkSideBySide(port, dir);
    await load(500, 8, async () => [await post(agent, port, '/v1/experiment/query', {})]); // warm up
    for (const c of [8, 32]) {
      const { secs, lat } = await load(QUERIES, c, async () => [await post(agent, port, '/v1/experiment/query', {})]);
      console.log(
        `query (10 rows of 10 000), ${QUERIES} requests, concurrency ${c}: ${(QUERIES / secs).toFixed(0)} req/s, p50 ${pct(lat, 0.5).toFixed(2)} ms, p99 ${pct(lat, 0.99).toFixed(2)} ms   (target >= 2000 req/s, p99 <= 10 ms)`,
      );
    }
    const files = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-f-'));
    const inj = [];
    const rec = [];
    const { secs } = await load(CYCLES, 8, async (i) => {
      const uid = `bench-file-${i}`;
      const a = await post(agent, port, '/v1/experiment/inject', {
        target: 'file',
        fault: 'add',
        args: JSON.stringify({ path: path.join(files, `f${i}`), content: 'x' }),
        uid,
      });
      const b = await post(agent, port, '/v1/experiment/recover', { uid });
      inj.push(a);
      rec.push(b);
      return [];
    });
    const left = fs.readdirSync(files).length;
    console.log(
      `inject+recover file add, ${CYCLES} cycles, concurrency 8: ${(CYCLES / secs).toFixed(0)} cycles/s; inject p50 ${pct(inj, 0.5).toFixed(2)} ms p99 ${pct(inj, 0.99).toFixed(2)} ms; recover p50 ${pct(rec, 0.5).toFixed(2)} ms p99 ${pct(rec, 0.99).toFixed(2)} ms; files left ${left}`,
    );
    const r = rss(proc.pid);
    console.log(
      `daemon RSS after ${QUERIES * 2 + 500 + CYCLES * 2} requests: ${r.rss.toFixed(1)} MB (private ${r.anon.toFixed(1)} MB, executable pages ${r.file.toFixed(1)} MB)   (target <= 100 MB)`,
    );
    fs.rmSync(files, { recursive: true, force: true });
  } finally {
    agent.destroy();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.on('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
