/**
 * The container faults on plain containerd (no docker, no CRI): a container run with `ctr` in a namespace of the
 * system's containerd of its own, then pause (ctr task pause: the freezer), restart (containerd has none: the task
 * stopped, deleted and started again), kill and rm through `--container-runtime containerd`, each read back from
 * containerd (`ctr tasks ls`, `ctr containers ls`) and from the kernel (/proc).
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONTAINERD_SOCK, dockerUnavailable, ensureDocker, sh } from '../containers';
import { cli, queryJson, sleep, tmpDir, uidOf } from '../helpers';

jest.setTimeout(180_000);
const why = dockerUnavailable();
const d = why ? describe.skip : describe;
if (why) test.skip(`container faults on containerd — skipped: ${why}`, () => {});

const NS = 'cmtest';
const dir = tmpDir('containerd');
const rootfs = tmpDir('ctr-rootfs');
const ctr = (args: string[]) => sh('ctr', ['--address', CONTAINERD_SOCK, '-n', NS, ...args]);
const flags = (id: string) => ['--container-id', id, '--container-runtime', 'containerd', '--containerd-namespace', NS];

/** The task of a container: its pid and status (RUNNING, PAUSED, STOPPED), as containerd says. */
function task(id: string): { pid: number; status: string } | undefined {
  const row = ctr(['tasks', 'ls'])
    .out.split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((c) => c[0] === id);
  return row ? { pid: Number(row[1]), status: row[2] } : undefined;
}

const procState = (pid: number) => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];

function runCtr(id: string): number {
  const r = ctr(['run', '-d', '--rootfs', rootfs, id, '/bin/sleep', '3600']);
  if (r.code !== 0) throw new Error(`ctr run: ${r.err}`);
  for (let i = 0; i < 50 && task(id)?.status !== 'RUNNING'; i++) sh('sleep', ['0.1']);
  return task(id)!.pid;
}

d('container faults on containerd (ctr)', () => {
  beforeAll(async () => {
    await ensureDocker(); // starts containerd too
    fs.mkdirSync(path.join(rootfs, 'bin'));
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d));
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const t of ['sleep', 'sh']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', t));
  });
  afterAll(() => {
    cli(dir, ['recover', '--all']);
    for (const id of ctr(['containers', 'ls', '-q']).out.split('\n').filter(Boolean)) {
      ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
      sh('sleep', ['0.3']);
      ctr(['tasks', 'delete', '-f', id]);
      ctr(['containers', 'delete', id]);
    }
    sh('ctr', ['--address', CONTAINERD_SOCK, 'namespaces', 'remove', NS]);
    for (const c of fs.readdirSync('/sys/fs/cgroup')) {
      try {
        fs.rmdirSync(path.join('/sys/fs/cgroup', c, NS));
      } catch {
        /* not there */
      }
    }
    fs.rmSync(rootfs, { recursive: true, force: true });
  });

  test('pause: containerd says PAUSED and its process is frozen; recover resumes it', () => {
    const pid = runCtr('cm-pause');
    const r = cli(dir, ['inject', 'container', 'pause', ...flags('cm-pause'), '-t', '1m']);
    expect(r.stderr).toBe('');
    expect(task('cm-pause')).toEqual({ pid, status: 'PAUSED' });
    expect(procState(pid)).toBe('D'); // the v1 freezer holds it
    expect(JSON.parse(cli(dir, ['check', uidOf(r), '--json']).stdout).effect).toBe('in-place');
    expect(cli(dir, ['recover', uidOf(r)]).code).toBe(0);
    expect(task('cm-pause')).toEqual({ pid, status: 'RUNNING' });
    expect(procState(pid)).toBe('S');
  });

  test('restart (containerd has none): the task stopped (SIGKILL after --wait-time) and a new one running', () => {
    const pid = runCtr('cm-restart');
    const t0 = Date.now();
    const r = cli(dir, ['inject', 'container', 'restart', ...flags('cm-restart'), '-w', '1']);
    const ms = Date.now() - t0;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // busybox sleep as its namespace's init ignores SIGTERM: killed after the 1 s wait
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    const now = task('cm-restart')!;
    expect(now.status).toBe('RUNNING');
    expect(now.pid).not.toBe(pid);
    expect(fs.readFileSync(`/proc/${now.pid}/cmdline`, 'latin1')).toBe('/bin/sleep\u00003600\u0000');
    expect(cli(dir, ['recover', uidOf(r)]).code).toBe(0);
    expect(task('cm-restart')!.pid).toBe(now.pid);
  });

  test('kill -s KILL stops its task; rm removes the container from containerd', async () => {
    const pid = runCtr('cm-kill');
    const k = cli(dir, ['inject', 'container', 'kill', ...flags('cm-kill')]);
    expect(k.stderr).toBe('');
    for (let i = 0; i < 50 && task('cm-kill')?.status !== 'STOPPED'; i++) await sleep(100);
    expect(task('cm-kill')?.status).toBe('STOPPED');
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    runCtr('cm-rm');
    const r = cli(dir, ['inject', 'container', 'rm', ...flags('cm-rm')]);
    expect(r.stderr).toBe('');
    expect(ctr(['containers', 'ls', '-q']).out.split('\n')).not.toContain('cm-rm');
    expect(queryJson(dir, ['--uid', uidOf(r)]).experiments[0].container_runtime).toBe('containerd');
  });
});
