import { Args, Command } from '@oclif/core';
import { versionInfo } from '../api/version';
import { string } from '../util/flags';
import { ChaosCommand, cliValues, clientFlags, dataDirFlag, jsonFlag, oclifFlagsOf } from '../oclif/base';

export class Version extends Command {
  static override summary = 'Print the version as one JSON line';
  static override examples = ['chaosmetad version'];
  async run(): Promise<void> {
    process.stdout.write(JSON.stringify(versionInfo()) + '\n');
  }
}

export class Check extends ChaosCommand {
  static override summary = "Read the host: is an experiment's fault in place, partly in place, or gone?";
  static override examples = ['chaosmetad check cpu-test-1'];
  static override args = { uid: Args.string({ description: 'the experiment', required: true }) };
  static override flags = { json: jsonFlag, 'data-dir': dataDirFlag, ...clientFlags };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(Check);
    const r = await this.api(flags).check(args.uid);
    this.out(flags.json ? JSON.stringify(r) : `uid: ${r.uid} status: ${r.status} effect: ${r.effect}`);
  }
}

/** Hidden: the detached watcher that recovers an experiment at its deadline. */
export class Watch extends ChaosCommand {
  static override hidden = true;
  static override summary = "Wait for an experiment's deadline, then recover it (started by inject)";
  static override args = { uid: Args.string({ required: true }), tag: Args.string({ description: 'process tag' }) };
  static override flags = {
    'data-dir': dataDirFlag,
    ...oclifFlagsOf({ 'chaosmetad-uid': string({ description: '', hidden: true }) }),
  };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(Watch);
    await this.engine(cliValues(flags)['data-dir'] as string | undefined).watch(args.uid);
  }
}
