// TEMP STUB (not committed)
import type { Traffic } from './schema';
export interface TrafficTick {
  rps: number;
  success: number;
  sent: number;
  p50: number | null;
  p99: number | null;
}
export interface TrafficSummary {
  sent: number;
  ok: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  rps: number;
}
export interface TrafficRun {
  take(): TrafficTick;
  stop(): Promise<TrafficSummary>;
}
export function startTraffic(t: Traffic): TrafficRun {
  void t;
  throw new Error('stub');
}
