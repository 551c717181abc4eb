/**
 * The one stand-in of the Kubernetes tests: no API server can be had on these machines, so this serves what
 * kubectl calls — discovery, pods (get, list by namespace / all, label and field selectors), nodes, and
 * `pods/exec` over kubectl's WebSocket protocol (v5.channel.k8s.io; SPDY not offered) — from real docker
 * containers: each pod is a docker container (its status names it docker://ID), and exec runs the command in it
 * (`docker exec`), streaming stdout and stderr back and the exit code on the error channel, as the kubelet does.
 *  The REAL kubectl talks to it through a kubeconfig. An exec can be made to run and then lose
 * its connection (`dropExec`: a transport failure after the command ran).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakePod {
  namespace: string;
  name: string;
  node: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** containers by name → docker container id */
  containers: Array<{ name: string; docker: string }>;
  ready?: boolean;
  /** its containers crash-loop: the pod stays in phase Running, each container waiting in CrashLoopBackOff */
  crashLooping?: boolean;
}

const CHANNEL = { stdout: 1, stderr: 2, error: 3 };

function matches(selector: string | null, labels: Record<string, string> = {}): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const ne = /^([^!=]+)!=(.*)$/.exec(term);
    if (ne) return labels[ne[1].trim()] !== ne[2].trim();
    const eq = /^([^=]+)==?(.*)$/.exec(term);
    if (eq) return labels[eq[1].trim()] === eq[2].trim();
    return term.trim() in labels;
  });
}

export class TestApiServer {
  pods: FakePod[] = [];
  nodes: string[] = [];
  /** exec calls served, by pod name */
  execs: Array<{ pod: string; command: string[] }> = [];
  /** the next exec into `pod` whose command matches runs, then loses its connection before its exit status */
  dropExec: Array<{ pod: string; when: (command: string[]) => boolean }> = [];
  private server?: http.Server;
  private wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (p) =>
      p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : p.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false,
  });
  port = 0;

  async start(): Promise<number> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
      if (!m) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.exec(ws, m[1], m[2], url));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** A kubeconfig for kubectl pointing here (plain HTTP, no credentials). */
  writeKubeconfig(file: string, context = 'test'): void {
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: ${context}`,
        '  cluster:',
        `    server: http://127.0.0.1:${this.port}`,
        'contexts:',
        `- name: ${context}`,
        '  context:',
        `    cluster: ${context}`,
        '    user: tester',
        `current-context: ${context}`,
        'users:',
        '- name: tester',
        '  user: {}',
        '',
      ].join('\n'),
    );
  }

  private podJson(p: FakePod) {
    const ready = !p.crashLooping && (p.ready ?? true);
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: p.name,
        namespace: p.namespace,
        uid: `uid-${p.namespace}-${p.name}`,
        labels: p.labels ?? {},
        annotations: p.annotations ?? {},
        resourceVersion: '1',
        creationTimestamp: '2026-01-01T00:00:00Z',
      },
      spec: { nodeName: p.node, containers: p.containers.map((c) => ({ name: c.name, image: 'test' })) },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
        containerStatuses: p.containers.map((c) => ({
          name: c.name,
          ready,
          image: 'test',
          imageID: '',
          restartCount: p.crashLooping ? 7 : 0,
          containerID: `docker://${c.docker}`,
          state: p.crashLooping
            ? { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' } }
            : { running: { startedAt: '2026-01-01T00:00:00Z' } },
        })),
      },
    };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const notFound = (what: string) =>
      send(404, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `${what} not found`,
        reason: 'NotFound',
        code: 404,
      });
    const p = url.pathname.replace(/\/$/, '');
    if (req.method !== 'GET')
      return send(405, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code: 405,
        message: 'read-only test server',
      });
    if (p === '/version')
      return send(200, { major: '1', minor: '32', gitVersion: 'v1.32.0-chaosmetad-test', platform: 'linux/amd64' });
    if (p === '/api')
      return send(200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }],
      });
    if (p === '/apis') return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (p === '/api/v1')
      return send(200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          {
            name: 'pods',
            singularName: 'pod',
            namespaced: true,
            kind: 'Pod',
            verbs: ['get', 'list'],
            shortNames: ['po'],
          },
          { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
          {
            name: 'nodes',
            singularName: 'node',
            namespaced: false,
            kind: 'Node',
            verbs: ['get', 'list'],
            shortNames: ['no'],
          },
        ],
      });
    const list = (items: FakePod[]) => {
      const sel = url.searchParams.get('labelSelector');
      const field = url.searchParams.get('fieldSelector');
      const running = field === 'status.phase=Running' || !field;
      send(200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '1' },
        items: running ? items.filter((x) => matches(sel, x.labels)).map((x) => this.podJson(x)) : [],
      });
    };
    if (p === '/api/v1/pods') return list(this.pods);
    let m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(p);
    if (m) return list(this.pods.filter((x) => x.namespace === m![1]));
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(p);
    if (m) {
      const pod = this.pods.find((x) => x.namespace === m![1] && x.name === m![2]);
      return pod ? send(200, this.podJson(pod)) : notFound(`pods "${m[2]}"`);
    }
    const nodeJson = (n: string) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n, labels: { 'kubernetes.io/hostname': n }, resourceVersion: '1' },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
    if (p === '/api/v1/nodes')
      return send(200, { kind: 'NodeList', apiVersion: 'v1', metadata: {}, items: this.nodes.map(nodeJson) });
    m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(p);
    if (m) return this.nodes.includes(m[1]) ? send(200, nodeJson(m[1])) : notFound(`nodes "${m[1]}"`);
    notFound(p);
  }

  private exec(ws: WebSocket, ns: string, name: string, url: URL): void {
    const pod = this.pods.find((x) => x.namespace === ns && x.name === name);
    const command = url.searchParams.getAll('command');
    const want = url.searchParams.get('container') ?? pod?.containers[0]?.name;
    const c = pod?.containers.find((x) => x.name === want);
    const frame = (ch: number, data: Buffer | string) => {
      if (ws.readyState === ws.OPEN)
        ws.send(Buffer.concat([Buffer.from([ch]), Buffer.isBuffer(data) ? data : Buffer.from(data)]));
    };
    const status = (s: object) => {
      frame(CHANNEL.error, JSON.stringify({ metadata: {}, ...s }));
      ws.close(1000);
    };
    if (!pod || !c)
      return status({
        status: 'Failure',
        message: `container ${want} not found in pod ${ns}/${name}`,
        reason: 'NotFound',
      });
    this.execs.push({ pod: name, command });
    const i = this.dropExec.findIndex((x) => x.pod === name && x.when(command));
    const drop = i >= 0 && this.dropExec.splice(i, 1).length > 0;
    const child = spawn('docker', ['exec', c.docker, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => frame(CHANNEL.stdout, d));
    child.stderr.on('data', (d: Buffer) => frame(CHANNEL.stderr, d));
    ws.on('close', () => child.exitCode === null && child.kill('SIGKILL'));
    child.on('close', (code) => {
      if (drop) return ws.terminate(); // the command ran; the connection is lost before its status
      if (code === 0) status({ status: 'Success' });
      else
        status({
          status: 'Failure',
          message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'ExitCode', message: String(code ?? 1) }] },
        });
    });
  }
}

/** Why the real kubectl cannot be used here ('' = it can): missing, or older than 1.30 (exec over WebSocket). */
export function kubectlMissing(): string {
  const r = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (r.status !== 0) return 'kubectl is not installed';
  try {
    const v = (JSON.parse(r.stdout) as { clientVersion: { major: string; minor: string } }).clientVersion;
    const minor = parseInt(v.minor, 10);
    if (Number(v.major) === 1 && minor < 30)
      return `kubectl 1.${minor} execs over SPDY only; the test server speaks WebSocket (1.30+)`;
  } catch {
    return 'kubectl version --client -o json is not readable';
  }
  return '';
}
