/**
 * What `query` does once its flags are parsed, and its flags, without oclif: used by the oclif command
 * (cli/query.ts) and by the start-up fast path (cli/fast.ts), so both behave the same.
 */
import type { ChaosApi } from '../api/api';
import { STATUSES } from '../api/api';
import { badArgs } from '../errors';
import { CLIENT_FLAGS, type CliFlags, type ParsedFlags } from '../util/plain-argv';
import { formatBytes, formatTime, shown } from '../util/units';
import { table } from './present';

export const QUERY_FLAGS = {
  uid: { char: 'u', description: 'only this experiment' },
  status: { char: 's', description: `only this status: ${STATUSES.join(', ')}` },
  target: { char: 't', description: 'only this target, e.g. cpu' },
  fault: { char: 'f', description: 'only this fault, e.g. burn' },
  creator: { char: 'c', description: 'only this creator' },
  'container-id': { description: 'only this container' },
  'container-runtime': { description: 'only this container runtime' },
  'parent-uid': { description: 'only the parts of this experiment (kube inject)' },
  offset: { char: 'o', description: 'skip this many (default 0)' },
  limit: { char: 'l', description: 'show at most this many, 0 = all (default 10)' },
  all: {
    char: 'a',
    boolean: true,
    description: 'show every column, the live effect and helper processes (CPU %, RSS)',
  },
  format: { description: 'table (default) or json' },
  schedules: { boolean: true, description: 'list the registered schedules instead of experiments' },
  ...CLIENT_FLAGS,
} satisfies CliFlags;

function uint(raw: string | undefined, flag: string, def: number): number {
  if (raw === undefined) return def;
  if (!/^\d{1,9}$/.test(raw)) throw badArgs(`--${flag} must be a whole number ≥ 0, got ${shown(raw)}`);
  return Number(raw);
}

export async function runQuery(flags: ParsedFlags, api: ChaosApi, out: (line: string) => void): Promise<void> {
  const s = (k: keyof typeof QUERY_FLAGS) => flags[k] as string | undefined;
  const format = flags.json ? 'json' : (s('format') ?? 'table');
  if (format !== 'table' && format !== 'json') throw badArgs(`--format must be table or json, got ${shown(format)}`);
  const status = s('status');
  if (status && !(STATUSES as readonly string[]).includes(status)) {
    throw badArgs(`--status must be one of ${STATUSES.join(', ')}, got ${shown(status)}`);
  }
  if (flags.schedules) {
    const list = await api.schedules();
    if (format === 'json') out(JSON.stringify({ schedules: list, total: list.length }));
    else {
      const headers = [
        'ID',
        'TARGET',
        'FAULT',
        'SCHEDULE',
        'DURATION',
        'NEXT_RUN',
        'LAST_RUN',
        'LAST_UID',
        'RUNS',
        'SKIPS',
        'ARGS',
      ];
      out(
        table(
          headers,
          list.map((x) => [
            x.id,
            x.target,
            x.fault,
            x.schedule,
            x.duration,
            x.next_run,
            x.last_run || '-',
            x.last_uid || '-',
            String(x.runs),
            String(x.skips),
            x.args,
          ]),
        ),
      );
      out(`total: ${list.length}`);
    }
    return;
  }
  const all = flags.all === true;
  const reply = await api.query({
    uid: s('uid'),
    status,
    target: s('target'),
    fault: s('fault'),
    creator: s('creator'),
    containerId: s('container-id'),
    containerRuntime: s('container-runtime'),
    parentUid: s('parent-uid'),
    offset: uint(s('offset'), 'offset', 0),
    limit: uint(s('limit'), 'limit', 10),
    live: all,
  });
  if (format === 'json') {
    out(JSON.stringify(reply));
    return;
  }
  const headers = ['UID', 'TARGET', 'FAULT', 'STATUS', 'CREATOR', 'TIMEOUT', 'CREATE_TIME', 'UPDATE_TIME'];
  if (all) headers.push('DEADLINE', 'PHASE', 'EFFECT', 'HELPERS', 'RECOVER_FAILURES', 'ARGS', 'RUNTIME', 'ERROR');
  const body = reply.experiments.map((r) => {
    const cells = [r.uid, r.target, r.fault, r.status, r.creator, r.timeout, r.create_time, r.update_time];
    const l = r.live;
    if (!all || !l) return cells;
    const helpers = l.helpers.map((p) =>
      p.cpu !== undefined ? `${p.pid}(cpu ${p.cpu.toFixed(1)}% rss ${formatBytes(p.rss ?? 0)})` : String(p.pid),
    );
    // the JSON keeps ISO times; the table shows every time as create_time does (local, the original's layout)
    const local = (iso: string) => (iso ? formatTime(Date.parse(iso)) : '');
    const next = local(l.next_try);
    const failures = l.recover_failures ? `${l.recover_failures}${next ? ` (next try ${next})` : ''}` : '0';
    return [
      ...cells,
      local(l.deadline) || '-',
      l.phase,
      l.effect,
      helpers.join(' ') || '-',
      failures,
      r.args,
      r.runtime,
      r.error || '-',
    ];
  });
  out(table(headers, body));
  out(`total: ${reply.total}`);
}
