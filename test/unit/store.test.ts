import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExperimentRow, Store, formatTime } from '../../src/store/store';

function row(uid: string, over: Partial<ExperimentRow> = {}): ExperimentRow {
  const now = over.create_ms ?? Date.now();
  return {
    uid, target: 'cpu', fault: 'burn', args: '{}', runtime: '{}', status: 'success', phase: 'injected', creator: 'root',
    timeout: '', deadline: null, error: '', create_time: formatTime(now), update_time: formatTime(now), create_ms: now,
    update_ms: now, container_id: '', container_runtime: '', owner_pid: null, ...over,
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
    expect(store.db.pragma('user_version', { simple: true })).toBe(1);
    // a second open of a migrated store changes nothing
    const again = new Store(dir);
    expect(again.db.pragma('user_version', { simple: true })).toBe(1);
    again.close();
  });

  test('query filters, newest first, offset and limit, total counts all matches', () => {
    for (let i = 0; i < 15; i++) {
      store.insert(row(`exp-${String(i).padStart(2, '0')}`, {
        create_ms: 1_000_000 + i, target: i % 3 ? 'cpu' : 'mem', fault: i % 3 ? 'burn' : 'fill',
        status: i % 2 ? 'success' : 'destroyed', creator: i < 5 ? 'alice' : 'root',
      }));
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
      ['helper', 'done', { pid: 2 }], ['watcher', 'pending', {}],
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

  test('a store that cannot be opened is a storage error (exit 2)', () => {
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, '');
    expect(() => new Store(file)).toThrow(expect.objectContaining({ code: 2 }));
  });
});
