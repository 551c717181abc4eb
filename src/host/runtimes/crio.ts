/**
 * CRI-O: its info endpoint on its socket, GET /containers/ID on /var/run/crio/crio.sock
 * (CONTAINER_RUNTIME_ENDPOINT=unix://… when set), and its CRI (host/cri.ts) on the same socket; the kernel where
 * the CRI has no call (kill: a signal to the init; pause: the freezer).
 */
import { badArgs } from '../../errors';
import { criRemove, criStatus, criStop } from '../cri';
import { freezerOf, isFrozen, setFrozen } from '../cgroup';
import { sameProcess } from '../procs';
import { type RuntimeClient, socketFrom, unixGet } from './client';

const crioSocket = () => socketFrom(process.env.CONTAINER_RUNTIME_ENDPOINT, '/var/run/crio/crio.sock');

export const crio: RuntimeClient = {
  runtime: 'crio',

  async find(id) {
    const sock = crioSocket();
    let r;
    try {
      r = await unixGet(sock, `/containers/${encodeURIComponent(id)}`);
    } catch (e) {
      throw badArgs(`--container-id ${id}: cannot ask CRI-O on ${sock}: ${(e as Error).message} (is crio running?)`);
    }
    if (r.status !== 200 || typeof r.body !== 'object')
      throw badArgs(
        `--container-id ${id}: CRI-O says: ${String(typeof r.body === 'object' ? JSON.stringify(r.body) : r.body)
          .trim()
          .slice(0, 300)}`,
      );
    const b = r.body;
    const pid = Number(b.pid);
    // CRI-O's info answer has no state: a container with a live init process is running
    return { id, name: String(b.name ?? ''), pid, state: pid > 0 ? 'running' : 'not running' };
  },

  validate(_t, op) {
    if (op === 'restart')
      throw badArgs(
        'container restart on CRI-O is not supported (the CRI has no restart: the kubelet restarts what stops; ' +
          '`inject container kill` stops it)',
      );
  },

  // the CRI has no kill with a signal and no pause; those act on the container's init and cgroup directly (the
  // identity of its init checked first), rm goes through the CRI on CRI-O's socket
  async act(t, a) {
    if (a.op === 'kill') {
      if (!sameProcess(t.pid, t.start)) throw new Error(`${t.id.slice(0, 12)}: its init process ${t.pid} is gone`);
      process.kill(t.pid, a.signal);
    } else if (a.op === 'pause' || a.op === 'unpause') await setFrozen(freezerOf(t.pid), a.op === 'pause');
    else if (a.op === 'rm') {
      const sock = crioSocket();
      await criStop(sock, t.id, 0);
      await criRemove(sock, t.id);
    } else throw new Error('CRI-O has no restart');
    return [];
  },

  /** its cgroup's freezer */
  async isPaused(t) {
    return isFrozen(freezerOf(t.pid));
  },

  async labels(t) {
    return (await criStatus(crioSocket(), t.id)).labels;
  },

  /** CRI ContainerStatus (verbose): image, command, labels, annotations, mounts, env names */
  async recipe(t) {
    try {
      const st = await criStatus(crioSocket(), t.id);
      const config = (st.info.config ?? {}) as Record<string, unknown>;
      return {
        id: t.id,
        name: st.name || t.name,
        image: st.image,
        command: config.command,
        args: config.args,
        labels: st.labels,
        annotations: st.annotations,
        mounts: st.mounts,
        env_names: Array.isArray(config.envs) ? config.envs.map((e: { key?: string }) => e.key) : undefined,
      };
    } catch (e) {
      return { id: t.id, name: t.name, note: `CRI ContainerStatus failed: ${(e as Error).message}` };
    }
  },
};
