/**
 * What `inject <target> <fault>` does once its flags are parsed, without oclif: used by the oclif command
 * (cli/inject.ts) and by the start-up fast path (cli/fast.ts), so both behave the same. The flags every inject has
 * are the request's own fields (api/inject-flags.ts INJECT_FLAGS).
 */
import type { ChaosApi } from '../api/api';
import type { ScheduleView } from '../api/views';
import { injectFieldsOf } from '../api/inject-flags';
import { kebab } from '../faults/flags';
import type { FaultDef } from '../faults/types';
import type { RawFlags } from '../util/plain-argv';

/** Flags keyed by their long names (kebab-case), as oclif parses them. */
export type ParsedInjectFlags = RawFlags;

export async function runInject(
  def: FaultDef,
  flags: ParsedInjectFlags,
  api: ChaosApi,
  out: (line: string) => void,
): Promise<void> {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(def.flags).map(kebab)) if (flags[name] !== undefined) raw[name] = flags[name];
  const reply = await api.inject({ target: def.target, fault: def.fault, args: raw, ...injectFieldsOf(flags) });
  const json = flags.json === true;
  if ('schedule' in reply) return printSchedule(reply.schedule, json, !reply.daemon_running, out);
  if ('planned' in reply) {
    if (json) out(JSON.stringify(reply));
    else {
      out(`[dry-run] inject ${def.target} ${def.fault} would, for uid: ${reply.uid}`);
      for (const p of reply.planned) out(`  ${p}`);
    }
    return;
  }
  if (json) out(JSON.stringify({ experiment: reply.experiment }));
  else out(`[success] inject ${def.target} ${def.fault} success, uid: ${reply.experiment.uid}`);
}

function printSchedule(s: ScheduleView, json: boolean, noDaemon: boolean, out: (line: string) => void): void {
  if (noDaemon)
    process.stderr.write(
      '[warning] no chaosmetad server runs on this data dir: schedules fire only while one does (systemctl start chaosmetad)\n',
    );
  if (json) out(JSON.stringify({ schedule: s }));
  else
    out(
      `[success] schedule ${s.id} registered: "${s.schedule}", each run lasts ${s.duration}, next run ${s.next_run}; remove with: chaosmetad schedule remove ${s.id}`,
    );
}
