/** What one fault module declares. A fault is one file: flags, validation, inject, its undo kinds, and a check. */
import type { Executor } from '../host/executor';
import type { HelperSpec } from '../host/helpers';
import type { ContainerAccess, Scope } from '../host/scope';
import type { FlagSpecs, ParsedFlags } from './flags';

/** What a check of the host says about a fault (read from the host, not from the store). */
export type Effect = 'in-place' | 'partial' | 'gone' | 'unknown';

/** The one tally of a check: `held` of `of` journaled changes are still in place (none journaled: gone). */
export function tally(held: number, of: number): Exclude<Effect, 'unknown'> {
  return of > 0 && held === of ? 'in-place' : held > 0 ? 'partial' : 'gone';
}

export interface InjectContext {
  readonly uid: string;
  /** absolute deadline (epoch ms), or null when the fault runs until recovered */
  readonly deadline: number | null;
  readonly dryRun: boolean;
  /** commands run in the scope (for a container: the namespaces FaultDef.container names) */
  readonly exec: Executor;
  /** what the fault acts on: this host or a container (paths: inTarget; helpers join it by themselves) */
  readonly scope: Scope;
  /** a private directory for this experiment under the data dir (backups, helper inputs); created on first use */
  workDir(): string;
  /**
   * Journal a host change: the step (its kind + the data its undo needs) is stored as `pending` BEFORE `run`
   * changes the host, then marked `done` with any data `run` returns merged in. Undo must be idempotent: a pending
   * step whose change never happened undoes to nothing. The kind must be one the fault declares (FaultDef.steps).
   */
  step<D extends object>(
    kind: StepKind<D>,
    data: NoInfer<D>,
    run: (stepId: number) => Promise<Partial<NoInfer<D>> | void>,
  ): Promise<D>;
  /** Start a native helper as a journaled step; resolves to its pid once it reported ready. */
  helper(mode: HelperSpec['mode'], params: Record<string, string | number>): Promise<number>;
}

export interface UndoContext {
  readonly uid: string;
  readonly exec: Executor;
  readonly scope: Scope;
  readonly stepId: number;
  /** the experiment's private directory (see InjectContext.workDir) */
  workDir(): string;
  /** something the user should know about this recover (shown in its output, stored with the experiment) */
  note(message: string): void;
}

export type UndoFn<D extends object> = (data: D, ctx: UndoContext) => Promise<void>;

/** Any step kind, whatever its data: what a fault lists (FaultDef.steps) and recover looks up by stored name. */
export interface AnyStepKind {
  /** the name stored with each step of this kind in the journal */
  readonly name: string;
  /** undo one stored step of this kind, given its data as stored (JSON) */
  readonly undoStored: (json: string, ctx: UndoContext) => Promise<void>;
}

/**
 * A kind of journal step: the name stored with the step (never renamed: journals written by an older chaosmetad
 * are recovered by it), the type of its data, and its undo. Made by defineStep; a fault lists the kinds it
 * journals in FaultDef.steps, and recover finds a step's undo there by its stored name.
 */
export interface StepKind<D extends object> extends AnyStepKind {
  readonly undo: UndoFn<D>;
  /** the data of a stored step of this kind (see defineStep) */
  readonly read: (json: string) => D;
}

/**
 * A step kind. The journal holds the JSON this kind's ctx.step wrote (typed D then, and never renamed), so a
 * stored step's data is taken as D unchecked: `read` here is the one place stored step data is cast, for undo
 * (undoStored) and for check (CheckContext.stepsOf) alike.
 */
export function defineStep<D extends object>(name: string, undo: UndoFn<D>): StepKind<D> {
  const read = (json: string): D => JSON.parse(json) as D;
  return { name, undo, read, undoStored: (json, ctx) => undo(read(json), ctx) };
}

/** A journaled step as check reads it: done, with its data. */
export interface DoneStep<D extends object> {
  id: number;
  data: D;
}

export interface CheckContext {
  readonly uid: string;
  /** for reading the host (tc show, …); never changes it */
  readonly exec: Executor;
  readonly scope: Scope;
  /** the journaled steps of this kind that are done, oldest first, with their data */
  stepsOf<D extends object>(kind: StepKind<D>): Array<DoneStep<D>>;
}

export interface FaultDef<F extends FlagSpecs = FlagSpecs> {
  target: string;
  fault: string;
  /** other names accepted for the fault (e.g. `delete` for `del`) */
  aliases?: string[];
  summary: string;
  description?: string;
  /** full command lines; the README and tests run them */
  examples: string[];
  flags: F;
  /**
   * How the fault acts on a container target (--container-id): in its net namespace, through its root, in its
   * cgroups (helpers), or on its pid namespace's processes. Absent: the fault acts on the whole kernel or host and a
   * container target is refused (containerRefusal says what it acts on).
   */
  container?: ContainerAccess;
  containerRefusal?: string;
  /**
   * Step kinds whose undo still runs when the container is gone (stopped, restarted, removed): they reach what
   * the fault left on the host side (e.g. a fill file in the container's writable layer) and check for themselves.
   */
  undoWhenGone?: readonly AnyStepKind[];
  /** cross-flag checks; pure (reads the host or scope at most, never changes it); throws BadArgs naming the flag */
  validate?(args: ParsedFlags<F>, scope: Scope): void;
  /** apply the fault through ctx only; returns the runtime summary stored with the experiment */
  inject(args: ParsedFlags<F>, ctx: InjectContext): Promise<Record<string, unknown> | void>;
  /**
   * Host objects this experiment alters exclusively (e.g. `file:/etc/app.conf`, `port:tcp:8080`): a second live
   * experiment claiming the same key is refused before anything changes, so two never fight over one object.
   */
  claims?(args: ParsedFlags<F>, scope: Scope): string[];
  /**
   * The step kinds this fault journals, each with its undo (helper and watcher steps are the engine's own); a
   * step whose kind is not listed here fails its recover with "no undo for step".
   */
  steps?: readonly AnyStepKind[];
  /**
   * Every host change this fault makes is gone after a power cut anyway (processes, tc, iptables, cgroups, sysctl
   * values): its journal writes need no fsync before the change they announce (a crash of chaosmetad loses
   * nothing either way; a power cut takes the change with the journal). Faults that touch files stay durable.
   */
  volatile?: boolean;
  /** read the host: is the fault in place? Default: every helper it started is alive. */
  check?(args: ParsedFlags<F>, ctx: CheckContext): Promise<Effect>;
}

export function defineFault<F extends FlagSpecs>(def: FaultDef<F>): FaultDef<F> {
  return def;
}
