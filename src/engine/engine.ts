/**
 * The one place that owns an experiment's lifecycle: validate → record → journal each host change → check the
 * effect → success; recover walks the journal newest-first. The CLI and the HTTP server are thin adapters.
 *
 * Statuses (compat): created → success | error; success → destroyed. The finer `phase` column says what is
 * going on (injecting, recovering, recover-error) and `owner_pid` who is doing it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChaosError, ExitCode, asChaosError, badArgs, injectError, recoverError } from '../errors';
import { argsJson } from '../faults/flags';
import { findFault } from '../faults/index';
import type { Effect, FaultDef } from '../faults/types';
import { Executor } from '../host/executor';
import {
  type ContainerScope,
  type ContainerAccess,
  HOST_SCOPE,
  Scope,
  describeScope,
  executorFor,
  isContainer,
} from '../host/scope';
import { sqliteBinding } from '../host/assets';
import { alive } from '../host/procs';
import { ExperimentRow, QueryFilter, Retention, Store, defaultDataDir, isBusy, isLive } from '../store/store';
import { formatTime, shown } from '../util/units';
import { claimKeys, daemonPid, recordClaimed } from './claims';
import { retryDelay } from './clock';
import { type AbandonedStep, type JournalEnv, injectContext, readEffect, undoSteps } from './journal';
import { type LogEvent, appendEvent, logFileOf } from './log';
import { retentionFromEnv } from './retention';
import { type InjectRequest, type PreparedInject, parseLease, prepareInject, resolveTarget } from './request';
import { spawnSelfDetached } from './self';
import { watch, watcherArgv } from './watcher';
import { agentPolicy, checkPolicyTarget } from './policy';
import { watcherStep } from './steps';

export type { InjectRequest } from './request';

export interface InjectResult {
  experiment: ExperimentRow;
  planned?: string[];
}
export interface RecoverResult {
  uid: string;
  status: string;
  ok: boolean;
  message: string;
  notes?: string[];
}

/** How one recover goes: `abandon` gives up the undo steps that fail (recorded with why) and ends it destroyed. */
export interface RecoverOptions {
  abandon?: boolean;
}

/** Which experiments recoverMany recovers: every unfinished one (by target/fault), or the stale ones (expired). */
export interface RecoverSelection {
  all?: boolean;
  expired?: boolean;
  target?: string;
  fault?: string;
  /** only the parts of this experiment or drill (their parent_uid) */
  parentUid?: string;
}

/** What a check of one experiment says: its status in the store and its effect read from the host. */
export interface CheckResult {
  uid: string;
  status: string;
  effect: Effect;
}

/** Why start-up recovery picked an experiment (see Engine.stale); 'rearm': live, its deadline still holds. */
export type StaleReason = 'expired' | 'interrupted' | 'effect-gone' | 'rearm';

/** One experiment start-up recovery looked at: what to do with it and, for a live one, its effect. */
export interface StaleEntry {
  row: ExperimentRow;
  reason: StaleReason;
  effect?: Effect;
}

/** An engine on a data dir (default /var/lib/chaosmetad); SQLite's addon comes from the single executable if there. */
export function openEngine(dataDir: string | undefined, opts: EngineOptions = {}): Engine {
  return new Engine(new Store(dataDir || defaultDataDir(), { nativeBinding: sqliteBinding() }), opts);
}

export interface EngineOptions {
  /** start a detached watcher process that recovers at the deadline (the CLI); the daemon keeps its own timers */
  watcher?: boolean;
  /** how long finished experiments are kept (default: retentionFromEnv()) */
  retention?: Retention;
  /** tests: the fault registry and the executors the engine changes the host through (default: the real ones) */
  faults?: typeof findFault;
  executor?: typeof executorFor;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Recovers in progress in this process, by uid. */
const RECOVERING = new Map<string, Promise<RecoverResult>>();

export class Engine {
  constructor(
    readonly store: Store,
    readonly opts: EngineOptions = {},
  ) {}

  get dataDir(): string {
    return this.store.dataDir;
  }

  private findFault(target: string, fault: string): FaultDef {
    return (this.opts.faults ?? findFault)(target, fault);
  }

  private executorFor(...a: Parameters<typeof executorFor>): Executor {
    return (this.opts.executor ?? executorFor)(...a);
  }

  /** What the journal (engine/journal.ts) acts through: this engine's store, files, log and executors. */
  private get journal(): JournalEnv {
    return {
      store: this.store,
      logFile: this.logFile,
      workDir: (uid, create) => this.workDir(uid, create),
      log: (event) => this.log(event),
      executorFor: (...a) => this.executorFor(...a),
    };
  }

  /** The experiment's private directory under the data dir (backups, helper inputs). */
  workDir(uid: string, create = true): string {
    const d = path.join(this.dataDir, 'work', uid);
    if (create) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  /** The experiment log (JSON lines): the engine's events, and helpers' failures after they became ready. */
  get logFile(): string {
    return logFileOf(this.dataDir);
  }

  log(event: LogEvent): void {
    appendEvent(this.logFile, event);
  }

  /**
   * Validate a request completely, without touching the host or the store. A container request needs its target
   * resolved first (resolveTarget: it asks the runtime).
   */
  prepare(req: InjectRequest, target: Scope = HOST_SCOPE): PreparedInject {
    return prepareInject(this.findFault(req.target, req.fault), req, target);
  }

  async inject(req: InjectRequest): Promise<InjectResult> {
    const p = this.prepare(req, await resolveTarget(req));
    const policy = agentPolicy();
    if (policy) await checkPolicyTarget(policy, p.target, p.def, p.args);
    const now = Date.now();
    const deadline = p.timeoutMs ? now + Math.round(p.timeoutMs) : null;

    if (req.dryRun) {
      const exec = this.executorFor(p.target, p.def.container, true);
      if (isContainer(p.target))
        exec.note(
          `target: ${describeScope(p.target)}, init pid ${p.target.pid}; ${confinement(p.target, p.def.container)}`,
        );
      const ctx = injectContext(this.journal, p.uid, deadline, exec, p.def, true, p.target);
      if (deadline && this.opts.watcher)
        exec.note(`start watcher: chaosmetad watch ${p.uid} (recovers at ${new Date(deadline).toISOString()})`);
      await p.def.inject(p.args, ctx);
      return { experiment: this.row(p, now, deadline), planned: exec.planned };
    }

    const row = this.row(p, now, deadline);
    row.schedule_id = req.scheduleId ?? null;
    const claims = claimKeys(p.def, p.args, p.target);
    // a fault whose changes a power cut undoes anyway journals without fsync (FaultDef.volatile)
    const w = <T>(fn: () => T): T => (p.def.volatile ? this.store.volatile(fn) : fn());
    w(() => recordClaimed(this.store, row, claims));
    this.log({ event: 'inject', uid: p.uid, target: p.def.target, fault: p.def.fault, args: row.args });

    const exec = this.executorFor(p.target, p.def.container, false, (line) => this.log({ uid: p.uid, action: line }));
    const ctx = injectContext(this.journal, p.uid, deadline, exec, p.def, false, p.target);
    try {
      if ((deadline || p.leaseMs) && this.opts.watcher) {
        await ctx.step(watcherStep, { deadline }, async () => ({
          pid: spawnSelfDetached(watcherArgv(p.uid, this.dataDir)),
        }));
      }
      const runtime = (await p.def.inject(p.args, ctx)) ?? {};
      const effect = await this.effect(this.store.get(p.uid)!, p.def);
      if (effect === 'gone' || effect === 'partial')
        throw injectError(`the fault is not in place right after inject (check: ${effect})`);
      w(() =>
        this.store.update(p.uid, {
          status: 'success',
          phase: 'injected',
          runtime: JSON.stringify(runtime),
          owner_pid: null,
        }),
      );
    } catch (e) {
      const err = asChaosError(e, ExitCode.Inject);
      let undoNote = '';
      try {
        await undoSteps(this.journal, p.uid, p.def);
      } catch (u) {
        undoNote = `; undoing the partial inject also failed: ${(u as Error).message} (run: chaosmetad recover ${p.uid})`;
      }
      this.store.update(p.uid, {
        status: 'error',
        phase: 'inject-failed',
        error: err.message + undoNote,
        owner_pid: null,
      });
      if (!undoNote) this.store.releaseClaims(p.uid);
      this.log({ event: 'inject-failed', uid: p.uid, error: err.message + undoNote });
      throw new ChaosError(err.code === ExitCode.BadArgs ? ExitCode.BadArgs : ExitCode.Inject, err.message + undoNote);
    }
    return { experiment: this.store.get(p.uid)! };
  }

  private row(p: PreparedInject, now: number, deadline: number | null): ExperimentRow {
    return {
      uid: p.uid,
      target: p.def.target,
      fault: p.def.fault,
      args: argsJson(p.def.flags, p.args),
      runtime: '{}',
      status: 'created',
      phase: 'injecting',
      creator: p.creator,
      timeout: p.timeout,
      deadline,
      error: '',
      create_time: formatTime(now),
      update_time: formatTime(now),
      create_ms: now,
      update_ms: now,
      container_id: isContainer(p.target) ? p.target.id : '',
      container_runtime: isContainer(p.target) ? p.target.runtime : '',
      target_info: isContainer(p.target) ? JSON.stringify(p.target) : null,
      parent_uid: p.parentUid,
      owner_pid: process.pid,
      lease_ms: p.leaseMs || null,
      lease_until: p.leaseMs ? now + p.leaseMs : null,
      schedule_id: null,
    };
  }

  /** Read the host: is this experiment's fault in place? */
  async effect(row: ExperimentRow, def = this.findFault(row.target, row.fault)): Promise<Effect> {
    return readEffect(this.journal, row, def);
  }

  async check(uid: string): Promise<CheckResult> {
    const row = this.mustGet(uid);
    if (row.status === 'destroyed') return { uid, status: row.status, effect: 'gone' };
    return { uid, status: row.status, effect: await this.effect(row) };
  }

  mustGet(uid: string): ExperimentRow {
    const row = this.store.get(uid);
    if (!row) throw badArgs(`no experiment with uid ${shown(uid)} (see: chaosmetad query)`);
    return row;
  }

  /**
   * Recover one experiment. Already destroyed: success, nothing done. Another process recovering or still
   * injecting it: wait for that to finish. A failed recover stays retryable (phase recover-error).
   */
  async recover(uid: string, reason = 'manual', opts: RecoverOptions = {}): Promise<RecoverResult> {
    this.mustGet(uid);
    // one undo at a time per experiment in this process too (an HTTP recover racing the daemon's timer or another
    // request): the later caller waits for the one in progress and then sees its outcome
    for (let running = RECOVERING.get(uid); running; running = RECOVERING.get(uid))
      await running.catch(() => undefined);
    const mine = this.recoverOnce(uid, reason, opts.abandon === true);
    RECOVERING.set(uid, mine);
    try {
      return await mine;
    } finally {
      if (RECOVERING.get(uid) === mine) RECOVERING.delete(uid);
    }
  }

  private async recoverOnce(uid: string, reason: string, abandon = false): Promise<RecoverResult> {
    // a disk fill on the data dir's filesystem held room back for the store: give it back before writing a row
    fs.rmSync(path.join(this.workDir(uid, false), 'reserve'), { force: true });
    const waitUntil = Date.now() + 120_000;
    for (;;) {
      const claim = this.store.tx(() => {
        const r = this.store.get(uid)!;
        if (r.status === 'destroyed') return 'done' as const;
        if (r.status === 'error' && !this.store.hasUndoLeft(uid)) return 'nothing' as const;
        const busy = isBusy(r) && r.owner_pid && r.owner_pid !== process.pid && alive(r.owner_pid);
        if (busy) return 'busy' as const;
        this.store.update(uid, { phase: 'recovering', owner_pid: process.pid });
        return 'mine' as const;
      });
      if (claim === 'done') return { uid, status: 'destroyed', ok: true, message: 'already recovered' };
      if (claim === 'nothing') return { uid, status: 'error', ok: true, message: 'inject had failed; nothing to undo' };
      if (claim === 'mine') break;
      if (Date.now() > waitUntil)
        throw recoverError(
          `experiment ${uid} is busy in another chaosmetad process (pid ${this.store.get(uid)?.owner_pid})`,
        );
      await sleep(100);
    }
    const row = this.store.get(uid)!;
    const notes: string[] = [];
    const abandoned: AbandonedStep[] = [];
    try {
      await undoSteps(this.journal, uid, this.findFault(row.target, row.fault), notes, abandon ? abandoned : undefined);
    } catch (e) {
      const msg = (e as Error).message;
      const failures = (this.store.get(uid)?.recover_failures ?? 0) + 1;
      const retry = Date.now() + retryDelay(failures);
      this.store.update(uid, {
        phase: 'recover-error',
        error: `recover failed: ${msg}`,
        owner_pid: null,
        recover_failures: failures,
        retry_ms: retry,
      });
      this.log({
        event: 'recover-failed',
        uid,
        reason,
        attempt: failures,
        next_try: new Date(retry).toISOString(),
        error: msg,
      });
      throw recoverError(
        `recover ${uid} failed: ${msg} (retried by itself; to give up what keeps failing: chaosmetad recover ${uid} --abandon)`,
      );
    }
    const status = row.status === 'error' ? 'error' : 'destroyed';
    const patch: Partial<ExperimentRow> = { status: 'destroyed', phase: 'recovered', owner_pid: null, retry_ms: null };
    if (abandoned.length) {
      // given up on purpose: said in the phase, the error column and the runtime summary (query -a shows all three)
      patch.phase = 'abandoned';
      patch.error = `recover abandoned: ${abandoned.map((a) => `${a.step}: ${a.error}`).join('; ')}`;
      notes.push(`abandoned (not undone): ${abandoned.map((a) => a.step).join(', ')}`);
    }
    if (notes.length || abandoned.length)
      patch.runtime = JSON.stringify({
        ...JSON.parse(this.store.get(uid)!.runtime || '{}'),
        ...(notes.length ? { recover_notes: notes } : {}),
        ...(abandoned.length ? { abandoned } : {}),
      });
    this.store.tx(() => {
      this.store.update(uid, patch);
      this.store.releaseClaims(uid);
    });
    this.log({ event: abandoned.length ? 'recover-abandoned' : 'recover', uid, reason, notes, abandoned });
    const message = abandoned.length
      ? 'gave up what could not be undone'
      : status === 'error'
        ? 'undid what the failed inject left'
        : 'recovered';
    return {
      uid,
      status: 'destroyed',
      ok: true,
      message: notes.length ? `${message}; ${notes.join('; ')}` : message,
      ...(notes.length ? { notes } : {}),
    };
  }

  /**
   * Recover a set: every unfinished one (optionally by target/fault), or the stale ones (`expired`: see stale()).
   * Never stops at the first failure.
   */
  async recoverMany(sel: RecoverSelection): Promise<RecoverResult[]> {
    const todo = sel.expired
      ? (await this.stale('recover --expired ran')).filter((s) => s.reason !== 'rearm')
      : this.store
          .unfinished({ target: sel.target, fault: sel.fault, parentUid: sel.parentUid })
          .map((r) => ({ row: r, reason: 'bulk' }));
    const out: RecoverResult[] = [];
    for (const { row: r, reason } of todo) {
      if ((sel.target && r.target !== sel.target) || (sel.fault && r.fault !== sel.fault)) continue;
      if (sel.parentUid && r.parent_uid !== sel.parentUid) continue;
      try {
        out.push(await this.recover(r.uid, reason));
      } catch (e) {
        out.push({
          uid: r.uid,
          status: this.store.get(r.uid)?.status ?? 'unknown',
          ok: false,
          message: (e as Error).message,
        });
      }
    }
    if (sel.expired) {
      // start-up recovery (a boot unit, cron) also applies the retention, after the recovers
      try {
        await this.prune();
      } catch (e) {
        this.log({ event: 'prune-failed', error: (e as Error).message });
      }
    }
    return out;
  }

  /**
   * Apply the retention to the store (Store.prune), in batches with the event loop let go between them; returns
   * how many finished experiments were deleted.
   */
  async prune(retention: Retention = this.opts.retention ?? retentionFromEnv(), now = Date.now()): Promise<number> {
    let total = 0;
    for (let n = -1; n !== 0;) {
      n = this.store.prune(retention, now);
      total += n;
      if (n) await new Promise((r) => setImmediate(r));
    }
    if (total)
      this.log({ event: 'prune', deleted: total, max_age_ms: retention.maxAgeMs, max_rows: retention.maxRows });
    return total;
  }

  /**
   * Start-up recovery, one decision for the daemon's start and for `recover --expired` (boot unit, cron): what is
   * past its deadline or lease ('expired'), what a dead process left half-injected or half-recovered
   * ('interrupted'), and what is live but whose effect is gone (a reboot, helpers killed: 'effect-gone' — what is
   * left is undone and the error says why); the rest is live and is re-armed ('rearm': its deadline still holds).
   */
  async stale(when: string, now = Date.now()): Promise<StaleEntry[]> {
    const out: StaleEntry[] = [];
    const expired = new Set<string>();
    for (const row of this.store.expired(now)) {
      expired.add(row.uid);
      out.push({ row, reason: 'expired' });
    }
    for (const row of this.store.unfinished()) {
      if (expired.has(row.uid)) continue;
      if (isBusy(row)) {
        if (!(row.owner_pid && alive(row.owner_pid))) out.push({ row, reason: 'interrupted' });
        continue;
      }
      if (row.status !== 'success') continue;
      const effect = await this.effect(row).catch((): Effect => 'unknown');
      if (effect === 'gone') {
        this.store.update(row.uid, {
          error: `the fault was gone when ${when} (host rebooted or helpers killed); recovered what was left`,
        });
        out.push({ row, reason: 'effect-gone', effect });
      } else out.push({ row, reason: 'rearm', effect });
    }
    return out;
  }

  /** The pid of the daemon that serves this data dir (decided in the store), if it still runs. */
  daemonPid(): number | undefined {
    return daemonPid(this.store);
  }

  query(f: QueryFilter, columns?: readonly string[]) {
    return this.store.query(f, columns);
  }

  /** Extend a live experiment's lease by its lease length (or a new one). */
  renew(uid: string, lease?: string | number): ExperimentRow {
    const row = this.mustGet(uid);
    if (!row.lease_ms) throw badArgs(`experiment ${uid} has no lease (inject it with --lease)`);
    if (!isLive(row) || row.phase === 'recovering') {
      throw badArgs(`experiment ${uid} is not live (status ${row.status}); nothing to renew`);
    }
    const ms = parseLease(lease) ?? row.lease_ms;
    const now = Date.now();
    this.store.tx(() => {
      const r = this.store.get(uid)!;
      if (r.lease_until !== null && r.lease_until <= now)
        throw badArgs(`experiment ${uid}: its lease already ran out; it is being recovered`);
      this.store.update(uid, { lease_ms: ms, lease_until: now + ms });
    });
    this.log({ event: 'renew', uid, lease_ms: ms });
    return this.store.get(uid)!;
  }

  /** Be the deadline watcher of one experiment (engine/watcher.ts): recover it when due; never gives up. */
  async watch(uid: string): Promise<void> {
    return watch(this, uid);
  }
}

/** How a fault entering a container that way is confined to it, as a dry run says. */
const CONFINED: Record<ContainerAccess, (t: ContainerScope) => string> = {
  net: (t) => `commands enter its net namespace only (nsenter -t ${t.pid} --net)`,
  root: (t) => `paths resolve inside its root /proc/${t.pid}/root (no link leads out)`,
  pid: () => `pids and names are those of its pid namespace`,
  runtime: (t) => `it is acted on through ${t.runtime}'s API`,
  cgroup: (t) => `helpers join its cgroups (those of /proc/${t.pid}/cgroup) before they report ready`,
};

/** The dry run's note on a container target: how the fault is kept inside it (cgroups when the fault names none). */
function confinement(t: ContainerScope, entry: ContainerAccess | undefined): string {
  return CONFINED[entry ?? 'cgroup'](t);
}
