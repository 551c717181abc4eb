/**
 * What chaosmetad asks of a container runtime (docker, containerd, CRI-O: one file each), and the plumbing they
 * share: their sockets and a small HTTP client on a Unix socket.
 */
import type * as http from 'node:http';
import type { ContainerScope, Runtime } from '../scope';
import { lazy } from '../../util/lazy';

// loaded on first use: node:http costs a host fault's inject ~5 ms of start-up, and only containers need it
const nodeHttp = lazy<typeof http>(() => require('node:http'));

export type ContainerAction =
  | { op: 'kill'; signal: string }
  | { op: 'pause' }
  | { op: 'unpause' }
  | { op: 'restart'; waitS: number }
  | { op: 'rm' };

/** A container as its runtime reports it, before the checks that make it a ContainerScope. */
export interface FoundContainer {
  id: string;
  name: string;
  pid: number;
  /** containerd only */
  namespace?: string;
  state: string;
}

/** One container runtime's client. Errors that mean "bad target" are ChaosErrors with exit code 1 (badArgs). */
export interface RuntimeClient {
  readonly runtime: Runtime;
  /** Look up a container by full id, unique prefix or name (namespace: containerd's, the first one tried). */
  find(id: string, namespace: string): Promise<FoundContainer>;
  /** Refuse, before anything changes, what this runtime cannot do. */
  validate(t: ContainerScope, op: ContainerAction['op']): void;
  /** Act on the container itself; notes for the operator. */
  act(t: ContainerScope, a: ContainerAction): Promise<string[]>;
  /** Is the container paused now? */
  isPaused(t: ContainerScope): Promise<boolean>;
  /** The container's labels as the runtime reports them now ({} when it reports none). */
  labels(t: ContainerScope): Promise<Record<string, string>>;
  /** What a person needs to recreate a removed container (as much as this runtime tells). */
  recipe(t: ContainerScope): Promise<Record<string, unknown>>;
}

/** A `unix://PATH` endpoint from the environment, else the runtime's default socket. */
export function socketFrom(env: string | undefined, fallback: string): string {
  return env && env.startsWith('unix://') ? env.slice('unix://'.length) : fallback;
}

/** Only the string values of a JSON object ({} for anything else). */
export function stringValues(o: unknown): Record<string, string> {
  return o && typeof o === 'object'
    ? (Object.fromEntries(
        Object.entries(o as Record<string, unknown>).filter(([, v]) => typeof v === 'string'),
      ) as Record<string, string>)
    : {};
}

/** A reply on a Unix socket: its status and its body, parsed when it is JSON (else the text). */
export interface UnixReply {
  status: number;
  body: unknown;
}

/** What a runtime's error reply says: its JSON `message`, or its text. */
export function replyMessage(body: unknown): string {
  return String(body !== null && typeof body === 'object' ? (body as { message?: unknown }).message : body);
}

/** GET a path on a Unix socket; the parsed JSON body and the status. */
export function unixGet(socketPath: string, p: string, timeoutMs = 10_000): Promise<UnixReply> {
  return unixRequest(socketPath, 'GET', p, timeoutMs);
}

/** One request on a Unix socket (no body); the parsed JSON body and the status. */
export function unixRequest(socketPath: string, method: string, p: string, timeoutMs = 10_000): Promise<UnixReply> {
  const { request } = nodeHttp();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path: p, headers: { Host: 'localhost' }, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        if (text.length > 8 << 20) req.destroy(new Error('reply larger than 8 MB'));
      });
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          /* plain text (an error message) */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end();
  });
}
