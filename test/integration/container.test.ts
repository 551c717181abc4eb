/**
 * Faults inside real docker containers (dockerd + containerd + runc from Debian; images built without a registry):
 * the target resolved through each runtime's own API (docker's Engine API, containerd via ctr, CRI-O's info
 * endpoint — CRI-O cannot be installed here: its recorded answer is served on a Unix socket in this test), then
 * effects measured from the container's side (its cgroup's CPU, bytes through its eth0, files read through its
 * root), and the container exactly as before after recover. Also: a link planted in the container never leads
 * to a host file; a container that goes away is "gone" and recover touches nothing; a distroless image works.
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { cli, hostSettles, hostState, lastTest, queryJson, sleep, tmpDir, uidOf } from '../helpers';
import {
  BUSYBOX_IMAGE,
  DISTROLESS_IMAGE,
  dockerUnavailable,
  ensureDocker,
  ensureImages,
  exec,
  inspect,
  removeTestContainers,
  run,
  sh,
} from '../containers';

jest.setTimeout(180_000);
const why = dockerUnavailable();
const d = why ? describe.skip : describe;
const dir = tmpDir('container');
let before: string;
let web: string; // a busybox container with a 1-CPU quota
let pid: number;

if (why) test.skip(`container faults — skipped: ${why}`, () => {});

const sha = (p: string) => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const mode = (p: string) => (fs.statSync(p).mode & 0o7777).toString(8);

/** A process's cgroup directory on this host for a v1 controller ('' = the v2 unified hierarchy). */
function cgroupDir(p: number, ctrl: string): string {
  const line = fs
    .readFileSync(`/proc/${p}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => (ctrl ? l.split(':')[1]?.split(',').includes(ctrl) : l.startsWith('0::')))!;
  const point = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => [l.split(' ')[4], ...(l.split(' - ')[1] ?? '').split(' ')])
    .find(([, t, , o]) => (ctrl ? t === 'cgroup' && (o ?? '').split(',').includes(ctrl) : t === 'cgroup2'))![0];
  return path.join(point, line.split(':')[2]);
}

/** rmdir a cgroup tree docker left behind (a --cgroup-parent's slices) in every hierarchy. */
function removeCgroups(top: string): void {
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const root = path.join('/sys/fs/cgroup', h, top);
    if (fs.existsSync(root)) sh('find', [root, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
  }
  if (fs.existsSync(path.join('/sys/fs/cgroup', top)))
    sh('find', [path.join('/sys/fs/cgroup', top), '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
}

d('faults inside docker containers', () => {
  beforeAll(async () => {
    await ensureDocker();
    ensureImages();
    removeTestContainers();
    before = hostState();
    web = run(['--cpus', '1', '--name', 'cmtest-web']);
    pid = inspect(web).State.Pid;
  });

  test('the target: full id, prefix, name, docker://, containerd (moby namespace), CRI-O (stand-in); bad ones exit 1 and store nothing', async () => {
    const f = '/tmp/target-check';
    const forms: Array<[string, string[]]> = [
      ['full id', ['--container-id', web]],
      ['prefix', ['--container-id', web.slice(0, 10)]],
      ['name', ['--container-id', 'cmtest-web']],
      ['kubernetes form', ['--container-id', `docker://${web}`]],
      ['containerd', ['--container-id', web, '--container-runtime', 'containerd']],
      ['containerd://', ['--container-id', `containerd://${web.slice(0, 12)}`]],
    ];
    for (const [name, flags] of forms) {
      const r = cli(dir, ['inject', 'file', 'add', '-p', f, '-c', name, ...flags]);
      expect({ name, stderr: r.stderr, code: r.code }).toEqual({ name, stderr: '', code: 0 });
      expect(exec(web, ['cat', f]).out).toBe(name); // the container sees it
      expect(fs.existsSync(f)).toBe(false); // the host does not
      const row = queryJson(dir, ['--uid', uidOf(r)]).experiments[0];
      expect([row.container_id, row.container_runtime]).toEqual([
        web,
        flags.includes('docker://') ? 'docker' : /containerd/.test(flags.join(' ')) ? 'containerd' : 'docker',
      ]);
      expect(cli(dir, ['recover', uidOf(r)]).code).toBe(0);
      expect(exec(web, ['ls', f]).code).not.toBe(0);
    }
    // query filters by container
    expect(queryJson(dir, ['--container-id', web]).total).toBe(forms.length);

    // CRI-O: its info endpoint answers GET /containers/<id> on its socket; here a recorded answer naming web's pid
    const sock = path.join(tmpDir('crio'), 'crio.sock');
    const crioId = 'c'.repeat(64);
    const answer = {
      name: 'k8s_app_web-0_default_0a1b_0',
      pid,
      image: 'docker.io/library/busybox:latest',
      created_time: 1733000000000000000,
      labels: {},
      annotations: {},
      crio_annotations: {},
      log_path: '/var/log/pods/x.log',
      root: '/var/lib/containers/storage/overlay/x/merged',
      sandbox: 'f'.repeat(64),
      ip_addresses: ['10.88.0.5'],
    };
    // in its own process: the CLI runs synchronously here, and would block a server in this one
    const server = spawn(
      process.execPath,
      [
        '-e',
        `require('http').createServer((q, s) => {
           if (q.url === '/containers/${crioId}') { s.setHeader('Content-Type', 'application/json'); s.end(process.argv[1]); }
           else { s.statusCode = 404; s.end("can't find the container with id " + q.url.split('/').pop()); }
         }).listen(${JSON.stringify(sock)}, () => console.log('listening'));`,
        JSON.stringify(answer),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((r) => server.stdout.once('data', () => r()));
    try {
      const env = { CONTAINER_RUNTIME_ENDPOINT: `unix://${sock}` };
      const r = cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'crio', '--container-id', `cri-o://${crioId}`], {
        env,
      });
      expect(r.stderr).toBe('');
      expect(exec(web, ['cat', f]).out).toBe('crio');
      const row = queryJson(dir, ['--uid', uidOf(r)]).experiments[0];
      expect([row.container_id, row.container_runtime]).toEqual([crioId, 'crio']);
      expect(cli(dir, ['recover', uidOf(r)], { env }).code).toBe(0);
      const missing = cli(
        dir,
        ['inject', 'file', 'add', '-p', f, '-c', 'x', '--container-id', 'd'.repeat(64), '--container-runtime', 'crio'],
        { env },
      );
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/CRI-O says: can't find the container/);
    } finally {
      server.kill();
    }

    const n = queryJson(dir).total;
    const stopped = run(['--name', 'cmtest-stopped'], undefined, ['true']);
    sh('docker', ['wait', stopped]);
    const bad: Array<[string[], RegExp]> = [
      [['--container-id', 'nosuchcontainer'], /no such docker container/],
      [['--container-id', stopped], /is not running \(exited\)/],
      [['--container-id', web, '--container-runtime', 'pouch'], /pouch is not supported/],
      [
        ['--container-id', 'nosuch', '--container-runtime', 'containerd'],
        /no such containerd container \(namespaces k8s.io, moby, default\)/,
      ],
      [['--container-id', 'a/b'], /--container-id must be a container id/],
    ];
    for (const [flags, msg] of bad) {
      const r = cli(dir, ['inject', 'file', 'add', '-p', f, '-c', 'x', ...flags]);
      expect({ flags, code: r.code }).toEqual({ flags, code: 1 });
      expect(r.stderr).toMatch(msg);
    }
    const k = cli(dir, ['inject', 'kernel', 'fdfull', '--count', '10', '--container-id', web]);
    expect(k.code).toBe(1);
    expect(k.stderr).toMatch(/acts on the whole kernel .* cannot be confined to a container/);
    expect(queryJson(dir).total).toBe(n); // nothing stored
  });

  test('a link planted in the container resolves inside it: the host files stay untouched', () => {
    const shadow0 = [sha('/etc/shadow'), mode('/etc/shadow')];
    // the container's /data is an absolute link to /etc; its /etc/shadow is its own
    expect(
      exec(web, [
        'sh',
        '-c',
        'ln -s /etc /data && echo "root:*:1::::::" > /etc/shadow && chmod 640 /etc/shadow && ln -s /etc/shadow /app-conf',
      ]).code,
    ).toBe(0);
    const r = cli(dir, [
      'inject',
      'file',
      'chmod',
      '-p',
      '/data/shadow',
      '-P',
      '777',
      '--container-id',
      web,
      '--uid',
      'ct-link-1',
    ]);
    expect(r.stderr).toBe('');
    expect(exec(web, ['stat', '-c', '%a', '/etc/shadow']).out).toBe('777');
    const add = cli(dir, [
      'inject',
      'file',
      'add',
      '-p',
      '/data/chaosmetad-planted',
      '-c',
      'x',
      '--container-id',
      web,
      '--uid',
      'ct-link-2',
    ]);
    expect(add.stderr).toBe('');
    expect(exec(web, ['cat', '/etc/chaosmetad-planted']).out).toBe('x');
    expect(fs.existsSync('/etc/chaosmetad-planted')).toBe(false);
    // a final link is not followed to change what it names
    const app = cli(dir, ['inject', 'file', 'append', '-p', '/app-conf', '-c', 'evil', '--container-id', web]);
    expect(app.code).toBe(1);
    expect(app.stderr).toMatch(/symbolic link/);
    expect([sha('/etc/shadow'), mode('/etc/shadow')]).toEqual(shadow0);
    expect(cli(dir, ['recover', 'ct-link-1']).code).toBe(0);
    expect(cli(dir, ['recover', 'ct-link-2']).code).toBe(0);
    expect(exec(web, ['stat', '-c', '%a', '/etc/shadow']).out).toBe('640');
    expect(exec(web, ['ls', '/etc/chaosmetad-planted']).code).not.toBe(0);
    expect([sha('/etc/shadow'), mode('/etc/shadow')]).toEqual(shadow0);
  });

  test("network limit on the container's eth0: its egress measured on the host, two containers at once, host interfaces untouched", async () => {
    const other = run(['--name', 'cmtest-other']);
    const gw = inspect(web).NetworkSettings.Gateway as string;
    // a sink on the docker bridge's host address: how fast can the container send 384 KiB?
    let got = 0;
    let first = 0;
    let last = 0;
    const sink = net.createServer((s) =>
      s.on('data', (b) => {
        if (!first) first = Date.now();
        got += b.length;
        last = Date.now();
      }),
    );
    await new Promise<void>((r) => sink.listen(0, gw, r));
    const port = (sink.address() as net.AddressInfo).port;
    const send = async () => {
      got = 0;
      first = 0;
      // asynchronously: the sink is in this process
      const p = spawn('docker', [
        'exec',
        web,
        'sh',
        '-c',
        `dd if=/dev/zero bs=1024 count=512 2>/dev/null | nc -w 2 ${gw} ${port}`,
      ]);
      const code = await new Promise<number | null>((r) => p.on('exit', r));
      await sleep(300);
      return { bytes: got, rate: (got * 8) / Math.max(0.001, (last - first) / 1000), code };
    };
    try {
      const free = await send();
      expect(free.bytes).toBe(512 * 1024);
      const uid = uidOf(cli(dir, ['inject', 'network', 'limit', '-i', 'eth0', '-r', '1mbit', '--container-id', web]));
      // the second container has an eth0 too: its own claim, its own qdisc
      const second = cli(dir, ['inject', 'network', 'limit', '-i', 'eth0', '-r', '1mbit', '--container-id', other]);
      expect(second.stderr).toBe('');
      expect(sh('nsenter', ['-t', String(pid), '--net', 'tc', 'qdisc', 'show', 'dev', 'eth0']).out).toMatch(
        /tbf .*rate 1Mbit/,
      );
      expect(cli(dir, ['check', uid]).stdout).toMatch(/effect: in-place/);
      const limited = await send();
      console.log(
        `container eth0: free ${(free.rate / 1e6).toFixed(1)} Mbit/s, limited to 1mbit: ${(limited.rate / 1e6).toFixed(3)} Mbit/s`,
      );
      expect(limited.bytes).toBe(512 * 1024);
      expect(Math.abs(limited.rate - 1e6) / 1e6).toBeLessThan(0.25);
      expect(free.rate).toBeGreaterThan(10e6);
      expect(cli(dir, ['recover', uid]).code).toBe(0);
      expect(cli(dir, ['recover', uidOf(second)]).code).toBe(0);
      expect(sh('nsenter', ['-t', String(pid), '--net', 'tc', 'qdisc', 'show', 'dev', 'eth0']).out).toMatch(
        /^qdisc noqueue 0: root/,
      );
      expect((await send()).rate).toBeGreaterThan(10e6);
    } finally {
      sink.close();
      sh('docker', ['rm', '-f', other]);
    }
  });

  test('cpu burn 50 in a 1-CPU container: its cgroup uses half a CPU (±3 points), then nothing', async () => {
    // the container's CPU as its cgroup counts it: v1 cpuacct.usage (wherever this host mounts cpuacct), else v2
    const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('cpuacct'));
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
    const mountOf = (test: (fstype: string, opts: string[]) => boolean) =>
      mounts
        .map((l) => [l.split(' ')[4], ...(l.split(' - ')[1] ?? '').split(' ')])
        .find(([, fstype, , opts]) => fstype && test(fstype, (opts ?? '').split(',')))?.[0];
    const usageFile = v1
      ? path.join(
          mountOf((t, o) => t === 'cgroup' && o.includes('cpuacct'))!,
          v1.split(':')[2],
          'cpuacct.usage',
        )
      : path.join(
          mountOf((t) => t === 'cgroup2')!,
          lines.find((l) => l.startsWith('0::'))!.slice(3),
          'cpu.stat',
        );
    const usageS = () => {
      const t = fs.readFileSync(usageFile, 'utf8');
      return usageFile.endsWith('cpu.stat') ? Number(/usage_usec (\d+)/.exec(t)![1]) / 1e6 : Number(t) / 1e9;
    };
    const share = async (ms: number) => {
      const u0 = usageS();
      const t0 = Date.now();
      await sleep(ms);
      return (100 * (usageS() - u0)) / ((Date.now() - t0) / 1000);
    };
    const idle = await share(1000);
    const r = cli(dir, ['inject', 'cpu', 'burn', '-p', '50', '--container-id', web, '--uid', 'ct-burn-1']);
    expect(r.stderr).toBe('');
    await sleep(1500);
    const busy = await share(4000);
    console.log(`container cgroup CPU: idle ${idle.toFixed(1)} %, burn 50 of its 1 CPU: ${busy.toFixed(1)} %`);
    expect(Math.abs(busy - 50)).toBeLessThan(3);
    expect(JSON.parse(queryJson(dir, ['--uid', 'ct-burn-1']).experiments[0].runtime)).toMatchObject({
      container_cpus: 1,
      cpus_from: 'cpu quota',
    });
    expect(cli(dir, ['recover', 'ct-burn-1']).code).toBe(0);
    await sleep(500);
    expect(await share(1000)).toBeLessThan(3);
  });

  test("dns record in the container: its own /etc/hosts (docker's bind mount) changes, the host's does not; restored exactly", () => {
    const host0 = sha('/etc/hosts');
    const inside0 = exec(web, ['cat', '/etc/hosts']).out;
    const r = cli(dir, [
      'inject',
      'dns',
      'record',
      '--domain',
      'cm-ct.example',
      '--ip',
      '10.9.9.9',
      '--container-id',
      web,
      '--uid',
      'ct-dns-1',
    ]);
    expect(r.stderr).toBe('');
    expect(exec(web, ['cat', '/etc/hosts']).out).toMatch(/^10\.9\.9\.9 cm-ct\.example # chaosmetad:ct-dns-1$/m);
    expect(sha('/etc/hosts')).toBe(host0);
    expect(cli(dir, ['check', 'ct-dns-1']).stdout).toMatch(/effect: in-place/);
    expect(cli(dir, ['recover', 'ct-dns-1']).code).toBe(0);
    expect(exec(web, ['cat', '/etc/hosts']).out).toBe(inside0);
    expect(sha('/etc/hosts')).toBe(host0);
  });

  test('process stop and kill by the pid and names the container sees; the same command line on the host is never hit', async () => {
    const hostTwin = spawn('sleep', ['3601'], { stdio: 'ignore' });
    try {
      expect(exec(web, ['sh', '-c', 'sleep 3601 >/dev/null 2>&1 &']).code).toBe(0);
      await sleep(300);
      const nsPid = exec(web, ['pidof', 'sleep'])
        .out.split(' ')
        .map(Number)
        .filter((p) => p !== 1)[0];
      expect(nsPid).toBeGreaterThan(1);
      const nsOfWeb = fs.readlinkSync(`/proc/${pid}/ns/pid`);
      const hostPid = fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .map(Number)
        .find((p) => {
          try {
            return (
              fs.readFileSync(`/proc/${p}/cmdline`, 'latin1') === 'sleep\u00003601\u0000' &&
              fs.readlinkSync(`/proc/${p}/ns/pid`) === nsOfWeb
            );
          } catch {
            return false;
          }
        })!;
      const state = (p: number) => {
        const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        return st.slice(st.lastIndexOf(')') + 2)[0];
      };
      const stop = cli(dir, [
        'inject',
        'process',
        'stop',
        '-p',
        String(nsPid),
        '--container-id',
        web,
        '--uid',
        'ct-stop-1',
      ]);
      expect(stop.stderr).toBe('');
      expect(state(hostPid)).toBe('T');
      expect(cli(dir, ['recover', 'ct-stop-1']).code).toBe(0);
      expect(state(hostPid)).not.toBe('T');
      const kill = cli(dir, [
        'inject',
        'process',
        'kill',
        '--key',
        'sleep 3601',
        '--container-id',
        web,
        '--uid',
        'ct-kill-1',
      ]);
      expect(kill.stderr).toBe('');
      expect(fs.existsSync(`/proc/${hostPid}`) && state(hostPid) !== 'Z').toBe(false);
      expect(state(hostTwin.pid!)).not.toBe('Z'); // the host's own "sleep 3601" lives
      expect(exec(web, ['true']).code).toBe(0); // and so does the container (its init is never matched by --key)
      expect(cli(dir, ['recover', 'ct-kill-1']).code).toBe(0);
      const missing = cli(dir, ['inject', 'process', 'stop', '-p', '4000000', '--container-id', web]);
      expect(missing.stderr).toMatch(/no such process in the container's pid namespace/);
    } finally {
      hostTwin.kill('SIGKILL');
    }
  });

  test('mem fill in a 256 MB container: charged to its memory cgroup; --percent is of its limit', async () => {
    const m = run(['--memory', '256m', '--name', 'cmtest-mem']);
    const mpid = inspect(m).State.Pid;
    const lines = fs.readFileSync(`/proc/${mpid}/cgroup`, 'utf8').split('\n');
    const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'));
    const usage = () =>
      v1
        ? Number(fs.readFileSync(path.join('/sys/fs/cgroup/memory', v1.split(':')[2], 'memory.usage_in_bytes'), 'utf8'))
        : Number(
            fs.readFileSync(
              path.join('/sys/fs/cgroup', lines.find((l) => l.startsWith('0::'))!.slice(3), 'memory.current'),
              'utf8',
            ),
          );
    const MB = 1024 * 1024;
    try {
      const u0 = usage();
      const r = cli(dir, [
        'inject',
        'mem',
        'fill',
        '-b',
        '64MB',
        '-m',
        'cache',
        '--container-id',
        m,
        '--uid',
        'ct-mem-1',
      ]);
      expect(r.stderr).toBe('');
      const u1 = usage();
      console.log(
        `container memory cgroup: ${(u0 / MB).toFixed(1)} MB, with mem fill 64MB: ${(u1 / MB).toFixed(1)} MB`,
      );
      expect((u1 - u0) / MB).toBeGreaterThan(60);
      expect((u1 - u0) / MB).toBeLessThan(72);
      expect(JSON.parse(queryJson(dir, ['--uid', 'ct-mem-1']).experiments[0].runtime).relative_to).toMatch(
        /the container's memory limit \(256/,
      );
      expect(cli(dir, ['recover', 'ct-mem-1']).code).toBe(0);
      await sleep(300);
      expect(Math.abs(usage() - u0) / MB).toBeLessThan(8);
      const p = cli(dir, ['inject', 'mem', 'fill', '-p', '50', '-m', 'ram', '--container-id', m, '--uid', 'ct-mem-2']);
      expect(p.stderr).toBe('');
      const half = usage() / (256 * MB);
      console.log(`mem fill -p 50 in the 256 MB container: ${(100 * half).toFixed(1)} % of its limit`);
      expect(Math.abs(half - 0.5)).toBeLessThan(0.05);
      expect(cli(dir, ['recover', 'ct-mem-2']).code).toBe(0);
      const big = cli(dir, ['inject', 'mem', 'fill', '-b', '300MB', '--container-id', m]);
      expect(big.code).toBe(3);
      expect(big.stderr).toMatch(/can be filled safely within the container's memory limit/);
    } finally {
      sh('docker', ['rm', '-f', m]);
    }
  });

  test('mem oom in a 128 MB container under a kubepods.slice path: OOM kills in its memory cgroup only, its own processes live', async () => {
    // a systemd-shaped parent (slices) through docker's cgroupfs driver: the paths are read from /proc/PID/cgroup
    const parent = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podcmtest.slice';
    const m = run(['--memory', '128m', '--cgroup-parent', parent, '--name', 'cmtest-oom']);
    const mpid = inspect(m).State.Pid;
    const memDir = cgroupDir(mpid, 'memory');
    expect(memDir).toContain('kubepods-burstable-podcmtest.slice');
    const kills = () =>
      memDir.startsWith('/sys/fs/cgroup/memory')
        ? Number(/oom_kill (\d+)/.exec(fs.readFileSync(path.join(memDir, 'memory.oom_control'), 'utf8'))![1])
        : Number(/oom_kill (\d+)/.exec(fs.readFileSync(path.join(memDir, 'memory.events'), 'utf8'))![1]);
    const hostKills = () => Number(/oom_kill (\d+)/.exec(fs.readFileSync('/proc/vmstat', 'utf8'))?.[1] ?? 0);
    try {
      const k0 = kills();
      const h0 = hostKills();
      const r = cli(dir, ['inject', 'mem', 'oom', '-m', 'ram', '--container-id', m, '--uid', 'ct-oom-1']);
      expect(r.stderr).toBe('');
      const t0 = Date.now();
      while (kills() - k0 < 3 && Date.now() - t0 < 20_000) await sleep(100);
      const k = kills() - k0;
      console.log(`mem oom in the 128 MB container: ${k} OOM kills in its cgroup in ${Date.now() - t0} ms`);
      expect(k).toBeGreaterThanOrEqual(3);
      // every OOM kill on the host was in that cgroup
      expect(hostKills() - h0).toBe(kills() - k0);
      expect(exec(m, ['echo', 'alive']).out).toBe('alive');
      expect(inspect(m).State.Pid).toBe(mpid);
      expect(cli(dir, ['check', 'ct-oom-1']).stdout).toMatch(/effect: in-place/);
      expect(cli(dir, ['recover', 'ct-oom-1']).code).toBe(0);
      await sleep(700);
      const after = kills();
      await sleep(1000);
      expect(kills()).toBe(after);
      expect(fs.readFileSync(path.join(memDir, 'cgroup.procs'), 'utf8').trim()).toBe(String(mpid));
      // without a memory limit the OOM would be the host's: refused, nothing stored
      const total = queryJson(dir, []).total;
      const free = cli(dir, ['inject', 'mem', 'oom', '--container-id', web]);
      expect(free.code).toBe(1);
      expect(free.stderr).toMatch(/no memory limit/);
      expect(queryJson(dir, []).total).toBe(total);
    } finally {
      sh('docker', ['rm', '-f', m]);
      removeCgroups(parent.split('/')[1]);
    }
  });

  test('disk fill in the container fills the filesystem it sees at /tmp; stopped first, recover removes the file from its layer', async () => {
    const MB = 1024 * 1024;
    const df = (id: string) =>
      Number(exec(id, ['busybox', 'df', '-k', '/tmp']).out.split('\n')[1].split(/\s+/)[3]) * 1024;
    const c = run(['--name', 'cmtest-disk']);
    try {
      const free0 = df(c);
      const r = cli(dir, ['inject', 'disk', 'fill', '-b', '200MB', '--container-id', c, '--uid', 'ct-fill-1']);
      expect(r.stderr).toBe('');
      const free1 = df(c);
      console.log(
        `disk fill 200MB in the container: its /tmp free ${(free0 / MB).toFixed(0)} → ${(free1 / MB).toFixed(0)} MB`,
      );
      expect((free0 - free1) / MB).toBeGreaterThan(190);
      const files = exec(c, ['ls', '/tmp']).out;
      expect(files).toMatch(/^chaosmetad_fill_ct-fill-1_[\w-]+\.dat$/);
      expect(fs.readdirSync('/tmp').filter((f) => f.startsWith('chaosmetad_fill_ct-fill-1'))).toEqual([]);
      const row = JSON.parse(queryJson(dir, ['--uid', 'ct-fill-1']).experiments[0].runtime);
      expect(row.path).toBe(`/tmp/${files}`); // as the container sees it
      expect(cli(dir, ['recover', 'ct-fill-1']).code).toBe(0);
      expect(exec(c, ['ls', '/tmp']).out).toBe('');
      expect(Math.abs(df(c) - free0) / MB).toBeLessThan(20);
      // the container stops while the fill is in place: recover still removes the file (from its writable layer)
      expect(cli(dir, ['inject', 'disk', 'fill', '-b', '100MB', '--container-id', c, '--uid', 'ct-fill-2']).code).toBe(
        0,
      );
      const upper = inspect(c).GraphDriver.Data.UpperDir as string;
      const name = fs.readdirSync(path.join(upper, 'tmp')).find((f) => f.startsWith('chaosmetad_fill_ct-fill-2'))!;
      expect(fs.statSync(path.join(upper, 'tmp', name)).size).toBe(100 * MB);
      sh('docker', ['stop', '-t', '1', c]);
      expect(cli(dir, ['check', 'ct-fill-2']).stdout).toMatch(/effect: gone/);
      const rec = cli(dir, ['recover', 'ct-fill-2']);
      expect(rec.code).toBe(0);
      expect(rec.stdout).toMatch(/removed its fill file from the host/);
      expect(fs.readdirSync(path.join(upper, 'tmp'))).toEqual([]);
      sh('docker', ['start', c]);
      expect(exec(c, ['ls', '/tmp']).out).toBe('');
    } finally {
      sh('docker', ['rm', '-f', c]);
    }
  });

  test("diskio burn is charged to the container's blkio cgroup; diskio limit on its cgroup holds its direct writes, then the old limit is back exactly", async () => {
    // the disk under docker's storage, and its /dev node, for a limit docker itself sets first
    const majmin = sh('findmnt', ['-n', '-o', 'MAJ:MIN', '-T', '/var/lib/docker']).out.trim();
    const devName = /DEVNAME=(\S+)/.exec(fs.readFileSync(`/sys/dev/block/${majmin}/uevent`, 'utf8'))?.[1];
    const disk = fs.existsSync(`/sys/dev/block/${majmin}/partition`)
      ? fs.readFileSync(path.join(fs.realpathSync(`/sys/dev/block/${majmin}`), '..', 'dev'), 'utf8').trim()
      : majmin;
    const c = run([...(devName ? ['--device-read-bps', `/dev/${devName}:50mb`] : []), '--name', 'cmtest-io']);
    const cpid = inspect(c).State.Pid;
    const v1 = fs.existsSync('/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device');
    const ioDir = cgroupDir(cpid, v1 ? 'blkio' : '');
    const limitsFile = () =>
      v1
        ? ['read_bps_device', 'write_bps_device'].map((f) =>
            fs.readFileSync(path.join(ioDir, `blkio.throttle.${f}`), 'utf8').trim(),
          )
        : [fs.readFileSync(path.join(ioDir, 'io.max'), 'utf8').trim()];
    const written = () =>
      v1
        ? Number(
            /Write (\d+)/.exec(fs.readFileSync(path.join(ioDir, 'blkio.throttle.io_service_bytes'), 'utf8'))?.[1] ?? 0,
          )
        : Number(/wbytes=(\d+)/.exec(fs.readFileSync(path.join(ioDir, 'io.stat'), 'utf8'))?.[1] ?? 0);
    const MB = 1024 * 1024;
    try {
      const w0 = written();
      const b = cli(dir, [
        'inject',
        'diskio',
        'burn',
        '-m',
        'write',
        '-b',
        '1M',
        '--container-id',
        c,
        '--uid',
        'ct-io-1',
      ]);
      expect(b.stderr).toBe('');
      await sleep(2000);
      const burnt = written() - w0;
      console.log(`diskio burn in the container: ${(burnt / MB).toFixed(0)} MB written in 2 s, charged to its cgroup`);
      expect(burnt).toBeGreaterThan(20 * MB);
      expect(exec(c, ['ls', '/tmp']).out).toMatch(/^chaosmetad_diskio_ct-io-1_[\w-]+\.dat$/);
      expect(cli(dir, ['recover', 'ct-io-1']).code).toBe(0);
      expect(exec(c, ['ls', '/tmp']).out).toBe('');

      const before = limitsFile();
      if (devName) expect(before.join(' ')).toContain(`${disk} 52428800`);
      const rate = () => {
        const t0 = Date.now();
        const r = exec(c, ['dd', 'if=/dev/zero', 'of=/tmp/io-probe', 'bs=1M', 'count=12', 'oflag=direct']);
        expect(r.code).toBe(0);
        return (12 * MB) / ((Date.now() - t0) / 1000);
      };
      const freeRate = rate();
      const l = cli(dir, [
        'inject',
        'diskio',
        'limit',
        '--write-bytes',
        '2MB',
        '--container-id',
        c,
        '--uid',
        'ct-io-2',
      ]);
      expect(l.stderr).toBe('');
      expect(cli(dir, ['check', 'ct-io-2']).stdout).toMatch(/effect: in-place/);
      const limited = rate();
      console.log(
        `container direct writes: free ${(freeRate / MB).toFixed(0)} MB/s, diskio limit 2MB: ${(limited / MB).toFixed(2)} MB/s`,
      );
      // 12 MB at 2 MB/s: 6 s, less the first slice the throttle lets through
      expect(limited / MB).toBeGreaterThan(1.6);
      expect(limited / MB).toBeLessThan(2.6);
      // one container, one set of limits: a second is refused
      expect(cli(dir, ['inject', 'diskio', 'hang', '--container-id', c]).code).not.toBe(0);
      expect(cli(dir, ['recover', 'ct-io-2']).code).toBe(0);
      expect(limitsFile()).toEqual(before); // docker's own read limit is still there, nothing of ours
      expect(rate() / MB).toBeGreaterThan(10);
      const sel = cli(dir, ['inject', 'diskio', 'limit', '--write-bytes', '2MB', '-p', '1', '--container-id', c]);
      expect(sel.code).toBe(1);
      expect(sel.stderr).toMatch(/drop --pid-list and --key/);
    } finally {
      sh('docker', ['rm', '-f', c]);
    }
  });

  test('a distroless container (one static binary, no shell): network and file faults need nothing inside it', () => {
    const dl = run(['--name', 'cmtest-distroless'], DISTROLESS_IMAGE, ['/app']);
    const dpid = inspect(dl).State.Pid;
    const a = cli(dir, [
      'inject',
      'network',
      'limit',
      '-i',
      'eth0',
      '-r',
      '2mbit',
      '--container-id',
      dl,
      '--uid',
      'ct-dl-net',
    ]);
    expect(a.stderr).toBe('');
    expect(sh('nsenter', ['-t', String(dpid), '--net', 'tc', 'qdisc', 'show', 'dev', 'eth0']).out).toMatch(
      /tbf .*rate 2Mbit/,
    );
    const b = cli(dir, [
      'inject',
      'file',
      'add',
      '-p',
      '/etc/chaos',
      '-c',
      'hi',
      '--container-id',
      dl,
      '--uid',
      'ct-dl-file',
    ]);
    expect(b.stderr).toBe('');
    expect(fs.readFileSync(`/proc/${dpid}/root/etc/chaos`, 'utf8')).toBe('hi');
    expect(cli(dir, ['recover', 'ct-dl-net']).code).toBe(0);
    expect(cli(dir, ['recover', 'ct-dl-file']).code).toBe(0);
    expect(fs.existsSync(`/proc/${dpid}/root/etc/chaos`)).toBe(false);
    sh('docker', ['rm', '-f', dl]);
  });

  test('the container goes away while an experiment is live: check says gone, recover notes it and touches nothing', () => {
    const tmp = run(['--name', 'cmtest-gone']);
    const r = cli(dir, [
      'inject',
      'network',
      'limit',
      '-i',
      'eth0',
      '-r',
      '1mbit',
      '--container-id',
      tmp,
      '--uid',
      'ct-gone-1',
    ]);
    expect(r.stderr).toBe('');
    const f = cli(dir, [
      'inject',
      'file',
      'add',
      '-p',
      '/tmp/x',
      '-c',
      'x',
      '--container-id',
      tmp,
      '--uid',
      'ct-gone-2',
    ]);
    expect(f.stderr).toBe('');
    sh('docker', ['rm', '-f', tmp]);
    expect(cli(dir, ['check', 'ct-gone-1']).stdout).toMatch(/effect: gone/);
    for (const uid of ['ct-gone-1', 'ct-gone-2']) {
      const rec = cli(dir, ['recover', uid]);
      expect(rec.code).toBe(0);
      expect(rec.stdout).toMatch(/is gone \(or restarted\): nothing to undo inside it/);
    }
  });

  test('container pause (recover and the deadline unpause), kill, restart, rm — through docker; without --container-id: exit 1', async () => {
    const c = run(['--name', 'cmtest-lifecycle']);
    const cpid = inspect(c).State.Pid;
    try {
      expect(cli(dir, ['inject', 'container', 'pause']).stderr).toMatch(/--container-id is required/);
      const p = cli(dir, ['inject', 'container', 'pause', '--container-id', c, '--uid', 'ct-pause-1']);
      expect(p.stderr).toBe('');
      expect(inspect(c).State.Paused).toBe(true);
      expect(cli(dir, ['check', 'ct-pause-1']).stdout).toMatch(/effect: in-place/);
      expect(cli(dir, ['recover', 'ct-pause-1']).code).toBe(0);
      expect(inspect(c).State).toMatchObject({ Paused: false, Running: true, Pid: cpid });
      // the deadline unpauses too (the watcher)
      expect(
        cli(dir, ['inject', 'container', 'pause', '--container-id', c, '-t', '2s', '--uid', 'ct-pause-2']).code,
      ).toBe(0);
      expect(inspect(c).State.Paused).toBe(true);
      const until = Date.now() + 10_000;
      while (inspect(c).State.Paused && Date.now() < until) await sleep(200);
      expect(inspect(c).State).toMatchObject({ Paused: false, Running: true, Pid: cpid });

      const r = cli(dir, ['inject', 'container', 'restart', '-w', '1', '--container-id', c, '--uid', 'ct-restart-1']);
      expect(r.stderr).toBe('');
      const after = inspect(c).State;
      expect(after.Running).toBe(true);
      expect(after.Pid).not.toBe(cpid); // a new init: the old target is gone, the container runs again
      expect(cli(dir, ['recover', 'ct-restart-1']).code).toBe(0);

      const k = cli(dir, ['inject', 'container', 'kill', '--container-id', c, '--uid', 'ct-kill-c']);
      expect(k.stderr).toBe('');
      expect(inspect(c).State.Running).toBe(false);
      const rk = cli(dir, ['recover', 'ct-kill-c']);
      expect(rk.code).toBe(0);
      expect(rk.stdout).toMatch(/cannot be un-killed/);

      sh('docker', ['start', c]);
      const rm = cli(dir, ['inject', 'container', 'rm', '--container-id', c, '--uid', 'ct-rm-1']);
      expect(rm.stderr).toBe('');
      expect(sh('docker', ['inspect', c]).code).not.toBe(0);
      const kept = JSON.parse(queryJson(dir, ['--uid', 'ct-rm-1']).experiments[0].runtime).removed;
      expect(kept).toMatchObject({ id: c, name: 'cmtest-lifecycle', image: BUSYBOX_IMAGE, cmd: ['sleep', '3600'] });
      expect(cli(dir, ['recover', 'ct-rm-1']).code).toBe(0);
    } finally {
      sh('docker', ['rm', '-f', c]);
    }
  });

  test('hostile flags of the container faults are refused naming the flag, and nothing is stored', () => {
    const n = queryJson(dir).total;
    const bad: Array<[string[], RegExp]> = [
      [['kill', '-s', '$(reboot)'], /--signal must be a signal number/],
      [['kill', '-s', '99'], /--signal must be a signal number/],
      [['kill', '--signal', 'KILL;rm -rf /'], /--signal must be a signal number/],
      [['restart', '-w', '-1'], /--wait-time/],
      [['restart', '-w', '1e9'], /--wait-time/],
      [['restart', '-w', 'abc'], /--wait-time/],
      [['pause', '--container-id', '../../etc'], /--container-id must be a container id/],
      [['rm', '--container-id', 'docker://'], /--container-id must be a container id/],
    ];
    for (const [args, msg] of bad) {
      const r = cli(dir, [
        'inject',
        'container',
        ...args,
        ...(args.includes('--container-id') ? [] : ['--container-id', web]),
      ]);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toMatch(msg);
    }
    expect(queryJson(dir).total).toBe(n);
    expect(inspect(web).State).toMatchObject({ Running: true, Paused: false, Pid: pid });
  });

  test('--dry-run names the namespaces entered and the cgroups joined; changes nothing', () => {
    const n = queryJson(dir).total;
    const a = cli(dir, ['inject', 'network', 'limit', '-i', 'eth0', '-r', '1mbit', '--container-id', web, '--dry-run']);
    expect(a.stdout).toMatch(/commands enter its net namespace only \(nsenter -t \d+ --net\)/);
    expect(a.stdout).toMatch(/run: nsenter -t \d+ --net -- tc qdisc add dev eth0 root/);
    const b = cli(dir, ['inject', 'cpu', 'burn', '-p', '10', '--container-id', web, '--dry-run']);
    expect(b.stdout).toMatch(/helpers join its cgroups/);
    expect(b.stdout).toMatch(/target_pid=\d+ target_start=\d+ cgroup=1/);
    expect(queryJson(dir).total).toBe(n);
    expect(sh('nsenter', ['-t', String(pid), '--net', 'tc', 'qdisc', 'show', 'dev', 'eth0']).out).toMatch(
      /^qdisc noqueue 0: root/,
    );
  });

  lastTest(
    'leaves the host as it found it',
    () => {
      cli(dir, ['recover', '--all']);
      removeTestContainers();
    },
    async () => expect(await hostSettles(before, 10_000)).toBe(before),
  );
});
