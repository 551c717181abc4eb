import { badArgs } from '../errors';

/** Show a raw user value safely inside an error message (bounded, control characters escaped). */
export function shown(raw: unknown): string {
  let s = typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? String(raw));
  if (s.length > 60) s = s.slice(0, 60) + '…';
  return JSON.stringify(s);
}

/**
 * An integer in min..max, from a CLI string or a JSON number: the one integer parser of every flag (fault flags,
 * query's --limit, kube's --target-count, server's --port…).
 */
export function parseInteger(raw: unknown, flag: string, min: number, max: number): number {
  const bad = () => badArgs(`--${flag} must be an integer in ${min}..${max}, got ${shown(raw)}`);
  const s = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (!/^-?\d{1,15}$/.test(s)) throw bad();
  const n = Number(s);
  if (n < min || n > max) throw bad();
  return n;
}

const DURATION_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration in milliseconds. A bare number takes `defaultUnit` (seconds for timeouts, microseconds for
 * network latency, as the original). Units: us, ms, s, m, h, d.
 */
export function parseDuration(raw: unknown, flag: string, defaultUnit: keyof typeof DURATION_UNITS = 's'): number {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?$/.exec(s);
  if (!m) throw badArgs(`--${flag} must be a duration like 30, 30s, 5m, 2h or 200ms, got ${shown(raw)}`);
  const value = Number(m[1]) * DURATION_UNITS[m[2] ?? defaultUnit];
  if (!Number.isFinite(value) || value > 10 * 365 * 86_400_000) throw badArgs(`--${flag} is too long: ${shown(raw)}`);
  return value;
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  K: 1024,
  KB: 1024,
  M: 1024 ** 2,
  MB: 1024 ** 2,
  G: 1024 ** 3,
  GB: 1024 ** 3,
  T: 1024 ** 4,
  TB: 1024 ** 4,
};

/**
 * A byte count: `512`, `100KB`, `2GB` (binary units, as the original); a bare number takes `defaultUnit`. Strict
 * (the original's --bytes of mem fill and disk fill): only KB, MB, GB or TB, in any case — `100m`, `100b`,
 * `1000B`, `0.5gb` are refused.
 */
export function parseSize(raw: unknown, flag: string, defaultUnit = 'KB', strict = false): number {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const m = strict ? /^(\d+)(kb|mb|gb|tb)?$/i.exec(s) : /^(\d+)\s*([KMGT]?B?|[kmgt]b?)?$/i.exec(s);
  const unit = (m?.[2] || defaultUnit).toUpperCase();
  if (!m || !(unit in SIZE_UNITS)) {
    throw badArgs(
      `--${flag} must be a size like 512KB, 100MB or 2GB (${strict ? 'units KB, MB, GB, TB in any case; ' : ''}bare numbers are ${defaultUnit}), got ${shown(raw)}`,
    );
  }
  const bytes = Number(m[1]) * SIZE_UNITS[unit];
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw badArgs(`--${flag} must be a positive size, got ${shown(raw)}`);
  return bytes;
}

/** A list of CPU ids like `0-2,6`, sorted and without duplicates. */
export function parseCpuList(raw: unknown, flag: string): number[] {
  const s = typeof raw === 'string' ? raw.trim() : typeof raw === 'number' ? String(raw) : '';
  const bad = () => badArgs(`--${flag} must be a CPU list like 0-2,6, got ${shown(raw)}`);
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(s)) throw bad();
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const [a, b] = part.split('-').map(Number);
    const hi = b ?? a;
    if (hi < a || hi - a > 4096 || hi > 4095) throw bad();
    for (let i = a; i <= hi; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)}${units[i]}`;
}

/**
 * 1234567 -> "1,234,567". Not toLocaleString: that loads ICU's locale data, ~30 ms at start-up (it ran while the
 * fault registry was imported, on every command).
 */
export function thousands(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const pad = (n: number) => String(n).padStart(2, '0');
/** The original's time layout: `2006-01-02 15:04:05`, local time (every time a table shows). */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
