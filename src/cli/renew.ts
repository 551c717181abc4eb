import { Args } from '@oclif/core';
import { string } from '../util/flags';
import { ChaosCommand, cliValues, clientFlags, dataDirFlag, jsonFlag, oclifFlagsOf } from '../oclif/base';

export class Renew extends ChaosCommand {
  static override summary = "Renew an experiment's dead-man lease (inject … --lease 30s), so it is not recovered yet";
  static override examples = ['chaosmetad renew cpu-test-1', 'chaosmetad renew cpu-test-1 --lease 2m'];
  static override args = { uid: Args.string({ description: 'the experiment', required: true }) };
  static override flags = {
    ...oclifFlagsOf({ lease: string({ description: 'the new lease length (default: the one it was injected with)' }) }),
    json: jsonFlag,
    'data-dir': dataDirFlag,
    ...clientFlags,
  };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(Renew);
    const until = (await this.api(flags).renew(args.uid, cliValues(flags).lease as string | undefined)).lease_until;
    this.out(
      flags.json
        ? JSON.stringify({ uid: args.uid, lease_until: until })
        : `[success] renew ${args.uid} success, lease until ${until}`,
    );
  }
}
