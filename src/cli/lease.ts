import { Args, Flags } from '@oclif/core';
import { badArgs } from '../errors';
import { SCHEDULE_ID_RE } from '../engine/schedules';
import { shown } from '../util/units';
import { ChaosCommand, dataDirFlag, jsonFlag } from './base';
import { callDaemon, clientFlags } from './client';

export class Renew extends ChaosCommand {
  static override summary = "Renew an experiment's dead-man lease (inject … --lease 30s), so it is not recovered yet";
  static override examples = ['chaosmetad renew cpu-test-1', 'chaosmetad renew cpu-test-1 --lease 2m'];
  static override args = { uid: Args.string({ description: 'the experiment', required: true }) };
  static override flags = {
    lease: Flags.string({ description: 'the new lease length (default: the one it was injected with)' }),
    json: jsonFlag, 'data-dir': dataDirFlag, ...clientFlags,
  };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(Renew);
    let until: string;
    if (flags.server) {
      until = (await callDaemon({ server: flags.server, tokenFile: flags['token-file'], dataDir: flags['data-dir'] }, 'v1/experiment/renew', { uid: args.uid, lease: flags.lease })).lease_until;
    } else {
      until = new Date(this.engine(flags['data-dir']).renew(args.uid, flags.lease).lease_until!).toISOString();
    }
    this.out(flags.json ? JSON.stringify({ uid: args.uid, lease_until: until }) : `[success] renew ${args.uid} success, lease until ${until}`);
  }
}

export class ScheduleList extends ChaosCommand {
  static override summary = 'List recurring experiments (same as: chaosmetad query --schedules)';
  static override examples = ['chaosmetad schedule list'];
  static override flags = { json: jsonFlag, 'data-dir': dataDirFlag, ...clientFlags };
  async run(): Promise<void> {
    const { flags } = await this.parse(ScheduleList);
    const argv = ['--schedules', ...(flags.json ? ['--json'] : []), ...(flags['data-dir'] ? ['--data-dir', flags['data-dir']] : []),
      ...(flags.server ? ['--server', flags.server] : []), ...(flags['token-file'] ? ['--token-file', flags['token-file']] : [])];
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
    if (!SCHEDULE_ID_RE.test(args.id)) throw badArgs(`the schedule id looks like s-1a2b3c4d, got ${shown(args.id)}`);
    if (flags.server) await callDaemon({ server: flags.server, tokenFile: flags['token-file'], dataDir: flags['data-dir'] }, 'v1/schedule/remove', { id: args.id });
    else {
      const engine = this.engine(flags['data-dir']);
      if (!engine.store.removeSchedule(args.id)) throw badArgs(`no schedule ${args.id} (see: chaosmetad schedule list)`);
      engine.log({ event: 'schedule-remove', id: args.id });
    }
    this.out(`[success] schedule ${args.id} removed`);
  }
}
