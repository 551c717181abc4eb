/** What one fault module declares. A fault is one file: flags, validation, inject, its undo kinds, and a check. */
import type { Executor } from '../host/executor';
import type { HelperSpec } from '../host/helpers';
import type { Entry, Target } from '../host/target';
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
  /** commands run in the target (for a container: the namespaces FaultDef.container names) */
  readonly exec: Executor;
  /** what the fault acts on: this host or a container (paths: inTarget; helpers join it by themselves) */
  readonly target: Target;
  /** a private directory for this experiment under the data dir (backups, helper inputs); created on first use */
  workDir(): string;
  /**
   * Journal a host change: the step (kind + the data its undo needs) is stored as `pending` BEFORE `run` changes
   * the host, then marked `done` with any data `run` returns merged in. Undo must be idempotent: a pending step
   * whose change never happened undoes to nothing.
   */
  step(
    kind: string,
    data: Record<string, unknown>,
    run: (stepId: number) => Promise<Record<string, unknown> | void>,
  ): Promise<Record<string, unknown>>;
  /** Start a native helper as a journaled step; resolves to its pid once it reported ready. */
  helper(mode: HelperSpec['mode'], params: Record<string, string | number>): Promise<number>;
}

export interface UndoContext {
  readonly uid: string;
  readonly exec: Executor;
  readonly target: Target;
  readonly stepId: number;
  /** the experiment's private directory (see InjectContext.workDir) */
  workDir(): string;
  /** something the user should know about this recover (shown in its output, stored with the experiment) */
  note(message: string): void;
}

export type UndoFn = (data: Record<string, any>, ctx: UndoContext) => Promise<void>;

export interface CheckContext {
  readonly uid: string;
  /** for reading the host (tc show, …); never changes it */
  readonly exec: Executor;
  readonly target: Target;
  /** journaled steps that are done, with their data */
  readonly steps: Array<{ id: number; kind: string; data: Record<string, any> }>;
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
  container?: Entry;
  containerRefusal?: string;
  /**
   * Step kinds whose undo still runs when the container is gone (stopped, restarted, removed): they reach what
   * the fault left on the host side (e.g. a fill file in the container's writable layer) and check for themselves.
   */
  undoWhenGone?: string[];
  /** cross-flag checks; pure (reads the host or target at most, never changes it); throws BadArgs naming the flag */
  validate?(args: ParsedFlags<F>, target: Target): void;
  /** apply the fault through ctx only; returns the runtime summary stored with the experiment */
  inject(args: ParsedFlags<F>, ctx: InjectContext): Promise<Record<string, unknown> | void>;
  /**
   * Host objects this experiment alters exclusively (e.g. `file:/etc/app.conf`, `port:tcp:8080`): a second live
   * experiment claiming the same key is refused before anything changes, so two never fight over one object.
   */
  claims?(args: ParsedFlags<F>, target: Target): string[];
  /** undo functions for the step kinds this fault journals (helper steps are undone by the engine) */
  undo?: Record<string, UndoFn>;
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
