/**
 * Real container runtimes for the tests: dockerd (Debian's docker.io, its containers in containerd's `moby`
 * namespace) started when it is not running, and images built without a registry: a busybox-static rootfs
 * (`cmtest/busybox`) and a "distroless" one holding a single static binary and no shell (`cmtest/distroless`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sleep } from './helpers';

export const DOCKER_SOCK = '/var/run/docker.sock';
export const BUSYBOX_IMAGE = 'cmtest/busybox:2';
export const DISTROLESS_IMAGE = 'cmtest/distroless:1';

export function sh(cmd: string, args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 120_000 });
  return { code: r.status ?? -1, out: (r.stdout ?? '').trim(), err: (r.stderr ?? '').trim() };
}

/** Why containers cannot be tested here ('' = they can). */
export function dockerUnavailable(): string {
  if (sh('sh', ['-c', 'command -v dockerd && command -v docker && command -v containerd']).code !== 0)
    return 'dockerd, docker or containerd is not installed (apt-get install docker.io containerd runc)';
  return '';
}

async function pingDocker(): Promise<boolean> {
  return sh('docker', ['version', '--format', '{{.Server.Version}}']).code === 0;
}

export const CONTAINERD_SOCK = '/run/containerd/containerd.sock';

/**
 * containerd and dockerd running (started here, detached, when they are not: .ci/run starts them first the same
 * way, scripts/start-runtimes.sh); dockerd uses that containerd, so `ctr -n moby` sees docker's containers.
 */
export async function ensureDocker(): Promise<void> {
  if (await pingDocker()) return;
  const r = sh(path.join(__dirname, '..', 'scripts', 'start-runtimes.sh'), []);
  if (r.code !== 0) throw new Error(`scripts/start-runtimes.sh: ${r.out} ${r.err}`);
  for (let i = 0; i < 50; i++) {
    if (await pingDocker()) return;
    await sleep(200);
  }
  throw new Error('dockerd does not answer');
}

export function importImage(
  tag: string,
  files: Record<string, { from?: string; link?: string; text?: string }>,
  changes: string[] = [],
): void {
  if (sh('docker', ['image', 'inspect', tag]).code === 0) return;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmtest-rootfs-'));
  try {
    for (const [p, f] of Object.entries(files)) {
      const dst = path.join(root, p);
      fs.mkdirSync(path.dirname(dst), { recursive: true });
      if (f.from) fs.copyFileSync(f.from, dst);
      if (f.from) fs.chmodSync(dst, 0o755);
      if (f.link) fs.symlinkSync(f.link, dst);
      if (f.text !== undefined) fs.writeFileSync(dst, f.text);
    }
    for (const d of ['tmp', 'etc', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    const change = changes.map((c) => `--change '${c}'`).join(' ');
    const tar = sh('sh', ['-c', `tar -C ${root} -c . | docker import ${change} - ${tag}`]);
    if (tar.code !== 0) throw new Error(`docker import ${tag}: ${tar.err}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** A static program that only sleeps (no shell, no libc in the image): the distroless stand-in. */
export function sleeperBinary(): string {
  const out = path.join(os.tmpdir(), 'cmtest-sleeper');
  if (fs.existsSync(out)) return out;
  const src = `${out}.c`;
  fs.writeFileSync(src, '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n');
  const r = sh('cc', ['-static', '-O2', '-o', out, src]);
  if (r.code !== 0) throw new Error(`cc: ${r.err}`);
  return out;
}

export function ensureImages(): void {
  const bb = '/bin/busybox';
  const files: Record<string, { from?: string; link?: string; text?: string }> = { 'bin/busybox': { from: bb } };
  for (const tool of [
    'sh',
    'sleep',
    'cat',
    'ls',
    'ping',
    'nc',
    'ip',
    'stat',
    'echo',
    'head',
    'wc',
    'dd',
    'ln',
    'chmod',
    'true',
    'pidof',
    'ps',
    'kill',
  ])
    files[`bin/${tool}`] = { link: 'busybox' };
  files['etc/passwd'] = { text: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' };
  files['etc/group'] = { text: 'root:x:0:\nnogroup:x:65534:\n' };
  importImage(BUSYBOX_IMAGE, files);
  importImage(DISTROLESS_IMAGE, { app: { from: sleeperBinary() } });
}

/** docker run -d …; returns the full id. */
export function run(args: string[], image = BUSYBOX_IMAGE, cmd: string[] = ['sleep', '3600']): string {
  const r = sh('docker', ['run', '-d', '--label', 'chaosmetad-test=1', ...args, image, ...cmd]);
  if (r.code !== 0) throw new Error(`docker run: ${r.err}`);
  return r.out.split('\n').pop()!;
}

export function exec(id: string, cmd: string[]): { code: number; out: string; err: string } {
  return sh('docker', ['exec', id, ...cmd]);
}

export function inspect(id: string): any {
  return JSON.parse(sh('docker', ['inspect', id]).out)[0];
}

/** Remove every container the tests made. */
export function removeTestContainers(): void {
  const ids = sh('docker', ['ps', '-aq', '--filter', 'label=chaosmetad-test=1']).out.split('\n').filter(Boolean);
  if (ids.length) sh('docker', ['rm', '-f', ...ids]);
}

/**
 * The agent image as deploy/Dockerfile builds it (FROM scratch: the single executable and the glibc libraries it
 * links, no shell) but without a registry: dist/chaosmetad and the libraries ldd names (from this host),
 * docker-imported. Tagged by the executable's build, so a new build gets a new image.
 */
export function agentImage(): string {
  const exe = path.join(__dirname, '..', 'dist', 'chaosmetad');
  if (!fs.existsSync(exe)) throw new Error('dist/chaosmetad is missing: npm run build');
  const st = fs.statSync(exe);
  const tag = `cmtest/agent:${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}`;
  const files: Record<string, { from?: string; link?: string; text?: string }> = {
    'usr/local/bin/chaosmetad': { from: exe },
    'etc/passwd': { text: 'root:x:0:0:root:/root:/bin/false\n' },
  };
  const ldd = sh('ldd', [exe]).out;
  for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) files[m[1].slice(1)] = { from: m[1] };
  importImage(tag, files, ['ENTRYPOINT ["/usr/local/bin/chaosmetad"]']);
  return tag;
}

/**
 * A JVM image with no shell and no JDK tools: only this host's OpenJDK 17 runtime (bin/java, lib/, conf/, links
 * resolved) and the glibc libraries it links. The program's classes are mounted at /app when it runs.
 */
export function jreImage(): string {
  const tag = 'cmtest/jre:1';
  if (sh('docker', ['image', 'inspect', tag]).code === 0) return tag;
  const jdk = '/usr/lib/jvm/java-17-openjdk-amd64';
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmtest-jre-'));
  try {
    fs.mkdirSync(path.join(root, 'jre', 'bin'), { recursive: true });
    // cp -L: Debian's JDK links its conf files to /etc; a dangling link (an optional library) is left out
    sh('cp', ['-rL', `${jdk}/lib`, `${jdk}/conf`, `${jdk}/release`, path.join(root, 'jre')]);
    fs.copyFileSync(`${jdk}/bin/java`, path.join(root, 'jre', 'bin', 'java'));
    fs.chmodSync(path.join(root, 'jre', 'bin', 'java'), 0o755);
    const libs = new Set<string>();
    for (const f of [`${jdk}/bin/java`, `${jdk}/lib/server/libjvm.so`, `${jdk}/lib/libjli.so`, `${jdk}/lib/libzip.so`])
      for (const m of sh('ldd', [f]).out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) libs.add(m[1]);
    for (const l of libs) {
      if (l.startsWith(jdk)) continue;
      fs.mkdirSync(path.join(root, path.dirname(l)), { recursive: true });
      fs.copyFileSync(l, path.join(root, l));
    }
    for (const d of ['tmp', 'app', 'proc', 'sys', 'dev', 'etc']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/nonexistent\n');
    const r = sh('sh', ['-c', `tar -C ${root} -c . | docker import --change 'ENTRYPOINT ["/jre/bin/java"]' - ${tag}`]);
    if (r.code !== 0) throw new Error(`docker import ${tag}: ${r.err}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return tag;
}

/**
 * docker run's stand-in for --privileged: every capability but the one this machine withholds even from root
 * (CAP_SYS_RESOURCE; docker --privileged asks for all and fails here), no seccomp or AppArmor profile, /proc and
 * /sys unmasked.
 */
export const PRIVILEGED = [
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

/**
 * An agent pod as deploy/daemonset.yaml runs one, as a docker container of the agent image: host pid and network,
 * the executable installed on the "node" at install/chaosmetad, `server` on a Unix socket (and /metrics), a data
 * dir of its own, hostPid standing for the node's process. Returns the container id.
 */
export function runAgent(o: {
  name: string;
  image: string;
  install: string;
  dataDir: string;
  hostPid: number;
  metrics?: string;
  labels?: string[];
}): string {
  return run(
    [
      '--name',
      o.name,
      ...(o.labels ?? []).flatMap((l) => ['--label', l]),
      ...PRIVILEGED,
      ...['--pid', 'host', '--network', 'host', '-v', `${o.install}:${o.install}`],
      ...['-e', `CHAOSMETAD_HOST_EXEC=${o.install}/chaosmetad`, '-e', `CHAOSMETAD_HOST_PID=${o.hostPid}`],
      ...['-e', `CHAOSMETAD_DATA_DIR=${o.dataDir}`],
    ],
    o.image,
    ['server', '--socket', `${o.dataDir}.sock`, ...(o.metrics ? ['--metrics-addr', o.metrics] : [])],
  );
}
