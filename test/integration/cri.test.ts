/**
 * Container faults on CRI-O (`--container-runtime crio` / `cri-o://ID`): the CRI has no pause and no kill with a
 * signal, so pause is the container's cgroup freezer and kill is a signal to its init (its identity checked); rm is
 * the CRI's StopContainer + RemoveContainer on CRI-O's socket; restart is refused (no restart in the CRI).
 * CRI-O cannot be installed here: the containers are real ones made through a real CRI server (a private
 * containerd's CRI plugin, test/cri.ts), reached through a stand-in of CRI-O's socket that serves CRI-O's info
 * endpoint and passes gRPC through. Effects are read from the kernel and from the CRI server.
 *
 * @lane quiet (its CPU reading is "none at all" while frozen, "some" after)
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { criStatus } from '../../src/host/cri';
import { freezerOf } from '../../src/host/cgroup';
import { dockerUnavailable, ensureDocker, ensureImages } from '../containers';
import { CRI_SOCK, crioSocket, runCriContainer, startCri, stopCri } from '../cri';
import { cli, queryJson, sleep, tmpDir, uidOf } from '../helpers';

jest.setTimeout(180_000);
const why = dockerUnavailable();
const d = why ? describe.skip : describe;
if (why) test.skip(`CRI-O container faults — skipped: ${why}`, () => {});

const dir = tmpDir('cri');
const sock = path.join(tmpDir('crio-sock'), 'crio.sock');
const env = { CONTAINER_RUNTIME_ENDPOINT: `unix://${sock}` };
let standIn: ChildProcess | undefined;
let busy: { id: string; pid: number }; // a busy loop: its CPU time shows whether it is frozen
let victim: { id: string; pid: number };
let doomed: { id: string; pid: number };

/** CPU time (ticks) of a process and its children so far: utime + stime of /proc/PID/stat. */
function cpuTicks(pid: number): number {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** The busy loop's shell forks nothing: its init is the loop. CPU ticks it used in ms. */
async function ticksOver(pid: number, ms: number): Promise<number> {
  const a = cpuTicks(pid);
  await sleep(ms);
  return cpuTicks(pid) - a;
}

/** What the kernel says of a freezer cgroup (v1 freezer.state, v2 cgroup.events). */
function freezer(f: { version: 1 | 2; dir: string }): string {
  if (f.version === 1) return fs.readFileSync(path.join(f.dir, 'freezer.state'), 'utf8').trim().toLowerCase();
  return /^frozen 1$/m.test(fs.readFileSync(path.join(f.dir, 'cgroup.events'), 'utf8')) ? 'frozen' : 'thawed';
}

const state = (p: number) => fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1][0];

d('container faults on CRI-O', () => {
  beforeAll(async () => {
    await ensureDocker();
    ensureImages();
    await startCri();
    busy = await runCriContainer('cm-busy', ['/bin/sh', '-c', 'while :; do :; done']);
    victim = await runCriContainer('cm-victim', ['/bin/sleep', '3600']);
    doomed = await runCriContainer('cm-doomed', ['/bin/sleep', '3600']);
    standIn = await crioSocket(sock, { [busy.id]: busy.pid, [victim.id]: victim.pid, [doomed.id]: doomed.pid });
  });
  afterAll(async () => {
    cli(dir, ['recover', '--all'], { env });
    standIn?.kill();
    await stopCri();
    fs.rmSync(path.dirname(sock), { recursive: true, force: true });
  });

  test('pause freezes the container through its cgroup freezer; recover thaws it; check follows', async () => {
    // burning: up to 50 ticks in 0.5 s (fewer beside the VM lane)
    expect(await ticksOver(busy.pid, 500)).toBeGreaterThan(5);
    const r = cli(dir, ['inject', 'container', 'pause', '--container-id', `cri-o://${busy.id}`, '-t', '1m'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const uid = uidOf(r);
    const f = freezerOf(busy.pid);
    expect(freezer(f)).toBe('frozen');
    expect(await ticksOver(busy.pid, 1000)).toBe(0); // not one tick in a second
    expect(JSON.parse(cli(dir, ['check', uid, '--json']).stdout).effect).toBe('in-place');
    const row = queryJson(dir, ['--uid', uid]).experiments[0];
    expect([row.container_id, row.container_runtime, row.status]).toEqual([busy.id, 'crio', 'success']);
    expect(cli(dir, ['recover', uid], { env }).code).toBe(0);
    expect(freezer(f)).toBe('thawed');
    expect(await ticksOver(busy.pid, 500)).toBeGreaterThan(5);
    expect((await criStatus(CRI_SOCK, busy.id)).state).toBe('running');
  });

  test("kill signals the container's init (the CRI has no kill): the CRI server sees it exit", async () => {
    expect(state(victim.pid)).toMatch(/[SR]/);
    const r = cli(dir, ['inject', 'container', 'kill', '--container-id', victim.id, '--container-runtime', 'crio'], {
      env,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.existsSync(`/proc/${victim.pid}`)).toBe(false);
    for (let i = 0; i < 50 && (await criStatus(CRI_SOCK, victim.id)).state !== 'exited'; i++) await sleep(100);
    expect((await criStatus(CRI_SOCK, victim.id)).state).toBe('exited');
    expect(JSON.parse(cli(dir, ['check', uidOf(r), '--json']).stdout).effect).toBe('in-place');
    expect(cli(dir, ['recover', uidOf(r)], { env }).code).toBe(0);
  });

  test('rm removes it through the CRI; the record keeps its image, labels and command', async () => {
    const r = cli(dir, ['inject', 'container', 'rm', '--container-id', `cri-o://${doomed.id}`], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await expect(criStatus(CRI_SOCK, doomed.id)).rejects.toThrow(/not ?found|does not exist/i);
    expect(fs.existsSync(`/proc/${doomed.pid}`)).toBe(false);
    const runtime = JSON.parse(queryJson(dir, ['--uid', uidOf(r)]).experiments[0].runtime);
    expect(runtime.removed).toMatchObject({
      id: doomed.id,
      name: 'cm-doomed',
      image: 'docker.io/cmtest/busybox:2',
      labels: { role: 'chaos-target' },
      command: ['/bin/sleep'],
      args: ['3600'],
    });
  });

  test('restart is refused (no restart in the CRI): exit 1, nothing stored; an unknown id: exit 1', () => {
    const n = queryJson(dir).total;
    const r = cli(dir, ['inject', 'container', 'restart', '--container-id', `cri-o://${busy.id}`], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/restart on CRI-O is not supported/);
    const missing = cli(dir, ['inject', 'container', 'pause', '--container-id', `cri-o://${'e'.repeat(64)}`], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/CRI-O says: can't find the container/);
    expect(queryJson(dir).total).toBe(n);
  });

  test("the freezer is never the host's or chaosmetad's own cgroup", () => {
    expect(() => freezerOf(process.pid)).toThrow(/chaosmetad's own cgroup|root cgroup/);
  });
});
