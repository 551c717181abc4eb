/**
 * A real CRI server for the tests: a private containerd (its own config, root, state and socket; the system's one is
 * left alone) whose CRI plugin serves runtime.v1.RuntimeService — the API CRI-O serves, CRI-O itself cannot be
 * installed here. `restrict_oom_score_adj`: this machine withholds CAP_SYS_RESOURCE, and a pod sandbox's -998 would
 * fail. Pods get host networking (no CNI here) and a cgroup parent of their own, removed afterwards.
 *
 * crioSocket() stands in for CRI-O's socket the way CRI-O serves it: one Unix socket with its info endpoint
 * (HTTP/1.1 GET /containers/ID, a recorded answer shape) and the CRI (HTTP/2 gRPC, passed through to that
 * containerd's CRI) — told apart by the HTTP/2 preface, as CRI-O's own listener does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { criCall, criStatus } from '../src/host/cri';
import { pbDecode, pbInt, pbMessage, pbString } from './protobuf';
import { BUSYBOX_IMAGE, sh, sleeperBinary, importImage } from './containers';
import { sleep } from './helpers';

const ROOT = '/var/lib/chaosmetad-cri-test';
const STATE = '/run/chaosmetad-cri-test';
export const CRI_SOCK = `${STATE}/containerd.sock`;
export const CGROUP_PARENT = '/chaosmetad-cri-test';
const PAUSE_IMAGE = 'cmtest/cri-pause:1';

let daemon: ChildProcess | undefined;

/** Start the private containerd and give it the images (docker save → ctr import: no registry). */
export async function startCri(): Promise<void> {
  fs.mkdirSync(ROOT, { recursive: true });
  fs.mkdirSync(STATE, { recursive: true });
  const config = path.join(ROOT, 'config.toml');
  fs.writeFileSync(
    config,
    [
      'version = 2',
      `root = "${ROOT}/root"`,
      `state = "${STATE}/state"`,
      '[grpc]',
      `  address = "${CRI_SOCK}"`,
      '[ttrpc]',
      `  address = "${CRI_SOCK}.ttrpc"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      '  restrict_oom_score_adj = true',
      `  sandbox_image = "docker.io/${PAUSE_IMAGE}"`,
      '',
    ].join('\n'),
  );
  const log = fs.openSync(path.join(ROOT, 'containerd.log'), 'a');
  daemon = spawn('containerd', ['--config', config], { stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  for (let i = 0; sh('ctr', ['--address', CRI_SOCK, 'version']).code !== 0; i++) {
    if (i > 100)
      throw new Error(
        `the test containerd does not answer: ${fs.readFileSync(path.join(ROOT, 'containerd.log'), 'utf8')}`,
      );
    await sleep(100);
  }
  importImage(PAUSE_IMAGE, { app: { from: sleeperBinary() } }, ['CMD ["/app"]']);
  for (const image of [PAUSE_IMAGE, BUSYBOX_IMAGE]) {
    const r = sh('sh', ['-c', `docker save ${image} | ctr --address ${CRI_SOCK} -n k8s.io images import -`]);
    if (r.code !== 0) throw new Error(`importing ${image}: ${r.err}`);
  }
}

/** Every pod removed (their containers with them), the daemon stopped, its files and cgroups gone. */
export async function stopCri(): Promise<void> {
  if (daemon) {
    try {
      const pods = pbDecode(await criCall(CRI_SOCK, 'ListPodSandbox', Buffer.alloc(0)));
      for (const b of pods.get(1) ?? []) {
        const id = String(pbDecode(b as Buffer).get(1)?.[0]);
        await criCall(CRI_SOCK, 'StopPodSandbox', pbString(1, id));
        await criCall(CRI_SOCK, 'RemovePodSandbox', pbString(1, id));
      }
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => (daemon!.exitCode !== null ? r(null) : daemon!.once('exit', r)));
      daemon = undefined;
    }
  }
  sh('sh', ['-c', `grep -q ' ${ROOT}' /proc/mounts && umount -R $(grep ' ${ROOT}' /proc/mounts | cut -d' ' -f2)`]);
  fs.rmSync(ROOT, { recursive: true, force: true });
  fs.rmSync(STATE, { recursive: true, force: true });
  for (const c of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', c, CGROUP_PARENT);
    try {
      for (const sub of fs.readdirSync(dir, { withFileTypes: true }))
        if (sub.isDirectory()) fs.rmdirSync(path.join(dir, sub.name));
      fs.rmdirSync(dir);
    } catch {
      /* not there, or a symlinked controller already done */
    }
  }
}

/** A pod (host network) with one busybox container running cmd; its CRI container id and init pid. */
export async function runCriContainer(name: string, cmd: string[]): Promise<{ id: string; pid: number; pod: string }> {
  const sandbox = Buffer.concat([
    pbMessage(1, pbString(1, name), pbString(2, `uid-${name}`), pbString(3, 'default'), pbInt(4, 0)),
    pbMessage(6, pbString(1, 'app'), pbString(2, name)), // labels: app=<name>
    // linux: cgroup_parent, security_context.namespace_options.network = NODE
    pbMessage(8, pbString(1, CGROUP_PARENT), pbMessage(2, pbMessage(1, pbInt(1, 2)))),
  ]);
  const pod = String(pbDecode(await criCall(CRI_SOCK, 'RunPodSandbox', pbMessage(1, sandbox))).get(1)?.[0]);
  const config = Buffer.concat([
    pbMessage(1, pbString(1, name)),
    pbMessage(2, pbString(1, `docker.io/${BUSYBOX_IMAGE}`)),
    ...cmd.map((c, i) => pbString(i === 0 ? 3 : 4, c)),
    pbMessage(9, pbString(1, 'role'), pbString(2, 'chaos-target')),
  ]);
  const created = await criCall(
    CRI_SOCK,
    'CreateContainer',
    Buffer.concat([pbString(1, pod), pbMessage(2, config), pbMessage(3, sandbox)]),
  );
  const id = String(pbDecode(created).get(1)?.[0]);
  await criCall(CRI_SOCK, 'StartContainer', pbString(1, id));
  const pid = Number((await criStatus(CRI_SOCK, id)).info.pid);
  if (!(pid > 0)) throw new Error(`CRI container ${id} has no pid`);
  return { id, pid, pod };
}

/**
 * The CRI-O stand-in socket (see the top): info answers for `known` (id → pid), gRPC passed to the test containerd.
 * In its own process: the CLI under test runs synchronously in the test's.
 */
export async function crioSocket(sock: string, known: Record<string, number>): Promise<ChildProcess> {
  const server = spawn(
    process.execPath,
    [
      '-e',
      `const net = require('net'), http = require('http');
       const known = JSON.parse(process.argv[1]);
       const info = http.createServer((q, s) => {
         const id = q.url.replace(/^\\/containers\\//, '');
         if (known[id]) {
           s.setHeader('Content-Type', 'application/json');
           s.end(JSON.stringify({ name: 'k8s_' + id.slice(0, 8), pid: known[id], image: 'docker.io/cmtest/busybox:2',
             labels: {}, annotations: {}, crio_annotations: {}, sandbox: '', ip_addresses: [] }));
         } else { s.statusCode = 404; s.end("can't find the container with id " + id); }
       });
       // the front socket sends each connection on by its first bytes: HTTP/2 to the CRI, HTTP/1.1 to the info server
       const pass = (c, first, to) => {
         const up = net.connect(to, () => { up.write(first); c.pipe(up); up.pipe(c); c.resume(); });
         up.on('error', () => c.destroy()); c.on('error', () => up.destroy());
       };
       info.listen(${JSON.stringify(sock + '.info')}, () => net.createServer((c) => {
         c.once('data', (first) => {
           c.pause();
           pass(c, first, first.toString('latin1').startsWith('PRI * HTTP/2.0') ? ${JSON.stringify(CRI_SOCK)} : ${JSON.stringify(sock + '.info')});
         });
       }).listen(${JSON.stringify(sock)}, () => console.log('listening')));`,
      JSON.stringify(known),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((r) => server.stdout.once('data', () => r()));
  return server;
}
