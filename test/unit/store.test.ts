import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Store } from '../../src/store/store';
import { experimentRow } from '../rows';
/* eslint-disable @typescript-eslint/no-require-imports */

const row = experimentRow;

describe('store', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-store-'));
    store = new Store(dir);
  });
  afterEach(() => store.close());

  test('WAL mode, busy timeout and the schema version', () => {
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(30000);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2); // FULL: a journal step survives a power cut
    expect(store.db.pragma('user_version', { simple: true })).toBe(8);
    // a second open of a migrated store changes nothing
    const again = new Store(dir);
    expect(again.db.pragma('user_version', { simple: true })).toBe(8);
    again.close();
  });

  test('query filters, newest first, offset and limit, total counts all matches', () => {
    for (let i = 0; i < 15; i++) {
      store.insert(
        row(`exp-${String(i).padStart(2, '0')}`, {
          create_ms: 1_000_000 + i,
          target: i % 3 ? 'cpu' : 'mem',
          fault: i % 3 ? 'burn' : 'fill',
          status: i % 2 ? 'success' : 'destroyed',
          creator: i < 5 ? 'alice' : 'root',
        }),
      );
    }
    const all = store.query({});
    expect(all.total).toBe(15);
    expect(all.rows).toHaveLength(10);
    expect(all.rows[0].uid).toBe('exp-14');
    expect(store.query({ limit: 0 }).rows).toHaveLength(15);
    expect(store.query({ offset: 12 }).rows.map((r) => r.uid)).toEqual(['exp-02', 'exp-01', 'exp-00']);
    expect(store.query({ target: 'mem' }).total).toBe(5);
    expect(store.query({ target: 'cpu', fault: 'burn', status: 'success' }).total).toBe(5);
    expect(store.query({ creator: 'alice' }).total).toBe(5);
    expect(store.query({ uid: 'exp-03' }).rows.map((r) => r.uid)).toEqual(['exp-03']);
    expect(store.query({ uid: "x' OR 1=1 --" }).total).toBe(0);
  });

  test('journal steps keep their order and state', () => {
    store.insert(row('journal-1'));
    const a = store.addStep('journal-1', 'helper', { pid: 1 });
    const b = store.addStep('journal-1', 'watcher', {});
    store.setStep(a, 'done', { pid: 2 });
    expect(store.steps('journal-1').map((s) => [s.kind, s.state, JSON.parse(s.data)])).toEqual([
      ['helper', 'done', { pid: 2 }],
      ['watcher', 'pending', {}],
    ]);
    store.setStep(b, 'undone');
    expect(store.unfinished().map((r) => r.uid)).toEqual(['journal-1']);
  });

  test('expired lists live experiments past their deadline only', () => {
    store.insert(row('past-1', { deadline: Date.now() - 1000 }));
    store.insert(row('future-1', { deadline: Date.now() + 60_000 }));
    store.insert(row('gone-1', { deadline: Date.now() - 1000, status: 'destroyed' }));
    expect(store.expired().map((r) => r.uid)).toEqual(['past-1']);
  });

  test('a version-1 store is migrated in place, rows kept', () => {
    const d1 = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-store-v1-'));
    const Database = require('better-sqlite3');
    const db = new Database(path.join(d1, 'chaosmetad.db'));
    db.exec(`CREATE TABLE experiments (uid TEXT PRIMARY KEY, target TEXT NOT NULL, fault TEXT NOT NULL, args TEXT NOT NULL DEFAULT '{}',
      runtime TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL, phase TEXT NOT NULL, creator TEXT NOT NULL DEFAULT '',
      timeout TEXT NOT NULL DEFAULT '', deadline INTEGER, error TEXT NOT NULL DEFAULT '', create_time TEXT NOT NULL, update_time TEXT NOT NULL,
      create_ms INTEGER NOT NULL, update_ms INTEGER NOT NULL, container_id TEXT NOT NULL DEFAULT '', container_runtime TEXT NOT NULL DEFAULT '', owner_pid INTEGER);
      CREATE TABLE steps (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL, created_ms INTEGER NOT NULL);
      INSERT INTO experiments VALUES ('old-one','cpu','burn','{}','{}','success','injected','root','',NULL,'','t','t',1,1,'','',NULL);
      PRAGMA user_version = 1;`);
    db.close();
    const s2 = new Store(d1);
    expect(s2.db.pragma('user_version', { simple: true })).toBe(8);
    expect(s2.get('old-one')).toMatchObject({
      status: 'success',
      lease_ms: null,
      lease_until: null,
      schedule_id: null,
    });
    s2.close();
  });

  test('leases count as due; nextDue is the earliest deadline or lease of a live experiment', () => {
    const now = Date.now();
    store.insert(row('lease-1', { lease_ms: 1000, lease_until: now - 1 }));
    store.insert(row('lease-2', { lease_ms: 1000, lease_until: now + 5000, deadline: now + 9000 }));
    store.insert(row('dead-1', { deadline: now + 3000 }));
    store.insert(row('done-1', { deadline: now + 100, status: 'destroyed' }));
    expect(store.expired(now).map((r) => r.uid)).toEqual(['lease-1']);
    expect(store.nextDue()).toBe(now - 1);
    store.update('lease-1', { status: 'destroyed' });
    expect(store.nextDue()).toBe(now + 3000);
  });

  test('a claim is held only while its experiment is live', () => {
    store.insert(row('claim-1'));
    store.claim('file:/tmp/x', 'claim-1');
    expect(store.claimHolder('file:/tmp/x')).toBe('claim-1');
    expect(store.claimHolder('file:/tmp/y')).toBeUndefined();
    store.update('claim-1', { status: 'destroyed' });
    expect(store.claimHolder('file:/tmp/x')).toBeUndefined();
  });

  test('schedules are stored, updated and removed', () => {
    store.addSchedule({
      id: 's-aaaaaaaa',
      target: 'cpu',
      fault: 'burn',
      args: '{}',
      cron: '* * * * *',
      duration: '1m',
      duration_ms: 60000,
      creator: 'root',
      create_time: 't',
      create_ms: 1,
      next_ms: 5,
      last_ms: null,
      last_uid: '',
      runs: 0,
      skips: 0,
      last_error: '',
    });
    store.updateSchedule('s-aaaaaaaa', { runs: 3, last_uid: 's-aaaaaaaa-3' });
    expect(store.schedules()[0]).toMatchObject({ runs: 3, last_uid: 's-aaaaaaaa-3', cron: '* * * * *' });
    expect(store.removeSchedule('s-aaaaaaaa')).toBe(true);
    expect(store.removeSchedule('s-aaaaaaaa')).toBe(false);
    expect(store.schedules()).toEqual([]);
  });

  test('volatile() writes without fsync (synchronous NORMAL) and then goes back to FULL, even when fn throws', () => {
    const sync = () => store.db.pragma('synchronous', { simple: true });
    expect(sync()).toBe(2);
    expect(store.volatile(() => sync())).toBe(1);
    expect(sync()).toBe(2);
    expect(() =>
      store.volatile(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(sync()).toBe(2);
  });

  test('a cached query reply (LocalApi) is never stale: writes by this connection and by another one show', async () => {
    const { Engine } = require('../../src/engine/engine') as typeof import('../../src/engine/engine');
    const { LocalApi } = require('../../src/api/local') as typeof import('../../src/api/local');
    const api = new LocalApi(new Engine(store));
    store.insert(row('cache-aaaa1'));
    const first = await api.query({});
    expect(first.total).toBe(1);
    expect(await api.query({})).toBe(first); // nothing changed: the same reply object, from memory
    const other = new Store(dir);
    other.insert(row('cache-bbbb2', { create_ms: Date.now() + 1000 }));
    other.close();
    const second = await api.query({});
    expect(second.experiments.map((e) => e.uid)).toEqual(['cache-bbbb2', 'cache-aaaa1']);
    store.update('cache-aaaa1', { status: 'destroyed' });
    expect((await api.query({})).experiments[1].status).toBe('destroyed');
  });

  test('retention: finished experiments older than the age or beyond the row cap go, oldest first; live and recoverable ones stay', () => {
    const now = Date.now();
    const DAY = 86_400_000;
    const at = (ms: number) => ({ create_ms: ms, update_ms: ms });
    // long past the age, but not finished: live, being injected or recovered, or with host changes left to undo
    store.insert(row('live-success', { ...at(now - 90 * DAY), status: 'success' }));
    store.insert(row('live-created', { ...at(now - 90 * DAY), status: 'created', phase: 'injecting' }));
    store.insert(row('err-undo-left', { ...at(now - 90 * DAY), status: 'error', phase: 'inject-failed' }));
    store.addStep('err-undo-left', 'helper', { pid: 1 });
    store.claim('file:/kept', 'err-undo-left');
    store.insert(row('err-recovering', { ...at(now - 90 * DAY), status: 'error', phase: 'recovering' }));
    // finished: 5 past the age (one with its journal and a claim), 12 recent (destroyed, and failed injects undone)
    for (let i = 0; i < 5; i++) store.insert(row(`old-${i}`, { ...at(now - (40 + i) * DAY), status: 'destroyed' }));
    const s = store.addStep('old-0', 'helper', { pid: 2 });
    store.setStep(s, 'undone');
    store.claim('file:/gone', 'old-0');
    for (let i = 0; i < 12; i++)
      store.insert(
        row(`new-${String(i).padStart(2, '0')}`, {
          ...at(now - (12 - i) * 1000),
          status: i % 3 ? 'destroyed' : 'error',
          phase: i % 3 ? 'recovered' : 'inject-failed',
        }),
      );
    const finished = () => store.query({ limit: 0 }).rows.filter((r) => /^(old|new)-/.test(r.uid)).length;
    // the age alone: the 5 old ones go, in batches of 2 (a short hold of the write lock each time)
    expect([1, 2, 3].map(() => store.prune({ maxAgeMs: 30 * DAY, maxRows: 0 }, now, 2))).toEqual([2, 2, 1]);
    expect(store.prune({ maxAgeMs: 30 * DAY, maxRows: 0 }, now, 2)).toBe(0);
    expect(finished()).toBe(12);
    expect(store.steps('old-0')).toEqual([]);
    expect(store.db.prepare('SELECT uid FROM claims').pluck().all()).toEqual(['err-undo-left']);
    // the row cap: of the 12 recent finished ones the newest 8 stay
    expect(store.prune({ maxAgeMs: 30 * DAY, maxRows: 8 }, now)).toBe(4);
    const left = store.query({ limit: 0 }).rows.map((r) => r.uid);
    expect(left.filter((u) => u.startsWith('new-')).sort()).toEqual(
      ['04', '05', '06', '07', '08', '09', '10', '11'].map((n) => `new-${n}`),
    );
    // whatever the limits, what is not finished is never pruned
    expect(store.prune({ maxAgeMs: 0, maxRows: 1 }, now)).toBe(7);
    expect(store.get('new-11')).toBeDefined();
    expect(store.prune({ maxAgeMs: 1, maxRows: 0 }, now + DAY)).toBe(1);
    const uids = store.query({ limit: 0 }).rows.map((r) => r.uid);
    expect(uids.sort()).toEqual(['err-recovering', 'err-undo-left', 'live-created', 'live-success']);
    expect(store.steps('err-undo-left')).toHaveLength(1);
    // 0 = no limit
    expect(store.prune({ maxAgeMs: 0, maxRows: 0 }, now + 365 * DAY)).toBe(0);
  });

  test('the counts /metrics shows are kept by triggers: always equal to a GROUP BY of the table, from any connection', () => {
    const groupBy = () =>
      store.db
        .prepare('SELECT status, target, COUNT(*) n FROM experiments GROUP BY status, target ORDER BY status, target')
        .all();
    const other = new Store(dir);
    const statuses = ['created', 'success', 'error', 'destroyed'] as const;
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let i = 0; i < 400; i++) {
      const s = rnd(2) ? store : other;
      const uid = `cnt-${rnd(60)}`;
      const op = rnd(4);
      if (!s.get(uid)) s.insert(row(uid, { target: ['cpu', 'mem', 'disk'][rnd(3)], status: statuses[rnd(4)] }));
      else if (op === 0) s.remove(uid);
      else if (op === 3) s.tx(() => s.update(uid, { target: ['cpu', 'mem'][rnd(2)] }));
      else s.update(uid, { status: statuses[rnd(4)] });
    }
    store.prune({ maxAgeMs: 0, maxRows: 3 });
    const nonZero = store.counts().filter((c) => c.n > 0);
    expect(nonZero).toEqual(groupBy());
    expect(store.counts().every((c) => c.n >= 0)).toBe(true);
    other.close();
  });

  test('a store migrated to version 7 starts its counts from the rows it holds', () => {
    store.insert(row('pre-1', { status: 'destroyed' }));
    store.insert(row('pre-2', { status: 'destroyed' }));
    store.insert(row('pre-3', { status: 'success', target: 'mem' }));
    store.db.exec(`DROP TRIGGER experiments_count_insert; DROP TRIGGER experiments_count_delete;
      DROP TRIGGER experiments_count_update; DROP TABLE experiment_counts; DROP INDEX experiments_finished;
      DROP INDEX experiments_failing; DROP TABLE drills; DROP TABLE drill_schedules; PRAGMA user_version = 6;`);
    store.close();
    store = new Store(dir);
    expect(store.counts()).toEqual([
      { status: 'destroyed', target: 'cpu', n: 2 },
      { status: 'success', target: 'mem', n: 1 },
    ]);
  });

  test('a store that cannot be opened is a storage error (exit 2)', () => {
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, '');
    expect(() => new Store(file)).toThrow(expect.objectContaining({ code: 2 }));
  });
});
