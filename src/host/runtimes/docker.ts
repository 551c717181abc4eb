/** docker: the Engine API on /var/run/docker.sock (DOCKER_HOST=unix://… when set). */
import { badArgs } from '../../errors';
import type { ContainerScope } from '../scope';
import {
  type ContainerAction,
  type RuntimeClient,
  replyMessage,
  socketFrom,
  stringValues,
  unixGet,
  unixRequest,
} from './client';

/** The part of the Engine API's container inspection (GET /containers/ID/json) read here. */
interface DockerInspect {
  Id?: string;
  Name?: string;
  State?: { Paused?: boolean; Running?: boolean; Status?: string; Pid?: number };
  Config?: { Image?: string; Cmd?: string[]; Entrypoint?: string[]; Labels?: unknown; Env?: string[] };
  Mounts?: Array<{ Type?: string; Source?: string; Destination?: string; RW?: boolean }>;
  HostConfig?: { RestartPolicy?: { Name?: string } };
}

const dockerSocket = () => socketFrom(process.env.DOCKER_HOST, '/var/run/docker.sock');

/** GET /containers/ID/json */
const inspect = (id: string) => unixGet(dockerSocket(), `/containers/${encodeURIComponent(id)}/json`);

export const docker: RuntimeClient = {
  runtime: 'docker',

  async find(id) {
    const sock = dockerSocket();
    let r;
    try {
      r = await unixGet(sock, `/containers/${encodeURIComponent(id)}/json`);
    } catch (e) {
      throw badArgs(
        `--container-id ${id}: cannot ask docker on ${sock}: ${(e as Error).message} (is dockerd running?)`,
      );
    }
    if (r.status === 404) throw badArgs(`--container-id ${id}: no such docker container`);
    if (r.status !== 200) {
      // a prefix of several ids: docker says "multiple IDs found with provided prefix"
      throw badArgs(`--container-id ${id}: docker says: ${replyMessage(r.body).trim().slice(0, 300)}`);
    }
    const b = r.body as DockerInspect;
    const state = b.State?.Paused ? 'paused' : b.State?.Running ? 'running' : String(b.State?.Status ?? 'not running');
    return { id: String(b.Id), name: String(b.Name ?? '').replace(/^\//, ''), pid: Number(b.State?.Pid), state };
  },

  validate() {},

  /** kill, pause, unpause, restart, remove: the Engine API's own calls */
  async act(t: ContainerScope, a: ContainerAction) {
    const id = encodeURIComponent(t.id);
    const [method, p] =
      a.op === 'kill'
        ? ['POST', `/containers/${id}/kill?signal=${encodeURIComponent(a.signal)}`]
        : a.op === 'restart'
          ? ['POST', `/containers/${id}/restart?t=${a.waitS}`]
          : a.op === 'rm'
            ? ['DELETE', `/containers/${id}?force=true`]
            : ['POST', `/containers/${id}/${a.op}`];
    const r = await unixRequest(dockerSocket(), method, p, 120_000);
    if (r.status >= 300) {
      throw new Error(`docker ${a.op} ${t.id.slice(0, 12)}: ${replyMessage(r.body).trim().slice(0, 300)}`);
    }
    return [];
  },

  async isPaused(t) {
    const r = await inspect(t.id);
    return r.status === 200 && (r.body as DockerInspect).State?.Paused === true;
  },

  async labels(t) {
    const r = await inspect(t.id);
    if (r.status !== 200) throw badArgs(`container ${t.id.slice(0, 12)}: docker says ${r.status}`);
    return stringValues((r.body as DockerInspect | undefined)?.Config?.Labels);
  },

  /** image, command, labels, mounts, env names, restart policy */
  async recipe(t) {
    const r = await inspect(t.id);
    if (r.status !== 200) return { id: t.id, name: t.name };
    const b = r.body as DockerInspect;
    return {
      id: t.id,
      name: t.name,
      image: b.Config?.Image,
      cmd: b.Config?.Cmd,
      entrypoint: b.Config?.Entrypoint,
      labels: b.Config?.Labels,
      mounts: (b.Mounts ?? []).map((m) => ({
        type: m.Type,
        source: m.Source,
        destination: m.Destination,
        rw: m.RW,
      })),
      env_names: (b.Config?.Env ?? []).map((e) => e.split('=')[0]),
      restart_policy: b.HostConfig?.RestartPolicy?.Name,
    };
  },
};
