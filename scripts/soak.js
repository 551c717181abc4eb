#!/usr/bin/env node
// Soak: the daemon runs SOAK_CYCLES (default 10 000) inject/recover cycles of file and cpu faults over HTTP.
// Prints the numbers and a last JSON line; exits 1 on a leak (files, fds, helper processes, cgroups, work dirs,
// live experiments) or when RSS grows more than 20 % past its value after the first tenth of the cycles
// (1 000 of 10 000). Usage: node scripts/soak.js [--exe dist/chaosmetad]   (npm run build first)
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const argExe = process.argv.indexOf('--exe');
const exe =
  argExe > 0
    ? path.resolve(process.argv[argExe + 1])
    : fs.existsSync(path.join(root, 'dist', 'chaosmetad'))
      ? path.join(root, 'dist', 'chaosmetad')
      : path.join(root, 'bin', 'chaosmetad');
const CYCLES = Number(process.env.SOAK_CYCLES || 10_000);
const WARM = Number(process.env.SOAK_WARM || Math.max(1, Math.floor(CYCLES / 10)));

const status = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024;
};
const fds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;
const tagged = () =>
  fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const st = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
        return (
          !st.slice(st.lastIndexOf(')') + 2).startsWith('Z') &&
          fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').includes('--chaosmetad-uid=')
        );
      } catch {
        return false;
      }
    }).length;
const cgroups = () => {
  const out = [];
  for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/blkio', '/sys/fs/cgroup/memory']) {
    try {
      for (const e of fs.readdirSync(base)) if (/chaosmeta/.test(e)) out.push(path.join(base, e));
    } catch {
      /* absent */
    }
  }
  return out.length;
};

/** The daemon's token (generated into its data dir on first start). */
let TOKEN = '';

function post(agent, port, p, body) {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
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
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

(async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-soak-'));
  const files = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-soak-files-'));
  const [file, argv] =
    exe.endsWith('.js') || exe === path.join(root, 'bin', 'chaosmetad')
      ? [process.execPath, [exe, 'server', '-p', '0']]
      : [exe, ['server', '-p', '0']];
  const proc = spawn(file, argv, {
    env: { ...process.env, CHAOSMETAD_DATA_DIR: data },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /"event":"listening".*"port":(\d+)/.exec(out);
      if (m) {
        proc.stdout.removeAllListeners('data');
        proc.stdout.resume();
        TOKEN = fs.readFileSync(path.join(data, 'token'), 'utf8').trim();
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (c) => reject(new Error(`server exited ${c}: ${out}`)));
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const start = { rss: status(proc.pid), fds: fds(proc.pid), tagged: tagged(), cgroups: cgroups() };
  let warm = null;
  let failures = 0;
  const t0 = Date.now();
  console.log(
    `soak: ${CYCLES} inject/recover cycles (file add and cpu burn alternating) against ${path.relative(root, exe)} server, pid ${proc.pid}`,
  );
  console.log(
    `start: RSS ${start.rss.toFixed(1)} MB, ${start.fds} fds, ${start.tagged} helper processes, ${start.cgroups} chaosmeta cgroups`,
  );
  for (let i = 0; i < CYCLES; i++) {
    const uid = `soak-${i}`;
    const body =
      i % 2
        ? { target: 'cpu', fault: 'burn', args: '{"percent":5,"list":"0"}', uid }
        : {
            target: 'file',
            fault: 'add',
            args: JSON.stringify({ path: path.join(files, `f${i % 7}`), content: `cycle ${i}` }),
            uid,
          };
    const a = await post(agent, port, '/v1/experiment/inject', body);
    const b = await post(agent, port, '/v1/experiment/recover', { uid });
    if (a.code !== 0 || b.code !== 0) {
      failures++;
      if (failures <= 5) console.log(`cycle ${i}: inject ${a.code} ${a.message}; recover ${b.code} ${b.message}`);
    }
    if (i + 1 === WARM) {
      warm = status(proc.pid);
      console.log(
        `after ${WARM} cycles: RSS ${warm.toFixed(1)} MB, ${fds(proc.pid)} fds (${((Date.now() - t0) / (i + 1)).toFixed(1)} ms/cycle)`,
      );
    }
    if ((i + 1) % Math.max(1, Math.floor(CYCLES / 5)) === 0 && i + 1 !== CYCLES)
      console.log(`  ${i + 1} cycles: RSS ${status(proc.pid).toFixed(1)} MB, ${fds(proc.pid)} fds`);
  }
  agent.destroy();
  await new Promise((r) => setTimeout(r, 500)); // sockets close, zombies get reaped
  const end = { rss: status(proc.pid), fds: fds(proc.pid), tagged: tagged(), cgroups: cgroups() };
  const live = JSON.parse(
    spawnSync(file, [...(file === process.execPath ? [exe] : []), 'query', '-s', 'success', '--format', 'json'], {
      env: { ...process.env, CHAOSMETAD_DATA_DIR: data },
      encoding: 'utf8',
    }).stdout || '{"total":-1}',
  ).total;
  const leftFiles = fs.readdirSync(files).length;
  const workDirs = fs.existsSync(path.join(data, 'work')) ? fs.readdirSync(path.join(data, 'work')).length : 0;
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
  const growth = (end.rss - warm) / warm;
  const result = {
    cycles: CYCLES,
    failures,
    seconds: (Date.now() - t0) / 1000,
    rss_start_mb: +start.rss.toFixed(1),
    rss_after_warmup_mb: +warm.toFixed(1),
    rss_end_mb: +end.rss.toFixed(1),
    rss_growth_pct: +(growth * 100).toFixed(1),
    fds_start: start.fds,
    fds_end: end.fds,
    helpers_left: end.tagged - start.tagged,
    cgroups_left: end.cgroups - start.cgroups,
    files_left: leftFiles,
    work_dirs_left: workDirs,
    live_experiments: live,
  };
  console.log(
    `end: RSS ${end.rss.toFixed(1)} MB (${result.rss_growth_pct}% vs after ${WARM} cycles), ${end.fds} fds, ${result.helpers_left} helpers, ${result.cgroups_left} cgroups, ${leftFiles} files, ${workDirs} work dirs left, ${live} live; ${failures} failed cycles; ${result.seconds.toFixed(0)} s`,
  );
  console.log(JSON.stringify(result));
  fs.rmSync(data, { recursive: true, force: true });
  fs.rmSync(files, { recursive: true, force: true });
  const leak =
    failures ||
    result.helpers_left > 0 ||
    result.cgroups_left > 0 ||
    leftFiles ||
    workDirs ||
    live !== 0 ||
    end.fds > start.fds + 2 ||
    growth > 0.2;
  process.exit(leak ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
