import * as fs from 'node:fs';

export interface FsUsage {
  total: number;
  used: number;
  avail: number;
  percent: number;
}

/** Usage of the filesystem holding p, as df computes it: used / (used + available to unprivileged users). */
export function fsUsage(p: string): FsUsage {
  const s = fs.statfsSync(p);
  const total = s.blocks * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  const avail = s.bavail * s.bsize;
  return { total, used, avail, percent: (100 * used) / Math.max(1, used + avail) };
}
