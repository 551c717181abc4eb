import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExperimentRow, Store } from '../../src/store/store';
import { formatTime } from '../../src/util/units';
/* eslint-disable @typescript-eslint/no-require-imports */

function row(uid: string, over: Partial<ExperimentRow> = {}): ExperimentRow {
  const now = over.create_ms ?? Date.now();
  return {
    uid,
    target: 'cpu',
    fault: 'burn',
    args: '{}',
    runtime: '{}',
    status: 'success',
    phase: 'injected',
    creator: 'root',
    timeout: '',
    deadline: null,
    error: '',
    create_time: formatTime(now),
    update_time: formatTime(now),
    create_ms: now,
    update_ms: now,
    container_id: '',
    container_runtime: '',
    owner_pid: null,
    lease_ms: null,
    lease_until: null,
    schedule_id: null,
    ...over,
  };
}

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
    expect(store.db.pragma('user_version', { simple: true })).toBe(6);
    // a second open of a migrated store changes nothing
    const again = new Store(dir);
    expect(again.db.pragma('user_version', { simple: true })).toBe(6);
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
    expect(s2.db.pragma('user_version', { simple: true })).toBe(6);
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

  test('a store that cannot be opened is a storage error (exit 2)', () => {
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, '');
    expect(() => new Store(file)).toThrow(expect.objectContaining({ code: 2 }));
  });
});
