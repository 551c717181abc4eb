#!/usr/bin/env node
// Benchmark (prints numbers, asserts nothing): the drill runner's own cost (lib/, so `npm run build` first).
//   (a) probes sampled per second by one runner at 100 http probes sampled every 100 ms (nominal: 1000/s), over
//       BENCH_DRILL_SECONDS (10) s;
//   (b) the runner's CPU at 10 http probes sampled every 500 ms, over BENCH_DRILL_CPU_SECONDS (20) s.
// Each runner is the real DrillRun in a child process of its own that runs nothing else, with a fault port that only
// records (its one inject step holds for the measured time; nothing is placed on the host) and a store in a
// temporary data dir. The probes are http probes (GET, each sample a new connection as the probe does: connect
// included) against a node:http server in another child process answering 200 "ok" at once. Counted over the
// faults phase only (from the inject to the recover: start-up and steady state excluded); the CPU is the runner
// process's own (process.cpuUsage: user + system) over that phase, in % of one core.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

/** A server answering 200 "ok" at once; prints its port, ends with its stdin. */
function server() {
  const s = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
  s.listen(0, '127.0.0.1', () => process.stdout.write(`${s.address().port}\n`));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

/** One runner: PROBES http probes every INTERVAL ms for SECONDS s against PORT; prints what it measured as JSON. */
async function runner(probes, intervalMs, seconds, port) {
  const { DrillRun } = require(path.join(ROOT, 'lib', 'drill', 'runner'));
  const { parseDrill } = require(path.join(ROOT, 'lib', 'drill', 'file'));
  const { Store } = require(path.join(ROOT, 'lib', 'store', 'store'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-drill-'));
  const spec = {
    name: 'bench',
    interval: `${intervalMs}ms`,
    probes: Array.from({ length: probes }, (_, i) => ({
      name: `p${i}`,
      http: { url: `http://127.0.0.1:${port}/p${i}`, timeout: '5s' },
    })),
    steady_state: { samples: 2, timeout: '30s' },
    faults: {
      lanes: [
        {
          name: 'l',
          steps: [{ inject: { target: 'cpu', fault: 'burn', args: { percent: 1 }, duration: `${seconds}s` } }],
        },
      ],
    },
  };
  const parsed = parseDrill(JSON.stringify(spec));
  if (parsed.problems) throw new Error(JSON.stringify(parsed.problems));
  const port0 = {
    plan: async (_s, uid) => [`plan ${uid}`],
    inject: async (_s, uid) => ({
      uid,
      where: 'bench',
      command: `inject ${uid}`,
      renew: async () => {},
      recover: async () => {},
    }),
  };
  let from;
  let to;
  const mark = () => ({ t: Date.now(), cpu: process.cpuUsage() });
  const store = new Store(dir);
  try {
    const run = new DrillRun(parsed.drill, {
      store,
      host: port0,
      kube: port0,
      onEvent: (_t, text) => {
        if (/^lane l: inject /.test(text)) from = mark();
        if (/^lane l: recovered /.test(text)) to = mark();
      },
    });
    const r = await run.run();
    if (!from || !to) throw new Error(`the drill did not run its step: ${r.status} ${r.message}`);
    const wall = to.t - from.t;
    const cpu = process.cpuUsage(from.cpu);
    const counted = r.series.flatMap((s) => s.samples).filter((x) => x.t >= from.t && x.t <= to.t);
    process.stdout.write(
      `${JSON.stringify({
        status: r.status,
        wallMs: wall,
        samples: counted.length,
        failed: counted.filter((x) => !x.ok).length,
        cpuMs: (cpu.user + cpu.system) / 1000,
        rssMiB: process.memoryUsage().rss / 2 ** 20,
      })}\n`,
    );
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function child(args) {
  const c = spawn(process.execPath, [path.join(__dirname, 'bench-drill.js'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  c.stdout.on('data', (b) => (out += b.toString()));
  const done = new Promise((resolve, reject) =>
    c.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${args[0]} exited ${code}`)))),
  );
  return { c, done };
}

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'lib', 'drill', 'runner.js'))) throw new Error('no lib/: npm run build first');
  const srv = child(['server']);
  const port = await new Promise((resolve) => srv.c.stdout.once('data', (b) => resolve(Number(String(b).trim()))));
  try {
    const secs = Number(process.env.BENCH_DRILL_SECONDS || 10);
    const a = JSON.parse(await child(['runner', '100', '100', String(secs), String(port)]).done);
    const rate = a.samples / (a.wallMs / 1000);
    console.log(
      `drill runner, 100 http probes every 100 ms (nominal 1000/s): ${rate.toFixed(0)} probes sampled per second ` +
        `(${a.samples} samples in ${(a.wallMs / 1000).toFixed(1)} s, ${a.failed} failed; the runner's CPU ` +
        `${((100 * a.cpuMs) / a.wallMs).toFixed(1)} % of a core, RSS ${a.rssMiB.toFixed(0)} MiB)`,
    );
    const cpuSecs = Number(process.env.BENCH_DRILL_CPU_SECONDS || 20);
    const b = JSON.parse(await child(['runner', '10', '500', String(cpuSecs), String(port)]).done);
    console.log(
      `drill runner, 10 http probes every 500 ms: the runner's CPU ${((100 * b.cpuMs) / b.wallMs).toFixed(2)} % of a ` +
        `core (${b.cpuMs.toFixed(0)} ms in ${(b.wallMs / 1000).toFixed(1)} s, ${b.samples} samples, ${b.failed} ` +
        `failed; RSS ${b.rssMiB.toFixed(0)} MiB)`,
    );
  } finally {
    srv.c.stdin.end();
    await srv.done.catch(() => undefined);
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'server') server();
else if (mode === 'runner')
  runner(...rest.map(Number)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
else
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
