import { Flags } from '@oclif/core';
import { badArgs } from '../errors';
import { formatBytes, shown } from '../util/units';
import { ChaosCommand, clientFlags, dataDirFlag, jsonFlag } from '../oclif/base';
import { table } from './present';
import { STATUSES } from '../api/api';

function uint(raw: string | undefined, flag: string, def: number): number {
  if (raw === undefined) return def;
  if (!/^\d{1,9}$/.test(raw)) throw badArgs(`--${flag} must be a whole number ≥ 0, got ${shown(raw)}`);
  return Number(raw);
}

export default class Query extends ChaosCommand {
  static override summary = 'List experiments, newest first';
  static override examples = [
    'chaosmetad query',
    'chaosmetad query --uid cpu-test-1 --format json',
    'chaosmetad query -s success -t cpu --all',
  ];
  static override flags = {
    uid: Flags.string({ char: 'u', description: 'only this experiment' }),
    status: Flags.string({ char: 's', description: `only this status: ${STATUSES.join(', ')}` }),
    target: Flags.string({ char: 't', description: 'only this target, e.g. cpu' }),
    fault: Flags.string({ char: 'f', description: 'only this fault, e.g. burn' }),
    creator: Flags.string({ char: 'c', description: 'only this creator' }),
    'container-id': Flags.string({ description: 'only this container' }),
    'container-runtime': Flags.string({ description: 'only this container runtime' }),
    'parent-uid': Flags.string({ description: 'only the parts of this experiment (kube inject)' }),
    offset: Flags.string({ char: 'o', description: 'skip this many (default 0)' }),
    limit: Flags.string({ char: 'l', description: 'show at most this many, 0 = all (default 10)' }),
    all: Flags.boolean({
      char: 'a',
      description: 'show every column, the live effect and helper processes (CPU %, RSS)',
    }),
    format: Flags.string({ description: 'table (default) or json' }),
    schedules: Flags.boolean({ description: 'list the registered schedules instead of experiments' }),
    json: jsonFlag,
    'data-dir': dataDirFlag,
    ...clientFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Query);
    const format = flags.json ? 'json' : (flags.format ?? 'table');
    if (format !== 'table' && format !== 'json') throw badArgs(`--format must be table or json, got ${shown(format)}`);
    if (flags.status && !(STATUSES as readonly string[]).includes(flags.status)) {
      throw badArgs(`--status must be one of ${STATUSES.join(', ')}, got ${shown(flags.status)}`);
    }
    const api = this.api(flags);
    if (flags.schedules) {
      const list = await api.schedules();
      if (format === 'json') this.out(JSON.stringify({ schedules: list, total: list.length }));
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
        this.out(
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
        this.out(`total: ${list.length}`);
      }
      return;
    }
    const reply = await api.query({
      uid: flags.uid,
      status: flags.status,
      target: flags.target,
      fault: flags.fault,
      creator: flags.creator,
      containerId: flags['container-id'],
      containerRuntime: flags['container-runtime'],
      parentUid: flags['parent-uid'],
      offset: uint(flags.offset, 'offset', 0),
      limit: uint(flags.limit, 'limit', 10),
      live: flags.all,
    });
    if (format === 'json') {
      this.out(JSON.stringify(reply));
      return;
    }
    const headers = ['UID', 'TARGET', 'FAULT', 'STATUS', 'CREATOR', 'TIMEOUT', 'CREATE_TIME', 'UPDATE_TIME'];
    if (flags.all)
      headers.push('DEADLINE', 'PHASE', 'EFFECT', 'HELPERS', 'RECOVER_FAILURES', 'ARGS', 'RUNTIME', 'ERROR');
    const body = reply.experiments.map((r) => {
      const cells = [r.uid, r.target, r.fault, r.status, r.creator, r.timeout, r.create_time, r.update_time];
      const l = r.live;
      if (!flags.all || !l) return cells;
      const helpers = l.helpers.map((p) =>
        p.cpu !== undefined ? `${p.pid}(cpu ${p.cpu.toFixed(1)}% rss ${formatBytes(p.rss ?? 0)})` : String(p.pid),
      );
      const failures = l.recover_failures
        ? `${l.recover_failures}${l.next_try ? ` (next try ${l.next_try})` : ''}`
        : '0';
      return [
        ...cells,
        l.deadline || '-',
        l.phase,
        l.effect,
        helpers.join(' ') || '-',
        failures,
        r.args,
        r.runtime,
        r.error || '-',
      ];
    });
    this.out(table(headers, body));
    this.out(`total: ${reply.total}`);
  }
}
