// TEMP STUB (not committed)
import type { DrillResult } from './types';
export function resultJson(r: DrillResult): Record<string, unknown> {
  return { ...r };
}
export function writeReports(r: DrillResult, dir: string): string[] {
  void r;
  return [dir];
}
export function summaryLines(r: DrillResult): string[] {
  return [`${r.status}: ${r.message}`];
}
