/**
 * The one place that owns an experiment's lifecycle: validate → record → journal each host change → check the
 * effect → success; recover walks the journal newest-first. The CLI and the HTTP server are thin adapters.
 *
 * Statuses (compat): created → success | error; success → destroyed. The finer `phase` column says what is
 * going on (injecting, recovering, recover-error) and `owner_pid` who is doing it.
 */
import { customAlphabet } from 'nanoid';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChaosError, ExitCode, asChaosError, badArgs, injectError, recoverError } from '../errors';
import { argsJson, parseFlags } from '../faults/flags';
import { findFault } from '../faults/index';
import type { Effect, FaultDef, InjectContext, UndoFn } from '../faults/types';
import { tally } from '../faults/types';
import { Executor } from '../host/executor';
import { resolveContainer } from '../host/runtimes';
import {
  HOST_TARGET,
  Target,
  describeTarget,
  executorFor,
  helperTargetParams,
  isContainer,
  parseTarget,
  targetAlive,
} from '../host/target';
import { helperArgv, startHelper, stepTag } from '../host/helpers';
import { sqliteBinding } from '../host/assets';
import { TAG_PREFIX, alive, findTagged, isChaosmetad, isTagged, readArgv, startTime, terminate } from '../host/procs';
import {
  DEFAULT_RETENTION,
  ExperimentRow,
  QueryFilter,
  Retention,
  Store,
  defaultDataDir,
  isBusy,
  isLive,
} from '../store/store';
import { formatTime, parseDuration, shown } from '../util/units';
import { spawnSelfDetached } from './self';
import { agentPolicy, checkPolicy, checkPolicyPaths, checkPolicyTarget } from './policy';

export interface InjectRequest {
  target: string;
  fault: string;
  /** flag values keyed by camelCase, kebab-case or snake_case names (CLI strings or JSON values) */
  args: Record<string, unknown>;
  uid?: string;
  timeout?: string | number;
  creator?: string;
  containerId?: string;
  containerRuntime?: string;
  /** containerd only: where to look first (default k8s.io; then moby, default) */
  containerdNamespace?: string;
  dryRun?: boolean;
  /** dead-man lease: recover unless renewed within this long (duration; plain number = seconds) */
  lease?: string | number;
  /** set by the daemon for a scheduled run */
  scheduleId?: string;
  /** the experiment this one is part of (kube inject's uid; same form as a uid) */
  parentUid?: string;
}

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

/** An engine on a data dir (default /var/lib/chaosmetad); SQLite's addon comes from the single executable if there. */
/** The deadline watcher's command line, as inject starts it: `watch UID --chaosmetad-uid=UID --data-dir DIR`. */
export function watcherArgv(uid: string, dataDir: string): string[] {
  return ['watch', uid, TAG_PREFIX + uid, '--data-dir', dataDir];
}

/**
 * Be the watcher of exactly that command line, without the CLI: it starts beside every inject with a deadline, on
 * the same cores, while the inject is starting its helpers. false (nothing done) for any other argv.
 */
export async function runWatcher(argv: string[]): Promise<boolean> {
  const [, uid, , , dataDir] = argv;
  if (argv.length !== 5 || !uid || argv.join('\0') !== watcherArgv(uid, dataDir).join('\0')) return false;
  const engine = openEngine(dataDir);
  try {
    await engine.watch(uid);
  } finally {
    engine.store.close();
  }
  return true;
}

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

/**
 * The retention of finished experiments: CHAOSMETAD_RETENTION (a duration, e.g. 30d; 0 = no age limit) and
 * CHAOSMETAD_RETENTION_ROWS (0 = no count limit), else 30 days and 100 000 rows, whichever is hit first.
 */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): Retention {
  return parseRetention(env.CHAOSMETAD_RETENTION, env.CHAOSMETAD_RETENTION_ROWS);
}

/** A retention from its two settings (undefined or '' = the default), each named as given in errors. */
export function parseRetention(
  age: string | undefined,
  rows: string | undefined,
  names = { age: 'CHAOSMETAD_RETENTION', rows: 'CHAOSMETAD_RETENTION_ROWS' },
): Retention {
  const r = { ...DEFAULT_RETENTION };
  if (age !== undefined && age !== '') {
    if (!/^\d+(\.\d+)?(us|ms|s|m|h|d)?$/.test(age.trim()))
      throw badArgs(`${names.age} must be a duration like 30d, 12h or 90m (0 = no age limit), got ${shown(age)}`);
    r.maxAgeMs = parseDuration(age, names.age.replace(/^--/, ''), 'd');
  }
  if (rows !== undefined && rows !== '') {
    if (!/^\d{1,12}$/.test(rows))
      throw badArgs(`${names.rows} must be a number of experiments (0 = no limit), got ${shown(rows)}`);
    r.maxRows = Number(rows);
  }
  return r;
}

/** 5-36 of [A-Za-z0-9_-] (compat), not starting with "-" (it would read as an option in argv) */
const UID_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{4,35}$/;
const newUid = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Recovers in progress in this process, by uid. */
const RECOVERING = new Map<string, Promise<RecoverResult>>();

export function defaultCreator(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

/** Undo kinds every fault can journal. */
const BUILTIN_UNDO: Record<string, UndoFn> = {
  /** a native helper: stop every process carrying this experiment's uid and step tags */
  async helper(_data, ctx) {
    const procs = findTagged([TAG_PREFIX + ctx.uid, stepTag(ctx.stepId)]);
    await terminate(procs.map((p) => p.pid));
  },
  /** the deadline watcher: stop it (never ourselves: the watcher recovering at its deadline runs this) */
  async watcher(_data, ctx) {
    const procs = findTagged([TAG_PREFIX + ctx.uid, 'watch']).filter((p) => p.pid !== process.pid);
    await terminate(
      procs.map((p) => p.pid),
      500,
    );
  },
};

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

  /** The experiment's private directory under the data dir (backups, helper inputs). */
  workDir(uid: string, create = true): string {
    const d = path.join(this.dataDir, 'work', uid);
    if (create) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  /** The experiment log (JSON lines): the engine's events, and helpers' failures after they became ready. */
  get logFile(): string {
    return path.join(this.dataDir, 'chaosmetad.log');
  }

  log(event: Record<string, unknown>): void {
    try {
      fs.appendFileSync(
        this.logFile,
        JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...event }) + '\n',
      );
    } catch {
      /* logging never fails an experiment */
    }
  }

  /**
   * Validate a request completely, without touching the host or the store. A container request needs its target
   * resolved first (resolveTarget: it asks the runtime).
   */
  prepare(req: InjectRequest, target: Target = HOST_TARGET) {
    const def = this.findFault(req.target, req.fault);
    if (req.uid !== undefined && req.uid !== '' && !UID_RE.test(req.uid)) {
      throw badArgs(
        `--uid must be 5 to 36 characters of letters, digits, "_" and "-" (not starting with "-"), got ${shown(req.uid)}`,
      );
    }
    let timeoutMs = 0;
    if (req.timeout !== undefined && req.timeout !== '' && req.timeout !== 0)
      timeoutMs = parseDuration(req.timeout, 'timeout', 's');
    if (req.containerId && !isContainer(target)) throw new Error('internal: a container request without its target');
    if (!req.containerId && (req.containerRuntime || req.containerdNamespace))
      throw badArgs('--container-runtime and --containerd-namespace need --container-id');
    if (isContainer(target) && !def.container) {
      throw badArgs(
        def.containerRefusal
          ? `${def.target} ${def.fault} acts on ${def.containerRefusal}: it cannot be confined to a container (drop --container-id)`
          : `${def.target} ${def.fault} does not take --container-id yet (every fault but kernel ones takes it)`,
      );
    }
    if (req.parentUid !== undefined && req.parentUid !== '' && !UID_RE.test(req.parentUid)) {
      throw badArgs(
        `--parent-uid must be 5 to 36 characters of letters, digits, "_" and "-" (not starting with "-"), got ${shown(req.parentUid)}`,
      );
    }
    if (req.creator !== undefined && (req.creator.length > 128 || /[\0\n\r]/.test(req.creator))) {
      throw badArgs('--creator must be at most 128 characters without control characters');
    }
    let leaseMs = 0;
    if (req.lease !== undefined && req.lease !== '' && req.lease !== 0) {
      leaseMs = parseDuration(req.lease, 'lease', 's');
      if (leaseMs < 1000) throw badArgs(`--lease must be at least 1s, got ${shown(req.lease)}`);
    }
    // through the agent DaemonSet: its policy (engine/policy.ts) before anything else is looked at
    const policy = agentPolicy();
    if (policy) checkPolicy(policy, def, target, timeoutMs);
    const args = parseFlags(def.flags, req.args, target);
    if (policy) checkPolicyPaths(policy, def, args);
    def.validate?.(args, target);
    return {
      def,
      args,
      target,
      timeoutMs,
      leaseMs: Math.round(leaseMs),
      uid: req.uid || newUid(),
      timeout: timeoutMs ? String(req.timeout) : '',
      creator: req.creator || defaultCreator(),
      parentUid: req.parentUid || null,
    };
  }

  /** The request's target: this host, or the container its runtime names (exit 1 when not found or not running). */
  async resolveTarget(req: InjectRequest): Promise<Target> {
    if (!req.containerId) return HOST_TARGET;
    return resolveContainer({
      id: req.containerId,
      runtime: req.containerRuntime,
      namespace: req.containerdNamespace,
    });
  }

  async inject(req: InjectRequest): Promise<InjectResult> {
    const p = this.prepare(req, await this.resolveTarget(req));
    const policy = agentPolicy();
    if (policy) await checkPolicyTarget(policy, p.target, p.def, p.args);
    const now = Date.now();
    const deadline = p.timeoutMs ? now + Math.round(p.timeoutMs) : null;

    if (req.dryRun) {
      const exec = this.executorFor(p.target, p.def.container, true);
      if (isContainer(p.target)) {
        const t = p.target;
        exec.note(
          `target: ${describeTarget(t)}, init pid ${t.pid}; ${
            p.def.container === 'net'
              ? `commands enter its net namespace only (nsenter -t ${t.pid} --net)`
              : p.def.container === 'root'
                ? `paths resolve inside its root /proc/${t.pid}/root (no link leads out)`
                : p.def.container === 'pid'
                  ? `pids and names are those of its pid namespace`
                  : p.def.container === 'runtime'
                    ? `it is acted on through ${t.runtime}'s API`
                    : `helpers join its cgroups (those of /proc/${t.pid}/cgroup) before they report ready`
          }`,
        );
      }
      const ctx = this.context(p.uid, deadline, exec, p.def, true, p.target);
      if (deadline && this.opts.watcher)
        exec.note(`start watcher: chaosmetad watch ${p.uid} (recovers at ${new Date(deadline).toISOString()})`);
      await p.def.inject(p.args, ctx);
      return { experiment: this.row(p, now, deadline), planned: exec.planned };
    }

    const row = this.row(p, now, deadline);
    row.schedule_id = req.scheduleId ?? null;
    // claims are per target: two containers may each have a delay on their own eth0
    const claims = [...new Set(p.def.claims?.(p.args, p.target) ?? [])].map((k) =>
      isContainer(p.target) ? `container ${p.target.id.slice(0, 12)} ${k}` : k,
    );
    // a fault whose changes a power cut undoes anyway journals without fsync (FaultDef.volatile)
    const w = <T>(fn: () => T): T => (p.def.volatile ? this.store.volatile(fn) : fn());
    w(() =>
      this.store.tx(() => {
        const old = this.store.get(p.uid);
        if (old) {
          if (isLive(old) || old.phase === 'recovering') {
            throw badArgs(
              `an experiment with uid ${p.uid} is still live (status ${old.status}); recover it first or choose another --uid`,
            );
          }
          // its journal is what undoes its host changes: never drop it while any step is not undone
          if (this.store.hasUndoLeft(p.uid)) {
            throw badArgs(
              `experiment ${p.uid} (status ${old.status}) still has host changes to undo; run chaosmetad recover ${p.uid} first or choose another --uid`,
            );
          }
          this.store.remove(p.uid);
        }
        for (const key of claims) {
          const holder = this.store.claimHolder(key);
          if (holder)
            throw badArgs(
              `${key.replace(/^(\w[\w-]*):/, '$1 ')} is already altered by live experiment ${holder}; recover it first`,
            );
        }
        this.store.insert(row);
        for (const key of claims) this.store.claim(key, p.uid);
      }),
    );
    this.log({ event: 'inject', uid: p.uid, target: p.def.target, fault: p.def.fault, args: row.args });

    const exec = this.executorFor(p.target, p.def.container, false, (line) => this.log({ uid: p.uid, action: line }));
    const ctx = this.context(p.uid, deadline, exec, p.def, false, p.target);
    try {
      if ((deadline || p.leaseMs) && this.opts.watcher) {
        await ctx.step('watcher', { deadline }, async () => ({
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
        await this.undoSteps(p.uid, p.def);
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

  private row(p: ReturnType<Engine['prepare']>, now: number, deadline: number | null): ExperimentRow {
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

  private context(
    uid: string,
    deadline: number | null,
    exec: Executor,
    def: FaultDef,
    dryRun: boolean,
    target: Target,
  ): InjectContext {
    const store = this.store;
    const logFile = this.logFile;
    const workDir = () => (dryRun ? path.join(this.dataDir, 'work', uid) : this.workDir(uid));
    const ctx: InjectContext = {
      uid,
      deadline,
      dryRun,
      exec,
      target,
      workDir,
      async step(kind, data, run) {
        if (dryRun) return { ...data, ...((await run(0)) ?? {}) };
        const w = <T>(fn: () => T): T => (def.volatile ? store.volatile(fn) : fn());
        const id = w(() => store.addStep(uid, kind, data));
        const extra = (await run(id)) ?? {};
        const full = { ...data, ...extra };
        w(() => store.setStep(id, 'done', full));
        return full;
      },
      async helper(mode, own) {
        // a helper for a container joins its namespaces and cgroups itself, before it reports ready
        const params = { ...own, ...helperTargetParams(target, def.container) };
        if (dryRun) {
          const [file, argv] = helperArgv({ mode, uid, step: 0, params, deadline });
          exec.note(`start helper: ${[file, ...argv].join(' ')}`);
          return 0;
        }
        const r = await ctx.step('helper', { mode, params }, async (step) => {
          const pid = await startHelper({ mode, uid, step, params, deadline, log: logFile });
          exec.note(`started helper ${mode} pid ${pid}`);
          return { pid };
        });
        return r.pid as number;
      },
    };
    return ctx;
  }

  /**
   * Undo every step not yet undone, newest first. Tries them all; throws once with every failure — unless
   * `abandoned` is given: a step that fails is then given up (marked undone with the reason in its data) and listed.
   */
  private async undoSteps(
    uid: string,
    def: FaultDef,
    notes: string[] = [],
    abandoned?: Array<{ step: string; error: string }>,
  ): Promise<void> {
    const target = parseTarget(this.store.get(uid)?.target_info);
    const exec = this.executorFor(target, def.container, false, (line) => this.log({ uid, action: line }));
    // a container that is gone (or restarted: another init) took its namespaces and files with it; a new one may
    // reuse its name, so nothing is done inside it. Processes of ours (helpers, the watcher) are still stopped.
    // (the faults that act on the container itself through its runtime handle its end in their own undo)
    const gone = isContainer(target) && !targetAlive(target) && def.container !== 'runtime';
    let goneNoted = false;
    const failures: string[] = [];
    const workDir = () => this.workDir(uid);
    for (const s of this.store.steps(uid).reverse()) {
      if (s.state === 'undone') continue;
      // the deadline watcher goes last, and stays when something could not be undone: it retries at the deadline
      if (s.kind === 'watcher' && failures.length) continue;
      if (gone && !BUILTIN_UNDO[s.kind] && !def.undoWhenGone?.includes(s.kind)) {
        if (!goneNoted && isContainer(target))
          notes.push(`${describeTarget(target)} is gone (or restarted): nothing to undo inside it`);
        goneNoted = true;
        this.store.setStep(s.id, 'undone');
        continue;
      }
      const undo = def.undo?.[s.kind] ?? BUILTIN_UNDO[s.kind];
      if (!undo) {
        failures.push(`no undo for step ${s.kind}`);
        continue;
      }
      try {
        await undo(JSON.parse(s.data), { uid, exec, target, stepId: s.id, workDir, note: (m) => notes.push(m) });
        this.store.setStep(s.id, 'undone');
      } catch (e) {
        const error = (e as Error).message;
        if (abandoned) {
          abandoned.push({ step: s.kind, error });
          this.store.setStep(s.id, 'undone', { ...(JSON.parse(s.data) as object), abandoned: error });
        } else failures.push(`${s.kind}: ${error}`);
      }
    }
    if (failures.length) throw recoverError(failures.join('; '));
    // what was given up may have left the only copy of someone's data in the work dir (file del's original):
    // it stays, and the note says where
    if (abandoned?.length) {
      const wd = this.workDir(uid, false);
      if (fs.existsSync(wd)) notes.push(`kept ${wd} (what the abandoned steps left there, e.g. a deleted file)`);
      return;
    }
    fs.rmSync(this.workDir(uid, false), { recursive: true, force: true });
  }

  /** Read the host: is this experiment's fault in place? */
  async effect(row: ExperimentRow, def = this.findFault(row.target, row.fault)): Promise<Effect> {
    const steps = this.store
      .steps(row.uid)
      .filter((s) => s.state === 'done')
      .map((s) => ({ id: s.id, kind: s.kind, data: JSON.parse(s.data) }));
    const target = parseTarget(row.target_info);
    // a container that is gone took the fault with it — but for the faults that act on the container itself
    // (kill, rm, restart) its end is the effect: they check for themselves
    if (!targetAlive(target) && def.container !== 'runtime') return 'gone';
    if (def.check)
      return def.check(JSON.parse(row.args), {
        uid: row.uid,
        steps,
        target,
        exec: this.executorFor(target, def.container),
      });
    const helpers = steps.filter((s) => s.kind === 'helper');
    if (!helpers.length) return 'unknown';
    const up = helpers.filter((s) => isTagged(s.data.pid, [TAG_PREFIX + row.uid, stepTag(s.id)]));
    return tally(up.length, helpers.length);
  }

  async check(uid: string): Promise<{ uid: string; status: string; effect: Effect }> {
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
  async recover(uid: string, reason = 'manual', opts: { abandon?: boolean } = {}): Promise<RecoverResult> {
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
    const abandoned: Array<{ step: string; error: string }> = [];
    try {
      await this.undoSteps(uid, this.findFault(row.target, row.fault), notes, abandon ? abandoned : undefined);
    } catch (e) {
      const msg = (e as Error).message;
      const failures = (this.store.get(uid)?.recover_failures ?? 0) + 1;
      const retry = Date.now() + Engine.retryDelay(failures);
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
  async recoverMany(sel: {
    all?: boolean;
    expired?: boolean;
    target?: string;
    fault?: string;
  }): Promise<RecoverResult[]> {
    const todo = sel.expired
      ? (await this.stale('recover --expired ran')).filter((s) => s.reason !== 'rearm')
      : this.store.unfinished({ target: sel.target, fault: sel.fault }).map((r) => ({ row: r, reason: 'bulk' }));
    const out: RecoverResult[] = [];
    for (const { row: r, reason } of todo) {
      if ((sel.target && r.target !== sel.target) || (sel.fault && r.fault !== sel.fault)) continue;
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
  async stale(
    when: string,
    now = Date.now(),
  ): Promise<
    Array<{ row: ExperimentRow; reason: 'expired' | 'interrupted' | 'effect-gone' | 'rearm'; effect?: Effect }>
  > {
    const out: Array<{
      row: ExperimentRow;
      reason: 'expired' | 'interrupted' | 'effect-gone' | 'rearm';
      effect?: Effect;
    }> = [];
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
    const pid = this.store.daemonPid();
    if (pid === process.pid) return pid;
    return pid && alive(pid) && isChaosmetad(readArgv(pid) ?? []) ? pid : undefined;
  }

  /** Become this data dir's daemon, atomically in the store; returns the pid of another live one instead. */
  claimDaemon(): number | undefined {
    const isDaemon = (pid: number, start: number | null) =>
      alive(pid) && (start === null || startTime(pid) === start) && isChaosmetad(readArgv(pid) ?? []);
    return this.store.claimDaemon(process.pid, startTime(process.pid), isDaemon);
  }

  query(f: QueryFilter, columns?: readonly string[]) {
    return this.store.query(f, columns);
  }

  /** When a live experiment is due for recovery (its deadline or lease expiry), and why; null = never. */
  static due(row: ExperimentRow): { at: number; reason: 'timeout' | 'lease' } | null {
    const d = row.deadline ?? Infinity;
    const l = row.lease_until ?? Infinity;
    if (d === Infinity && l === Infinity) return null;
    return l < d ? { at: l, reason: 'lease' } : { at: d, reason: 'timeout' };
  }

  /** Extend a live experiment's lease by its lease length (or a new one). */
  renew(uid: string, lease?: string | number): ExperimentRow {
    const row = this.mustGet(uid);
    if (!row.lease_ms) throw badArgs(`experiment ${uid} has no lease (inject it with --lease)`);
    if (!isLive(row) || row.phase === 'recovering') {
      throw badArgs(`experiment ${uid} is not live (status ${row.status}); nothing to renew`);
    }
    let ms = row.lease_ms;
    if (lease !== undefined && lease !== '' && lease !== 0) {
      ms = Math.round(parseDuration(lease, 'lease', 's'));
      if (ms < 1000) throw badArgs(`--lease must be at least 1s, got ${shown(lease)}`);
    }
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

  /**
   * The one retry policy for failed recovers (watcher, daemon, recover --expired): the n-th failure waits
   * min(60 s, 2^(n-1) s) before the next automatic try — and there is always a next try; every failure is logged and
   * counted in the store (query -a, /metrics).
   */
  static retryDelay(failures: number): number {
    return Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1));
  }

  /** When the next automatic recover of a due experiment may run (its retry time after a failure), epoch ms. */
  static nextTry(row: ExperimentRow): number {
    const due = Engine.due(row);
    return Math.max(due?.at ?? Infinity, row.retry_ms ?? 0);
  }

  /**
   * Recover one experiment that is due (deadline or lease) and whose retry time has come. 'done' when recovered
   * (or nothing is left to do), 'wait' when not due yet (a renewed lease, a retry time ahead), 'failed' when this
   * try failed (the store has the next try).
   */
  async recoverDue(uid: string): Promise<'done' | 'wait' | 'failed'> {
    const row = this.store.get(uid);
    if (!row || row.status === 'destroyed') return 'done';
    const due = Engine.due(row);
    if (!due) return 'done';
    if (Engine.nextTry(row) > Date.now()) return 'wait';
    try {
      await this.recover(uid, due.reason);
      return 'done';
    } catch (e) {
      if (e instanceof ChaosError && e.code === ExitCode.BadArgs) return 'done';
      return 'failed';
    }
  }

  /** The watcher: sleep to the deadline or lease expiry (re-read: a lease may be renewed), recover; never gives up. */
  async watch(uid: string): Promise<void> {
    for (;;) {
      const row = this.store.get(uid);
      if (!row || row.status === 'destroyed' || !Engine.due(row)) return;
      const left = Engine.nextTry(row) - Date.now();
      if (left > 0) {
        await sleep(Math.min(left, 60_000));
        continue;
      }
      if ((await this.recoverDue(uid)) === 'done') return;
    }
  }
}
