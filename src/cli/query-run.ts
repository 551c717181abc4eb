/**
 * What `query` does once its flags are parsed, and its flags, without oclif: used by the oclif command
 * (cli/query.ts) and by the start-up fast path (cli/fast.ts), so both behave the same.
 */
import type { ChaosApi } from '../api/api';
import { STATUSES } from '../api/api';
import { type FlagSpecs, boolean, integer, oneOf, string } from '../util/flags';
import { CLIENT_FLAGS, type RawFlags, outputFlag, outputFormat } from '../util/plain-argv';
import { formatBytes, formatTime } from '../util/units';
import { table } from './present';

export const QUERY_FLAGS = {
  uid: string({ char: 'u', description: 'only this experiment' }),
  status: oneOf(STATUSES, { char: 's', description: `only this status: ${STATUSES.join(', ')}` }),
  target: string({ char: 't', description: 'only this target, e.g. cpu' }),
  fault: string({ char: 'f', description: 'only this fault, e.g. burn' }),
  creator: string({ char: 'c', description: 'only this creator' }),
  'container-id': string({ description: 'only this container' }),
  'container-runtime': string({ description: 'only this container runtime' }),
  'parent-uid': string({ description: 'only the parts of this experiment (kube inject)' }),
  offset: integer({ char: 'o', min: 0, max: 999_999_999, description: 'skip this many (default 0)' }),
  limit: integer({ char: 'l', min: 0, max: 999_999_999, description: 'show at most this many, 0 = all (default 10)' }),
  all: boolean({ char: 'a', description: 'show every column, the live effect and helper processes (CPU %, RSS)' }),
  format: outputFlag({ name: 'format' }),
  schedules: boolean({ description: 'list the registered schedules instead of experiments' }),
  ...CLIENT_FLAGS,
} satisfies FlagSpecs;

export async function runQuery(flags: RawFlags, api: ChaosApi, out: (line: string) => void): Promise<void> {
  const s = (k: keyof typeof QUERY_FLAGS) => flags[k] as string | undefined;
  const format = outputFormat(flags);
  const status = s('status') && QUERY_FLAGS.status.parse(s('status'), 'status');
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
    offset: s('offset') === undefined ? 0 : QUERY_FLAGS.offset.parse(s('offset'), 'offset'),
    limit: s('limit') === undefined ? 10 : QUERY_FLAGS.limit.parse(s('limit'), 'limit'),
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
