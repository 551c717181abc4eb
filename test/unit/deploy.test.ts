/**
 * deploy/: every manifest validated against the Kubernetes API schema (kubernetes-models: the models and JSON
 * schemas generated from Kubernetes' OpenAPI document), the kustomization built by the real kubectl, and what the
 * agent needs to work checked on the built objects: privileged, host pid and network, on every node, the executable
 * installed on the node, the store and the runtime sockets from the host, Prometheus annotations that match its
 * metrics port; exec allowed only into the agents' namespace.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { DEFAULT_PROTECTED_PATHS, parsePolicy } from '../../src/engine/policy';

const DEPLOY = path.resolve(__dirname, '..', '..', 'deploy');

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<string, any>;

const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

function validate(o: Obj): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema model for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

const manifests = fs.readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const docs: Obj[] = manifests.flatMap((f) =>
  parseAllDocuments(fs.readFileSync(path.join(DEPLOY, f), 'utf8')).map((d) => d.toJS() as Obj),
);

test.each(docs.map((d) => [`${d.kind} ${d.metadata.name}`, d]))('%s is valid against the API schema', (_n, d) => {
  expect(() => validate(d)).not.toThrow();
});

test('the validation can fail: a wrong type or a missing required field is refused', () => {
  const ds = structuredClone(docs.find((d) => d.kind === 'DaemonSet')!);
  ds.spec.template.spec.containers[0].securityContext.privileged = 'yes';
  expect(() => validate(ds)).toThrow(/privileged must be boolean/);
  const noSelector = structuredClone(docs.find((d) => d.kind === 'DaemonSet')!);
  delete noSelector.spec.selector;
  expect(() => validate(noSelector)).toThrow(/selector/);
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
(kubectl ? test : test.skip)('kubectl kustomize builds deploy/ into exactly these objects', () => {
  const r = spawnSync('kubectl', ['kustomize', DEPLOY], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const built = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
  expect(built.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
    docs.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
  );
  for (const o of built) validate(o);
});

test('the agent: privileged, host pid and network, on worker nodes, running on the node with its store and sockets', () => {
  const ds = docs.find((d) => d.kind === 'DaemonSet')!;
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  expect([ds.metadata.namespace, pod.hostPID, pod.hostNetwork, c.securityContext.privileged]).toEqual([
    'chaosmetad',
    true,
    true,
    true,
  ]);
  // control-plane nodes only when asked: no toleration at all (a blanket `operator: Exists` tolerates their taint)
  expect(pod.tolerations).toBeUndefined();
  expect(ds.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'chaosmetad-agent' });
  // the label and default container kube inject looks for (src/kube/picks.ts DEFAULT_AGENTS)
  expect(ds.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('chaosmetad-agent');
  expect(ds.spec.template.metadata.annotations['kubectl.kubernetes.io/default-container']).toBe(c.name);
  const env = Object.fromEntries((c.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
  expect(env.CHAOSMETAD_HOST_EXEC).toBe('/opt/chaosmetad/chaosmetad');
  const mounts = Object.fromEntries(
    (c.volumeMounts as Array<{ name: string; mountPath: string }>).map((m) => [m.mountPath, m.name]),
  );
  const hostPaths = Object.fromEntries(
    (pod.volumes as Array<{ name: string; hostPath?: { path: string } }>)
      .filter((v) => v.hostPath)
      .map((v) => [v.name, v.hostPath!.path]),
  );
  // each hostPath is mounted at its own path: what the agent writes at /opt/chaosmetad is the node's
  for (const [at, name] of Object.entries(mounts)) if (name in hostPaths) expect(hostPaths[name]).toBe(at);
  for (const p of [
    '/opt/chaosmetad',
    env.CHAOSMETAD_DATA_DIR,
    '/var/run/docker.sock',
    '/run/containerd',
    '/sys/fs/cgroup',
  ])
    expect(Object.keys(mounts)).toContain(p);
  // the server: on a Unix socket, /metrics for Prometheus on the port the annotations name
  expect(c.args.slice(0, 3)).toEqual(['server', '--socket', '/run/chaosmetad/agent.sock']);
  const metrics = c.args[c.args.indexOf('--metrics-addr') + 1] as string;
  const ann = ds.spec.template.metadata.annotations;
  expect([ann['prometheus.io/scrape'], ann['prometheus.io/port'], ann['prometheus.io/path']]).toEqual([
    'true',
    metrics.split(':')[1],
    '/metrics',
  ]);
  expect(c.readinessProbe.httpGet.port).toBe(Number(metrics.split(':')[1]));
  // the token-less metrics listener: on the node's own address (the pod IP under hostNetwork), not 0.0.0.0, and
  // probed there (a probe's default host is the pod IP)
  expect(metrics).toBe('$(POD_IP):29596');
  const podIp = (c.env as Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>).find(
    (e) => e.name === 'POD_IP',
  );
  expect(podIp?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
  for (const probe of [c.readinessProbe, c.livenessProbe]) {
    expect(probe.httpGet.host).toBeUndefined();
    expect(probe.httpGet.port).toBe(29596);
  }
});

test('RBAC: injectors read pods and nodes anywhere, and exec only into the agents namespace', () => {
  const cr = docs.find((d) => d.kind === 'ClusterRole')!;
  expect(cr.rules).toEqual([{ apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list'] }]);
  const role = docs.find((d) => d.kind === 'Role')!;
  expect(role.metadata.namespace).toBe('chaosmetad');
  expect(role.rules).toContainEqual({ apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'] });
  for (const b of docs.filter((d) => d.kind.endsWith('Binding')))
    expect(docs.some((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name)).toBe(true);
});

test('the Dockerfile ships the single executable as the entrypoint', () => {
  const df = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  expect(df).toMatch(/^COPY dist\/chaosmetad \/usr\/local\/bin\/chaosmetad$/m);
  expect(df).toMatch(/^ENTRYPOINT \["\/usr\/local\/bin\/chaosmetad"\]$/m);
});

test('the agent policy: a ConfigMap mounted read-only, named by CHAOSMETAD_POLICY, valid, closed until edited', () => {
  const ds = docs.find((d) => d.kind === 'DaemonSet')!;
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  const env = Object.fromEntries((c.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
  const file = env.CHAOSMETAD_POLICY;
  const mount = (c.volumeMounts as Array<{ name: string; mountPath: string; readOnly?: boolean }>).find(
    (m) => m.mountPath === path.dirname(file),
  )!;
  expect(mount.readOnly).toBe(true);
  const vol = (pod.volumes as Array<{ name: string; configMap?: { name: string; defaultMode?: number } }>).find(
    (v) => v.name === mount.name,
  )!;
  // read-only for everyone (0444): root-owned files no one can write, which the agent checks before reading
  expect(vol.configMap!.defaultMode).toBe(0o444);
  const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === vol.configMap!.name)!;
  expect(cm.metadata.namespace).toBe(ds.metadata.namespace);
  const policy = parsePolicy(cm.data[path.basename(file)], 'deploy/policy.yaml');
  expect(policy).toMatchObject({ namespaces: [], nodeFaults: false, protectedPaths: DEFAULT_PROTECTED_PATHS });
  // the injectors' roles cannot change it: nothing on configmaps
  for (const r of docs.filter((d) => d.kind === 'Role' || d.kind === 'ClusterRole'))
    for (const rule of r.rules as Array<{ resources: string[] }>) expect(rule.resources).not.toContain('configmaps');
});

test('the image holds the executable and the libraries it links, nothing else: the final stage is FROM scratch', () => {
  const df = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  const lines = df.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  const stages = lines.map((l, i) => [l, i] as const).filter(([l]) => /^FROM /.test(l));
  const last = lines.slice(stages[stages.length - 1][1]);
  expect(last[0]).toBe('FROM scratch');
  // no RUN (nothing to run it with), only copies: the libraries stage's /out and the executable
  expect(last.filter((l) => !/^(FROM|COPY|ENTRYPOINT|CMD) /.test(l))).toEqual([]);
  expect(last.filter((l) => l.startsWith('COPY '))).toEqual([
    'COPY --from=libs /out/ /',
    'COPY dist/chaosmetad /usr/local/bin/chaosmetad',
  ]);
  // and the libraries stage puts into /out only what ldd names for the executable
  const libs = lines.slice(stages[0][1], stages[stages.length - 1][1]);
  expect(libs.filter((l) => l.startsWith('RUN '))).toEqual([
    "RUN mkdir /out && ldd /usr/local/bin/chaosmetad | grep -o '/[^ ]*' | sort -u | xargs -r cp --parents -L -t /out",
  ]);
});
