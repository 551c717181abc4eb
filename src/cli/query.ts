import { ChaosCommand, oclifFlagsOf } from '../oclif/base';
import { QUERY_FLAGS, runQuery } from './query-run';

export default class Query extends ChaosCommand {
  static override summary = 'List experiments, newest first';
  static override examples = [
    'chaosmetad query',
    'chaosmetad query --uid cpu-test-1 --format json',
    'chaosmetad query -s success -t cpu --all',
  ];
  static override flags = oclifFlagsOf(QUERY_FLAGS);

  async run(): Promise<void> {
    const { flags } = await this.parse(Query);
    await runQuery(flags, this.api(flags), (l) => this.out(l));
  }
}
