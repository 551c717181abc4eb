import { Args, Flags } from '@oclif/core';
import { ChaosError, ExitCode, badArgs } from '../errors';
import type { RecoverResult } from '../engine/engine';
import { ChaosCommand, dataDirFlag, jsonFlag } from './base';
import { callDaemon, clientFlags } from './client';

export default class Recover extends ChaosCommand {
  static override summary = 'Undo experiments: one by uid, every live one, the expired ones, or by target/fault';
  static override examples = [
    'chaosmetad recover cpu-test-1',
    'chaosmetad recover --all',
    'chaosmetad recover --expired      # after a reboot, from cron or a boot unit',
    'chaosmetad recover --target cpu --fault burn',
  ];
  static override args = { uid: Args.string({ description: 'the experiment to recover' }) };
  static override flags = {
    all: Flags.boolean({ char: 'a', description: 'every experiment not yet recovered' }),
    expired: Flags.boolean({ description: 'every experiment past its deadline (idempotent; for boot and cron)' }),
    target: Flags.string({ char: 't', description: 'every live experiment of this target' }),
    fault: Flags.string({ char: 'f', description: 'with --target: only this fault' }),
    json: jsonFlag,
    'data-dir': dataDirFlag,
    ...clientFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Recover);
    const modes = [args.uid !== undefined, flags.all, flags.expired, flags.target !== undefined].filter(Boolean).length;
    if (modes === 0) throw badArgs('please add the experiment uid (chaosmetad recover <uid>), or --all, --expired or --target');
    if (modes > 1 && !(flags.expired && flags.target)) throw badArgs('give one of: a uid, --all, --expired, --target');
    if (flags.fault && !flags.target) throw badArgs('--fault needs --target');
    let results: RecoverResult[];
    if (flags.server) {
      const remote = { server: flags.server, tokenFile: flags['token-file'], dataDir: flags['data-dir'] };
      if (args.uid !== undefined) {
        await callDaemon(remote, 'v1/experiment/recover', { uid: args.uid });
        results = [{ uid: args.uid, status: 'destroyed', ok: true, message: 'recovered' }];
      } else {
        results = (await callDaemon(remote, 'v1/experiment/recover', { all: flags.all || !!flags.target, expired: flags.expired, target: flags.target, fault: flags.fault })).results;
      }
    } else if (args.uid !== undefined) {
      const engine = this.engine(flags['data-dir']);
      try {
        results = [await engine.recover(args.uid)];
      } catch (e) {
        if (flags.json && e instanceof ChaosError) {
          this.out(JSON.stringify({ results: [{ uid: args.uid, ok: false, message: e.message }] }));
        }
        throw e;
      }
    } else {
      const engine = this.engine(flags['data-dir']);
      results = await engine.recoverMany({ all: flags.all, expired: flags.expired, target: flags.target, fault: flags.fault });
    }
    const failed = results.filter((r) => !r.ok);
    if (flags.json) this.out(JSON.stringify({ results }));
    else {
      for (const r of results) this.out(r.ok ? `[success] recover ${r.uid} success (${r.message})` : `[error] recover ${r.uid} failed: ${r.message}`);
      if (args.uid === undefined && !results.length) this.out('[success] nothing to recover');
    }
    if (failed.length) throw new ChaosError(ExitCode.Recover, `${failed.length} of ${results.length} recover(s) failed`);
  }
}
