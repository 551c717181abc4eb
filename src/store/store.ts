/**
 * The experiment store: SQLite via better-sqlite3, WAL mode and a busy timeout so concurrent invocations (CLI,
 * watchers, daemon) never fail with "database is locked", versioned migrations (PRAGMA user_version).
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { storeError } from '../errors';
import { formatTime } from '../util/units';
import { QUERY_MATCH_FIELDS, type QueryFilter } from './query';
import { snake } from '../util/flags';

export type Status = 'created' | 'success' | 'error' | 'destroyed';
export type Phase =
  | 'injecting'
  | 'injected'
  | 'inject-failed'
  | 'recovering'
  | 'recovered'
  | 'recover-error'
  /** destroyed by `recover --abandon`: some undo steps were given up (listed in the runtime summary) */
  | 'abandoned';

export interface ExperimentRow {
  uid: string;
  target: string;
  fault: string;
  args: string;
  runtime: string;
  status: Status;
  phase: Phase;
  creator: string;
  timeout: string;
  deadline: number | null;
  error: string;
  create_time: string;
  update_time: string;
  create_ms: number;
  update_ms: number;
  container_id: string;
  container_runtime: string;
  owner_pid: number | null;
  /** dead-man lease: recovered unless renewed within lease_ms; lease_until is the current expiry (epoch ms) */
  lease_ms: number | null;
  lease_until: number | null;
  /** the schedule that started this run, if any */
  schedule_id: string | null;
  /** failed recovers so far, and when the next automatic try is due (epoch ms; null = now) */
  recover_failures?: number;
  retry_ms?: number | null;
  /** the scope (host/scope.ts: this host or a container) as JSON; null = this host */
  target_info?: string | null;
  /** the experiment this one is part of (kube: one uid over many nodes; each node's part records it) */
  parent_uid?: string | null;
}

export interface ScheduleRow {
  id: string;
  target: string;
  fault: string;
  /** the fault's flags, snake_case JSON (as experiments.args) */
  args: string;
  cron: string;
  duration: string;
  duration_ms: number;
  creator: string;
  create_time: string;
  create_ms: number;
  next_ms: number | null;
  last_ms: number | null;
  last_uid: string;
  runs: number;
  skips: number;
  last_error: string;
}

/** A drill as stored (src/drill): spec and result are JSON. */
export interface DrillRow {
  id: string;
  name: string;
  status: string;
  spec: string;
  result: string;
  source: string;
  runner_pid: number | null;
  runner_start: number | null;
  abort_requested: number;
  schedule_id: string | null;
  create_ms: number;
  update_ms: number;
}

/** A drill file the daemon runs on a cron schedule. */
export interface DrillScheduleRow {
  id: string;
  file: string;
  cron: string;
  creator: string;
  create_ms: number;
  next_ms: number | null;
  last_ms: number | null;
  last_drill: string;
  runs: number;
  last_error: string;
}

export type StepState = 'pending' | 'done' | 'undone';
export interface StepRow {
  id: number;
  uid: string;
  kind: string;
  data: string;
  state: StepState;
  created_ms: number;
}

export { QUERY_MATCH_FIELDS, type QueryFilter, type QueryMatchField } from './query';

const MIGRATIONS: string[] = [
  // 1: experiments and their undo journal
  `CREATE TABLE experiments (
     uid TEXT PRIMARY KEY, target TEXT NOT NULL, fault TEXT NOT NULL, args TEXT NOT NULL DEFAULT '{}',
     runtime TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL, phase TEXT NOT NULL, creator TEXT NOT NULL DEFAULT '',
     timeout TEXT NOT NULL DEFAULT '', deadline INTEGER, error TEXT NOT NULL DEFAULT '',
     create_time TEXT NOT NULL, update_time TEXT NOT NULL, create_ms INTEGER NOT NULL, update_ms INTEGER NOT NULL,
     container_id TEXT NOT NULL DEFAULT '', container_runtime TEXT NOT NULL DEFAULT '', owner_pid INTEGER);
   CREATE INDEX experiments_created ON experiments(create_ms DESC);
   CREATE INDEX experiments_status ON experiments(status);
   CREATE INDEX experiments_deadline ON experiments(deadline) WHERE deadline IS NOT NULL;
   CREATE TABLE steps (
     id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}',
     state TEXT NOT NULL, created_ms INTEGER NOT NULL);
   CREATE INDEX steps_uid ON steps(uid, id);`,
  // 2: leases, schedules, and claims on host objects (one live experiment per file, port, …)
  `ALTER TABLE experiments ADD COLUMN lease_ms INTEGER;
   ALTER TABLE experiments ADD COLUMN lease_until INTEGER;
   ALTER TABLE experiments ADD COLUMN schedule_id TEXT;
   CREATE TABLE schedules (
     id TEXT PRIMARY KEY, target TEXT NOT NULL, fault TEXT NOT NULL, args TEXT NOT NULL DEFAULT '{}',
     cron TEXT NOT NULL, duration TEXT NOT NULL, duration_ms INTEGER NOT NULL, creator TEXT NOT NULL DEFAULT '',
     create_time TEXT NOT NULL, create_ms INTEGER NOT NULL, next_ms INTEGER, last_ms INTEGER,
     last_uid TEXT NOT NULL DEFAULT '', runs INTEGER NOT NULL DEFAULT 0, skips INTEGER NOT NULL DEFAULT 0,
     last_error TEXT NOT NULL DEFAULT '');
   CREATE TABLE claims (key TEXT PRIMARY KEY, uid TEXT NOT NULL);
   CREATE INDEX claims_uid ON claims(uid);`,
  // 3: which daemon serves this store (decided in a transaction: two starting at once cannot both win)
  `CREATE TABLE daemon (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, start INTEGER, since_ms INTEGER NOT NULL);`,
  // 4: failed recovers: how many, and when the next try is due (one retry policy for watcher, daemon and CLI)
  `ALTER TABLE experiments ADD COLUMN recover_failures INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE experiments ADD COLUMN retry_ms INTEGER;`,
  // 5: what the experiment acts on (JSON of host/scope.ts Scope; NULL = this host)
  `ALTER TABLE experiments ADD COLUMN target_info TEXT;`,
  // 6: the experiment this one is a part of (kube inject: one uid, a sub-experiment per target and node)
  `ALTER TABLE experiments ADD COLUMN parent_uid TEXT;
   CREATE INDEX experiments_parent ON experiments(parent_uid) WHERE parent_uid IS NOT NULL;`,
  // 7: what the daemon's /metrics shows, kept without reading the experiments: their count by status and target,
  // kept by triggers in the same transaction as each change (whichever process makes it: CLI, watcher, daemon, an
  // older chaosmetad), so a scrape never counts a table that grows with every experiment; a partial index of the
  // finished ones by age (retention: prune) and one of the few still failing to recover
  `CREATE TABLE experiment_counts (status TEXT NOT NULL, target TEXT NOT NULL, n INTEGER NOT NULL,
     PRIMARY KEY (status, target)) WITHOUT ROWID;
   INSERT INTO experiment_counts (status, target, n) SELECT status, target, COUNT(*) FROM experiments GROUP BY status, target;
   CREATE TRIGGER experiments_count_insert AFTER INSERT ON experiments BEGIN
     INSERT OR IGNORE INTO experiment_counts (status, target, n) VALUES (NEW.status, NEW.target, 0);
     UPDATE experiment_counts SET n = n + 1 WHERE status = NEW.status AND target = NEW.target;
   END;
   CREATE TRIGGER experiments_count_delete AFTER DELETE ON experiments BEGIN
     UPDATE experiment_counts SET n = n - 1 WHERE status = OLD.status AND target = OLD.target;
   END;
   CREATE TRIGGER experiments_count_update AFTER UPDATE OF status, target ON experiments
     WHEN NEW.status IS NOT OLD.status OR NEW.target IS NOT OLD.target BEGIN
     UPDATE experiment_counts SET n = n - 1 WHERE status = OLD.status AND target = OLD.target;
     INSERT OR IGNORE INTO experiment_counts (status, target, n) VALUES (NEW.status, NEW.target, 0);
     UPDATE experiment_counts SET n = n + 1 WHERE status = NEW.status AND target = NEW.target;
   END;
   CREATE INDEX experiments_finished ON experiments(update_ms) WHERE status IN ('destroyed', 'error');
   CREATE INDEX experiments_failing ON experiments(recover_failures) WHERE recover_failures > 0 AND status != 'destroyed';`,
  // 8: drills (src/drill): the spec, the result as it grows (series, fault windows, points), who runs it; their
  // experiments carry the drill's id as parent_uid. drill_schedules: drill files the daemon runs by cron
  `CREATE TABLE drills (
     id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, spec TEXT NOT NULL, result TEXT NOT NULL DEFAULT '{}',
     source TEXT NOT NULL DEFAULT '', runner_pid INTEGER, runner_start INTEGER, abort_requested INTEGER NOT NULL DEFAULT 0,
     schedule_id TEXT, create_ms INTEGER NOT NULL, update_ms INTEGER NOT NULL);
   CREATE INDEX drills_created ON drills(create_ms DESC);
   CREATE TABLE drill_schedules (
     id TEXT PRIMARY KEY, file TEXT NOT NULL, cron TEXT NOT NULL, creator TEXT NOT NULL DEFAULT '',
     create_ms INTEGER NOT NULL, next_ms INTEGER, last_ms INTEGER, last_drill TEXT NOT NULL DEFAULT '',
     runs INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '');`,
];

/** How long finished experiments are kept (prune): the newest maxRows, none older than maxAgeMs; 0 = no limit. */
export interface Retention {
  maxAgeMs: number;
  maxRows: number;
}

export const DEFAULT_RETENTION: Retention = { maxAgeMs: 30 * 86_400_000, maxRows: 100_000 };

/** Status predicates, defined once (SQL and row forms agree): */
/** live: the fault is (being) put in place and not yet recovered */
const LIVE = `status IN ('created','success')`;
export const isLive = (r: Pick<ExperimentRow, 'status'>): boolean => r.status === 'created' || r.status === 'success';
/** a process is working on it right now (injecting or recovering): others wait for it while it lives */
export const isBusy = (r: Pick<ExperimentRow, 'phase'>): boolean => r.phase === 'injecting' || r.phase === 'recovering';
const UNDO_LEFT = `(status = 'error' AND EXISTS (SELECT 1 FROM steps s WHERE s.uid = experiments.uid AND s.state != 'undone'))`;
/**
 * finished: nothing left to undo and no process working on it — destroyed, or a failed inject whose partial work
 * was undone. Only these are ever pruned (never a live experiment, nor one recover can still act on).
 */
const FINISHED = `(status IN ('destroyed', 'error') AND phase NOT IN ('injecting', 'recovering') AND NOT ${UNDO_LEFT})`;

export function defaultDataDir(): string {
  return process.env.CHAOSMETAD_DATA_DIR || '/var/lib/chaosmetad';
}

/**
 * Create (root-only, 0700) or check a directory chaosmetad keeps state in: it must be a real directory owned by
 * this user and writable by no one else (another user could plant a journal, a token or a helper there).
 */
export function checkPrivateDir(dir: string, what: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw storeError(`cannot create the ${what} ${dir}: ${(e as Error).message}`);
  }
  const st = fs.lstatSync(dir);
  const me = process.getuid?.() ?? 0;
  if (st.isSymbolicLink()) {
    // a link of root's own making (e.g. /var/lib/chaosmetad -> /data/chaosmetad) is fine when its target is private
    const target = fs.statSync(dir);
    if (st.uid !== me || !target.isDirectory())
      throw storeError(`the ${what} ${dir} is a symbolic link owned by uid ${st.uid}; refusing it`);
    return checkOwned(dir, target, what, me);
  }
  if (!st.isDirectory()) throw storeError(`the ${what} ${dir} is not a directory`);
  checkOwned(dir, st, what, me);
}

function checkOwned(dir: string, st: fs.Stats, what: string, me: number): void {
  if (st.uid !== me)
    throw storeError(
      `the ${what} ${dir} is owned by uid ${st.uid}, not by this user (uid ${me}): refusing it (chown it, or choose another with --data-dir / CHAOSMETAD_DATA_DIR)`,
    );
  if (st.mode & 0o022)
    throw storeError(
      `the ${what} ${dir} is writable by other users (mode ${(st.mode & 0o7777).toString(8)}): refusing it (chmod 700 it)`,
    );
}

export class Store {
  readonly db: Database.Database;

  /** `nativeBinding`: better-sqlite3's addon when it is not where the package looks (the single executable) */
  constructor(
    readonly dataDir: string = defaultDataDir(),
    opts: { nativeBinding?: object } = {},
  ) {
    checkPrivateDir(dataDir, 'data dir');
    try {
      const nativeBinding = opts.nativeBinding;
      this.db = new Database(
        path.join(dataDir, 'chaosmetad.db'),
        nativeBinding ? { nativeBinding: nativeBinding as unknown as string } : {},
      );
      this.db.pragma('busy_timeout = 30000');
      this.db.pragma('journal_mode = WAL');
      // FULL: a journal step is on disk before the host change it announces (a power cut must not lose it)
      this.db.pragma('synchronous = FULL');
      this.migrate();
    } catch (e) {
      throw storeError(`cannot open the experiment store in ${dataDir}: ${(e as Error).message}`);
    }
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version >= MIGRATIONS.length) return;
    this.db
      .transaction(() => {
        // re-read inside the write lock: another process may have migrated meanwhile
        const v = this.db.pragma('user_version', { simple: true }) as number;
        for (let i = v; i < MIGRATIONS.length; i++) this.db.exec(MIGRATIONS[i]);
        this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }

  close(): void {
    this.db.close();
  }

  private readonly stmts = new Map<string, Database.Statement>();
  /** Prepared statements are cached: preparing costs more than running most of ours. */
  private sql(text: string): Database.Statement {
    let st = this.stmts.get(text);
    if (!st) {
      if (this.stmts.size > 500) this.stmts.clear();
      this.stmts.set(text, (st = this.db.prepare(text)));
    }
    return st;
  }

  /**
   * Run fn with commits that are not fsynced (synchronous NORMAL: still atomic and safe from a crash of this
   * process, lost only in a power cut): for journals of changes that a power cut undoes by itself.
   */
  volatile<T>(fn: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /** Run fn in an IMMEDIATE transaction (takes the write lock up front: no upgrade deadlocks). */
  tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_'))
        throw storeError(`experiment store: ${(e as Error).message}`);
      throw e;
    }
  }

  get(uid: string): ExperimentRow | undefined {
    return this.sql('SELECT * FROM experiments WHERE uid = ?').get(uid) as ExperimentRow | undefined;
  }

  insert(row: ExperimentRow): void {
    const cols = Object.keys(row);
    this.sql(`INSERT INTO experiments (${cols.join(',')}) VALUES (${cols.map((c) => '@' + c).join(',')})`).run(row);
  }

  /** Remove an ended experiment and its journal (a reused uid). */
  remove(uid: string): void {
    this.sql('DELETE FROM steps WHERE uid = ?').run(uid);
    this.sql('DELETE FROM claims WHERE uid = ?').run(uid);
    this.sql('DELETE FROM experiments WHERE uid = ?').run(uid);
  }

  update(uid: string, patch: Partial<ExperimentRow>): void {
    const now = Date.now();
    const p = { ...patch, update_ms: now, update_time: formatTime(now) };
    const sets = Object.keys(p)
      .map((k) => `${k} = @${k}`)
      .join(', ');
    this.sql(`UPDATE experiments SET ${sets} WHERE uid = @uid__`).run({ ...p, uid__: uid });
  }

  addStep(uid: string, kind: string, data: unknown): number {
    const r = this.sql(`INSERT INTO steps (uid, kind, data, state, created_ms) VALUES (?, ?, ?, 'pending', ?)`).run(
      uid,
      kind,
      JSON.stringify(data ?? {}),
      Date.now(),
    );
    return Number(r.lastInsertRowid);
  }

  setStep(id: number, state: StepState, data?: unknown): void {
    if (data === undefined) this.sql('UPDATE steps SET state = ? WHERE id = ?').run(state, id);
    else this.sql('UPDATE steps SET state = ?, data = ? WHERE id = ?').run(state, JSON.stringify(data), id);
  }

  steps(uid: string): StepRow[] {
    return this.sql('SELECT * FROM steps WHERE uid = ? ORDER BY id').all(uid) as StepRow[];
  }

  private where(f: QueryFilter): [string, unknown[]] {
    const conds: string[] = [];
    const vals: unknown[] = [];
    for (const field of QUERY_MATCH_FIELDS) {
      const v = f[field];
      if (v) {
        conds.push(`${snake(field)} = ?`);
        vals.push(v);
      }
    }
    return [conds.length ? 'WHERE ' + conds.join(' AND ') : '', vals];
  }

  /**
   * Changes whenever the experiments may have changed: a commit by another connection (data_version) or a row
   * changed by this one (total_changes). Two reads of a few µs; lets a daemon answer repeated queries from memory.
   */
  changeMark(): string {
    // two cached statements: PRAGMA data_version (other connections' commits) and total_changes() (this one's);
    // 2.8 µs together, where one SELECT through the pragma_data_version table cost 6.5 µs
    const v = this.sql('PRAGMA data_version').pluck().get() as number;
    const t = this.sql('SELECT total_changes()').pluck().get() as number;
    return `${v}:${t}`;
  }

  /** Newest first. `columns` narrows what is read (the compat JSON needs 13 of the columns: a hot path). */
  query(f: QueryFilter, columns?: readonly string[]): { rows: ExperimentRow[]; total: number } {
    const [where, vals] = this.where(f);
    const total = (this.sql(`SELECT COUNT(*) n FROM experiments ${where}`).get(...vals) as { n: number }).n;
    const limit = f.limit === undefined ? 10 : f.limit;
    const cols = columns ? columns.filter((c) => /^[a-z_]+$/.test(c)).join(', ') : '*';
    const rows = this.sql(
      `SELECT ${cols} FROM experiments ${where} ORDER BY create_ms DESC, rowid DESC LIMIT ? OFFSET ?`,
    ).all(...vals, limit <= 0 ? -1 : limit, f.offset ?? 0) as ExperimentRow[];
    return { rows, total };
  }

  /** Experiments not yet destroyed (live or half-done), optionally filtered. */
  unfinished(f: { target?: string; fault?: string; parentUid?: string } = {}): ExperimentRow[] {
    const conds = [`(${LIVE} OR ${UNDO_LEFT})`];
    const vals: unknown[] = [];
    if (f.parentUid) {
      conds.push('parent_uid = ?');
      vals.push(f.parentUid);
    }
    if (f.target) {
      conds.push('target = ?');
      vals.push(f.target);
    }
    if (f.fault) {
      conds.push('fault = ?');
      vals.push(f.fault);
    }
    return this.sql(`SELECT * FROM experiments WHERE ${conds.join(' AND ')} ORDER BY create_ms`).all(
      ...vals,
    ) as ExperimentRow[];
  }

  /** Does this experiment's journal hold a step not yet undone (host changes still to put back)? */
  hasUndoLeft(uid: string): boolean {
    return !!this.sql(`SELECT 1 FROM steps WHERE uid = ? AND state != 'undone' LIMIT 1`).get(uid);
  }

  /**
   * Experiments whose deadline (or lease) has passed and that still need recovering: live ones, and failed ones
   * (an inject that failed and whose undo failed too) with host changes left to undo.
   */
  expired(now = Date.now()): ExperimentRow[] {
    return this.sql(
      `SELECT * FROM experiments WHERE (${LIVE} OR ${UNDO_LEFT}) AND (deadline <= ? OR lease_until <= ?) ORDER BY create_ms`,
    ).all(now, now) as ExperimentRow[];
  }

  /** The earliest deadline or lease expiry among live experiments (epoch ms), or null. */
  nextDue(): number | null {
    const r = this.sql(
      `SELECT MIN(deadline) d, (SELECT MIN(lease_until) FROM experiments WHERE ${LIVE}) l FROM experiments WHERE ${LIVE}`,
    ).get() as { d: number | null; l: number | null };
    const v = [r.d, r.l].filter((x): x is number => typeof x === 'number');
    return v.length ? Math.min(...v) : null;
  }

  /**
   * Failed recovers of experiments not yet recovered, summed, and how many such experiments (for metrics). Reads
   * the partial index of the not-destroyed ones with failures (a handful), not the table.
   */
  recoverFailures(): { failures: number; experiments: number } {
    const r = this.sql(
      `SELECT COALESCE(SUM(recover_failures), 0) f, COUNT(*) n FROM experiments INDEXED BY experiments_failing
       WHERE recover_failures > 0 AND status != 'destroyed' AND (${LIVE} OR ${UNDO_LEFT})`,
    ).get() as { f: number; n: number };
    return { failures: r.f, experiments: r.n };
  }

  /**
   * Experiments by status and target (for metrics), from the counts the triggers keep (a few rows, whatever the
   * size of the store); a pair whose last experiment went shows 0.
   */
  counts(): Array<{ status: string; target: string; n: number }> {
    return this.sql('SELECT status, target, n FROM experiment_counts ORDER BY status, target').all() as Array<{
      status: string;
      target: string;
      n: number;
    }>;
  }

  /** How many schedules are registered. */
  scheduleCount(): number {
    return this.sql('SELECT COUNT(*) FROM schedules').pluck().get() as number;
  }

  /**
   * Retention: delete finished experiments (with their journal and claims) older than `maxAgeMs` (by their last
   * change) or beyond the newest `maxRows` finished ones, oldest first, at most `batch` in one transaction (a short
   * hold of the write lock: call again while it returns `batch`). Never a live experiment, one with host changes
   * left to undo, or one a process is injecting or recovering. Returns how many went.
   */
  prune(r: Retention, now = Date.now(), batch = 2000): number {
    return this.tx(() => {
      const doomed = new Set<string>();
      if (r.maxAgeMs > 0) {
        const old = this.sql(
          `SELECT uid FROM experiments INDEXED BY experiments_finished
           WHERE status IN ('destroyed', 'error') AND update_ms < ? AND ${FINISHED} ORDER BY update_ms LIMIT ?`,
        )
          .pluck()
          .all(now - r.maxAgeMs, batch) as string[];
        for (const uid of old) doomed.add(uid);
      }
      if (r.maxRows > 0 && doomed.size < batch) {
        const finished = this.sql(
          `SELECT COUNT(*) FROM experiments INDEXED BY experiments_finished WHERE status IN ('destroyed', 'error') AND ${FINISHED}`,
        )
          .pluck()
          .get() as number;
        const over = finished - doomed.size - r.maxRows;
        if (over > 0) {
          const extra = this.sql(
            `SELECT uid FROM experiments INDEXED BY experiments_finished
             WHERE status IN ('destroyed', 'error') AND ${FINISHED} ORDER BY update_ms, rowid LIMIT ?`,
          )
            .pluck()
            .all(Math.min(batch, over + doomed.size)) as string[];
          for (const uid of extra) if (doomed.size < batch) doomed.add(uid);
        }
      }
      const steps = this.sql('DELETE FROM steps WHERE uid = ?');
      const claims = this.sql('DELETE FROM claims WHERE uid = ?');
      const rows = this.sql('DELETE FROM experiments WHERE uid = ?');
      for (const uid of doomed) {
        steps.run(uid);
        claims.run(uid);
        rows.run(uid);
      }
      return doomed.size;
    });
  }

  // --- claims: one live experiment per host object -------------------------------------------------------------

  /** The live experiment holding a claim on key, if any (claims of ended experiments are stale). */
  claimHolder(key: string): string | undefined {
    const r = this.sql(
      `SELECT c.uid FROM claims c JOIN experiments e ON e.uid = c.uid
      WHERE c.key = ? AND (e.${LIVE} OR EXISTS (SELECT 1 FROM steps s WHERE s.uid = e.uid AND s.state != 'undone'))`,
    ).get(key) as { uid: string } | undefined;
    return r?.uid;
  }

  claim(key: string, uid: string): void {
    this.sql('INSERT OR REPLACE INTO claims (key, uid) VALUES (?, ?)').run(key, uid);
  }

  releaseClaims(uid: string): void {
    this.sql('DELETE FROM claims WHERE uid = ?').run(uid);
  }

  // --- the daemon that owns this store ---------------------------------------------------------------------------

  /**
   * Become the store's daemon unless `alive(pid, start)` says the recorded one still runs; returns that one's pid
   * when it does. One IMMEDIATE transaction: of two daemons starting at once exactly one wins.
   */
  claimDaemon(
    pid: number,
    start: number | undefined,
    alive: (pid: number, start: number | null) => boolean,
  ): number | undefined {
    return this.tx(() => {
      const cur = this.sql('SELECT pid, start FROM daemon WHERE id = 1').get() as
        { pid: number; start: number | null } | undefined;
      if (cur && cur.pid !== pid && alive(cur.pid, cur.start)) return cur.pid;
      this.sql('INSERT OR REPLACE INTO daemon (id, pid, start, since_ms) VALUES (1, ?, ?, ?)').run(
        pid,
        start ?? null,
        Date.now(),
      );
      return undefined;
    });
  }

  /** Give the store up (a daemon stopping); only the owner's own row is removed. */
  releaseDaemon(pid: number): void {
    this.sql('DELETE FROM daemon WHERE id = 1 AND pid = ?').run(pid);
  }

  /** The pid of the daemon recorded as owning the store, if any. */
  daemonPid(): number | undefined {
    return (this.sql('SELECT pid FROM daemon WHERE id = 1').get() as { pid: number } | undefined)?.pid;
  }

  private insertInto(table: 'drills' | 'drill_schedules' | 'schedules', row: object): void {
    const cols = Object.keys(row);
    this.sql(`INSERT INTO ${table} (${cols.join(',')}) VALUES (${cols.map((c) => '@' + c).join(',')})`).run(row);
  }

  private updateById(table: 'drills' | 'drill_schedules' | 'schedules', id: string, patch: object): void {
    const sets = Object.keys(patch)
      .map((k) => `${k} = @${k}`)
      .join(', ');
    if (sets) this.sql(`UPDATE ${table} SET ${sets} WHERE id = @id__`).run({ ...patch, id__: id });
  }

  // --- drills ----------------------------------------------------------------------------------------------------

  insertDrill(row: DrillRow): void {
    this.insertInto('drills', row);
  }

  updateDrill(id: string, patch: Partial<Omit<DrillRow, 'id'>>): void {
    this.updateById('drills', id, patch);
  }

  drill(id: string): DrillRow | undefined {
    return this.sql('SELECT * FROM drills WHERE id = ?').get(id) as DrillRow | undefined;
  }

  /** The newest drills first, without their results (a list). */
  drills(limit = 20, offset = 0): Array<Omit<DrillRow, 'result' | 'spec'>> {
    return this.sql(
      `SELECT id, name, status, source, runner_pid, runner_start, abort_requested, schedule_id, create_ms, update_ms
       FROM drills ORDER BY create_ms DESC LIMIT ? OFFSET ?`,
    ).all(limit, offset) as Array<Omit<DrillRow, 'result' | 'spec'>>;
  }

  insertDrillSchedule(row: DrillScheduleRow): void {
    this.insertInto('drill_schedules', row);
  }

  drillSchedules(id?: string): DrillScheduleRow[] {
    if (id) return this.sql('SELECT * FROM drill_schedules WHERE id = ?').all(id) as DrillScheduleRow[];
    return this.sql('SELECT * FROM drill_schedules ORDER BY create_ms').all() as DrillScheduleRow[];
  }

  updateDrillSchedule(id: string, patch: Partial<Omit<DrillScheduleRow, 'id'>>): void {
    this.updateById('drill_schedules', id, patch);
  }

  removeDrillSchedule(id: string): boolean {
    return this.sql('DELETE FROM drill_schedules WHERE id = ?').run(id).changes > 0;
  }

  // --- schedules -------------------------------------------------------------------------------------------------

  addSchedule(row: ScheduleRow): void {
    this.insertInto('schedules', row);
  }

  schedules(id?: string): ScheduleRow[] {
    if (id) return this.sql('SELECT * FROM schedules WHERE id = ?').all(id) as ScheduleRow[];
    return this.sql('SELECT * FROM schedules ORDER BY create_ms').all() as ScheduleRow[];
  }

  updateSchedule(id: string, patch: Partial<ScheduleRow>): void {
    this.updateById('schedules', id, patch);
  }

  removeSchedule(id: string): boolean {
    return this.sql('DELETE FROM schedules WHERE id = ?').run(id).changes > 0;
  }
}
