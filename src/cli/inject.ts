/** `chaosmetad inject <target> <fault>` commands, generated from the fault registry. */
import type { Command } from '@oclif/core';
import type { FaultDef } from '../faults/types';
import { ChaosCommand, cliValues, clientFlags, dataDirFlag, jsonFlag, oclifFlagsOf } from '../oclif/base';
import { INJECT_FLAGS } from '../api/inject-flags';
import { runInject } from './inject-run';

const COMMON_FLAGS = { ...oclifFlagsOf(INJECT_FLAGS), json: jsonFlag, 'data-dir': dataDirFlag, ...clientFlags };

export function injectCommand(def: FaultDef): Command.Class {
  class InjectFault extends ChaosCommand {
    static override summary = def.summary;
    static override description = def.description;
    static override examples = def.examples;
    static override flags = { ...oclifFlagsOf(def.flags), ...COMMON_FLAGS };
    static override aliases = (def.aliases ?? []).map((a) => `inject:${def.target}:${a}`);
    static override strict = true;

    async run(): Promise<void> {
      const { flags } = await this.parse(InjectFault);
      await runInject(def, cliValues(flags), this.api(flags, { watcher: true }), (l) => this.out(l));
    }
  }
  return InjectFault;
}
