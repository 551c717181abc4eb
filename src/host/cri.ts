/**
 * A small client of the Kubernetes CRI, runtime.v1.RuntimeService, over gRPC on a Unix socket: what CRI-O serves
 * on its socket beside its info endpoint (and containerd's CRI plugin on containerd's). gRPC is HTTP/2 (node:http2)
 * with each message framed as 1 flag byte + a 4-byte length; the few messages used here are coded by hand
 * (protobuf: strings, varints, nested messages, maps) — no code generator, no dependency for three calls.
 */
import type * as http2 from 'node:http2';
import { lazy } from '../util/lazy';

// loaded on first use: only container faults on a CRI runtime need them
const nodeHttp2 = lazy<typeof http2>(() => require('node:http2'));
const nodeNet = lazy<typeof import('node:net')>(() => require('node:net'));

// ---- protobuf, the subset these messages use -------------------------------------------------------------------

function varint(n: number | bigint): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // int64 negatives are 10-byte two's complement
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
export const pbString = (field: number, s: string): Buffer => pbBytes(field, Buffer.from(s, 'utf8'));
export const pbBytes = (field: number, b: Buffer): Buffer => Buffer.concat([key(field, 2), varint(b.length), b]);
export const pbInt = (field: number, n: number): Buffer => Buffer.concat([key(field, 0), varint(n)]);
export const pbMessage = (field: number, ...parts: Buffer[]): Buffer => pbBytes(field, Buffer.concat(parts));

/** A message's fields by number: varints as bigint, length-delimited ones as Buffer (fixed-width ones skipped). */
export type Fields = Map<number, Array<bigint | Buffer>>;

export function pbDecode(buf: Buffer): Fields {
  const out: Fields = new Map();
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[i++];
      v |= BigInt(b & 127) << shift;
      if (!(b & 128)) return v;
      shift += 7n;
      if (shift > 70n) throw new Error('protobuf varint too long');
    }
  };
  while (i < buf.length) {
    const k = Number(readVarint());
    const field = k >>> 3;
    const wire = k & 7;
    let value: bigint | Buffer | undefined;
    if (wire === 0) value = readVarint();
    else if (wire === 2) {
      const len = Number(readVarint());
      if (i + len > buf.length) throw new Error('truncated protobuf field');
      value = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`protobuf wire type ${wire} not handled`);
    if (value !== undefined) out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const one = (f: Fields, n: number): bigint | Buffer | undefined => f.get(n)?.[0];
const text = (f: Fields, n: number): string => {
  const v = one(f, n);
  return Buffer.isBuffer(v) ? v.toString('utf8') : '';
};
const sub = (f: Fields, n: number): Fields => {
  const v = one(f, n);
  return Buffer.isBuffer(v) ? pbDecode(v) : new Map();
};
/** a map<string,string> field (repeated entries of key = 1, value = 2) */
const strMap = (f: Fields, n: number): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const e of f.get(n) ?? []) {
    if (!Buffer.isBuffer(e)) continue;
    const m = pbDecode(e);
    out[text(m, 1)] = text(m, 2);
  }
  return out;
};

// ---- gRPC over HTTP/2 on a Unix socket ---------------------------------------------------------------------------

export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly grpcStatus: number,
    message: string,
  ) {
    super(`CRI ${method}: ${message || `gRPC status ${grpcStatus}`}`);
  }
}

/** gRPC status codes that mean "no such container" (NOT_FOUND) */
export const GRPC_NOT_FOUND = 5;

/** One unary call of runtime.v1.RuntimeService; the reply message's bytes. */
export async function criCall(socket: string, method: string, request: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  const h2 = nodeHttp2();
  const net = nodeNet();
  const path = `/runtime.v1.RuntimeService/${method}`;
  return new Promise<Buffer>((resolve, reject) => {
    const session = h2.connect('http://localhost', { createConnection: () => net.connect(socket) });
    let done = false;
    const finish = (e: Error | null, b?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.close();
      session.destroy();
      if (e) reject(e);
      else resolve(b!);
    };
    const timer = setTimeout(() => finish(new CriError(method, 4, `no answer within ${timeoutMs / 1000}s`)), timeoutMs);
    session.on('error', (e) => finish(new Error(`CRI ${method}: cannot talk to ${socket}: ${e.message}`)));
    const req = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (headers = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', (e) => finish(new Error(`CRI ${method}: ${e.message}`)));
    req.on('end', () => {
      const status = Number(trailers['grpc-status'] ?? headers['grpc-status'] ?? NaN);
      const message = decodeURIComponent(String(trailers['grpc-message'] ?? headers['grpc-message'] ?? ''));
      if (headers[':status'] !== undefined && Number(headers[':status']) !== 200)
        return finish(new CriError(method, 2, `HTTP status ${String(headers[':status'])} (not a gRPC server?)`));
      if (status !== 0) return finish(new CriError(method, Number.isNaN(status) ? 2 : status, message));
      const body = Buffer.concat(chunks);
      if (body.length < 5) return finish(null, Buffer.alloc(0));
      if (body[0] !== 0) return finish(new CriError(method, 2, 'a compressed reply (not asked for)'));
      finish(null, body.subarray(5, 5 + body.readUInt32BE(1)));
    });
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(request.length, 1);
    req.end(Buffer.concat([frame, request]));
  });
}

// ---- the calls ---------------------------------------------------------------------------------------------------

export const CONTAINER_STATES = ['created', 'running', 'exited', 'unknown'] as const;

export interface CriContainerStatus {
  id: string;
  name: string;
  state: string;
  image: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  mounts: Array<{ container_path: string; host_path: string; readonly: boolean }>;
  /** the runtime's own verbose details (CRI-O and containerd put a JSON document under "info") */
  info: Record<string, unknown>;
}

/** ContainerStatus (verbose): state, image, labels, mounts and the runtime's details (pid, config). */
export async function criStatus(socket: string, id: string): Promise<CriContainerStatus> {
  const reply = pbDecode(await criCall(socket, 'ContainerStatus', Buffer.concat([pbString(1, id), pbInt(2, 1)])));
  const st = sub(reply, 1);
  const state = one(st, 3);
  let info: Record<string, unknown> = {};
  const raw = strMap(reply, 2).info;
  if (raw) {
    try {
      info = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      info = { raw };
    }
  }
  return {
    id: text(st, 1),
    name: text(sub(st, 2), 1),
    state: CONTAINER_STATES[Number(typeof state === 'bigint' ? state : 0n)] ?? 'unknown',
    image: text(sub(st, 8), 1),
    labels: strMap(st, 12),
    annotations: strMap(st, 13),
    mounts: (st.get(14) ?? [])
      .filter((b): b is Buffer => Buffer.isBuffer(b))
      .map((b) => {
        const m = pbDecode(b);
        return { container_path: text(m, 1), host_path: text(m, 2), readonly: one(m, 3) === 1n };
      }),
    info,
  };
}

/** StopContainer: SIGTERM, then SIGKILL after timeoutS (0: at once). */
export async function criStop(socket: string, id: string, timeoutS: number): Promise<void> {
  await criCall(socket, 'StopContainer', Buffer.concat([pbString(1, id), pbInt(2, timeoutS)]), (timeoutS + 30) * 1000);
}

/** RemoveContainer (a running one is stopped first by the runtime, as the CRI requires). */
export async function criRemove(socket: string, id: string): Promise<void> {
  await criCall(socket, 'RemoveContainer', pbString(1, id), 60_000);
}
