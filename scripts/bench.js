#!/usr/bin/env node
// Benchmarks (print numbers, assert nothing): time to an active fault, start-up, query at 10 000 rows, burn accuracy.
// Run as root after `npm run build` (npm run bench does both).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { seaFromScript } = require('./build-sea');

const root = path.resolve(__dirname, '..');
const BIN = path.join(root, 'bin', 'chaosmetad');
const SEA = path.join(root, 'dist', 'chaosmetad');
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-'));
const env = { ...process.env, CHAOSMETAD_DATA_DIR: data };
const argvFor = (exe, args) => (exe === BIN ? [process.execPath, [BIN, ...args]] : [exe, args]);
const sh = (exe, args, e = env) => {
  const [f, a] = argvFor(exe, args);
  return spawnSync(f, a, { env: e, encoding: 'utf8' });
};
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `median ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, min ${s[0].toFixed(0)} ms (n=${s.length})`;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * pid of a live helper tagged with uid that has used CPU already (burning), else 0. Only processes newer than
 * `before` are read: this polls every millisecond, and reading every process's cmdline each time kept one of the two
 * cores busy while the inject it times was starting.
 */
function burning(uid, before) {
  for (const d of fs.readdirSync('/proc')) {
    if (before.has(d) || !/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1');
      if (!argv.includes(`--chaosmetad-uid=${uid}\0`) || !argv.startsWith(path.join('/')) || !argv.includes('burn\0'))
        continue;
      const st = fs
        .readFileSync(`/proc/${d}/stat`, 'latin1')
        .slice(fs.readFileSync(`/proc/${d}/stat`, 'latin1').lastIndexOf(')') + 2)
        .split(' ');
      if (Number(st[11]) + Number(st[12]) > 0 || st[0] === 'R') return Number(d);
    } catch {
      /* raced */
    }
  }
  return 0;
}

async function timeToActive(exe, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const uid = `bench-${process.pid}-${i}`;
    const [f, a] = argvFor(exe, ['inject', 'cpu', 'burn', '-p', '50', '-l', '1', '--uid', uid]);
    const before = new Set(fs.readdirSync('/proc'));
    const t0 = process.hrtime.bigint();
    const child = spawn(f, a, { env, stdio: 'ignore' });
    let t = 0;
    while (!t) {
      if (burning(uid, before)) t = Number(process.hrtime.bigint() - t0) / 1e6;
      else await sleep(1);
    }
    await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
    sh(exe, ['recover', uid]);
    times.push(t);
  }
  return times;
}

function seed(dir, n) {
  const Database = require('better-sqlite3');
  sh(BIN, ['query'], { ...env, CHAOSMETAD_DATA_DIR: dir }); // create + migrate
  const db = new Database(path.join(dir, 'chaosmetad.db'));
  const ins =
    db.prepare(`INSERT INTO experiments (uid,target,fault,args,runtime,status,phase,creator,timeout,deadline,error,create_time,update_time,create_ms,update_ms,container_id,container_runtime)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const t = new Date(now - i * 1000).toISOString().replace('T', ' ').slice(0, 19);
      ins.run(
        `seed-${i}`,
        i % 2 ? 'cpu' : 'mem',
        i % 2 ? 'burn' : 'fill',
        '{"percent":50}',
        '{}',
        i % 10 ? 'destroyed' : 'success',
        'recovered',
        i % 3 ? 'root' : 'alice',
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

function cores() {
  const m = new Map();
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const x = /^cpu(\d+) (.*)$/.exec(line);
    if (!x) continue;
    const v = x[2].trim().split(/\s+/).map(Number).slice(0, 8);
    const total = v.reduce((a, b) => a + b, 0);
    m.set(Number(x[1]), { busy: total - v[3] - v[4], total });
  }
  return m;
}

(async () => {
  if (process.getuid() !== 0) console.log('note: not root; results may differ');
  console.log(`# chaosmetad benchmarks — ${os.cpus().length} cores, node ${process.version}`);
  // start-up, side by side in one run: the floors (node -e 0, and an empty single executable built exactly as
  // dist/chaosmetad is) against `version` and `inject cpu burn` -> a helper burning; rounds interleave the four so
  // that a busy moment of the machine hits them alike. Median of 20 each.
  const floorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-floor-'));
  fs.writeFileSync(path.join(floorDir, 'empty.js'), 'process.stdout.write("{}\\n");\n');
  seaFromScript({
    main: path.join(floorDir, 'empty.js'),
    blob: path.join(floorDir, 'empty.blob'),
    output: path.join(floorDir, 'empty'),
  });
  const FLOOR_SEA = path.join(floorDir, 'empty');
  const timeRun = (file, args) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(file, args, { env, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const runs = { node: [], empty: [], version: [], burn: [] };
  if (fs.existsSync(SEA)) {
    await timeToActive(SEA, 2); // extract the assets, warm the page cache
    for (let i = 0; i < 20; i++) {
      runs.node.push(timeRun(process.execPath, ['-e', '0']));
      runs.empty.push(timeRun(FLOOR_SEA, []));
      runs.version.push(timeRun(SEA, ['version']));
      runs.burn.push(...(await timeToActive(SEA, 1)));
    }
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const floors = runs.node.map((n, i) => Math.max(n, runs.empty[i]));
    const floor = Math.max(med(runs.node), med(runs.empty));
    // over the floor: the median of each round's difference (a busy moment slows a whole round alike)
    const line = (name, xs, budget) => {
      const over = med(xs.map((x, i) => x - floors[i]));
      return (
        `${name}: median ${med(xs).toFixed(0)} ms = floor + ${over.toFixed(0)} ms (median of the rounds' ` +
        `differences; ${(med(xs) / floor).toFixed(2)}x the floor; target floor + ${budget} ms: ${over <= budget ? 'met' : 'MISSED'})`
      );
    };
    console.log(
      `start-up floor: node -e 0 median ${med(runs.node).toFixed(0)} ms, an empty single executable ${med(runs.empty).toFixed(0)} ms`,
    );
    console.log(line('dist/chaosmetad version', runs.version, 25));
    console.log(line('dist/chaosmetad inject cpu burn -> helper burning', runs.burn, 60));
  } else console.log('dist/chaosmetad missing: start-up skipped (npm run build)');
  fs.rmSync(floorDir, { recursive: true, force: true });
  if (process.env.BENCH_ONLY === 'startup') return;
  if (fs.existsSync(BIN)) {
    console.log(
      `inject cpu burn -> helper burning, bin/chaosmetad (node + checkout): ${stats(await timeToActive(BIN, 10))}`,
    );
  }
  const qdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-q-'));
  seed(qdir, 10_000);
  const qenv = { ...env, CHAOSMETAD_DATA_DIR: qdir };
  for (const exe of [BIN, SEA].filter((e) => fs.existsSync(e))) {
    for (const args of [
      ['query'],
      ['query', '-s', 'success', '-t', 'cpu', '--format', 'json'],
      ['query', '--limit', '100', '--format', 'json'],
    ]) {
      const times = [];
      for (let i = 0; i < 10; i++) {
        const t0 = process.hrtime.bigint();
        const r = sh(exe, args, qenv);
        if (r.status) throw new Error(r.stderr);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      console.log(
        `${args.join(' ')} at 10 000 rows, ${path.basename(path.dirname(exe))}/${path.basename(exe)}: ${stats(times)}   (target <= 200 ms)`,
      );
    }
  }
  // burn accuracy on an idle core
  for (const p of [25, 50, 90]) {
    const uid = `bench-acc-${p}-${process.pid}`;
    sh(SEA, ['inject', 'cpu', 'burn', '-p', String(p), '-l', '1', '--uid', uid]);
    await sleep(2000);
    const a = cores().get(1);
    await sleep(5000);
    const b = cores().get(1);
    sh(SEA, ['recover', uid]);
    const got = (100 * (b.busy - a.busy)) / (b.total - a.total);
    console.log(
      `cpu burn ${p}% on core 1 (5 s from /proc/stat): ${got.toFixed(1)}% (error ${(got - p).toFixed(1)} points; target ±2)`,
    );
  }
  fs.rmSync(data, { recursive: true, force: true });
  fs.rmSync(qdir, { recursive: true, force: true });
})();
