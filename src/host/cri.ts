/**
 * A small client of the Kubernetes CRI, runtime.v1.RuntimeService, over gRPC on a Unix socket: what CRI-O serves
 * on its socket beside its info endpoint (and containerd's CRI plugin on containerd's). gRPC is HTTP/2 (node:http2)
 * with each message framed as 1 flag byte + a 4-byte length. The messages are runtime.v1's, the fields used here
 * (proto/runtime/v1/api.proto), coded by @bufbuild/protobuf through the generated gen/runtime/v1/api_pb.ts.
 */
import type * as http2 from 'node:http2';
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { lazy } from '../util/lazy';

// loaded on first use: only container faults on a CRI runtime need them (the generated module builds its
// descriptors when loaded)
const nodeHttp2 = lazy<typeof http2>(() => require('node:http2'));
const nodeNet = lazy<typeof import('node:net')>(() => require('node:net'));
const protobuf = lazy<typeof import('@bufbuild/protobuf')>(() => require('@bufbuild/protobuf'));
const runtimeV1 = lazy<typeof import('./gen/runtime/v1/api_pb')>(() => require('./gen/runtime/v1/api_pb'));

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

/** One unary call of a runtime.v1 method, its request and reply coded by their message types. */
async function unary<I extends DescMessage, O extends DescMessage>(
  socket: string,
  method: DescMethodUnary<I, O>,
  request: MessageInitShape<I>,
  timeoutMs?: number,
): Promise<MessageShape<O>> {
  const { create, fromBinary, toBinary } = protobuf();
  const reply = await criCall(
    socket,
    method.name,
    Buffer.from(toBinary(method.input, create(method.input, request))),
    timeoutMs,
  );
  try {
    return fromBinary(method.output, reply);
  } catch (e) {
    throw new Error(`CRI ${method.name}: a reply that is not a ${method.output.typeName}: ${(e as Error).message}`);
  }
}

// ---- the calls ---------------------------------------------------------------------------------------------------

/** runtime.v1.ContainerState by number */
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
  const reply = await unary(socket, runtimeV1().RuntimeService.method.containerStatus, {
    containerId: id,
    verbose: true,
  });
  const st = reply.status;
  let info: Record<string, unknown> = {};
  const raw = reply.info.info;
  if (raw) {
    try {
      info = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      info = { raw };
    }
  }
  return {
    id: st?.id ?? '',
    name: st?.metadata?.name ?? '',
    state: CONTAINER_STATES[st?.state ?? 0] ?? 'unknown',
    image: st?.image?.image ?? '',
    labels: { ...st?.labels },
    annotations: { ...st?.annotations },
    mounts: (st?.mounts ?? []).map((m) => ({
      container_path: m.containerPath,
      host_path: m.hostPath,
      readonly: m.readonly,
    })),
    info,
  };
}

/** StopContainer: SIGTERM, then SIGKILL after timeoutS (0: at once). */
export async function criStop(socket: string, id: string, timeoutS: number): Promise<void> {
  const { method } = runtimeV1().RuntimeService;
  await unary(socket, method.stopContainer, { containerId: id, timeout: BigInt(timeoutS) }, (timeoutS + 30) * 1000);
}

/** RemoveContainer (a running one is stopped first by the runtime, as the CRI requires). */
export async function criRemove(socket: string, id: string): Promise<void> {
  await unary(socket, runtimeV1().RuntimeService.method.removeContainer, { containerId: id }, 60_000);
}
