/** How long finished experiments are kept: the retention's settings, from the environment or the daemon's flags. */
import { badArgs } from '../errors';
import { DEFAULT_RETENTION, type Retention } from '../store/store';
import { parseDuration, parseInteger, shown } from '../util/units';

/** What the two settings are called in errors: the environment variables, or the daemon's flags. */
export interface RetentionNames {
  age: string;
  rows: string;
}

/**
 * The retention of finished experiments: CHAOSMETAD_RETENTION (a duration, e.g. 30d; 0 = no age limit) and
 * CHAOSMETAD_RETENTION_ROWS (0 = no count limit), else 30 days and 100 000 rows, whichever is hit first.
 */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): Retention {
  return parseRetention(env.CHAOSMETAD_RETENTION, env.CHAOSMETAD_RETENTION_ROWS);
}

/** A retention from its two settings (undefined or '' = the default), each named as given in errors. */
export function parseRetention(
  age: string | undefined,
  rows: string | undefined,
  names: RetentionNames = { age: 'CHAOSMETAD_RETENTION', rows: 'CHAOSMETAD_RETENTION_ROWS' },
): Retention {
  const r = { ...DEFAULT_RETENTION };
  if (age !== undefined && age !== '') {
    if (!/^\d+(\.\d+)?(us|ms|s|m|h|d)?$/.test(age.trim()))
      throw badArgs(`${names.age} must be a duration like 30d, 12h or 90m (0 = no age limit), got ${shown(age)}`);
    r.maxAgeMs = parseDuration(age, names.age.replace(/^--/, ''), 'd');
  }
  if (rows !== undefined && rows !== '') r.maxRows = parseInteger(rows, names.rows.replace(/^--/, ''), 0, 1e12 - 1);
  return r;
}
