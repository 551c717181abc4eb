/**
 * Kubernetes through the real kubectl: `chaosmetad kube …` against the test API server (test/kube-apiserver.ts,
 * the one stand-in: no API server can be had here) whose pods are real docker containers and whose `pods/exec`
 * runs in them over kubectl's WebSocket protocol. The agent pods are privileged docker containers (host pid and
 * network) of the agent image built from the single executable (docker import, no registry), each running
 * `chaosmetad server` on its "node" — the node being this host, with a data dir per node — as the DaemonSet does.
 * Effects are measured from the pods' side (bytes through their eth0, their cgroup's CPU); the node's store is read
 * with the node's own `chaosmetad query`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BIN, SEA, type RunResult, cli, hostSettles, hostState, sleep, tmpDir, waitFor } from '../helpers';
import {
  agentImage,
  dockerUnavailable,
  ensureDocker,
  ensureImages,
  exec,
  inspect,
  removeTestContainers,
  run,
  sh,
} from '../containers';
import { type FakePod, TestApiServer, kubectlMissing } from '../kube-apiserver';

jest.setTimeout(240_000);
const why = dockerUnavailable() || kubectlMissing() || (fs.existsSync(SEA) ? '' : 'dist/chaosmetad is not built');
const d = why ? describe.skip : describe;
if (why) test.skip(`kube — skipped: ${why}`, () => {});

const tmp = tmpDir('kube');
const install = path.join(tmp, 'opt'); // the agents install the executable here "on the node"
const dataOf = (node: string) => path.join(tmp, `data-${node}`);
const kubeconfig = path.join(tmp, 'kubeconfig');
const api = new TestApiServer();
let before: string;

/** chaosmetad kube … (asynchronously: the API server lives in this process). */
function kube(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'kube', ...args, '--kubeconfig', kubeconfig], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The node's own view: its store, read with its own CLI. */
const nodeQuery = (node: string, args: string[] = []) => {
  const r = cli(dataOf(node), ['query', '--format', 'json', '--limit', '0', ...args]);
  return JSON.parse(r.stdout) as { experiments: Array<Record<string, string>>; total: number };
};

const PRIVILEGED = [
  '--cap-add',
  'ALL',
  '--cap-drop',
  'SYS_RESOURCE',
  '--security-opt',
  'seccomp=unconfined',
  '--security-opt',
  'apparmor=unconfined',
  '--security-opt',
  'systempaths=unconfined',
];

const web: Record<string, string> = {}; // pod name → docker id

d('kubectl chaosmetad through agent pods', () => {
  beforeAll(async () => {
    await ensureDocker();
    ensureImages();
    removeTestContainers();
    before = hostState();
    const image = agentImage();
    fs.mkdirSync(install, { mode: 0o755 });
    await api.start();
    api.writeKubeconfig(kubeconfig);
    api.nodes = ['node-a', 'node-b', 'node-c'];
    const pods: FakePod[] = [];
    for (const node of ['node-a', 'node-b']) {
      const id = run(
        [
          '--name',
          `cmtest-agent-${node}`,
          // privileged, but for the one capability this machine withholds even from root (CAP_SYS_RESOURCE):
          // docker --privileged asks for every one and fails here
          ...PRIVILEGED,
          '--pid',
          'host',
          '--network',
          'host',
          '-e',
          `CHAOSMETAD_HOST_EXEC=${install}/chaosmetad`,
          // this machine's pid 1 refuses to be entered (even by root): the test's own process stands for the node
          '-e',
          `CHAOSMETAD_HOST_PID=${process.pid}`,
          '-e',
          `CHAOSMETAD_DATA_DIR=${dataOf(node)}`,
          '-v',
          `${install}:${install}`,
        ],
        image,
        ['server', '--socket', `${dataOf(node)}.sock`],
      );
      pods.push({
        namespace: 'chaosmetad',
        name: `chaosmetad-agent-${node}`,
        node,
        labels: { 'app.kubernetes.io/name': 'chaosmetad-agent' },
        annotations: { 'kubectl.kubernetes.io/default-container': 'agent' },
        containers: [{ name: 'agent', docker: id }],
      });
    }
    for (const [name, node] of [
      ['web-1', 'node-a'],
      ['web-2', 'node-b'],
      ['web-3', 'node-a'],
      ['db-1', 'node-c'],
    ]) {
      web[name] = run(['--cpus', '1', '--name', `cmtest-pod-${name}`]);
      pods.push({
        namespace: 'shop',
        name,
        node,
        labels: { app: name.split('-')[0] },
        containers: [{ name: 'app', docker: web[name] }],
      });
    }
    api.pods = pods;
    // both agents serve (their daemons run on the "node", each on its data dir)
    for (const node of ['node-a', 'node-b'])
      expect(await waitFor(() => fs.existsSync(`${dataOf(node)}.sock`), 30_000)).toBe(true);
  });

  afterAll(async () => {
    for (const node of ['node-a', 'node-b']) cli(dataOf(node), ['recover', '--all']);
    removeTestContainers();
    await api.stop();
    const after = await hostSettles(before, 15_000);
    expect(after).toBe(before);
  });

  test('agents: one ready agent pod per node, its version; the executable installed on the node once', async () => {
    const r = await kube(['agents', '-o', 'json']);
    expect(r.stderr).toBe('');
    const agents = JSON.parse(r.stdout).agents as Array<Record<string, unknown>>;
    const version = JSON.parse(cli(tmp, ['version']).stdout).version as string;
    expect(agents).toEqual([
      { node: 'node-a', pod: 'chaosmetad/chaosmetad-agent-node-a', ready: true, version },
      { node: 'node-b', pod: 'chaosmetad/chaosmetad-agent-node-b', ready: true, version },
    ]);
    expect(fs.statSync(`${install}/chaosmetad`).size).toBe(fs.statSync(SEA).size);
    const table = await kube(['agents']);
    expect(table.stdout).toMatch(/NODE\s+POD\s+READY\s+VERSION/);
  });

  test('network limit into 2 of 3 selected pods: those two send at 1 Mbit/s, the third untouched; query and recover from a fresh HOME', async () => {
    const gw = inspect(web['web-1']).NetworkSettings.Gateway as string;
    const got = new Map<string, { bytes: number; first: number; last: number }>();
    const sink = net.createServer((s) => {
      let key = '';
      s.on('data', (b) => {
        if (!key) {
          key = b.subarray(0, 5).toString();
          got.set(key, { bytes: 0, first: Date.now(), last: 0 });
        }
        const g = got.get(key)!;
        g.bytes += b.length;
        g.last = Date.now();
      });
    });
    await new Promise<void>((r) => sink.listen(0, gw, r));
    const port = (sink.address() as net.AddressInfo).port;
    // each pod sends 256 KiB, starting with its own name: Mbit/s as the sink sees it
    const rate = async (pod: string) => {
      const p = spawn('docker', [
        'exec',
        web[pod],
        'sh',
        '-c',
        `(echo -n ${pod}; dd if=/dev/zero bs=1024 count=256 2>/dev/null) | nc -w 2 ${gw} ${port}`,
      ]);
      await new Promise((r) => p.on('exit', r));
      await sleep(300);
      const g = got.get(pod)!;
      return (g.bytes * 8) / Math.max(0.001, (g.last - g.first) / 1000) / 1e6;
    };
    try {
      const r = await kube([
        'inject',
        'network',
        'limit',
        '-n',
        'shop',
        '-l',
        'app=web',
        '--count',
        '2',
        '--seed',
        '7',
        '-i',
        'eth0',
        '-r',
        '1mbit',
        '--timeout',
        '5m',
        '-o',
        'json',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { uid, results } = JSON.parse(r.stdout) as { uid: string; results: Array<Record<string, unknown>> };
      expect(results.map((x) => x.result)).toEqual(['injected', 'injected']);
      const chosen = results.map((x) => String(x.target).split('/')[1]);
      const other = ['web-1', 'web-2', 'web-3'].find((p) => !chosen.includes(p))!;
      const rates: Record<string, number> = {};
      for (const pod of ['web-1', 'web-2', 'web-3']) rates[pod] = await rate(pod);
      console.log(
        `kube network limit 1mbit into ${chosen.join(', ')} (seed 7): ${Object.entries(rates)
          .map(([p, v]) => `${p} ${v.toFixed(2)} Mbit/s`)
          .join(', ')}`,
      );
      for (const pod of chosen) expect(Math.abs(rates[pod] - 1)).toBeLessThan(0.25);
      expect(rates[other]).toBeGreaterThan(10);
      // each part is on its node's store, with the experiment's uid as parent
      for (const x of results) {
        const part = nodeQuery(String(x.node), ['--uid', String(x.sub_uid)]).experiments[0];
        expect([part.parent_uid, part.status, part.container_id]).toEqual([
          uid,
          'success',
          web[String(x.target).split('/')[1]],
        ]);
      }
      // another machine with kubectl access (nothing of the first one's: a fresh HOME) finds and recovers them
      const home = tmpDir('kube-home');
      const q = await kube(['query', uid, '-o', 'json'], { HOME: home });
      expect(q.stderr).toBe('');
      const parts = JSON.parse(q.stdout).parts as Array<Record<string, string>>;
      expect(parts.map((p) => [p.uid, p.pod, p.status])).toEqual(results.map((x) => [x.sub_uid, x.target, 'success']));
      const rec = await kube(['recover', uid], { HOME: home });
      expect(rec.stderr).toBe('');
      expect(rec.code).toBe(0);
      expect(rec.stdout.match(/\[success\] recover/g)).toHaveLength(2);
      for (const pod of chosen) expect(await rate(pod)).toBeGreaterThan(10);
      const again = JSON.parse((await kube(['query', uid, '-o', 'json'])).stdout).parts as Array<
        Record<string, string>
      >;
      expect(again.map((p) => p.status)).toEqual(['destroyed', 'destroyed']);
    } finally {
      sink.close();
    }
  });
});

export type { ChildProcess };
