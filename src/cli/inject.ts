/** `chaosmetad inject <target> <fault>` commands, generated from the fault registry. */
import { Command, Flags, Interfaces } from '@oclif/core';
import { kebab } from '../faults/flags';
import type { FaultDef } from '../faults/types';
import { ChaosCommand, clientFlags, dataDirFlag, jsonFlag } from '../oclif/base';
import type { ScheduleView } from '../api/views';

const COMMON_FLAGS = {
  uid: Flags.string({
    description: 'experiment id, 5-36 of [A-Za-z0-9_-] (generated when absent)',
    helpGroup: 'EXPERIMENT',
  }),
  timeout: Flags.string({
    char: 't',
    description: 'recover automatically after this long: 30 (seconds), 30s, 5m, 2h; absent = until recovered',
    helpGroup: 'EXPERIMENT',
  }),
  creator: Flags.string({ description: 'who runs it (default: the OS user)', helpGroup: 'EXPERIMENT' }),
  'container-id': Flags.string({ description: 'inject into a container (not supported yet)', helpGroup: 'EXPERIMENT' }),
  'container-runtime': Flags.string({
    description: 'docker (default when --container-id is given), containerd, crio, pouch',
    helpGroup: 'EXPERIMENT',
  }),
  'dry-run': Flags.boolean({
    description: 'print the exact changes it would make; change nothing, store nothing',
    helpGroup: 'EXPERIMENT',
  }),
  lease: Flags.string({
    description: 'dead-man lease: recover unless renewed (chaosmetad renew <uid>) within this long, e.g. 30s',
    helpGroup: 'EXPERIMENT',
  }),
  schedule: Flags.string({
    description: 'register a recurring experiment with the daemon: cron "*/10 * * * *" (6 fields = seconds first)',
    helpGroup: 'SCHEDULE',
  }),
  duration: Flags.string({ description: 'with --schedule: how long each run lasts, e.g. 2m', helpGroup: 'SCHEDULE' }),
  json: jsonFlag,
  'data-dir': dataDirFlag,
  ...clientFlags,
};

type Char = Interfaces.AlphabetLowercase | Interfaces.AlphabetUppercase;

function oclifFlags(def: FaultDef): Interfaces.FlagInput {
  const out: Interfaces.FlagInput = {};
  for (const [key, spec] of Object.entries(def.flags)) {
    let description = spec.description;
    if (spec.kind === 'enum' && !description.includes(spec.options!.join(', ')))
      description += ` (one of ${spec.options!.join(', ')})`;
    if (spec.required) description += ' (required)';
    if (spec.default !== undefined && spec.default !== false) description += ` (default: ${spec.default})`;
    const base = { char: spec.char as Char | undefined, description, hidden: spec.hidden };
    out[kebab(key)] = spec.kind === 'boolean' ? Flags.boolean(base) : Flags.string(base); // values are checked by the fault's own parser (one message format for CLI and HTTP)
  }
  return out;
}

export function injectCommand(def: FaultDef): Command.Class {
  const faultFlagNames = Object.keys(def.flags).map(kebab);
  class InjectFault extends ChaosCommand {
    static override summary = def.summary;
    static override description = def.description;
    static override examples = def.examples;
    static override flags = { ...oclifFlags(def), ...COMMON_FLAGS };
    static override aliases = (def.aliases ?? []).map((a) => `inject:${def.target}:${a}`);
    static override strict = true;

    async run(): Promise<void> {
      const { flags } = await this.parse(InjectFault);
      const raw: Record<string, unknown> = {};
      for (const name of faultFlagNames)
        if ((flags as Record<string, unknown>)[name] !== undefined)
          raw[name] = (flags as Record<string, unknown>)[name];
      const reply = await this.api(flags, { watcher: true }).inject({
        target: def.target,
        fault: def.fault,
        args: raw,
        uid: flags.uid,
        timeout: flags.timeout,
        creator: flags.creator,
        containerId: flags['container-id'],
        containerRuntime: flags['container-runtime'],
        dryRun: flags['dry-run'],
        lease: flags.lease,
        schedule: flags.schedule,
        duration: flags.duration,
      });
      if ('schedule' in reply) return this.printSchedule(reply.schedule, flags.json, !reply.daemon_running);
      if ('planned' in reply) {
        if (flags.json) this.out(JSON.stringify(reply));
        else {
          this.out(`[dry-run] inject ${def.target} ${def.fault} would, for uid: ${reply.uid}`);
          for (const p of reply.planned) this.out(`  ${p}`);
        }
        return;
      }
      if (flags.json) this.out(JSON.stringify({ experiment: reply.experiment }));
      else this.out(`[success] inject ${def.target} ${def.fault} success, uid: ${reply.experiment.uid}`);
    }

    private printSchedule(s: ScheduleView, json: boolean, noDaemon: boolean): void {
      if (noDaemon)
        process.stderr.write(
          '[warning] no chaosmetad server runs on this data dir: schedules fire only while one does (systemctl start chaosmetad)\n',
        );
      if (json) this.out(JSON.stringify({ schedule: s }));
      else
        this.out(
          `[success] schedule ${s.id} registered: "${s.schedule}", each run lasts ${s.duration}, next run ${s.next_run}; remove with: chaosmetad schedule remove ${s.id}`,
        );
    }
  }
  return InjectFault;
}
