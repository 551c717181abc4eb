/**
 * The journal: every host change an inject makes is stored as a step before it is made (InjectContext.step), recover
 * undoes the steps newest first by their kind's undo, and check reads the host given the steps that are done.
 */
import * as fs from 'node:fs';
import { recoverError } from '../errors';
import { storedArgs } from '../faults/flags';
import type { CheckContext, Effect, FaultDef, InjectContext } from '../faults/types';
import { tally } from '../faults/types';
import type { Executor } from '../host/executor';
import { helperArgv, startHelper, stepTag } from '../host/helpers';
import { TAG_PREFIX, isTagged } from '../host/procs';
import {
  type Scope,
  describeScope,
  type executorFor,
  helperScopeParams,
  isContainer,
  parseScope,
  scopeAlive,
} from '../host/scope';
import type { ExperimentRow, Store } from '../store/store';
import type { LogEvent } from './log';
import { BUILTIN_STEPS, helperStep, stepKindOf, watcherStep } from './steps';

/** What the journal needs of the engine: its store, its files, its log and the executors it acts through. */
export interface JournalEnv {
  readonly store: Store;
  /** the experiment log (helpers write their failures there after they became ready) */
  readonly logFile: string;
  /** the experiment's private directory, created unless `create` is false */
  workDir(uid: string, create?: boolean): string;
  log(event: LogEvent): void;
  executorFor: typeof executorFor;
}

/** A step a recover --abandon gave up: its kind and why its undo failed. */
export interface AbandonedStep {
  step: string;
  error: string;
}

/** The context a fault's inject runs with: its steps journaled before they change the host (dry run: only noted). */
export function injectContext(
  env: JournalEnv,
  uid: string,
  deadline: number | null,
  exec: Executor,
  def: FaultDef,
  dryRun: boolean,
  scope: Scope,
): InjectContext {
  const store = env.store;
  const logFile = env.logFile;
  // a dry run names the work directory but never creates it
  const workDir = () => env.workDir(uid, !dryRun);
  const ctx: InjectContext = {
    uid,
    deadline,
    dryRun,
    exec,
    scope,
    workDir,
    async step(kind, data, run) {
      // a kind the fault does not declare could not be undone: refused before anything is journaled or changed
      if (stepKindOf(def, kind.name) !== kind)
        throw new Error(`${def.target} ${def.fault} journals a step kind it does not declare: ${kind.name}`);
      if (dryRun) return { ...data, ...((await run(0)) ?? {}) };
      const w = <T>(fn: () => T): T => (def.volatile ? store.volatile(fn) : fn());
      const id = w(() => store.addStep(uid, kind.name, data));
      const extra = (await run(id)) ?? {};
      const full = { ...data, ...extra };
      w(() => store.setStep(id, 'done', full));
      return full;
    },
    async helper(mode, own) {
      // a helper for a container joins its namespaces and cgroups itself, before it reports ready
      const params = { ...own, ...helperScopeParams(scope, def.container) };
      if (dryRun) {
        const [file, argv] = helperArgv({ mode, uid, step: 0, params, deadline });
        exec.note(`start helper: ${[file, ...argv].join(' ')}`);
        return 0;
      }
      const r = await ctx.step(helperStep, { mode, params }, async (step) => {
        const pid = await startHelper({ mode, uid, step, params, deadline, log: logFile });
        exec.note(`started helper ${mode} pid ${pid}`);
        return { pid };
      });
      return r.pid ?? 0;
    },
  };
  return ctx;
}

/**
 * Undo every step not yet undone, newest first. Tries them all; throws once with every failure — unless
 * `abandoned` is given: a step that fails is then given up (marked undone with the reason in its data) and listed.
 */
export async function undoSteps(
  env: JournalEnv,
  uid: string,
  def: FaultDef,
  notes: string[] = [],
  abandoned?: AbandonedStep[],
): Promise<void> {
  const scope = parseScope(env.store.get(uid)?.target_info);
  const exec = env.executorFor(scope, def.container, false, (line) => env.log({ uid, action: line }));
  // a container that is gone (or restarted: another init) took its namespaces and files with it; a new one may
  // reuse its name, so nothing is done inside it. Processes of ours (helpers, the watcher) are still stopped.
  // (the faults that act on the container itself through its runtime handle its end in their own undo)
  const gone = isContainer(scope) && !scopeAlive(scope) && def.container !== 'runtime';
  let goneNoted = false;
  const failures: string[] = [];
  const workDir = () => env.workDir(uid);
  for (const s of env.store.steps(uid).reverse()) {
    if (s.state === 'undone') continue;
    // the deadline watcher goes last, and stays when something could not be undone: it retries at the deadline
    if (s.kind === watcherStep.name && failures.length) continue;
    if (gone && !BUILTIN_STEPS.has(s.kind) && !def.undoWhenGone?.some((k) => k.name === s.kind)) {
      if (!goneNoted && isContainer(scope))
        notes.push(`${describeScope(scope)} is gone (or restarted): nothing to undo inside it`);
      goneNoted = true;
      env.store.setStep(s.id, 'undone');
      continue;
    }
    const kind = stepKindOf(def, s.kind);
    if (!kind) {
      failures.push(`no undo for step ${s.kind}`);
      continue;
    }
    try {
      await kind.undoStored(s.data, { uid, exec, scope, stepId: s.id, workDir, note: (m) => notes.push(m) });
      env.store.setStep(s.id, 'undone');
    } catch (e) {
      const error = (e as Error).message;
      if (abandoned) {
        abandoned.push({ step: s.kind, error });
        env.store.setStep(s.id, 'undone', { ...(JSON.parse(s.data) as object), abandoned: error });
      } else failures.push(`${s.kind}: ${error}`);
    }
  }
  if (failures.length) throw recoverError(failures.join('; '));
  // what was given up may have left the only copy of someone's data in the work dir (file del's original):
  // it stays, and the note says where
  if (abandoned?.length) {
    const wd = env.workDir(uid, false);
    if (fs.existsSync(wd)) notes.push(`kept ${wd} (what the abandoned steps left there, e.g. a deleted file)`);
    return;
  }
  fs.rmSync(env.workDir(uid, false), { recursive: true, force: true });
}

/** Read the host: is this experiment's fault in place? (the fault's check, given its done steps by kind) */
export async function readEffect(env: JournalEnv, row: ExperimentRow, def: FaultDef): Promise<Effect> {
  const done = env.store.steps(row.uid).filter((s) => s.state === 'done');
  const stepsOf: CheckContext['stepsOf'] = (kind) =>
    done.filter((s) => s.kind === kind.name).map((s) => ({ id: s.id, data: kind.read(s.data) }));
  const scope = parseScope(row.target_info);
  // a container that is gone took the fault with it — but for the faults that act on the container itself
  // (kill, rm, restart) its end is the effect: they check for themselves
  if (!scopeAlive(scope) && def.container !== 'runtime') return 'gone';
  if (def.check)
    return def.check(storedArgs(def.flags, row.args), {
      uid: row.uid,
      stepsOf,
      scope,
      exec: env.executorFor(scope, def.container),
    });
  const helpers = stepsOf(helperStep);
  if (!helpers.length) return 'unknown';
  const up = helpers.filter(
    (s) => s.data.pid !== undefined && isTagged(s.data.pid, [TAG_PREFIX + row.uid, stepTag(s.id)]),
  );
  return tally(up.length, helpers.length);
}
