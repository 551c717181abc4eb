#!/usr/bin/env node
// Benchmark (prints numbers, asserts nothing): inject -> effect in a docker container next to the same on the host,
// for a network limit (tbf visible on the interface: the container's eth0 / a host veth) and a cpu burn (a helper
// burning, in the container's cgroup). Needs dockerd (scripts/start-runtimes.sh); run as root after npm run build.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SEA = path.join(__dirname, '..', 'dist', 'chaosmetad');
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-ct-'));
const env = { ...process.env, CHAOSMETAD_DATA_DIR: data };
const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8', env });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const N = 10;

function image() {
  const tag = 'cmbench/busybox:1';
  if (run('docker', ['image', 'inspect', tag]).status === 0) return tag;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmbench-rootfs-'));
  fs.mkdirSync(path.join(root, 'bin'));
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  fs.symlinkSync('busybox', path.join(root, 'bin', 'sleep'));
  const r = spawnSync('sh', ['-c', `tar -C ${root} -c . | docker import - ${tag}`], { encoding: 'utf8' });
  fs.rmSync(root, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(r.stderr);
  return tag;
}

/** ms from starting `inject …` until probe() is true (polled every ms). */
async function timeTo(args, probe) {
  const uid = `bench-ct-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const t0 = process.hrtime.bigint();
  const child = spawn(SEA, ['inject', ...args, '--uid', uid], { env, stdio: 'ignore' });
  let t = 0;
  while (!t) {
    if (probe(uid)) t = Number(process.hrtime.bigint() - t0) / 1e6;
    else await sleep(1);
  }
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
  run(SEA, ['recover', uid]);
  return t;
}

function burning(uid) {
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (!fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').includes(`--chaosmetad-uid=${uid}\0`)) continue;
      const st = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (Number(f[11]) + Number(f[12]) > 0 || f[0] === 'R') return true;
    } catch {
      /* raced */
    }
  }
  return false;
}

const tbf = (argv) => () => /tbf/.test(run(argv[0], argv.slice(1)).stdout);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  if (run('docker', ['version']).status !== 0) {
    console.log('container benchmark skipped: dockerd is not running (scripts/start-runtimes.sh)');
    return;
  }
  const id = run('docker', ['run', '-d', '--cpus', '1', image(), 'sleep', '3600']).stdout.trim();
  const pid = run('docker', ['inspect', '-f', '{{.State.Pid}}', id]).stdout.trim();
  run('ip', ['link', 'add', 'cmbench0', 'type', 'veth', 'peer', 'name', 'cmbench1']);
  run('ip', ['link', 'set', 'cmbench0', 'up']);
  try {
    await timeTo(['cpu', 'burn', '-p', '10', '-l', '0'], burning); // warm up (assets, page cache)
    const r = { hostNet: [], ctNet: [], hostCpu: [], ctCpu: [] };
    for (let i = 0; i < N; i++) {
      r.hostNet.push(
        await timeTo(
          ['network', 'limit', '-i', 'cmbench0', '-r', '1mbit'],
          tbf(['tc', 'qdisc', 'show', 'dev', 'cmbench0']),
        ),
      );
      r.ctNet.push(
        await timeTo(
          ['network', 'limit', '-i', 'eth0', '-r', '1mbit', '--container-id', id],
          tbf(['nsenter', '-t', pid, '--net', 'tc', 'qdisc', 'show', 'dev', 'eth0']),
        ),
      );
      r.hostCpu.push(await timeTo(['cpu', 'burn', '-p', '50', '-l', '0'], burning));
      r.ctCpu.push(await timeTo(['cpu', 'burn', '-p', '50', '--container-id', id], burning));
    }
    const line = (what, host, ct) =>
      `${what}: host median ${median(host).toFixed(0)} ms, container median ${median(ct).toFixed(0)} ms ` +
      `(+${(median(ct) - median(host)).toFixed(0)} ms: resolving the container and entering it; n=${N})`;
    console.log(line('inject network limit -> tbf on the interface', r.hostNet, r.ctNet));
    console.log(line('inject cpu burn -> helper burning (container: in its cgroup)', r.hostCpu, r.ctCpu));
    console.log('(network delay needs sch_netem, which this kernel lacks: the tbf limit takes the same path)');
  } finally {
    run('docker', ['rm', '-f', id]);
    run('ip', ['link', 'del', 'cmbench0']);
    run(SEA, ['recover', '--all']);
    fs.rmSync(data, { recursive: true, force: true });
  }
})();
