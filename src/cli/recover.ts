import { Args } from '@oclif/core';
import { ChaosCommand, oclifFlagsOf } from '../oclif/base';
import { RECOVER_FLAGS, runRecover } from './recover-run';

export default class Recover extends ChaosCommand {
  static override summary = 'Undo experiments: one by uid, every live one, the expired ones, or by target/fault';
  static override examples = [
    'chaosmetad recover cpu-test-1',
    'chaosmetad recover --all',
    'chaosmetad recover --expired      # after a reboot, from cron or a boot unit',
    'chaosmetad recover --target cpu --fault burn',
  ];
  static override args = { uid: Args.string({ description: 'the experiment to recover' }) };
  static override flags = oclifFlagsOf(RECOVER_FLAGS);

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Recover);
    await runRecover(args.uid, flags, this.api(flags), (l) => this.out(l));
  }
}
