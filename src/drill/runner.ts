/**
 * The drill runner: the chaos-engineering lifecycle of one drill.
 *
 *  1. probes start sampling (each on its own clock), traffic starts;
 *  2. steady state: the criteria (default: every probe ok) hold for N samples in a row, else the drill ends as
 *     not-steady and nothing is injected; the baseline is each probe's mean over those samples;
 *  3. faults: lanes side by side, each its steps in order; an inject step is held for its duration and then
 *     recovered; every fault carries a timeout (duration + lease + margin) and a lease the runner renews, so a
 *     runner killed with -9 leaves nothing behind for longer than the lease;
 *  4. measure: the effect point (first time an effect criterion held after the first inject), the detection point
 *     (a Prometheus alert firing, or a probe criterion), the recovery point (after the last fault was recovered, the
 *     recovery criteria held);
 *  5. abort guards: once one holds, every fault is recovered at once and the drill ends as aborted; so does
 *     Ctrl-C (the caller's signal) and `drill abort` (the store's flag, polled);
 *  6. the verdict and the result, kept in the store as it grows.
 * Whatever fails, every fault the drill placed is recovered before run() returns.
 */
import { setMaxListeners } from 'node:events';
import * as os from 'node:os';
import { customAlphabet } from 'nanoid';
import { lazy } from '../util/lazy';
import type { DrillRow, Store } from '../store/store';
import { startTime } from '../host/procs';
import { Watch, describe } from './criteria';
import type { FaultPort, InjectStep, PlacedFault } from './ports';
import { type Sampler, samplerOf } from './probes';
import type { Criterion, Drill } from './schema';
import type { DrillResult, DrillStatus, FaultWindow, Sample, Series } from './types';

const traffic = lazy<typeof import('./traffic')>(() => require('./traffic'));

const newId = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 8);
export const DRILL_ID_RE = /^d-[a-z0-9]{8}$/;

export interface RunnerDeps {
  store: Store;
  host: FaultPort;
  kube: FaultPort;
  /** every event as it happens (the CLI's plain lines) */
  onEvent?: (t: number, text: string) => void;
  /** the result changed (the live view) */
  onUpdate?: (r: DrillResult) => void;
  /** Ctrl-C: recover everything, end as aborted (a string reason is the message) */
  signal?: AbortSignal;
  /** where the runner is: local, or the daemon's address; the schedule that started it */
  server?: string;
  scheduleId?: string;
  /** the drill's source (a file path), for list/show */
  source?: string;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Every fault's safety net beyond its duration: the lease, and this much more. */
const TIMEOUT_MARGIN_MS = 30_000;

export function stepUid(id: string, lane: number, step: number): string {
  return `${id}-${lane + 1}-${step + 1}`;
}

/** The exact injects a run would make, phase by phase: nothing changes, nothing is stored. */
export async function planDrill(
  d: Drill,
  ports: { host: FaultPort; kube: FaultPort },
  id = 'd-dryrun00',
): Promise<string[]> {
  const out: string[] = [];
  out.push(`drill ${d.name}: probes every ${d.interval} ms: ${d.probes.map((p) => p.name).join(', ') || 'none'}`);
  const ss = d.steady_state;
  out.push(
    `steady state: ${ss?.samples ?? 3} samples in a row within ${(ss?.timeout ?? 60_000) / 1000}s: ${
      ss?.criteria.length ? ss.criteria.map(describe).join('; ') : 'every probe ok'
    }`,
  );
  if (d.traffic)
    out.push(
      `traffic: ${d.traffic.method} ${d.traffic.url}, ${d.traffic.rate ? `${d.traffic.rate} req/s, ` : ''}${d.traffic.concurrency} connections`,
    );
  for (const [li, lane] of d.faults.lanes.entries()) {
    out.push(`lane ${lane.name}:`);
    for (const [si, step] of lane.steps.entries()) {
      if ('wait' in step) {
        out.push(`  wait ${step.wait / 1000}s`);
        continue;
      }
      const s = step.inject;
      const o = { parentUid: id, timeoutMs: s.duration + d.faults.lease + TIMEOUT_MARGIN_MS, leaseMs: d.faults.lease };
      const port = s.kube ? ports.kube : ports.host;
      const lines = await port.plan(s, stepUid(id, li, si), o);
      out.push(`  hold ${s.duration / 1000}s: ${lines[0]}`, ...lines.slice(1).map((l) => `  ${l}`));
    }
  }
  const m = d.measure;
  if (m.effect)
    out.push(
      `effect: any of ${m.effect.criteria.map(describe).join('; ')} within ${m.effect.within / 1000}s of the first inject`,
    );
  if (m.detection)
    out.push(
      `detection: ${m.detection.alert ? `alert ${m.detection.alert} firing at ${m.detection.prometheus}` : describe(m.detection.criterion!)} within ${m.detection.within / 1000}s`,
    );
  if (m.recovery)
    out.push(
      `recovery: all of ${m.recovery.criteria.map(describe).join('; ')} within ${m.recovery.within / 1000}s of the faults' end`,
    );
  for (const c of d.abort) out.push(`abort guard: ${describe(c)}`);
  return out;
}

/** Is the drill's runner still alive? (its pid, and the same process: start time) */
export function runnerAlive(row: Pick<DrillRow, 'runner_pid' | 'runner_start'>): boolean {
  if (!row.runner_pid) return false;
  const st = startTime(row.runner_pid);
  return st !== undefined && (row.runner_start === null || st === row.runner_start);
}

export class DrillRun {
  readonly id: string;
  readonly result: DrillResult;
  private readonly series = new Map<string, Series>();
  private readonly samplers = new Map<string, Sampler>();
  private readonly placed = new Map<string, { fault: PlacedFault; window: FaultWindow }>();
  /** ends everything: abort guard, Ctrl-C, drill abort, an error */
  private readonly stop = new AbortController();
  /** probes and traffic sampling */
  private readonly sampling = new AbortController();
  private stopReason?: { status: DrillStatus; message: string };
  private baseline: Record<string, number | null> = {};
  private lastSaved = 0;
  private abortGuards: Watch[] = [];
  private effect: Watch[] = [];
  private detection?: Watch;
  private recovery: Watch[] = [];
  private sampleWaiters: Array<() => void> = [];

  constructor(
    readonly drill: Drill,
    private readonly deps: RunnerDeps,
    id?: string,
  ) {
    this.id = id ?? `d-${newId()}`;
    // every probe loop (and the traffic, renewals, abort poll) sleeps on these: more than Node's default 10 listeners
    // is no leak here (a drill with 11 probes printed MaxListenersExceededWarning)
    setMaxListeners(0, this.stop.signal, this.sampling.signal);
    const now = Date.now();
    this.result = {
      id: this.id,
      name: drill.name,
      status: 'running',
      message: 'steady state: sampling',
      started: now,
      phase: 'steady-state',
      points: {},
      durations: {},
      baseline: {},
      expectations: [],
      faults: [],
      series: [],
      events: [],
      runner: { host: os.hostname(), pid: process.pid, server: deps.server, schedule_id: deps.scheduleId },
    };
  }

  private event(text: string): void {
    const t = Date.now();
    this.result.events.push({ t, text });
    if (this.result.events.length > 5000) this.result.events.splice(0, 1000);
    this.deps.onEvent?.(t, text);
  }

  /** The result to the live view and the store; never throws (a store that fails must not stop the recovery). */
  private save(force = false): void {
    const now = Date.now();
    try {
      this.deps.onUpdate?.(this.result);
      if (!force && now - this.lastSaved < 2000) return;
      this.lastSaved = now;
      this.deps.store.updateDrill(this.id, {
        status: this.result.status,
        result: JSON.stringify(this.result),
        update_ms: now,
      });
    } catch (e) {
      if (!this.saveFailed) this.event(`the drill's record could not be saved: ${(e as Error).message}`);
      this.saveFailed = true;
    }
  }
  private saveFailed = false;

  private end(status: DrillStatus, message: string): void {
    if (this.stopReason) return;
    this.stopReason = { status, message };
    this.event(`${status}: ${message}`);
    this.stop.abort();
  }

  private seriesOf(name: string, kind: Series['kind'], unit: string): Series {
    let s = this.series.get(name);
    if (!s) {
      s = { name, kind, unit, samples: [] };
      this.series.set(name, s);
      this.result.series.push(s);
    }
    return s;
  }

  /** A sample arrived: judge every watch on its probe. */
  private push(name: string, s: Sample): void {
    const series = this.series.get(name)!;
    series.samples.push(s);
    // abort guards watch while faults are (or were just) in place: from the first inject on
    if (this.result.points.inject !== undefined && this.result.phase !== 'measure') {
      for (const [i, g] of this.abortGuards.entries())
        if (g.c.probe === name && g.push(s)) {
          this.result.points.abort ??= s.t;
          this.end('aborted', `abort guard ${i + 1} held: ${describe(g.c)}`);
        }
    }
    if (this.result.points.inject !== undefined) {
      const inject = this.result.points.inject;
      const inTime = (within: number | undefined) => within === undefined || s.t <= inject + within;
      for (const w of this.effect)
        if (
          w.c.probe === name &&
          w.push(s) &&
          this.result.points.effect === undefined &&
          inTime(this.drill.measure.effect?.within)
        ) {
          this.result.points.effect = w.heldAt;
          this.event(
            `effect: ${describe(w.c)} (${((w.heldAt! - this.result.points.inject) / 1000).toFixed(1)} s after the inject)`,
          );
        }
      if (
        this.detection &&
        this.detection.c.probe === name &&
        this.detection.push(s) &&
        this.result.points.detection === undefined &&
        inTime(this.drill.measure.detection?.within)
      ) {
        this.result.points.detection = this.detection.heldAt;
        this.event(
          `detected: ${describe(this.detection.c)} (${((this.detection.heldAt! - this.result.points.inject) / 1000).toFixed(1)} s after the inject)`,
        );
      }
    }
    if (this.result.points.recovered !== undefined && this.result.points.recovery === undefined) {
      for (const w of this.recovery) if (w.c.probe === name) w.push(s);
      if (this.recovery.length && this.recovery.every((w) => w.holding)) {
        // the moment all hold at once: this sample completed the last of them
        this.result.points.recovery = s.t;
        this.event(`recovered: ${this.recovery.map((w) => describe(w.c)).join('; ')}`);
      }
    }
    for (const w of this.sampleWaiters.splice(0)) w();
    this.save();
  }

  private nextSample(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.sampleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async probeLoop(p: Drill['probes'][number], sampler: Sampler): Promise<void> {
    const every = p.interval ?? this.drill.interval;
    const signal = this.sampling.signal;
    while (!signal.aborted) {
      const t0 = Date.now();
      const r = await sampler.sample();
      if (signal.aborted) break;
      // stamped when the probe asked (a slow answer tells of the moment it was sent: an effect is seen at the first
      // request sent after the inject, not when its slow answer came)
      this.push(p.name, { t: t0, value: r.value, ok: r.ok, ...(r.error ? { error: r.error } : {}) });
      await sleep(every - (Date.now() - t0), signal);
    }
  }

  private async trafficLoop(run: import('./traffic').TrafficRun): Promise<void> {
    const signal = this.sampling.signal;
    for (const [n, unit] of [
      ['traffic.rps', 'req/s'],
      ['traffic.success', '%'],
      ['traffic.p50', 'ms'],
      ['traffic.p99', 'ms'],
    ] as const)
      this.seriesOf(n, 'traffic', unit);
    while (!signal.aborted) {
      await sleep(this.drill.interval, signal);
      if (signal.aborted) break;
      const tick = run.take();
      const t = Date.now();
      // nothing finished in a tick where requests were due (hung on a dead service): none succeeded
      const due = (this.drill.traffic?.rate ?? Infinity) * (this.drill.interval / 1000) >= 1;
      const has = tick.sent > 0 || due;
      this.push('traffic.rps', { t, value: tick.rps, ok: true });
      this.push('traffic.success', { t, value: has ? tick.success : null, ok: has && tick.success === 100 });
      this.push('traffic.p50', { t, value: tick.p50, ok: tick.p50 !== null });
      this.push('traffic.p99', { t, value: tick.p99, ok: tick.p99 !== null });
    }
  }

  /** Wait for the steady state; sets the baseline. */
  private async steadyState(): Promise<boolean> {
    const ss = this.drill.steady_state ?? { samples: 3, timeout: 60_000, criteria: [] as Criterion[] };
    const names = [...this.series.keys()];
    const criteria: Criterion[] = ss.criteria.length
      ? ss.criteria
      : names
          .filter((n) => !n.startsWith('traffic.') && !n.startsWith('alert.'))
          .map((probe) => ({ probe, ok: true, for: 1 }));
    const deadline = this.result.started + ss.timeout;
    const window = (name: string) => this.series.get(name)!.samples.slice(-ss.samples);
    for (;;) {
      if (this.stop.signal.aborted) return false;
      const ready = names.every((n) => n.startsWith('alert.') || this.series.get(n)!.samples.length >= ss.samples);
      // the detection alert must not be firing before anything is injected (a detection at 0 s would be someone
      // else's alert, or the last run's)
      const quiet = names
        .filter((n) => n.startsWith('alert.'))
        .every((n) => {
          const last = this.series.get(n)!.samples.at(-1);
          return last !== undefined && !last.ok;
        });
      if (ready && quiet && criteria.every((c) => window(c.probe).every((s) => Watch.holdsOne(c, s)))) break;
      if (Date.now() > deadline) {
        const failing = criteria.filter((c) => !window(c.probe).every((s) => Watch.holdsOne(c, s)));
        this.result.expectations.push({
          name: 'steady-state',
          passed: false,
          message: `not in steady state within ${ss.timeout / 1000}s: ${failing.map(describe).join('; ') || 'too few samples'}`,
        });
        this.end('not-steady', `not in steady state within ${ss.timeout / 1000}s; nothing injected`);
        return false;
      }
      await this.nextSample(1000);
    }
    for (const n of names) {
      const vals = window(n)
        .map((s) => s.value)
        .filter((v): v is number => v !== null);
      this.baseline[n] = mean(vals);
    }
    this.result.baseline = { ...this.baseline };
    this.result.points.steady = Date.now();
    this.result.expectations.push({
      name: 'steady-state',
      passed: true,
      message: `${ss.samples} samples in a row held: ${criteria.map(describe).join('; ') || 'no probes'}`,
      at: this.result.points.steady,
    });
    this.event(
      `steady state: baseline ${Object.entries(this.baseline)
        .map(([k, v]) => `${k}=${v === null ? '-' : +v.toFixed(2)}`)
        .join(' ')}`,
    );
    return true;
  }

  private async lane(li: number): Promise<void> {
    const lane = this.drill.faults.lanes[li];
    for (const [si, step] of lane.steps.entries()) {
      if (this.stop.signal.aborted) return;
      if ('wait' in step) {
        this.event(`lane ${lane.name}: wait ${step.wait / 1000}s`);
        await sleep(step.wait, this.stop.signal);
        continue;
      }
      const s: InjectStep = step.inject;
      const uid = stepUid(this.id, li, si);
      const window: FaultWindow = {
        lane: lane.name,
        step: si,
        uid,
        target: s.target,
        fault: s.fault,
        where: s.kube ? 'kube' : s.container_id ? `container ${s.container_id}` : 'host',
        command: '',
        state: 'injecting',
      };
      this.result.faults.push(window);
      this.event(`lane ${lane.name}: inject ${s.target} ${s.fault} (${uid})`);
      const port = s.kube ? this.deps.kube : this.deps.host;
      let fault: PlacedFault;
      try {
        fault = await port.inject(s, uid, {
          parentUid: this.id,
          timeoutMs: s.duration + this.drill.faults.lease + TIMEOUT_MARGIN_MS,
          leaseMs: this.drill.faults.lease,
        });
      } catch (e) {
        window.state = 'failed';
        window.message = (e as Error).message;
        this.result.expectations.push({
          name: 'faults',
          passed: false,
          message: `${uid}: inject failed: ${window.message}`,
        });
        this.end('error', `lane ${lane.name}: ${s.target} ${s.fault} did not inject: ${window.message}`);
        return;
      }
      window.start = Date.now();
      window.state = 'injected';
      window.where = fault.where;
      window.command = fault.command;
      this.placed.set(uid, { fault, window });
      if (this.result.points.inject === undefined) {
        this.result.points.inject = window.start;
        for (const w of [...this.effect, ...(this.detection ? [this.detection] : [])]) w.reset(window.start);
      }
      this.save(true);
      await sleep(s.duration, this.stop.signal);
      await this.recoverOne(uid);
    }
  }

  private async recoverOne(uid: string): Promise<void> {
    const p = this.placed.get(uid);
    if (!p || p.window.state !== 'injected') return;
    try {
      await p.fault.recover();
      p.window.end = Date.now();
      p.window.state = 'recovered';
      this.event(`lane ${p.window.lane}: recovered ${p.window.target} ${p.window.fault} (${uid})`);
    } catch (e) {
      p.window.state = 'recover-failed';
      p.window.message = (e as Error).message;
      this.event(`lane ${p.window.lane}: recover of ${uid} failed: ${p.window.message} (its lease still recovers it)`);
    }
    this.save(true);
  }

  /** Recover every fault still in place, at once. */
  private async recoverAll(): Promise<void> {
    await Promise.all([...this.placed.keys()].map((uid) => this.recoverOne(uid)));
  }

  /** Renew every placed fault's lease every third of it. */
  private async renewals(): Promise<void> {
    const every = Math.max(1000, this.drill.faults.lease / 3);
    const signal = this.sampling.signal;
    while (!signal.aborted) {
      await sleep(every, signal);
      if (signal.aborted) break;
      await Promise.all(
        [...this.placed.values()]
          .filter((p) => p.window.state === 'injected')
          .map(async (p) => {
            try {
              await p.fault.renew();
            } catch (e) {
              this.event(`renew of ${p.window.uid} failed: ${(e as Error).message}`);
            }
          }),
      );
    }
  }

  /** The store's abort flag (drill abort ID), polled. */
  private async abortPoll(): Promise<void> {
    const signal = this.sampling.signal;
    while (!signal.aborted) {
      await sleep(1000, signal);
      let row;
      try {
        row = this.deps.store.drill(this.id);
      } catch {
        continue; // the store busy or failing: asked again in a second
      }
      if (row?.abort_requested) this.end('aborted', 'aborted by drill abort');
    }
  }

  /** Run the drill to its end; every fault it placed is recovered when this returns. */
  async run(): Promise<DrillResult> {
    const d = this.drill;
    const now = Date.now();
    this.deps.store.insertDrill({
      id: this.id,
      name: d.name,
      status: 'running',
      spec: JSON.stringify(d),
      result: JSON.stringify(this.result),
      source: this.deps.source ?? '',
      runner_pid: process.pid,
      runner_start: startTime(process.pid) ?? null,
      abort_requested: 0,
      schedule_id: this.deps.scheduleId ?? null,
      create_ms: now,
      update_ms: now,
    });
    // the signal's reason when it gives one (the daemon stopping), else Ctrl-C
    const onSignal = () =>
      this.end(
        'aborted',
        typeof this.deps.signal?.reason === 'string' ? this.deps.signal.reason : 'interrupted (Ctrl-C)',
      );
    this.deps.signal?.addEventListener('abort', onSignal, { once: true });
    if (this.deps.signal?.aborted) onSignal();
    this.event(`drill ${d.name} (${this.id}) started`);
    const loops: Array<Promise<void>> = [];
    // a loop that fails (the store, a probe's own bug) ends the drill as an error: never an unhandled rejection
    const loop = (p: Promise<void>) => loops.push(p.catch((e: unknown) => this.end('error', (e as Error).message)));
    let trafficRun: import('./traffic').TrafficRun | undefined;
    try {
      for (const p of d.probes) {
        const sampler = samplerOf(p);
        this.samplers.set(p.name, sampler);
        this.seriesOf(p.name, probeKind(p), sampler.unit);
      }
      const det = d.measure.detection;
      if (det?.alert) {
        const name = `alert.${det.alert}`;
        const sampler = samplerOf({
          name,
          prometheus: {
            url: det.prometheus!,
            query: `ALERTS{alertname=${JSON.stringify(det.alert)},alertstate="firing"}`,
            timeout: 5000,
          },
        });
        this.samplers.set(name, sampler);
        this.seriesOf(name, 'prometheus', 'firing');
        this.detection = new Watch({ probe: name, ok: true, for: 1 }, () => null);
      } else if (det?.criterion) this.detection = new Watch(det.criterion, () => this.baseline[det.criterion!.probe]);
      this.effect = (d.measure.effect?.criteria ?? []).map((c) => new Watch(c, () => this.baseline[c.probe]));
      this.recovery = (d.measure.recovery?.criteria ?? []).map((c) => new Watch(c, () => this.baseline[c.probe]));
      this.abortGuards = d.abort.map((c) => new Watch(c, () => this.baseline[c.probe]));
      for (const [name, sampler] of this.samplers)
        loop(this.probeLoop(d.probes.find((p) => p.name === name) ?? { name }, sampler));
      if (d.traffic) {
        const run = traffic().startTraffic(d.traffic);
        trafficRun = run;
        loop(this.trafficLoop(run));
      }
      loop(this.renewals());
      loop(this.abortPoll());

      if (await this.steadyState()) {
        this.result.phase = 'faults';
        this.result.message = 'faults';
        this.save(true);
        // every lane to its end (one that failed ends the drill; the others stop at their next step)
        const lanes = await Promise.allSettled(d.faults.lanes.map((_, li) => this.lane(li)));
        for (const l of lanes)
          if (l.status === 'rejected') this.end('error', String((l.reason as Error)?.message ?? l.reason));
        this.result.phase = 'recovering';
        await this.recoverAll();
        if (!this.stopReason || this.stopReason.status !== 'not-steady') {
          const injected = this.result.faults.filter((f) => f.start !== undefined);
          if (injected.length) this.result.points.recovered = Math.max(...injected.map((f) => f.end ?? Date.now()));
          for (const w of this.recovery) w.reset(this.result.points.recovered ?? Date.now());
        }
        if (!this.stopReason) await this.measure();
      }
    } catch (e) {
      this.end('error', (e as Error).message);
    } finally {
      await this.recoverAll().catch(() => undefined);
      this.sampling.abort();
      this.deps.signal?.removeEventListener('abort', onSignal);
      const summary = await trafficRun?.stop().catch(() => undefined);
      if (summary)
        this.event(
          `traffic: ${summary.sent} requests, ${summary.errors + summary.non2xx + summary.timeouts} failed, p99 ${summary.p99 ?? '-'} ms`,
        );
      await Promise.all(loops).catch(() => undefined);
      for (const s of this.samplers.values()) s.close();
    }
    this.verdict();
    this.save(true);
    return this.result;
  }

  /** After the faults: wait for what is still to be seen (effect, detection, recovery) within its window. */
  private async measure(): Promise<void> {
    const m = this.drill.measure;
    const p = this.result.points;
    this.result.phase = 'measure';
    this.save(true);
    for (;;) {
      if (this.stop.signal.aborted) return;
      const now = Date.now();
      const waitEffect =
        m.effect && p.effect === undefined && p.inject !== undefined && now < p.inject + m.effect.within;
      const waitDetect =
        m.detection && p.detection === undefined && p.inject !== undefined && now < p.inject + m.detection.within;
      const waitRecovery =
        m.recovery && p.recovery === undefined && p.recovered !== undefined && now < p.recovered + m.recovery.within;
      if (!waitEffect && !waitDetect && !waitRecovery) return;
      await this.nextSample(1000);
    }
  }

  private verdict(): void {
    const r = this.result;
    const m = this.drill.measure;
    const p = r.points;
    r.ended = Date.now();
    r.phase = 'done';
    if (p.effect !== undefined && p.inject !== undefined) r.durations.effect_ms = p.effect - p.inject;
    if (p.detection !== undefined && p.inject !== undefined) r.durations.detect_ms = p.detection - p.inject;
    if (p.recovery !== undefined && p.recovered !== undefined)
      r.durations.recover_ms = Math.max(0, p.recovery - p.recovered);
    const leftover = r.faults.filter((f) => f.state === 'recover-failed' || f.state === 'injected');
    if (leftover.length)
      r.expectations.push({
        name: 'faults',
        passed: false,
        message: `not recovered by the runner (their leases recover them): ${leftover.map((f) => f.uid).join(', ')}`,
      });
    const injected = p.inject !== undefined;
    const expect: Array<[string, boolean, string, number | undefined, DrillStatus]> = [];
    if (m.effect && injected)
      expect.push([
        'effect',
        p.effect !== undefined,
        p.effect !== undefined
          ? `seen ${((p.effect - p.inject!) / 1000).toFixed(1)} s after the inject`
          : `not seen within ${m.effect.within / 1000}s of the inject: ${m.effect.criteria.map(describe).join('; ')}`,
        p.effect,
        'no-effect',
      ]);
    if (m.detection && injected)
      expect.push([
        'detection',
        p.detection !== undefined,
        p.detection !== undefined
          ? `detected ${((p.detection - p.inject!) / 1000).toFixed(1)} s after the inject`
          : `not detected within ${m.detection.within / 1000}s of the inject`,
        p.detection,
        'not-detected',
      ]);
    if (m.recovery && p.recovered !== undefined)
      expect.push([
        'recovery',
        p.recovery !== undefined,
        p.recovery !== undefined
          ? `back ${((p.recovery - p.recovered) / 1000).toFixed(1)} s after the faults were recovered`
          : `not back within ${m.recovery.within / 1000}s: ${m.recovery.criteria.map(describe).join('; ')}`,
        p.recovery,
        'not-recovered',
      ]);
    for (const [name, passed, message, at] of expect)
      r.expectations.push({ name, passed, message, ...(at ? { at } : {}) });
    for (const [i, g] of this.abortGuards.entries())
      r.expectations.push({
        name: `abort:${i + 1}`,
        passed: g.heldAt === undefined,
        message: g.heldAt === undefined ? `never held: ${describe(g.c)}` : `held: ${describe(g.c)}`,
        ...(g.heldAt ? { at: g.heldAt } : {}),
      });
    if (leftover.length) {
      // a fault the runner could not take back outranks every other verdict (its lease recovers it)
      r.status = 'error';
      r.message = `faults not recovered by the runner: ${leftover.map((f) => f.uid).join(', ')}${
        this.stopReason ? ` (after: ${this.stopReason.status}: ${this.stopReason.message})` : ''
      }`;
    } else if (this.stopReason) {
      r.status = this.stopReason.status;
      r.message = this.stopReason.message;
    } else {
      const failed = expect.find(([, passed]) => !passed);
      r.status = failed ? failed[4] : 'passed';
      r.message = failed ? `${failed[0]}: ${failed[2]}` : 'every expectation held';
    }
  }
}

function probeKind(p: Drill['probes'][number]): Series['kind'] {
  for (const k of ['http', 'tcp', 'command', 'prometheus', 'kube', 'host'] as const) if (p[k]) return k;
  return 'command';
}
