/** The step kinds the engine journals itself, for any fault: a native helper, the deadline watcher. */
import { type AnyStepKind, defineStep } from '../faults/types';
import { stepTag } from '../host/helpers';
import { TAG_PREFIX, findTagged, terminate } from '../host/procs';

/** A native helper: stop every process carrying this experiment's uid and step tags. */
export const helperStep = defineStep(
  'helper',
  async (_d: { mode: string; params: Record<string, string | number>; pid?: number }, ctx) => {
    const procs = findTagged([TAG_PREFIX + ctx.uid, stepTag(ctx.stepId)]);
    await terminate(procs.map((p) => p.pid));
  },
);

/** The deadline watcher: stop it (never ourselves: the watcher recovering at its deadline runs this). */
export const watcherStep = defineStep('watcher', async (_d: { deadline: number | null; pid?: number }, ctx) => {
  const procs = findTagged([TAG_PREFIX + ctx.uid, 'watch']).filter((p) => p.pid !== process.pid);
  await terminate(
    procs.map((p) => p.pid),
    500,
  );
});

/** The engine's own step kinds, by stored name: every fault may journal them (a fault never declares them). */
export const BUILTIN_STEPS: ReadonlyMap<string, AnyStepKind> = new Map(
  [helperStep, watcherStep].map((k) => [k.name, k]),
);

/**
 * The kind of a stored step of this fault, by its stored name: the fault's own (FaultDef.steps) or the engine's.
 * Undefined: a journal this chaosmetad cannot undo (recover says "no undo for step").
 */
export function stepKindOf(def: { steps?: readonly AnyStepKind[] }, name: string): AnyStepKind | undefined {
  return def.steps?.find((k) => k.name === name) ?? BUILTIN_STEPS.get(name);
}
