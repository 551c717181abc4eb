/**
 * The CRI client's messages: the generated code (src/host/gen/, from proto/runtime/v1/api.proto) is fresh and reads
 * runtime.v1's field numbers; a hostile or broken server's bytes are errors; and what needs no CRI call.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ContainerState,
  ContainerStatusRequestSchema,
  ContainerStatusResponseSchema,
  RuntimeService,
  StopContainerRequestSchema,
} from '../../src/host/gen/runtime/v1/api_pb';
import { validateAction } from '../../src/host/runtimes';
import { pbDecode, pbInt, pbMessage, pbString } from '../protobuf';

const ROOT = path.join(__dirname, '..', '..');

test('src/host/gen/ is what scripts/gen-proto.sh makes of proto/ now', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'chaosmetad-gen-'));
  try {
    execFileSync(path.join(ROOT, 'scripts', 'gen-proto.sh'), [out], { stdio: 'pipe' });
    const file = path.join('src', 'host', 'gen', 'runtime', 'v1', 'api_pb.ts');
    expect(fs.readdirSync(path.join(out, 'src', 'host', 'gen'), { recursive: true }).sort()).toEqual(
      fs.readdirSync(path.join(ROOT, 'src', 'host', 'gen'), { recursive: true }).sort(),
    );
    expect(fs.readFileSync(path.join(out, file), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, file), 'utf8'));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('the service and methods are runtime.v1.RuntimeService and its own names (the gRPC path)', () => {
  expect(RuntimeService.typeName).toBe('runtime.v1.RuntimeService');
  expect(Object.values(RuntimeService.method).map((m) => m.name)).toEqual([
    'StopContainer',
    'RemoveContainer',
    'ContainerStatus',
  ]);
});

test("requests carry runtime.v1's field numbers (int64 negatives too)", () => {
  const st = pbDecode(
    Buffer.from(
      toBinary(
        ContainerStatusRequestSchema,
        create(ContainerStatusRequestSchema, { containerId: 'abc', verbose: true }),
      ),
    ),
  );
  expect([String(st.get(1)![0]), st.get(2)![0]]).toEqual(['abc', 1n]);
  const stop = pbDecode(
    Buffer.from(
      toBinary(StopContainerRequestSchema, create(StopContainerRequestSchema, { containerId: 'x', timeout: -1n })),
    ),
  );
  expect([String(stop.get(1)![0]), stop.get(2)![0]]).toEqual(['x', (1n << 64n) - 1n]);
});

test("a ContainerStatus reply built by runtime.v1's field numbers reads back; unknown fields are skipped", () => {
  const entry = (k: string, v: string) => Buffer.concat([pbString(1, k), pbString(2, v)]);
  const reply = Buffer.concat([
    pbMessage(
      1,
      pbString(1, 'c1'),
      pbMessage(2, pbString(1, 'web'), pbInt(2, 3)), // metadata (attempt: not in our .proto)
      pbInt(3, 1), // CONTAINER_RUNNING
      pbInt(4, 1_700_000_000), // created_at: not in our .proto
      pbMessage(8, pbString(1, 'docker.io/library/busybox:1')),
      pbMessage(12, entry('app', 'web')),
      pbMessage(12, entry('role', 'x')),
      pbMessage(13, entry('note', 'n')),
      pbMessage(14, pbString(1, '/data'), pbString(2, '/srv/data'), pbInt(3, 1)),
      pbMessage(14, pbString(1, '/tmp'), pbString(2, '/var/tmp')),
      pbString(15, '/var/log/c1.log'), // log_path: not in our .proto
    ),
    pbMessage(2, entry('info', '{"pid":42}')),
  ]);
  const r = fromBinary(ContainerStatusResponseSchema, reply);
  expect(r.status?.id).toBe('c1');
  expect(r.status?.metadata?.name).toBe('web');
  expect(r.status?.state).toBe(ContainerState.CONTAINER_RUNNING);
  expect(r.status?.image?.image).toBe('docker.io/library/busybox:1');
  expect(r.status?.labels).toEqual({ app: 'web', role: 'x' });
  expect(r.status?.annotations).toEqual({ note: 'n' });
  expect(r.status?.mounts.map((m) => [m.containerPath, m.hostPath, m.readonly])).toEqual([
    ['/data', '/srv/data', true],
    ['/tmp', '/var/tmp', false],
  ]);
  expect(r.info).toEqual({ info: '{"pid":42}' });
});

test.each([
  ['a length past the end', Buffer.from([0x0a, 0x05, 0x61])],
  ['a varint cut short', Buffer.from([0x10, 0xff])],
  ['an endless varint', Buffer.from([0x10, ...Array(12).fill(0xff), 0x01])],
  ['a group never closed', Buffer.from([0x0b])],
  ['a string that is not UTF-8', pbMessage(1, Buffer.from([0x0a, 0x01, 0xff]))],
])('%s is an error', (_why, bytes) => {
  expect(() => fromBinary(ContainerStatusResponseSchema, bytes)).toThrow();
});

test("restart is refused where the kubelet's CRI manages the container (containerd k8s.io, CRI-O)", () => {
  const t = { kind: 'container' as const, id: 'a'.repeat(64), name: 'x', pid: 1, start: 1 };
  expect(() => validateAction({ ...t, runtime: 'containerd', namespace: 'k8s.io' }, 'restart')).toThrow(/k8s.io/);
  expect(() => validateAction({ ...t, runtime: 'crio' }, 'restart')).toThrow(/CRI-O/);
  expect(() => validateAction({ ...t, runtime: 'containerd', namespace: 'default' }, 'restart')).not.toThrow();
  expect(() => validateAction({ ...t, runtime: 'crio' }, 'pause')).not.toThrow();
});
