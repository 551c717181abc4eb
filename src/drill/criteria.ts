/**
 * Criteria: whether a probe's sample holds a condition (absolute, relative to the baseline, a percent of it), and
 * whether it has held for N samples in a row. A failed sample (no value) holds every `above` and no `below` or
 * `within`: a request that failed is as bad as a slow one.
 */
import type { Bound, Criterion } from './schema';
import type { Sample } from './types';

/** The bound as a number, given the baseline; undefined when it needs a baseline there is none of. */
export function resolve(b: Bound, baseline: number | null | undefined): number | undefined {
  if (b.kind === 'absolute') return b.value;
  if (baseline === null || baseline === undefined) return undefined;
  return b.kind === 'relative' ? baseline + b.value : (baseline * b.value) / 100;
}

/** Does this one sample hold the criterion? */
export function holds(c: Criterion, s: Sample, baseline: number | null | undefined): boolean {
  if (c.ok !== undefined && s.ok !== c.ok) return false;
  const v = s.value;
  if (c.above) {
    const x = resolve(c.above, baseline);
    if (x === undefined) return false;
    if (v !== null && !(v > x)) return false;
  }
  if (c.below) {
    const x = resolve(c.below, baseline);
    if (x === undefined || v === null || !(v < x)) return false;
  }
  if (c.within) {
    if (baseline === null || baseline === undefined || v === null) return false;
    const tol = c.within.kind === 'percent' ? (Math.abs(baseline) * c.within.value) / 100 : c.within.value;
    if (Math.abs(v - baseline) > tol) return false;
  }
  return true;
}

const boundText = (b: Bound) =>
  b.kind === 'absolute'
    ? String(b.value)
    : b.kind === 'percent'
      ? `${b.value}% of baseline`
      : `baseline ${b.value < 0 ? '-' : '+'} ${Math.abs(b.value)}`;

/** The criterion as a person reads it: "web above baseline + 100 for 3 samples". */
export function describe(c: Criterion): string {
  const parts: string[] = [];
  if (c.ok !== undefined) parts.push(c.ok ? 'ok' : 'failing');
  if (c.above) parts.push(`above ${boundText(c.above)}`);
  if (c.below) parts.push(`below ${boundText(c.below)}`);
  if (c.within) parts.push(`within ${c.within.kind === 'percent' ? `${c.within.value}%` : c.within.value} of baseline`);
  return `${c.probe} ${parts.join(' and ')}${c.for > 1 ? ` for ${c.for} samples` : ''}`;
}

/** A criterion watched over a probe's samples: held once N samples in a row hold it, from a start time on. */
export class Watch {
  private run = 0;
  /** when it first held (the time of the sample that completed the N) */
  heldAt?: number;

  constructor(
    readonly c: Criterion,
    private readonly baseline: () => number | null | undefined,
    /** samples before this time do not count */
    public since = 0,
  ) {}

  /** One sample against an absolute criterion (the steady state: no baseline yet). */
  static holdsOne(c: Criterion, s: Sample): boolean {
    return holds(c, s, undefined);
  }

  /** Feed one sample; true when the criterion holds now (N in a row). */
  push(s: Sample): boolean {
    if (s.t < this.since) return false;
    this.run = holds(this.c, s, this.baseline()) ? this.run + 1 : 0;
    if (this.run >= this.c.for) {
      this.heldAt ??= s.t;
      return true;
    }
    return false;
  }

  /** Start over from time t (e.g. recovery counts from the faults' end). */
  reset(since: number): void {
    this.run = 0;
    this.heldAt = undefined;
    this.since = since;
  }

  get holding(): boolean {
    return this.run >= this.c.for;
  }
}
