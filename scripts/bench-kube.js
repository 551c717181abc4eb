#!/usr/bin/env node
// Benchmark (prints numbers, asserts nothing): kube inject through kubectl exec into agent pods — pods injected
// per second (10 pods on 2 "nodes", 10 at once), and inject -> effect for one pod (a network limit's tbf on its
// eth0). The same stand-ins as test/integration/kube.test.ts: the test API server (test/kube-apiserver.ts, bundled
// here with esbuild) and agent pods as docker containers of the agent image. Needs dockerd and kubectl; run as root
// after npm run build.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'chaosmetad');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-bench-kube-'));
const sh = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** the TypeScript test helpers, bundled once for this script */
function load(entry) {
  // beside its source (its __dirname and require('ws') resolve as the source's), removed once loaded
  const out = path.join(ROOT, path.dirname(entry), `.bench-${path.basename(entry, '.ts')}.js`);
  require('esbuild').buildSync({
    entryPoints: [path.join(ROOT, entry)],
    bundle: true,
    platform: 'node',
    outfile: out,
    logLevel: 'error',
    external: ['ws'],
  });
  try {
    return require(out);
  } finally {
    fs.rmSync(out, { force: true });
  }
}

function kube(args, kubeconfig) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'kube', ...args, '--kubeconfig', kubeconfig], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('close', (code) => resolve({ code, out }));
  });
}

(async () => {
  if (sh('docker', ['version']).status !== 0 || sh('kubectl', ['version', '--client']).status !== 0) {
    console.log('kube benchmark skipped: needs dockerd (scripts/start-runtimes.sh) and kubectl');
    return;
  }
  const { TestApiServer } = load('test/kube-apiserver.ts');
  const containers = load('test/containers.ts');
  containers.ensureImages();
  const image = containers.agentImage();
  const api = new TestApiServer();
  await api.start();
  const kubeconfig = path.join(tmp, 'kubeconfig');
  api.writeKubeconfig(kubeconfig);
  const install = path.join(tmp, 'opt');
  fs.mkdirSync(install);
  const ids = [];
  const run = (args, img, cmd) => {
    const id = containers.run(['--label', 'chaosmetad-bench=1', ...args], img, cmd);
    ids.push(id);
    return id;
  };
  try {
    const pods = [];
    for (const node of ['node-a', 'node-b']) {
      const data = path.join(tmp, `data-${node}`);
      const id = containers.runAgent({
        name: `cmbench-agent-${node}-${process.pid}`,
        image,
        install,
        dataDir: data,
        hostPid: process.pid,
        labels: ['chaosmetad-bench=1'],
      });
      ids.push(id);
      pods.push({
        namespace: 'chaosmetad',
        name: `agent-${node}`,
        node,
        labels: { 'app.kubernetes.io/name': 'chaosmetad-agent' },
        containers: [{ name: 'agent', docker: id }],
      });
      while (!fs.existsSync(`${data}.sock`)) await sleep(100);
    }
    const app = [];
    for (let i = 0; i < 10; i++) {
      const id = run([], containers.BUSYBOX_IMAGE, ['sleep', '3600']);
      app.push(id);
      pods.push({
        namespace: 'bench',
        name: `app-${i}`,
        node: i % 2 ? 'node-b' : 'node-a',
        labels: { app: 'bench' },
        containers: [{ name: 'app', docker: id }],
      });
    }
    api.pods = pods;
    api.nodes = ['node-a', 'node-b'];
    await kube(['agents'], kubeconfig); // warm up (the executable installed on the node, page cache)
    const rates = [];
    for (let r = 0; r < 3; r++) {
      const t0 = Date.now();
      const res = await kube(
        [
          'inject',
          'file',
          'add',
          '-n',
          'bench',
          '-l',
          'app=bench',
          '-p',
          '/tmp/bench-kube',
          '-c',
          'x',
          '--uid',
          `bench-kube-${r}`,
        ],
        kubeconfig,
      );
      const s = (Date.now() - t0) / 1000;
      if (res.code !== 0) throw new Error(res.out);
      rates.push(10 / s);
      await kube(['recover', `bench-kube-${r}`], kubeconfig);
    }
    const pid = JSON.parse(sh('docker', ['inspect', app[0]]).stdout)[0].State.Pid;
    const effect = [];
    for (let r = 0; r < 5; r++) {
      const t0 = Date.now();
      const p = kube(
        [
          'inject',
          'network',
          'limit',
          '--pod',
          'bench/app-0',
          '-i',
          'eth0',
          '-r',
          '1mbit',
          '--uid',
          `bench-kube-net-${r}`,
        ],
        kubeconfig,
      );
      while (!/tbf/.test(sh('nsenter', ['-t', String(pid), '--net', 'tc', 'qdisc', 'show', 'dev', 'eth0']).stdout))
        await sleep(5);
      effect.push(Date.now() - t0);
      await p;
      await kube(['recover', `bench-kube-net-${r}`], kubeconfig);
    }
    console.log(
      `kube inject through kubectl exec: 10 pods on 2 nodes in ${(10 / median(rates)).toFixed(2)} s (median of 3): ` +
        `${median(rates).toFixed(1)} pods/s (a dry-run validation on the first, then 10 at once)`,
    );
    console.log(
      `kube inject network limit -> tbf on one pod's eth0: median ${median(effect)} ms (n=5; the host's own inject is in bench-container)`,
    );
  } finally {
    if (ids.length) sh('docker', ['rm', '-f', ...ids]);
    await api.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
})();
