/**
 * `chaosmetad drill …`: run a drill (steady state, traffic, faults in lanes, measured effect, detection and
 * recovery, abort guards), check a drill file, list the drills run, show one, write its reports again, abort one,
 * run one on a cron schedule in the daemon. The drill layer (src/drill) does the work; these are its adapters.
 */
import * as fs from 'node:fs';
import { Args } from '@oclif/core';
import { ChaosError, badArgs } from '../errors';
import type { DrillApi } from '../drill/api';
import { DRILL_EXIT, type DrillResult } from '../drill/types';
import type { RawFlags } from '../util/plain-argv';
import { lazy } from '../util/lazy';
import { ChaosCommand, cliValues, clientFlags, dataDirFlag, jsonFlag, oclifFlagsOf } from '../oclif/base';
import { boolean, string } from '../util/flags';
import { table } from './present';

// the drill layer (zod, yaml, the runner) is loaded when a drill command runs, not at every start of the CLI
const factory = lazy<typeof import('../drill/factory')>(() => require('../drill/factory'));
const file = lazy<typeof import('../drill/file')>(() => require('../drill/file'));
const report = lazy<typeof import('../drill/report')>(() => require('../drill/report'));
const liveView = lazy<typeof import('../drill/live')>(() => require('../drill/live'));
const openDrillApi = (flags: RawFlags): DrillApi => factory().openDrillApi(flags);
const resultJson = (r: DrillResult) => report().resultJson(r);
const summaryLines = (r: DrillResult) => report().summaryLines(r);
const writeReports = (r: DrillResult, dir: string) => report().writeReports(r, dir);

const where = { 'data-dir': dataDirFlag, ...clientFlags };

const RUN_FLAGS = oclifFlagsOf({
  out: string({ description: 'write result.json, report.html, report.md and junit.xml into this directory' }),
  'dry-run': boolean({ description: 'print the plan (phases, lanes, every exact inject); change nothing' }),
  schedule: string({
    description:
      'register the drill file with the daemon: it runs it on this cron schedule ("0 3 * * *") and keeps each result',
  }),
  plain: boolean({ description: 'timestamped lines, no live view (the default when stdout is not a terminal)' }),
});

const exitFor = (r: DrillResult): ChaosError | undefined => {
  const code = r.status === 'running' ? DRILL_EXIT.error : DRILL_EXIT[r.status];
  return code ? new ChaosError(code, '') : undefined;
};

export class DrillRun extends ChaosCommand {
  static override summary =
    'Run a drill: steady state, traffic, faults in lanes, the measured effect, detection and recovery';
  static override description =
    'Exit codes: 0 passed, 1 the file is invalid, 10 not in steady state (nothing injected), 11 effect never seen, ' +
    '12 not detected, 13 not recovered, 14 aborted (an abort guard, Ctrl-C or drill abort), 15 error. Every fault ' +
    'the drill injects is recovered whatever happens; killed with -9, its faults recover when their leases run out.';
  static override examples = [
    'chaosmetad drill run examples/drills/web-cpu.yaml --out /tmp/drill',
    'chaosmetad drill run drill.yaml --dry-run',
    'chaosmetad drill run /etc/chaosmetad/drills/nightly.yaml --schedule "0 3 * * *" --server unix:/run/chaosmetad.sock',
  ];
  static override args = { file: Args.string({ description: 'the drill file (YAML or JSON)', required: true }) };
  static override flags = { json: jsonFlag, ...RUN_FLAGS, ...where };

  async run(): Promise<void> {
    const { args, flags: parsed } = await this.parse(DrillRun);
    const flags = cliValues(parsed);
    const api = openDrillApi(flags);
    try {
      if (typeof flags.schedule === 'string') {
        if (flags['dry-run']) throw badArgs('--dry-run does not go with --schedule');
        const s = await api.schedule(fs.realpathSync(args.file), flags.schedule);
        this.out(
          flags.json
            ? JSON.stringify(s)
            : `[success] drill schedule ${s.id}: ${s.file} at "${s.cron}", next ${s.next_run ?? '-'}`,
        );
        return;
      }
      const drill = file().loadDrill(args.file);
      if (flags['dry-run']) {
        const plan = await api.plan(drill);
        this.out(flags.json ? JSON.stringify({ dry_run: true, plan }) : plan.join('\n'));
        return;
      }
      const live = !flags.json && !flags.plain && process.stdout.isTTY ? new (liveView().LiveView)(drill) : undefined;
      const stamp = (t: number) => new Date(t).toISOString().slice(11, 23);
      const ac = new AbortController();
      const onInt = () => ac.abort();
      // Ctrl-C, a kill, the terminal closed (SIGHUP): every fault recovered, the report written
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onInt);
      process.on('SIGHUP', onInt);
      let r: DrillResult;
      try {
        r = await api.run(drill, {
          source: fs.realpathSync(args.file),
          signal: ac.signal,
          onStart: (id) =>
            live ? live.start(id) : !flags.json && this.out(`${stamp(Date.now())} drill ${drill.name}: ${id}`),
          onEvent: (t, text) => (live ? live.event(t, text) : !flags.json && this.out(`${stamp(t)} ${text}`)),
          onUpdate: (res) => live?.update(res),
        });
      } finally {
        live?.stop();
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onInt);
        process.off('SIGHUP', onInt);
      }
      if (typeof flags.out === 'string') {
        const files = writeReports(r, flags.out);
        if (!flags.json) this.out(`reports: ${files.join(' ')}`);
      }
      this.out(flags.json ? JSON.stringify(resultJson(r)) : summaryLines(r).join('\n'));
      const e = exitFor(r);
      if (e) throw e;
    } finally {
      api.close();
    }
  }
}

export class DrillValidate extends ChaosCommand {
  static override summary = 'Check a drill file: every problem with its line, column and the accepted form';
  static override examples = ['chaosmetad drill validate examples/drills/web-cpu.yaml'];
  static override args = { file: Args.string({ description: 'the drill file (YAML or JSON)', required: true }) };
  static override flags = { json: jsonFlag };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(DrillValidate);
    let text: string;
    try {
      text = fs.readFileSync(args.file, 'utf8');
    } catch (e) {
      throw badArgs(`cannot read the drill file ${args.file}: ${(e as Error).message}`);
    }
    const r = file().parseDrill(text);
    if ('drill' in r) {
      const d = r.drill;
      const steps = d.faults.lanes.reduce((n, l) => n + l.steps.length, 0);
      this.out(
        flags.json
          ? JSON.stringify({ valid: true, name: d.name })
          : `[success] ${args.file}: drill ${d.name}: ${d.probes.length} probes, ${d.faults.lanes.length} lanes, ${steps} steps`,
      );
      return;
    }
    if (flags.json) this.out(JSON.stringify({ valid: false, problems: r.problems }));
    throw badArgs(
      `${args.file} is not a valid drill (the format: chaosmetad drill schema):\n${file().problemLines(args.file, r.problems).join('\n')}`,
    );
  }
}

export class DrillList extends ChaosCommand {
  static override summary = 'List drills, newest first';
  static override examples = ['chaosmetad drill list'];
  static override flags = {
    json: jsonFlag,
    ...oclifFlagsOf({ limit: string({ description: 'at most this many (default 20)' }) }),
    ...where,
  };
  async run(): Promise<void> {
    const { flags: parsed } = await this.parse(DrillList);
    const flags = cliValues(parsed);
    const api = openDrillApi(flags);
    try {
      const limit = typeof flags.limit === 'string' ? Number(flags.limit) : 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw badArgs(`--limit must be an integer in 1..1000, got ${String(flags.limit)}`);
      const rows = await api.list(limit);
      if (flags.json) return this.out(JSON.stringify({ drills: rows }));
      this.out(
        table(
          ['ID', 'NAME', 'STATUS', 'STARTED', 'ENDED', 'MESSAGE'],
          rows.map((d) => [d.id, d.name, d.status, d.started, d.ended ?? '-', d.message || '-']),
        ),
      );
    } finally {
      api.close();
    }
  }
}

export class DrillShow extends ChaosCommand {
  static override summary = "Show a drill's result: status, the three durations, each expectation, its faults";
  static override examples = ['chaosmetad drill show d-1a2b3c4d'];
  static override args = { id: Args.string({ description: 'the drill id', required: true }) };
  static override flags = { json: jsonFlag, ...where };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(DrillShow);
    const api = openDrillApi(cliValues(flags));
    try {
      const r = await api.get(args.id);
      if (flags.json) return this.out(JSON.stringify(resultJson(r)));
      this.out(summaryLines(r).join('\n'));
      if (r.faults.length)
        this.out(
          table(
            ['LANE', 'UID', 'FAULT', 'WHERE', 'STATE', 'START', 'END'],
            r.faults.map((f) => [
              f.lane,
              f.uid,
              `${f.target} ${f.fault}`,
              f.where,
              f.state,
              f.start ? new Date(f.start).toISOString() : '-',
              f.end ? new Date(f.end).toISOString() : '-',
            ]),
          ),
        );
    } finally {
      api.close();
    }
  }
}

export class DrillReport extends ChaosCommand {
  static override summary = "Write a drill's reports again: result.json, report.html, report.md, junit.xml";
  static override examples = ['chaosmetad drill report d-1a2b3c4d --out /tmp/drill'];
  static override args = { id: Args.string({ description: 'the drill id', required: true }) };
  static override flags = {
    ...oclifFlagsOf({ out: string({ description: 'the directory to write them into', required: true }) }),
    ...where,
  };
  async run(): Promise<void> {
    const { args, flags: parsed } = await this.parse(DrillReport);
    const flags = cliValues(parsed);
    if (typeof flags.out !== 'string') throw badArgs('--out is required: the directory to write the reports into');
    const api = openDrillApi(flags);
    try {
      const files = writeReports(await api.get(args.id), flags.out);
      this.out(`[success] ${files.join(' ')}`);
    } finally {
      api.close();
    }
  }
}

export class DrillAbort extends ChaosCommand {
  static override summary = 'Abort a running drill: every fault recovered at once, the drill ends as aborted';
  static override examples = ['chaosmetad drill abort d-1a2b3c4d'];
  static override args = { id: Args.string({ description: 'the drill id', required: true }) };
  static override flags = { json: jsonFlag, ...where };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(DrillAbort);
    const api = openDrillApi(cliValues(flags));
    try {
      const r = await api.abort(args.id);
      this.out(
        flags.json
          ? JSON.stringify(r)
          : `[success] drill ${r.id}: ${r.status}; ${r.recovered.length} left-over fault(s) recovered here`,
      );
    } finally {
      api.close();
    }
  }
}

export class DrillSchedules extends ChaosCommand {
  static override summary = 'List the drill files the daemon runs on a schedule';
  static override examples = ['chaosmetad drill schedules'];
  static override flags = { json: jsonFlag, ...where };
  async run(): Promise<void> {
    const { flags } = await this.parse(DrillSchedules);
    const api = openDrillApi(cliValues(flags));
    try {
      const rows = await api.schedules();
      if (flags.json) return this.out(JSON.stringify({ schedules: rows }));
      this.out(
        table(
          ['ID', 'CRON', 'FILE', 'NEXT', 'RUNS', 'LAST DRILL', 'LAST ERROR'],
          rows.map((s) => [
            s.id,
            s.cron,
            s.file,
            s.next_run ?? '-',
            String(s.runs),
            s.last_drill ?? '-',
            s.last_error ?? '-',
          ]),
        ),
      );
    } finally {
      api.close();
    }
  }
}

export class DrillUnschedule extends ChaosCommand {
  static override summary = 'Remove a drill schedule (a drill it started runs to its end)';
  static override examples = ['chaosmetad drill unschedule ds-1a2b3c4d'];
  static override args = { id: Args.string({ description: 'the drill schedule id', required: true }) };
  static override flags = { ...where };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(DrillUnschedule);
    const api = openDrillApi(cliValues(flags));
    try {
      await api.unschedule(args.id);
      this.out(`[success] drill schedule ${args.id} removed`);
    } finally {
      api.close();
    }
  }
}

export class DrillSchema extends ChaosCommand {
  static override summary = 'Print the drill format as JSON Schema (from the one declaration the runner uses)';
  static override examples = ['chaosmetad drill schema > drill.schema.json'];
  async run(): Promise<void> {
    this.out(JSON.stringify(file().drillJsonSchema(), null, 2));
  }
}
