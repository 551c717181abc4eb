/**
 * The engine in-process: a real store (SQLite) in a temporary directory, the test fault (test/support/test-fault.ts)
 * and a fake host that records every command instead of running it. The journal's guarantees, proved at every
 * point: steps go pending → done → undone; a crash at any point (every store write and every host change) is
 * recovered by a fresh engine on the same store, undoing exactly the steps that were started, newest first, and no
 * undo that finished runs again; a failed inject undoes what it did and is stored as failed; deadlines recover.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Engine, type EngineOptions } from '../../src/engine/engine';
import { retryDelay } from '../../src/engine/clock';
import { recoverDue } from '../../src/engine/watcher';
import { ChaosError, ExitCode } from '../../src/errors';
import { Store } from '../../src/store/store';
import { FakeHost, testRegistry, type Fate } from '../support/test-fault';

/** a pid no process has: one that ran and was reaped (what a crashed chaosmetad leaves as owner_pid) */
const DEAD_PID = spawnSync('true').pid;

let dir: string;
let host: FakeHost;
const stores: Store[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-engine-'));
  host = new FakeHost();
});
afterEach(() => {
  for (const s of stores.splice(0)) if (s.db.open) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh engine (as a new process would open it) on a data dir, acting on a fake host. */
function engineOn(dataDir = dir, on = host, opts: EngineOptions = {}): Engine {
  const store = new Store(dataDir);
  stores.push(store);
  return new Engine(store, { faults: testRegistry(), executor: on.executor, ...opts });
}

const states = (e: Engine, uid: string) => e.store.steps(uid).map((s) => s.state);
const req = (uid: string, args: Record<string, unknown> = {}) => ({ target: 'test', fault: 'steps', uid, args });
/** the commands of one experiment's item n */
const add = (uid: string, ...n: number[]) => n.map((i) => `testctl add ${uid}-${i}`);
const del = (uid: string, ...n: number[]) => n.map((i) => `testctl del ${uid}-${i}`);
/** fail or hang exactly one command */
const at =
  (call: string, fate: Fate) =>
  (c: string): Fate =>
    c === call ? fate : 'run';
/** the events of the engine's log */
const logged = (dataDir = dir) =>
  fs
    .readFileSync(path.join(dataDir, 'chaosmetad.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function refusal(p: Promise<unknown>): Promise<ChaosError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ChaosError);
  return e as ChaosError;
}

describe('inject and recover', () => {
  test('steps go pending → done → undone; the row created → success → destroyed; the claim held, then let go', async () => {
    const e = engineOn();
    const seen: Array<[string, string[]]> = [];
    host.hook = (call) => {
      seen.push([call, states(e, 'exp01')]);
      return 'run';
    };
    const r = await e.inject(req('exp01'));
    expect(seen).toEqual([
      [add('exp01', 1)[0], ['pending']],
      [add('exp01', 2)[0], ['done', 'pending']],
      [add('exp01', 3)[0], ['done', 'done', 'pending']],
      ['testctl list', ['done', 'done', 'done']], // the check right after inject
    ]);
    expect(r.experiment).toMatchObject({ status: 'success', phase: 'injected', owner_pid: null, error: '' });
    expect(JSON.parse(r.experiment.runtime)).toEqual({ items: ['exp01-1', 'exp01-2', 'exp01-3'] });
    expect(e.store.claimHolder('test:items')).toBe('exp01');
    expect([...host.items]).toEqual(['exp01-1', 'exp01-2', 'exp01-3']);
    expect(await e.check('exp01')).toEqual({ uid: 'exp01', status: 'success', effect: 'in-place' });

    seen.length = 0;
    const rec = await e.recover('exp01');
    expect(rec).toEqual({ uid: 'exp01', status: 'destroyed', ok: true, message: 'recovered' });
    expect(seen).toEqual([
      [del('exp01', 3)[0], ['done', 'done', 'done']],
      [del('exp01', 2)[0], ['done', 'done', 'undone']],
      [del('exp01', 1)[0], ['done', 'undone', 'undone']],
    ]);
    expect(states(e, 'exp01')).toEqual(['undone', 'undone', 'undone']);
    expect(e.store.get('exp01')).toMatchObject({ status: 'destroyed', phase: 'recovered', owner_pid: null });
    expect(e.store.claimHolder('test:items')).toBeUndefined();
    expect(host.changes()).toEqual([...add('exp01', 1, 2, 3), ...del('exp01', 3, 2, 1)]);
    expect(host.items.size).toBe(0);
    expect(fs.existsSync(path.join(dir, 'work', 'exp01'))).toBe(false);
    expect(logged().map((l) => l.event ?? l.action)).toEqual([
      'inject',
      ...add('exp01', 1, 2, 3).map((c) => `run: ${c}`),
      ...del('exp01', 3, 2, 1).map((c) => `run: ${c}`),
      'recover',
    ]);
  });

  test('a second recover, a concurrent one and start-up recovery after it undo nothing again', async () => {
    const e = engineOn();
    await e.inject(req('exp02'));
    const [a, b] = await Promise.all([e.recover('exp02'), e.recover('exp02')]);
    expect([a.message, b.message]).toEqual(['recovered', 'already recovered']);
    expect(await e.recover('exp02')).toMatchObject({ ok: true, status: 'destroyed', message: 'already recovered' });
    expect(await engineOn().recoverMany({ expired: true })).toEqual([]);
    expect(await engineOn().recoverMany({ all: true })).toEqual([]);
    expect(host.changes()).toEqual([...add('exp02', 1, 2, 3), ...del('exp02', 3, 2, 1)]);
  });

  test('a dry run plans the commands and changes neither the host nor the store', async () => {
    const e = engineOn();
    const r = await e.inject({ ...req('exp03'), dryRun: true });
    expect(r.planned).toEqual(add('exp03', 1, 2, 3).map((c) => `run: ${c}`));
    expect(host.calls).toEqual([]);
    expect(e.store.get('exp03')).toBeUndefined();
  });

  test('refused before anything runs: a bad flag value, validate, a live uid, a claim held by another', async () => {
    const e = engineOn();
    const bad = await refusal(e.inject(req('exp04', { count: 0 })));
    expect([bad.code, bad.message]).toEqual([ExitCode.BadArgs, '--count must be an integer in 1..9, got "0"']);
    const val = await refusal(e.inject(req('exp04', { count: 9 })));
    expect([val.code, val.message]).toEqual([ExitCode.BadArgs, '--count 9 is refused by validate (test)']);
    expect(e.store.get('exp04')).toBeUndefined();
    expect(host.calls).toEqual([]);

    await e.inject(req('exp04', { count: 1 }));
    const live = await refusal(e.inject(req('exp04', { count: 1 })));
    expect([live.code, live.message]).toEqual([
      ExitCode.BadArgs,
      'an experiment with uid exp04 is still live (status success); recover it first or choose another --uid',
    ]);
    const claimed = await refusal(e.inject(req('exp05', { count: 1 })));
    expect([claimed.code, claimed.message]).toEqual([
      ExitCode.BadArgs,
      'test items is already altered by live experiment exp04; recover it first',
    ]);
    expect(e.store.get('exp05')).toBeUndefined();
    expect(host.changes()).toEqual(add('exp04', 1));
  });
});

describe('a failed inject undoes what it did and is stored as failed', () => {
  test.each([1, 2, 3].flatMap((k) => (['fail-before', 'fail-after'] as const).map((f) => [k, f] as const)))(
    'step %i: %s its change',
    async (k, fate) => {
      const e = engineOn();
      host.hook = at(add('exp10', k)[0], fate);
      const err = await refusal(e.inject(req('exp10')));
      expect(err.code).toBe(ExitCode.Inject);
      expect(err.message).toMatch(/^testctl add exp10-\d failed/);
      const started = Array.from({ length: k }, (_, i) => i + 1);
      // the failing step was journaled (pending) before its change: its undo runs too, whether the change happened
      expect(host.changes()).toEqual([
        ...add('exp10', ...(fate === 'fail-after' ? started : started.slice(0, -1))),
        ...del('exp10', ...started.reverse()),
      ]);
      expect(host.items.size).toBe(0);
      expect(states(e, 'exp10')).toEqual(Array(k).fill('undone'));
      expect(e.store.get('exp10')).toMatchObject({
        status: 'error',
        phase: 'inject-failed',
        error: err.message,
        owner_pid: null,
      });
      expect(e.store.claimHolder('test:items')).toBeUndefined();
      // nothing left: a recover says so and runs nothing; the uid can be used again
      const n = host.calls.length;
      expect(await e.recover('exp10')).toMatchObject({ ok: true, message: 'inject had failed; nothing to undo' });
      expect(host.calls.length).toBe(n);
      host.hook = () => 'run';
      expect((await e.inject(req('exp10'))).experiment.status).toBe('success');
    },
  );

  test('the check right after inject finds the fault partly gone: failed, everything undone', async () => {
    const e = engineOn();
    host.hook = (call) => {
      if (call === 'testctl list') host.items.delete('exp11-2'); // something else took one item away
      return 'run';
    };
    const err = await refusal(e.inject(req('exp11')));
    expect([err.code, err.message]).toEqual([
      ExitCode.Inject,
      'the fault is not in place right after inject (check: partial)',
    ]);
    expect(host.changes()).toEqual([...add('exp11', 1, 2, 3), ...del('exp11', 3, 2, 1)]);
    expect(e.store.get('exp11')).toMatchObject({ status: 'error', phase: 'inject-failed' });
  });

  test('an undo of the failed inject fails too: said, the claim kept, and a later recover undoes only that step', async () => {
    const e = engineOn();
    host.hook = (c) => (c === add('exp12', 3)[0] ? 'fail-before' : c === del('exp12', 2)[0] ? 'fail-before' : 'run');
    const err = await refusal(e.inject(req('exp12')));
    expect(err.code).toBe(ExitCode.Inject);
    expect(err.message).toBe(
      'testctl add exp12-3 failed (test); undoing the partial inject also failed: item: testctl del exp12-2 failed ' +
        '(test) (run: chaosmetad recover exp12)',
    );
    expect(states(e, 'exp12')).toEqual(['undone', 'done', 'undone']);
    expect(e.store.get('exp12')).toMatchObject({ status: 'error', phase: 'inject-failed' });
    expect(e.store.claimHolder('test:items')).toBe('exp12');
    expect([...host.items]).toEqual(['exp12-2']);
    host.hook = () => 'run';
    const n = host.changes().length;
    expect(await engineOn().recover('exp12')).toMatchObject({ ok: true, message: 'undid what the failed inject left' });
    expect(host.changes().slice(n)).toEqual(del('exp12', 2));
    expect(host.items.size).toBe(0);
    expect(e.store.claimHolder('test:items')).toBeUndefined();
  });
});

describe('a failed recover', () => {
  test('stays retryable (recover-error, counted, a retry time) and the retry runs only the undo that failed', async () => {
    const e = engineOn();
    await e.inject(req('exp20'));
    host.hook = at(del('exp20', 2)[0], 'fail-before');
    const before = Date.now();
    const err = await refusal(e.recover('exp20'));
    expect([err.code, err.message]).toEqual([
      ExitCode.Recover,
      'recover exp20 failed: item: testctl del exp20-2 failed (test) (retried by itself; to give up what keeps ' +
        'failing: chaosmetad recover exp20 --abandon)',
    ]);
    const row = e.store.get('exp20')!;
    expect(row).toMatchObject({ status: 'success', phase: 'recover-error', recover_failures: 1, owner_pid: null });
    expect(row.retry_ms).toBeGreaterThanOrEqual(before + retryDelay(1));
    expect(states(e, 'exp20')).toEqual(['undone', 'done', 'undone']);
    expect(e.store.claimHolder('test:items')).toBe('exp20');

    host.hook = () => 'run';
    expect((await engineOn().recover('exp20')).message).toBe('recovered');
    expect(host.changes()).toEqual([...add('exp20', 1, 2, 3), ...del('exp20', 3, 1, 2)]);
    expect(e.store.get('exp20')).toMatchObject({ status: 'destroyed', phase: 'recovered' });
  });

  test('--abandon gives up the undo that keeps failing and says so', async () => {
    const e = engineOn();
    await e.inject(req('exp21'));
    host.hook = at(del('exp21', 2)[0], 'fail-before');
    const r = await e.recover('exp21', 'manual', { abandon: true });
    expect(r.message).toBe('gave up what could not be undone; abandoned (not undone): item');
    expect(e.store.get('exp21')).toMatchObject({
      status: 'destroyed',
      phase: 'abandoned',
      error: 'recover abandoned: item: testctl del exp21-2 failed (test)',
    });
    expect(states(e, 'exp21')).toEqual(['undone', 'undone', 'undone']);
    expect([...host.items]).toEqual(['exp21-2']);
  });
});

describe('deadlines and leases', () => {
  test('the watcher recovers at the deadline (reason timeout); start-up recovery calls it expired', async () => {
    const e = engineOn();
    const t0 = Date.now();
    const { experiment } = await e.inject({ ...req('exp30'), timeout: '60ms' });
    expect(experiment.deadline).toBeGreaterThanOrEqual(t0 + 60);
    expect((await e.stale('test', t0)).map((s) => s.reason)).toEqual(['rearm']);
    expect((await e.stale('test', experiment.deadline!)).map((s) => s.reason)).toEqual(['expired']);
    await e.watch('exp30');
    expect(Date.now()).toBeGreaterThanOrEqual(experiment.deadline!);
    expect(e.store.get('exp30')).toMatchObject({ status: 'destroyed', phase: 'recovered' });
    expect(host.changes()).toEqual([...add('exp30', 1, 2, 3), ...del('exp30', 3, 2, 1)]);
    expect(logged().find((l) => l.event === 'recover')).toMatchObject({ uid: 'exp30', reason: 'timeout' });
  });

  test('a lease that ran out is recovered when due (reason lease); before that it is not', async () => {
    const e = engineOn();
    await e.inject({ ...req('exp31'), lease: '10s' });
    expect(await recoverDue(e, 'exp31')).toBe('wait');
    expect(e.renew('exp31').lease_until).toBeGreaterThan(Date.now() + 9000);
    e.store.update('exp31', { lease_until: Date.now() - 1 }); // as if 10 s went by unrenewed
    expect(await recoverDue(e, 'exp31')).toBe('done');
    expect(e.store.get('exp31')?.status).toBe('destroyed');
    expect(logged().find((l) => l.event === 'recover')).toMatchObject({ uid: 'exp31', reason: 'lease' });
    expect(host.items.size).toBe(0);
  });
});

/**
 * A crash at every point: each store write (outside a transaction: inside one, a crash rolls it back) and each host
 * change is a point; at each, the store's committed state is copied (VACUUM INTO) with the host's items. Each
 * image is then opened by a fresh engine (the crashed process's pid dead) on a fresh host holding those items.
 */
interface Crash {
  what: string;
  db: string;
  items: string[];
}

function recordCrashes(e: Engine, on: FakeHost, into: string): Crash[] {
  const crashes: Crash[] = [];
  let db = '';
  const image = (what: string) => {
    db = path.join(into, `${crashes.length}.db`);
    e.store.db.exec(`VACUUM INTO '${db}'`);
    crashes.push({ what, db, items: [...on.items] });
  };
  image('start');
  const store = e.store as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const m of ['insert', 'update', 'addStep', 'setStep', 'claim', 'releaseClaims', 'tx']) {
    const orig = store[m].bind(e.store);
    store[m] = (...a: unknown[]) => {
      const r = orig(...a);
      if (!e.store.db.inTransaction) image(`after store.${m}`);
      return r;
    };
  }
  const run = on.run.bind(on);
  on.run = async (cmd, args) => {
    const r = await run(cmd, args);
    if (args[0] !== 'list') crashes.push({ what: `after ${cmd} ${args.join(' ')}`, db, items: [...on.items] });
    return r;
  };
  return crashes;
}

/** Open a crash image as a new process would: its own data dir, a fresh host with the items the crash left. */
function reopen(c: Crash): { e: Engine; h: FakeHost } {
  const d = fs.mkdtempSync(path.join(dir, 'crash-'));
  fs.copyFileSync(c.db, path.join(d, 'chaosmetad.db'));
  const h = new FakeHost();
  for (const i of c.items) h.items.add(i);
  const e = engineOn(d, h);
  for (const r of e.store.unfinished()) if (r.owner_pid) e.store.update(r.uid, { owner_pid: DEAD_PID });
  return { e, h };
}

describe('a crash at any point is recovered by a fresh engine', () => {
  test('during inject and during recover: exactly the started steps are undone, newest first, none twice', async () => {
    const images = fs.mkdtempSync(path.join(dir, 'images-'));
    const e = engineOn();
    const crashes = recordCrashes(e, host, images);
    await e.inject(req('exp40'));
    const injected = crashes.length;
    await e.recover('exp40');
    expect(host.changes()).toEqual([...add('exp40', 1, 2, 3), ...del('exp40', 3, 2, 1)]);
    // every store write and host change of both, once each
    expect(crashes.map((c) => c.what)).toEqual([
      'start',
      'after store.tx', // insert + claim
      ...[1, 2, 3].flatMap((i) => ['after store.addStep', `after testctl add exp40-${i}`, 'after store.setStep']),
      'after store.update', // success
      'after store.tx', // recovering
      ...[3, 2, 1].flatMap((i) => [`after testctl del exp40-${i}`, 'after store.setStep']),
      'after store.tx', // destroyed, claims released
    ]);

    for (const [n, c] of crashes.entries()) {
      const { e: fresh, h } = reopen(c);
      const row = fresh.store.get('exp40');
      const steps = row ? fresh.store.steps('exp40') : [];
      const started = steps.filter((s) => s.state !== 'undone').map((s) => JSON.parse(s.data) as { name: string });
      // start-up recovery takes what the crash interrupted; a finished inject is live (re-armed), recovered by hand
      const startup = await fresh.recoverMany({ expired: true });
      const interrupted = row !== undefined && (row.phase === 'injecting' || row.phase === 'recovering');
      expect({ n, what: c.what, recovered: startup.map((r) => [r.uid, r.ok]) }).toEqual({
        n,
        what: c.what,
        recovered: interrupted ? [['exp40', true]] : [],
      });
      if (row?.status === 'success' && !interrupted) await fresh.recover('exp40');
      const undos = started.reverse().map((d) => `testctl del ${d.name}`);
      expect({ n, what: c.what, changes: h.changes(), items: [...h.items] }).toEqual({
        n,
        what: c.what,
        changes: undos,
        items: [],
      });
      if (row) {
        expect(states(fresh, 'exp40').every((s) => s === 'undone')).toBe(true);
        expect(fresh.store.get('exp40')?.status).toBe('destroyed');
        expect(fresh.store.claimHolder('test:items')).toBeUndefined();
      }
      // and a second recover after it is harmless
      const again = await fresh.recoverMany({ expired: true });
      if (row) await fresh.recover('exp40');
      expect(again).toEqual([]);
      expect(h.changes()).toEqual(undos);
      fresh.store.close();
      if (n === injected - 1) expect(row?.phase).toBe('injected'); // the last image of the inject: done
    }
  });
});
