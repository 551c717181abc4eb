/**
 * Issue 21, Kubernetes: `pods/exec` cannot restrict the command, so the agent restricts what its executable injects
 * (engine/policy.ts, from a read-only ConfigMap: deploy/policy.yaml). Each rule attacked through the real CLI with
 * the policy in force — faults, nodeFaults, namespaces (by the kubelet's pod-namespace label of the container),
 * protectedPaths (as written, through a link, through a bind mount into a pod), maxDuration, --server — and the
 * file itself (owned by nobody, writable by others, an unknown key): each refused with exit 1, naming the rule,
 * nothing stored. Then through an agent pod as the DaemonSet runs it (docker: host pid, privileged, the policy
 * directory laid out as a ConfigMap volume and mounted read-only), with `docker exec` standing for `kubectl exec`.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SEA, asNobody, cli, queryJson, tmpDir, waitFor } from '../helpers';
import { PRIVILEGED, agentImage, dockerUnavailable, ensureDocker, ensureImages, exec, run, sh } from '../containers';

jest.setTimeout(180_000);
const why = dockerUnavailable() || (fs.existsSync(SEA) ? '' : 'dist/chaosmetad is not built');
const d = why ? describe.skip : describe;
if (why) test.skip(`attack-kube — skipped: ${why}`, () => {});

const tmp = tmpDir('attack-kube');
// the policy must sit where only root can write (the agent refuses it under /tmp, which everyone may write in)
const safe = `/run/cmtest-attack-kube-${process.pid}`;
const kubelet = path.join(safe, 'kubelet'); // a protected directory of the "node"
let n = 0;

/** A policy file in a root-only directory; its path. */
function policy(doc: Record<string, unknown>, text = JSON.stringify(doc)): string {
  const f = path.join(safe, `policy-${++n}.json`);
  fs.writeFileSync(f, text, { mode: 0o644 });
  return f;
}

const BASE = { faults: ['file add', 'cpu burn'], namespaces: ['shop'], maxDuration: '30m' };

/** inject … under the policy file; exit code, stderr, and how many experiments the store holds after. */
function inject(data: string, file: string, args: string[]) {
  const r = cli(data, ['inject', ...args], { env: { CHAOSMETAD_POLICY: file } });
  const stored = queryJson(data).total;
  return { code: r.code, err: r.stderr.trim(), out: r.stdout, stored };
}

let shop = '';
let system = '';
let bare = '';
let mounted = '';
let dataN = 0;
const data = () => path.join(tmp, `data-${++dataN}`);

afterAll(() => {
  fs.rmSync(safe, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
});

d('the agent policy refuses, rule by rule, through the real CLI', () => {
  beforeAll(async () => {
    await ensureDocker();
    ensureImages();
    fs.mkdirSync(safe, { mode: 0o755 });
    fs.mkdirSync(kubelet, { mode: 0o755 });
    // pods' containers as the kubelet labels them (io.kubernetes.pod.namespace), and one that is no pod's
    shop = run(['--label', 'io.kubernetes.pod.namespace=shop']);
    system = run(['--label', 'io.kubernetes.pod.namespace=kube-system']);
    bare = run([]);
    // a pod in an allowed namespace with the node's protected directory mounted (a hostPath volume)
    mounted = run(['--label', 'io.kubernetes.pod.namespace=shop', '-v', `${kubelet}:/data`]);
  });

  afterAll(() => {
    for (const dir of fs.readdirSync(tmp).filter((f) => f.startsWith('data-')))
      cli(path.join(tmp, dir), ['recover', '--all']);
    sh('docker', ['rm', '-f', shop, system, bare, mounted]);
  });

  test('allowed: a file in a container of a pod in an allowed namespace, with a timeout (then recovered)', () => {
    const dd = data();
    const r = inject(dd, policy(BASE), ['file', 'add', '--container-id', shop, '--path', '/tmp/ok', '-t', '1m']);
    expect([r.code, r.stored]).toEqual([0, 1]);
    expect(exec(shop, ['cat', '/tmp/ok']).code).toBe(0);
    expect(cli(dd, ['recover', '--all']).code).toBe(0);
  });

  test('rule faults: a fault the policy does not list is refused', () => {
    const r = inject(data(), policy(BASE), [
      'network',
      'delay',
      '--container-id',
      shop,
      '-i',
      'eth0',
      '-l',
      '10ms',
      '-t',
      '1m',
    ]);
    expect(r).toMatchObject({ code: 1, stored: 0 });
    expect(r.err).toMatch(/refused by the agent policy .*rule faults: network delay is not among the allowed faults/);
  });

  test('rule namespaces: a container of a pod in another namespace, or of no pod, is refused', () => {
    const dd = data();
    for (const id of [system, bare]) {
      const r = inject(dd, policy(BASE), ['file', 'add', '--container-id', id, '--path', '/tmp/x', '-t', '1m']);
      expect(r).toMatchObject({ code: 1, stored: 0 });
      expect(r.err).toMatch(
        /rule namespaces: container \w+ (belongs to a pod in namespace kube-system|is not a pod's)/,
      );
      expect(exec(id, ['ls', '/tmp/x']).code).not.toBe(0);
    }
  });

  test('rule nodeFaults: an inject on the node itself is refused unless allowed', () => {
    const target = path.join(tmp, 'on-node');
    const r = inject(data(), policy(BASE), ['file', 'add', '--path', target, '-t', '1m']);
    expect(r).toMatchObject({ code: 1, stored: 0 });
    expect(r.err).toMatch(/rule nodeFaults/);
    expect(fs.existsSync(target)).toBe(false);
  });

  test('rule maxDuration: no --timeout, or a longer one, is refused', () => {
    const dd = data();
    const none = inject(dd, policy(BASE), ['file', 'add', '--container-id', shop, '--path', '/tmp/y']);
    expect(none).toMatchObject({ code: 1, stored: 0 });
    expect(none.err).toMatch(/rule maxDuration: a --timeout is required \(at most 30m\)/);
    const long = inject(dd, policy(BASE), ['file', 'add', '--container-id', shop, '--path', '/tmp/y', '-t', '2h']);
    expect(long).toMatchObject({ code: 1, stored: 0 });
    expect(long.err).toMatch(/rule maxDuration: --timeout is longer than the allowed 30m/);
  });

  test('rule protectedPaths: on the node as written, through a link, and in a pod through a bind mount or a link to it', () => {
    const dd = data();
    const onNode = policy({ ...BASE, nodeFaults: true, protectedPaths: ['/etc/kubernetes', kubelet] });
    // as written (the default list's /etc/kubernetes)
    const direct = inject(dd, policy({ ...BASE, nodeFaults: true }), [
      'file',
      'add',
      '-p',
      '/etc/kubernetes/x',
      '-t',
      '1m',
    ]);
    expect(direct).toMatchObject({ code: 1, stored: 0 });
    expect(direct.err).toMatch(
      /rule protectedPaths: "?\/etc\/kubernetes\/x"? is under the protected \/etc\/kubernetes/,
    );
    // through a root-owned link in a root-only directory (one the file fault itself would follow)
    fs.symlinkSync(kubelet, path.join(safe, 'lnk'));
    const viaLink = inject(dd, onNode, ['file', 'add', '-p', path.join(safe, 'lnk', 'evil'), '-t', '1m']);
    expect(viaLink).toMatchObject({ code: 1, stored: 0 });
    expect(viaLink.err).toMatch(/rule protectedPaths: .* under the protected .*kubelet \(resolved/);
    // in a pod of an allowed namespace whose volume is the protected directory: /data, and a link to it in /tmp
    expect(exec(mounted, ['ln', '-s', '/data', '/tmp/l']).code).toBe(0);
    for (const p of ['/data/evil', '/tmp/l/evil']) {
      const r = inject(dd, onNode, ['file', 'add', '--container-id', mounted, '-p', p, '-t', '1m']);
      expect(r).toMatchObject({ code: 1, stored: 0 });
      expect(r.err).toMatch(/rule protectedPaths: .*the protected .*kubelet itself or under it \(by way of \/data\)/);
    }
    expect(fs.readdirSync(kubelet)).toEqual([]);
  });

  test('rule protectedPaths: a hostPath of a sub-directory of a protected path, judged by where it is on the node', () => {
    const dd = data();
    const pki = path.join(kubelet, 'pki');
    fs.mkdirSync(pki);
    const c = run(['--label', 'io.kubernetes.pod.namespace=shop', '-v', `${pki}:/certs`]);
    try {
      const r = inject(dd, policy({ ...BASE, protectedPaths: [kubelet] }), [
        'file',
        'add',
        '--container-id',
        c,
        '-p',
        '/certs/evil',
        '-t',
        '1m',
      ]);
      expect(r).toMatchObject({ code: 1, stored: 0 });
      expect(r.err).toMatch(
        /rule protectedPaths: "?\/certs\/evil"? in the container is the node's .*\/kubelet\/pki\/evil, under the protected /,
      );
      expect(fs.readdirSync(pki)).toEqual([]);
    } finally {
      sh('docker', ['rm', '-f', c]);
    }
  });

  test("rule protectedPaths: a pod's own volume under the kubelet's directory is its own; another pod's is not", () => {
    // the kubelet's layout on the node: /var/lib/kubelet/pods/<pod uid>/volumes/kubernetes.io~empty-dir/<name>
    const made = !fs.existsSync('/var/lib/kubelet');
    if (!made) return; // a real kubelet's directory: not ours to write in
    const uid = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const vol = `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~empty-dir/cache`;
    fs.mkdirSync(vol, { recursive: true });
    const label = ['--label', 'io.kubernetes.pod.namespace=shop', '-v', `${vol}:/cache`];
    const ownPod = run([...label, '--label', `io.kubernetes.pod.uid=${uid}`]);
    const otherPod = run([...label, '--label', 'io.kubernetes.pod.uid=99999999-0000-0000-0000-000000000000']);
    try {
      const dd = data();
      const args = (id: string) => ['file', 'add', '--container-id', id, '-p', '/cache/f', '-t', '1m'];
      const other = inject(dd, policy(BASE), args(otherPod));
      expect(other).toMatchObject({ code: 1, stored: 0 });
      expect(other.err).toMatch(
        /in the container is the node's \/var\/lib\/kubelet\/pods\/.*, under the protected \/var\/lib\/kubelet/,
      );
      const own = inject(dd, policy(BASE), args(ownPod));
      expect([own.code, own.err, own.stored]).toEqual([0, '', 1]);
      expect(cli(dd, ['recover', '--all']).code).toBe(0);
    } finally {
      sh('docker', ['rm', '-f', ownPod, otherPod]);
      fs.rmSync('/var/lib/kubelet', { recursive: true, force: true });
    }
  });

  test('rule server: the agent does not send its injects to another daemon (one without the policy)', () => {
    const r = inject(data(), policy(BASE), [
      'file',
      'add',
      '--container-id',
      shop,
      '-p',
      '/tmp/z',
      '-t',
      '1m',
      '--server',
      'unix:/nonexistent.sock',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/rule server: --server is not allowed in the agent/);
  });

  test('the schema: an unknown key (a typo) or an unknown fault refuses every inject, never lifts a rule', () => {
    const dd = data();
    const args = ['file', 'add', '--container-id', system, '--path', '/tmp/t', '-t', '1m'];
    const typo = inject(
      dd,
      policy({ faults: ['*'], namespace: ['kube-system'], namespaces: [], maxDuration: '1h' }),
      args,
    );
    expect(typo).toMatchObject({ code: 1, stored: 0 });
    expect(typo.err).toMatch(/agent policy .*: unknown key "namespace"/);
    const fault = inject(dd, policy({ ...BASE, faults: ['file add', 'netwrok delay'] }), args);
    expect(fault).toMatchObject({ code: 1, stored: 0 });
    expect(fault.err).toMatch(/faults: "netwrok delay"/);
    const notJson = inject(dd, policy({}, 'faults: ["*"]'), args);
    expect(notJson).toMatchObject({ code: 1, stored: 0 });
    expect(notJson.err).toMatch(/not valid JSON/);
    expect(exec(system, ['ls', '/tmp/t']).code).not.toBe(0);
  });

  test('the file: owned by nobody, writable by others, in a directory others can write, or linked by nobody: refused', () => {
    const dd = data();
    const args = ['file', 'add', '--container-id', shop, '--path', '/tmp/f', '-t', '1m'];
    // nobody's file (as nobody could have written it: a policy that allows everything)
    const all = { faults: ['*'], namespaces: ['shop', 'kube-system'], nodeFaults: true, maxDuration: '24h' };
    const owned = policy(all);
    fs.chownSync(owned, 65534, 65534);
    expect(asNobody(['sh', '-c', `echo '{}' > ${owned}`]).code).toBe(0); // nobody can rewrite it: that is the point
    fs.writeFileSync(owned, JSON.stringify(all));
    const a = inject(dd, owned, args);
    expect(a).toMatchObject({ code: 1, stored: 0 });
    expect(a.err).toMatch(/agent policy file .*: is owned by uid 65534, not root/);
    const worldWritable = policy(all);
    fs.chmodSync(worldWritable, 0o666);
    const b = inject(dd, worldWritable, args);
    expect(b).toMatchObject({ code: 1, stored: 0 });
    expect(b.err).toMatch(/is writable by others than root \(group 0, mode 0666\)/);
    const open = path.join(safe, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    fs.writeFileSync(path.join(open, 'p.json'), JSON.stringify(all), { mode: 0o644 });
    const c = inject(dd, path.join(open, 'p.json'), args);
    expect(c).toMatchObject({ code: 1, stored: 0 });
    expect(c.err).toMatch(/directory .*\/open \(owner uid 0, group 0, mode 0777\) can be changed by others than root/);
    const link = path.join(safe, 'nobody-link.json');
    fs.symlinkSync(policy(all), link);
    fs.lchownSync(link, 65534, 65534);
    const e = inject(dd, link, args);
    expect(e).toMatchObject({ code: 1, stored: 0 });
    expect(e.err).toMatch(/is a symbolic link of uid 65534, not root's/);
  });
});

d('through an agent pod: docker exec standing for kubectl exec', () => {
  const install = path.join(tmp, 'opt');
  const agentData = path.join(tmp, 'agent-data');
  const looseData = path.join(tmp, 'loose-data');
  let agent = '';
  let looseAgent = '';
  let target = '';
  let other = '';

  /** A ConfigMap volume's layout: a 0777 directory, the data in a timestamped one, links ..data and policy.json. */
  function configMapDir(name: string, doc: Record<string, unknown>): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(path.join(dir, '..2026_12_07_00_00_00.1'), { recursive: true });
    fs.chmodSync(dir, 0o777);
    fs.writeFileSync(path.join(dir, '..2026_12_07_00_00_00.1', 'policy.json'), JSON.stringify(doc), { mode: 0o444 });
    fs.symlinkSync('..2026_12_07_00_00_00.1', path.join(dir, '..data'));
    fs.symlinkSync('..data/policy.json', path.join(dir, 'policy.json'));
    return dir;
  }

  function runAgentWithPolicy(name: string, dir: string, ro: boolean, data: string): string {
    return run(
      [
        '--name',
        `cmtest-${name}-${process.pid}`,
        ...PRIVILEGED,
        ...['--pid', 'host', '--network', 'host', '-v', `${install}:${install}`],
        ...['-v', `${dir}:/etc/chaosmetad/policy${ro ? ':ro' : ''}`],
        ...['-e', `CHAOSMETAD_HOST_EXEC=${install}/chaosmetad`, '-e', `CHAOSMETAD_HOST_PID=${process.pid}`],
        ...['-e', `CHAOSMETAD_DATA_DIR=${data}`, '-e', 'CHAOSMETAD_POLICY=/etc/chaosmetad/policy/policy.json'],
      ],
      agentImage(),
      ['server', '--socket', `${data}.sock`],
    );
  }

  beforeAll(async () => {
    await ensureDocker();
    ensureImages();
    fs.mkdirSync(install, { recursive: true, mode: 0o755 });
    const doc = { faults: ['file add'], namespaces: ['shop'], maxDuration: '10m' };
    agent = runAgentWithPolicy('agent', configMapDir('cm', doc), true, agentData);
    looseAgent = runAgentWithPolicy('loose-agent', configMapDir('cm-rw', doc), false, looseData);
    target = run(['--label', 'io.kubernetes.pod.namespace=shop']);
    other = run(['--label', 'io.kubernetes.pod.namespace=kube-system']);
    for (const dd of [agentData, looseData])
      expect(await waitFor(() => fs.existsSync(`${dd}.sock`), 30_000)).toBe(true);
  });

  afterAll(() => {
    for (const dd of [agentData, looseData]) cli(dd, ['recover', '--all']);
    sh('docker', ['rm', '-f', agent, looseAgent, target, other]);
  });

  const kexec = (id: string, argv: string[]) => exec(id, ['/usr/local/bin/chaosmetad', ...argv]);

  test('the read-only ConfigMap policy holds for an exec: other namespace, other fault, no timeout refused; allowed one runs', () => {
    const refusals: Array<[string[], RegExp]> = [
      [['inject', 'file', 'add', '--container-id', other, '-p', '/tmp/k', '-t', '1m'], /rule namespaces/],
      [['inject', 'cpu', 'burn', '--container-id', target, '-t', '1m'], /rule faults/],
      [['inject', 'file', 'add', '--container-id', target, '-p', '/tmp/k'], /rule maxDuration/],
      [['inject', 'file', 'add', '-p', '/tmp/k', '-t', '1m'], /rule nodeFaults/],
    ];
    for (const [argv, rule] of refusals) {
      const r = kexec(agent, [...argv, '--json']);
      expect({ code: r.code, err: r.err }).toEqual({ code: 1, err: expect.stringMatching(rule) });
    }
    expect(queryJson(agentData).total).toBe(0);
    const ok = kexec(agent, ['inject', 'file', 'add', '--container-id', target, '-p', '/tmp/k', '-t', '1m', '--json']);
    expect([ok.code, ok.err]).toEqual([0, '']);
    expect(exec(target, ['cat', '/tmp/k']).code).toBe(0);
    expect(kexec(agent, ['recover', '--all']).code).toBe(0);
  });

  test('the same ConfigMap layout mounted writable (its directory is 0777): every inject refused, nothing run', () => {
    const r = kexec(looseAgent, ['inject', 'file', 'add', '--container-id', target, '-p', '/tmp/w', '-t', '1m']);
    expect({ code: r.code, err: r.err }).toEqual({
      code: 1,
      err: expect.stringMatching(
        /agent policy file \/etc\/chaosmetad\/policy\/policy.json: directory \/etc\/chaosmetad\/policy .*mode 0777\) can be changed by others than root/,
      ),
    });
    expect(exec(target, ['ls', '/tmp/w']).code).not.toBe(0);
  });

  // not an attack this change stops: what docs/security.md "Kubernetes: who must be trusted with what" says
  // remains. With host pid and privileges, the node's own programs are one path away (/proc/PID/root of any node
  // process), so pods/exec into the agent stays root on the node; the policy binds chaosmetad, not a raw exec.
  test("what remains: exec of the node's own chroot through /proc/PID/root is a root shell on the node", () => {
    const r = exec(agent, [
      `/proc/${process.pid}/root/usr/sbin/chroot`,
      `/proc/${process.pid}/root`,
      '/bin/sh',
      '-c',
      'id -u; cat /proc/sys/kernel/hostname',
    ]);
    expect([r.code, r.out.split('\n')]).toEqual([
      0,
      ['0', fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()],
    ]);
  });

  test('the image has no shell: exec of sh fails', () => {
    for (const c of [
      ['sh', '-c', 'id'],
      ['/bin/sh', '-c', 'id'],
      ['ls', '/'],
    ])
      expect(exec(agent, c).code).not.toBe(0);
  });
});
