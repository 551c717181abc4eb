/**
 * What a drill produces: its samples, its fault windows, its points in time and its verdict. The runner
 * (drill/runner.ts) fills a DrillResult as it goes; the store keeps it (the drills table); drill/report.ts renders it
 * as result.json, report.md, junit.xml and report.html.
 */
import { DRILL_STATUSES } from '../api/api';
import type { ProbeKind } from './schema';

/** One sample of a probe (or of the traffic): when (epoch ms), its value (absent when it failed), whether it held. */
export interface Sample {
  t: number;
  /** the number the probe reads (latency ms, exit code, PromQL value, ready pods, CPU %…); null when it failed */
  value: number | null;
  /** the probe's own expectation met (status, body, exit 0, a sample returned…) */
  ok: boolean;
  error?: string;
}

export interface Series {
  /** the probe's name; traffic series are traffic.rps, traffic.success, traffic.p50, traffic.p99 */
  name: string;
  kind: ProbeKind | 'traffic';
  /** ms, %, req/s, pods, exit, … (for axes and tables) */
  unit: string;
  samples: Sample[];
}

/** One inject step as it ran: its experiment (or the kube experiment) and its window in time. */
export interface FaultWindow {
  lane: string;
  /** the step's index in its lane */
  step: number;
  /** the experiment's uid (a kube step: the kube experiment's uid, its parts `<uid>-<n>`) */
  uid: string;
  target: string;
  fault: string;
  /** where: "host", "container <id>", "kube <selector>" */
  where: string;
  /** the command line a person would type for it */
  command: string;
  /** injected (epoch ms); absent: the inject failed */
  start?: number;
  /** recovered (epoch ms); absent: still in place (a running drill) */
  end?: number;
  state: 'injecting' | 'injected' | 'recovered' | 'failed' | 'recover-failed';
  message?: string;
}

/** The verdict: passed, or why not (each has its exit code: DRILL_EXIT). */
export { DRILL_STATUSES };
export type DrillStatus = (typeof DRILL_STATUSES)[number];

/** Exit codes of `drill run` (README's table): the verdict, told apart. 1: the drill file is invalid. */
export const DRILL_EXIT: Record<Exclude<DrillStatus, 'running'>, number> = {
  passed: 0,
  'not-steady': 10,
  'no-effect': 11,
  'not-detected': 12,
  'not-recovered': 13,
  aborted: 14,
  error: 15,
};

export interface Expectation {
  /** steady-state, effect, detection, recovery, abort:<n>, faults */
  name: string;
  passed: boolean;
  /** what was seen, for a person: "web latency above +100 held at 12:00:03 (2.1 s after the inject)" */
  message: string;
  /** when it held (epoch ms), if it did */
  at?: number;
}

/** The points in time (epoch ms) a drill measures. */
export interface DrillPoints {
  /** the steady state confirmed (the baseline's last sample) */
  steady?: number;
  /** the first fault injected */
  inject?: number;
  /** the effect criterion first held after the inject */
  effect?: number;
  /** the detection source fired */
  detection?: number;
  /** the last fault recovered */
  recovered?: number;
  /** the service back within tolerance of its baseline, after the faults were recovered */
  recovery?: number;
  /** an abort guard held */
  abort?: number;
}

export interface DrillResult {
  id: string;
  name: string;
  status: DrillStatus;
  /** one line: why this status */
  message: string;
  started: number;
  ended?: number;
  /** the phase now (running) or when it ended */
  phase: 'steady-state' | 'faults' | 'recovering' | 'measure' | 'done';
  points: DrillPoints;
  /** time to effect (effect - inject), to detect (detection - inject), to recover (recovery - recovered), ms */
  durations: { effect_ms?: number; detect_ms?: number; recover_ms?: number };
  /** each probe's baseline: the mean of its steady-state samples */
  baseline: Record<string, number | null>;
  expectations: Expectation[];
  faults: FaultWindow[];
  series: Series[];
  /** what happened, in order (the plain log) */
  events: Array<{ t: number; text: string }>;
  /** where it ran: local, or the daemon */
  runner: { host: string; pid: number; server?: string; schedule_id?: string };
}
