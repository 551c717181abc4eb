/**
 * 20 parallel CLI invocations plus the daemon injecting and recovering at once on one store: no "database is
 * locked", no lost or duplicated record, and two experiments never fight over one host object — exactly one wins,
 * the others are refused with a clear message and store nothing.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, hostSettles, hostState, lastTest, queryJson, taggedPids, tmpDir, waitFor } from '../helpers';
import { call, startDaemon, stopDaemons } from '../daemon';

jest.setTimeout(180_000);
const dir = tmpDir('conc');
const files = tmpDir('conc-files');
let before: string;
let port = 0;

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CHAOSMETAD_DATA_DIR: dir } });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      out += d;
    });
    p.on('exit', (code) => resolve({ code: code ?? -1, out }));
  });
}
const shared = (i: number) => path.join(files, `shared-${i % 5}`);
const modes = () => [0, 1, 2, 3, 4].map((i) => (fs.statSync(shared(i)).mode & 0o777).toString(8));

beforeAll(async () => {
  before = hostState();
  for (let i = 0; i < 5; i++) fs.writeFileSync(shared(i), `shared ${i}\n`, { mode: 0o644 });
  port = (await startDaemon(dir)).port;
});

test('20 CLI + 20 HTTP injects at once, then 40 recovers at once', async () => {
  type R = { who: string; uid: string; obj?: string; code: number; msg: string };
  const jobs: Array<Promise<R>> = [];
  for (let i = 0; i < 20; i++) {
    const uid = `conc-cli-${i}`;
    const args =
      i % 2 === 0
        ? ['file', 'chmod', '-p', shared(i), '-P', '600']
        : i % 4 === 1
          ? ['cpu', 'load', '-c', '1']
          : ['file', 'add', '-p', path.join(files, `cli-${i}`), '-c', 'x'];
    jobs.push(
      run(['inject', ...args, '--uid', uid]).then((r) => ({
        who: 'cli',
        uid,
        obj: i % 2 === 0 ? shared(i) : undefined,
        code: r.code,
        msg: r.out,
      })),
    );
  }
  for (let j = 0; j < 20; j++) {
    const uid = `conc-http-${j}`;
    const body =
      j % 2 === 0
        ? { target: 'file', fault: 'chmod', args: JSON.stringify({ path: shared(j + 2), permission: '640' }), uid }
        : { target: 'file', fault: 'add', args: JSON.stringify({ path: path.join(files, `http-${j}`) }), uid };
    jobs.push(
      call(port, 'POST', '/v1/experiment/inject', body).then((r) => ({
        who: 'http',
        uid,
        obj: j % 2 === 0 ? shared(j + 2) : undefined,
        code: r.json.code,
        msg: r.json.message,
      })),
    );
  }
  const results = await Promise.all(jobs);
  const bad = results.filter(
    (r) => !(r.code === 0 || (r.code === 1 && /already altered by live experiment/.test(r.msg))),
  );
  expect(bad).toEqual([]);
  expect(results.some((r) => /locked/i.test(r.msg))).toBe(false);
  // exactly one winner per shared file; everything else that did not contend won
  for (let i = 0; i < 5; i++) {
    const contenders = results.filter((r) => r.obj === shared(i));
    expect(contenders.length).toBe(4);
    expect(contenders.filter((r) => r.code === 0).length).toBe(1);
  }
  expect(results.filter((r) => !r.obj).every((r) => r.code === 0)).toBe(true);
  const winners = results.filter((r) => r.code === 0);
  expect(winners.length).toBe(5 + 20);
  // the store holds exactly the winners, each once
  const stored = queryJson(dir).experiments;
  expect(stored.map((e) => e.uid).sort()).toEqual(winners.map((w) => w.uid).sort());
  expect(stored.every((e) => e.status === 'success')).toBe(true);
  expect(modes().every((m) => m === '600' || m === '640')).toBe(true);

  // recover them all at once: CLI for half, HTTP for the rest, and a `recover --all` racing both
  const rjobs: Array<Promise<{ uid: string; code: number; msg: string }>> = winners.map((w, k) =>
    k % 2
      ? run(['recover', w.uid]).then((r) => ({ uid: w.uid, code: r.code, msg: r.out }))
      : call(port, 'POST', '/v1/experiment/recover', { uid: w.uid }).then((r) => ({
          uid: w.uid,
          code: r.json.code,
          msg: r.json.message,
        })),
  );
  rjobs.push(run(['recover', '--all']).then((r) => ({ uid: '--all', code: r.code, msg: r.out })));
  const recs = await Promise.all(rjobs);
  expect(recs.filter((r) => r.code !== 0)).toEqual([]);
  expect(queryJson(dir).experiments.every((e) => e.status === 'destroyed')).toBe(true);
  expect(modes()).toEqual(['644', '644', '644', '644', '644']);
  expect(fs.readdirSync(files).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `shared-${i}`));
  expect(await waitFor(() => taggedPids().length === 0, 5000)).toBe(true);
});

test('one uid injected 10 times at once (CLI and HTTP): one wins, the rest are refused, one record', async () => {
  const uid = 'conc-same-uid';
  const jobs = Array.from({ length: 10 }, (_, i) =>
    i % 2
      ? run(['inject', 'file', 'add', '-p', path.join(files, `same-${i}`), '--uid', uid]).then((r) => ({
          code: r.code,
          msg: r.out,
        }))
      : call(port, 'POST', '/v1/experiment/inject', {
          target: 'file',
          fault: 'add',
          args: JSON.stringify({ path: path.join(files, `same-${i}`) }),
          uid,
        }).then((r) => ({ code: r.json.code, msg: r.json.message })),
  );
  const results = await Promise.all(jobs);
  expect(results.filter((r) => r.code === 0).length).toBe(1);
  expect(results.filter((r) => r.code === 1 && /still live/.test(r.msg)).length).toBe(9);
  expect(queryJson(dir, ['-u', uid]).total).toBe(1);
  expect(fs.readdirSync(files).filter((f) => f.startsWith('same-')).length).toBe(1);
  expect((await call(port, 'POST', '/v1/experiment/recover', { uid })).json.code).toBe(0);
  expect(fs.readdirSync(files).filter((f) => f.startsWith('same-')).length).toBe(0);
});

lastTest(
  'leaves the host as it found it',
  async () => {
    await stopDaemons();
    await run(['recover', '--all']);
  },
  async () => expect(await hostSettles(before)).toBe(before),
);
