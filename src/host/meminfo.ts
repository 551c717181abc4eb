import * as fs from 'node:fs';

/** /proc/meminfo in bytes, keyed by field name (MemTotal, MemAvailable, Shmem, …). */
export function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?: kB)?/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * (line.includes(' kB') ? 1024 : 1);
  }
  return out;
}

/** Used memory as `free` shows it: total minus available. */
export function memUsedPercent(m = meminfo()): number {
  return (100 * (m.MemTotal - m.MemAvailable)) / m.MemTotal;
}
