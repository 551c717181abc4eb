/**
 * A Kubernetes cluster for the kube suites (test/integration/kube.test.ts, drill-kube.test.ts), made of the one
 * stand-in API server (test/kube-apiserver.ts) and real docker containers: the agent pods are containers of the
 * agent image built from the single executable (host pid and network, `chaosmetad server` on their "node": this
 * host, a data dir per node), the app pods plain containers of the busybox image. The real kubectl reaches it through
 * the kubeconfig written here; `kube()` and `spawnCli()` run the CLI asynchronously, since the API server lives in
 * the test's own process (a synchronous child would stall it).
 */
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, type RunResult, cli, hostState, waitFor } from '../helpers';
import { agentImage, ensureDocker, ensureImages, removeTestContainers, run, runAgent } from '../containers';
import { type FakePod, TestApiServer } from '../kube-apiserver';

/** bin/chaosmetad ARGS in a child (not blocking this process), its output gathered; SIGKILLed at the timeout. */
export function spawnCli(
  args: string[],
  o: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...o.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A part as its node's store holds it (read directly: a CLI run per poll would be slow). */
export interface PartRow {
  node: string;
  uid: string;
  parent_uid: string;
  status: string;
  container_id: string;
  lease_until: number;
  update_ms: number;
}

export class KubeStandIn {
  readonly api = new TestApiServer();
  /** the agents install the executable here "on the node" */
  readonly install: string;
  readonly kubeconfig: string;
  /** the app pods: name → docker id */
  readonly pods: Record<string, string> = {};
  /** the host as it was before the cluster was made (after docker and the images were ready) */
  before = '';
  private agentNodes: string[] = [];

  constructor(readonly tmp: string) {
    this.install = path.join(tmp, 'opt');
    this.kubeconfig = path.join(tmp, 'kubeconfig');
  }

  dataOf(node: string): string {
    return path.join(this.tmp, `data-${node}`);
  }

  /**
   * Docker and the images ready, the host's state taken, then the API server with `nodes`, and an agent pod on each
   * of `agents` (serving once each has its socket). `metrics`: a node's /metrics address.
   */
  async start(o: { nodes: string[]; agents: string[]; metrics?: (node: string) => string }): Promise<void> {
    await ensureDocker();
    ensureImages();
    removeTestContainers();
    this.before = hostState();
    const image = agentImage();
    fs.mkdirSync(this.install, { mode: 0o755 });
    await this.api.start();
    this.api.writeKubeconfig(this.kubeconfig);
    this.api.nodes = o.nodes;
    this.agentNodes = o.agents;
    for (const node of o.agents) {
      const id = runAgent({
        name: `cmtest-agent-${node}`,
        image,
        install: this.install,
        dataDir: this.dataOf(node),
        // this machine's pid 1 refuses to be entered (even by root): the test's own process stands for the node
        hostPid: process.pid,
        metrics: o.metrics?.(node),
      });
      this.api.pods.push({
        namespace: 'chaosmetad',
        name: `chaosmetad-agent-${node}`,
        node,
        labels: { 'app.kubernetes.io/name': 'chaosmetad-agent' },
        annotations: { 'kubectl.kubernetes.io/default-container': 'agent' },
        containers: [{ name: 'agent', docker: id }],
      });
    }
    for (const node of o.agents)
      if (!(await waitFor(() => fs.existsSync(`${this.dataOf(node)}.sock`), 30_000)))
        throw new Error(`the agent on ${node} does not serve`);
  }

  /** An app pod: a busybox container (`docker run` flags and command given) with one container named `app`. */
  addPod(o: Omit<FakePod, 'containers'> & { docker: string[]; cmd?: string[] }): string {
    const id = run(['--name', `cmtest-pod-${o.name}`, ...o.docker], undefined, o.cmd);
    this.pods[o.name] = id;
    this.api.pods.push({
      namespace: o.namespace,
      name: o.name,
      node: o.node,
      labels: o.labels,
      annotations: o.annotations,
      containers: [{ name: 'app', docker: id }],
    });
    return id;
  }

  /** chaosmetad kube ARGS --kubeconfig (asynchronously). */
  kube(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<RunResult> {
    return spawnCli(['kube', ...args, '--kubeconfig', this.kubeconfig], { env, timeoutMs });
  }

  /** The node's own view: its store, read with its own CLI. */
  nodeQuery(node: string, args: string[] = []): { experiments: Array<Record<string, string>>; total: number } {
    const r = cli(this.dataOf(node), ['query', '--format', 'json', '--limit', '0', ...args]);
    return JSON.parse(r.stdout) as { experiments: Array<Record<string, string>>; total: number };
  }

  /** The parts of a kube experiment on every agent's node, from the nodes' stores (read-only). */
  parts(parentUid: string): PartRow[] {
    return this.agentNodes.flatMap((node) => {
      const file = path.join(this.dataOf(node), 'chaosmetad.db');
      if (!fs.existsSync(file)) return [];
      const db = new Database(file, { readonly: true });
      try {
        const rows = db
          .prepare(
            'SELECT uid, parent_uid, status, container_id, lease_until, update_ms FROM experiments WHERE parent_uid = ?',
          )
          .all(parentUid) as Array<Omit<PartRow, 'node'>>;
        return rows.map((r) => ({ node, ...r }));
      } finally {
        db.close();
      }
    });
  }

  /** Everything recovered on every node, every test container removed, the API server stopped. */
  async stop(): Promise<void> {
    for (const node of this.agentNodes) cli(this.dataOf(node), ['recover', '--all']);
    removeTestContainers();
    await this.api.stop();
  }
}

/** The cpuacct.usage file of a process's cgroup (v1 here; cpu.stat's usage_usec on v2 is not read by the tests). */
export function cpuacct(pid: number): string {
  const line = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes('cpuacct'))!;
  const point = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => [l.split(' ')[4], ...(l.split(' - ')[1] ?? '').split(' ')])
    .find(([, t, , o]) => t === 'cgroup' && (o ?? '').split(',').includes('cpuacct'))![0];
  return path.join(point, line.split(':')[2], 'cpuacct.usage');
}
