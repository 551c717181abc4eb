/** `chaosmetad inject <target> <fault>` commands, generated from the fault registry. */
import { Command, Flags, Interfaces } from '@oclif/core';
import { kebab } from '../faults/flags';
import type { FaultDef } from '../faults/types';
import { ChaosCommand, dataDirFlag, jsonFlag } from './base';
import { experimentJson } from './present';

const COMMON_FLAGS = {
  uid: Flags.string({ description: 'experiment id, 5-36 of [A-Za-z0-9_-] (generated when absent)', helpGroup: 'EXPERIMENT' }),
  timeout: Flags.string({ char: 't', description: 'recover automatically after this long: 30 (seconds), 30s, 5m, 2h; absent = until recovered', helpGroup: 'EXPERIMENT' }),
  creator: Flags.string({ description: 'who runs it (default: the OS user)', helpGroup: 'EXPERIMENT' }),
  'container-id': Flags.string({ description: 'inject into a container (not supported yet)', helpGroup: 'EXPERIMENT' }),
  'container-runtime': Flags.string({ description: 'docker (default when --container-id is given), containerd, crio, pouch', helpGroup: 'EXPERIMENT' }),
  'dry-run': Flags.boolean({ description: 'print the exact changes it would make; change nothing, store nothing', helpGroup: 'EXPERIMENT' }),
  json: jsonFlag,
  'data-dir': dataDirFlag,
};

type Char = Interfaces.AlphabetLowercase | Interfaces.AlphabetUppercase;

function oclifFlags(def: FaultDef): Interfaces.FlagInput {
  const out: Interfaces.FlagInput = {};
  for (const [key, spec] of Object.entries(def.flags)) {
    let description = spec.description;
    if (spec.kind === 'enum' && !description.includes(spec.options!.join(', '))) description += ` (one of ${spec.options!.join(', ')})`;
    if (spec.required) description += ' (required)';
    if (spec.default !== undefined && spec.default !== false) description += ` (default: ${spec.default})`;
    const base = { char: spec.char as Char | undefined, description, hidden: spec.hidden };
    out[kebab(key)] = spec.kind === 'boolean'
      ? Flags.boolean(base)
      : Flags.string(base); // values are checked by the fault's own parser (one message format for CLI and HTTP)
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
      for (const name of faultFlagNames) if ((flags as Record<string, unknown>)[name] !== undefined) raw[name] = (flags as Record<string, unknown>)[name];
      const engine = this.engine(flags['data-dir'], { watcher: true });
      const res = await engine.inject({
        target: def.target, fault: def.fault, args: raw, uid: flags.uid, timeout: flags.timeout, creator: flags.creator,
        containerId: flags['container-id'], containerRuntime: flags['container-runtime'], dryRun: flags['dry-run'],
      });
      if (res.planned) {
        if (flags.json) this.out(JSON.stringify({ dry_run: true, uid: res.experiment.uid, planned: res.planned }));
        else {
          this.out(`[dry-run] inject ${def.target} ${def.fault} would, for uid: ${res.experiment.uid}`);
          for (const p of res.planned) this.out(`  ${p}`);
        }
        return;
      }
      if (flags.json) this.out(JSON.stringify({ experiment: experimentJson(res.experiment) }));
      else this.out(`[success] inject ${def.target} ${def.fault} success, uid: ${res.experiment.uid}`);
    }
  }
  return InjectFault;
}
