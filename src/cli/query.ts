import { Flags } from '@oclif/core';
import pidusage from 'pidusage';
import { badArgs } from '../errors';
import { allTagged } from '../host/procs';
import { formatBytes, shown } from '../util/units';
import { ChaosCommand, dataDirFlag, jsonFlag } from './base';
import { experimentJson, table } from './present';
import { callDaemon, clientFlags } from './client';
import { scheduleJson } from '../engine/schedules';

const STATUSES = ['created', 'success', 'error', 'destroyed'];

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
    offset: Flags.string({ char: 'o', description: 'skip this many (default 0)' }),
    limit: Flags.string({ char: 'l', description: 'show at most this many, 0 = all (default 10)' }),
    all: Flags.boolean({ char: 'a', description: 'show every column, the live effect and helper processes (CPU %, RSS)' }),
    format: Flags.string({ description: 'table (default) or json' }),
    schedules: Flags.boolean({ description: 'list the registered schedules instead of experiments' }),
    json: jsonFlag,
    'data-dir': dataDirFlag,
    ...clientFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Query);
    const format = flags.json ? 'json' : flags.format ?? 'table';
    if (format !== 'table' && format !== 'json') throw badArgs(`--format must be table or json, got ${shown(format)}`);
    if (flags.status && !STATUSES.includes(flags.status)) throw badArgs(`--status must be one of ${STATUSES.join(', ')}, got ${shown(flags.status)}`);
    const remote = flags.server ? { server: flags.server, tokenFile: flags['token-file'], dataDir: flags['data-dir'] } : undefined;
    if (flags.schedules) {
      const list = remote
        ? (await callDaemon(remote, 'v1/schedule/query', {})).schedules as ReturnType<typeof scheduleJson>[]
        : this.engine(flags['data-dir']).store.schedules().map(scheduleJson);
      if (format === 'json') this.out(JSON.stringify({ schedules: list, total: list.length }));
      else {
        this.out(table(['ID', 'TARGET', 'FAULT', 'SCHEDULE', 'DURATION', 'NEXT_RUN', 'LAST_RUN', 'LAST_UID', 'RUNS', 'SKIPS', 'ARGS'],
          list.map((x) => [x.id, x.target, x.fault, x.schedule, x.duration, x.next_run, x.last_run || '-', x.last_uid || '-', String(x.runs), String(x.skips), x.args])));
        this.out(`total: ${list.length}`);
      }
      return;
    }
    const filter = {
      uid: flags.uid, status: flags.status, target: flags.target, fault: flags.fault, creator: flags.creator,
      containerId: flags['container-id'], containerRuntime: flags['container-runtime'],
      offset: uint(flags.offset, 'offset', 0), limit: uint(flags.limit, 'limit', 10),
    };
    if (remote) {
      const data = await callDaemon(remote, 'v1/experiment/query', {
        uid: filter.uid, status: filter.status, target: filter.target, fault: filter.fault, creator: filter.creator,
        container_id: filter.containerId, container_runtime: filter.containerRuntime, offset: filter.offset, limit: filter.limit,
      }) as { experiments: ReturnType<typeof experimentJson>[]; total: number };
      if (format === 'json') this.out(JSON.stringify(data));
      else {
        const headers = ['UID', 'TARGET', 'FAULT', 'STATUS', 'CREATOR', 'TIMEOUT', 'CREATE_TIME', 'UPDATE_TIME'];
        if (flags.all) headers.push('ARGS', 'RUNTIME', 'ERROR');
        this.out(table(headers, data.experiments.map((r) => [r.uid, r.target, r.fault, r.status, r.creator, r.timeout, r.create_time, r.update_time,
          ...(flags.all ? [r.args, r.runtime, r.error || '-'] : [])])));
        this.out(`total: ${data.total}`);
      }
      return;
    }
    const engine = this.engine(flags['data-dir']);
    const { rows, total } = engine.query(filter);
    if (format === 'json') {
      this.out(JSON.stringify({ experiments: rows.map(experimentJson), total }));
      return;
    }
    const headers = ['UID', 'TARGET', 'FAULT', 'STATUS', 'CREATOR', 'TIMEOUT', 'CREATE_TIME', 'UPDATE_TIME'];
    const body = rows.map((r) => [r.uid, r.target, r.fault, r.status, r.creator, r.timeout, r.create_time, r.update_time]);
    if (flags.all) {
      headers.push('DEADLINE', 'PHASE', 'EFFECT', 'HELPERS', 'RECOVER_FAILURES', 'ARGS', 'RUNTIME', 'ERROR');
      const tagged = allTagged();
      const pids = [...tagged.values()].flat().map((p) => p.pid);
      const usage = await liveUsage(pids);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        const effect = r.status === 'destroyed' ? '-' : await engine.effect(r).catch(() => 'unknown');
        const helpers = (tagged.get(r.uid) ?? []).map((p) => {
          const u = usage.get(p.pid);
          return u ? `${p.pid}(cpu ${u.cpu.toFixed(1)}% rss ${formatBytes(u.memory)})` : String(p.pid);
        });
        const failures = r.recover_failures ? `${r.recover_failures}${r.retry_ms && r.status !== 'destroyed' ? ` (next try ${new Date(r.retry_ms).toISOString()})` : ''}` : '0';
        body[i].push(r.deadline ? new Date(r.deadline).toISOString() : '-', r.phase, effect, helpers.join(' ') || '-', failures, r.args, r.runtime, r.error || '-');
      }
    }
    this.out(table(headers, body));
    this.out(`total: ${total}`);
  }
}

/** CPU % over a short window (two samples) and RSS of each pid. */
async function liveUsage(pids: number[]): Promise<Map<number, { cpu: number; memory: number }>> {
  const out = new Map<number, { cpu: number; memory: number }>();
  if (!pids.length) return out;
  try {
    await pidusage(pids);
    await new Promise((r) => setTimeout(r, 300));
    const stats = await pidusage(pids);
    for (const [pid, s] of Object.entries(stats)) if (s) out.set(Number(pid), { cpu: s.cpu, memory: s.memory });
  } catch { /* a helper exited between the samples */ } finally { pidusage.clear(); }
  return out;
}
