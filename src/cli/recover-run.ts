/**
 * What `recover` does once its flags are parsed, and its flags, without oclif: used by the oclif command
 * (cli/recover.ts) and by the start-up fast path (cli/fast.ts), so both behave the same.
 */
import type { ChaosApi, RecoverResult } from '../api/api';
import { ChaosError, ExitCode, badArgs } from '../errors';
import { type FlagSpecs, boolean, string } from '../util/flags';
import { CLIENT_FLAGS, type RawFlags } from '../util/plain-argv';

export const RECOVER_FLAGS = {
  all: boolean({ char: 'a', description: 'every experiment not yet recovered' }),
  expired: boolean({
    description:
      'start-up recovery: every experiment past its deadline or lease, left half-done by a dead process, or whose effect is gone (idempotent; for boot and cron)',
  }),
  target: string({ char: 't', description: 'every live experiment of this target' }),
  fault: string({ char: 'f', description: 'with --target: only this fault' }),
  abandon: boolean({
    description:
      'with a uid: give up the undo steps that keep failing (a recover command that does not exist, a runtime gone for good), record which and why, and end the experiment as destroyed',
  }),
  ...CLIENT_FLAGS,
} satisfies FlagSpecs;

export async function runRecover(
  uid: string | undefined,
  flags: RawFlags,
  api: ChaosApi,
  out: (line: string) => void,
): Promise<void> {
  const target = flags.target as string | undefined;
  const fault = flags.fault as string | undefined;
  const all = flags.all === true;
  const expired = flags.expired === true;
  const abandon = flags.abandon === true;
  if (abandon && uid === undefined)
    throw badArgs('--abandon needs an experiment uid: it gives up the failing undo of that one experiment');
  const modes = [uid !== undefined, all, expired, target !== undefined].filter(Boolean).length;
  if (modes === 0)
    throw badArgs('please add the experiment uid (chaosmetad recover <uid>), or --all, --expired or --target');
  if (modes > 1 && !(expired && target)) throw badArgs('give one of: a uid, --all, --expired, --target');
  if (fault && !target) throw badArgs('--fault needs --target');
  let results: RecoverResult[];
  try {
    results = await api.recover(
      uid !== undefined ? { uid, ...(abandon ? { abandon } : {}) } : { all, expired, target, fault },
    );
  } catch (e) {
    if (uid !== undefined && flags.json && e instanceof ChaosError) {
      out(JSON.stringify({ results: [{ uid, ok: false, message: e.message }] }));
    }
    throw e;
  }
  const failed = results.filter((r) => !r.ok);
  if (flags.json) out(JSON.stringify({ results }));
  else {
    for (const r of results)
      out(r.ok ? `[success] recover ${r.uid} success (${r.message})` : `[error] recover ${r.uid} failed: ${r.message}`);
    if (uid === undefined && !results.length) out('[success] nothing to recover');
  }
  if (failed.length) throw new ChaosError(ExitCode.Recover, `${failed.length} of ${results.length} recover(s) failed`);
}
