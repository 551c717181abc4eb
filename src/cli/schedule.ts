import { Args } from '@oclif/core';
import { ChaosCommand, cliValues, clientFlags, dataDirFlag, jsonFlag } from '../oclif/base';

export class ScheduleList extends ChaosCommand {
  static override summary = 'List recurring experiments (same as: chaosmetad query --schedules)';
  static override examples = ['chaosmetad schedule list'];
  static override flags = { json: jsonFlag, 'data-dir': dataDirFlag, ...clientFlags };
  async run(): Promise<void> {
    const flags = cliValues((await this.parse(ScheduleList)).flags);
    const given = (k: string) => {
      const v = flags[k];
      return typeof v === 'string' && v ? [`--${k}`, v] : [];
    };
    const argv = [
      '--schedules',
      ...(flags.json ? ['--json'] : []),
      ...['data-dir', 'server', 'token-file'].flatMap(given),
    ];
    await this.config.runCommand('query', argv);
  }
}

export class ScheduleRemove extends ChaosCommand {
  static override summary = 'Remove a recurring experiment (a run that is live still ends at its duration)';
  static override examples = ['chaosmetad schedule remove s-1a2b3c4d'];
  static override args = { id: Args.string({ description: 'the schedule id', required: true }) };
  static override flags = { 'data-dir': dataDirFlag, ...clientFlags };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(ScheduleRemove);
    await this.api(flags).removeSchedule(args.id);
    this.out(`[success] schedule ${args.id} removed`);
  }
}
