import { Args, Flags } from '@oclif/core';
import { ChaosError, ExitCode, badArgs } from '../errors';
import type { RecoverResult } from '../api/api';
import { ChaosCommand, clientFlags, dataDirFlag, jsonFlag } from '../oclif/base';

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
    expired: Flags.boolean({
      description:
        'start-up recovery: every experiment past its deadline or lease, left half-done by a dead process, or whose effect is gone (idempotent; for boot and cron)',
    }),
    target: Flags.string({ char: 't', description: 'every live experiment of this target' }),
    fault: Flags.string({ char: 'f', description: 'with --target: only this fault' }),
    json: jsonFlag,
    'data-dir': dataDirFlag,
    ...clientFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Recover);
    const modes = [args.uid !== undefined, flags.all, flags.expired, flags.target !== undefined].filter(Boolean).length;
    if (modes === 0)
      throw badArgs('please add the experiment uid (chaosmetad recover <uid>), or --all, --expired or --target');
    if (modes > 1 && !(flags.expired && flags.target)) throw badArgs('give one of: a uid, --all, --expired, --target');
    if (flags.fault && !flags.target) throw badArgs('--fault needs --target');
    let results: RecoverResult[];
    try {
      results = await this.api(flags).recover(
        args.uid !== undefined
          ? { uid: args.uid }
          : { all: flags.all, expired: flags.expired, target: flags.target, fault: flags.fault },
      );
    } catch (e) {
      if (args.uid !== undefined && flags.json && e instanceof ChaosError) {
        this.out(JSON.stringify({ results: [{ uid: args.uid, ok: false, message: e.message }] }));
      }
      throw e;
    }
    const failed = results.filter((r) => !r.ok);
    if (flags.json) this.out(JSON.stringify({ results }));
    else {
      for (const r of results)
        this.out(
          r.ok ? `[success] recover ${r.uid} success (${r.message})` : `[error] recover ${r.uid} failed: ${r.message}`,
        );
      if (args.uid === undefined && !results.length) this.out('[success] nothing to recover');
    }
    if (failed.length)
      throw new ChaosError(ExitCode.Recover, `${failed.length} of ${results.length} recover(s) failed`);
  }
}
