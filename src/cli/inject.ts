/** `chaosmetad inject <target> <fault>` commands, generated from the fault registry. */
import { Command, Flags, Interfaces } from '@oclif/core';
import { kebab } from '../faults/flags';
import type { FaultDef } from '../faults/types';
import { ChaosCommand, clientFlags, dataDirFlag, jsonFlag, oclifFlagsOf } from '../oclif/base';
import { COMMON_INJECT_FLAGS, runInject } from './inject-run';

const COMMON_FLAGS = { ...oclifFlagsOf(COMMON_INJECT_FLAGS), json: jsonFlag, 'data-dir': dataDirFlag, ...clientFlags };

type Char = Interfaces.AlphabetLowercase | Interfaces.AlphabetUppercase;

/** The fault's own flags for oclif; `taken` are short flags the command uses itself (the fault's lose theirs). */
export function oclifFlags(def: FaultDef, taken: string[] = []): Interfaces.FlagInput {
  const out: Interfaces.FlagInput = {};
  for (const [key, spec] of Object.entries(def.flags)) {
    let description = spec.description;
    if (spec.kind === 'enum' && !description.includes(spec.options!.join(', ')))
      description += ` (one of ${spec.options!.join(', ')})`;
    if (spec.required) description += ' (required)';
    // a description that says its default in its own words (10M, not 10485760) is not told it again
    if (spec.default !== undefined && spec.default !== false && !/\bdefault\b/.test(description))
      description += ` (default: ${spec.default})`;
    const char = spec.char && !taken.includes(spec.char) ? (spec.char as Char) : undefined;
    const base = { char, description, hidden: spec.hidden };
    out[kebab(key)] = spec.kind === 'boolean' ? Flags.boolean(base) : Flags.string(base); // values are checked by the fault's own parser (one message format for CLI and HTTP)
  }
  return out;
}

export function injectCommand(def: FaultDef): Command.Class {
  class InjectFault extends ChaosCommand {
    static override summary = def.summary;
    static override description = def.description;
    static override examples = def.examples;
    static override flags = { ...oclifFlags(def), ...COMMON_FLAGS };
    static override aliases = (def.aliases ?? []).map((a) => `inject:${def.target}:${a}`);
    static override strict = true;

    async run(): Promise<void> {
      const { flags } = await this.parse(InjectFault);
      await runInject(def, flags, this.api(flags, { watcher: true }), (l) => this.out(l));
    }
  }
  return InjectFault;
}
