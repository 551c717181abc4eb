/**
 * What `inject <target> <fault>` does once its flags are parsed, and the flags every inject has, without oclif: used
 * by the oclif command (cli/inject.ts) and by the start-up fast path (cli/fast.ts), so both behave the same.
 */
import type { ChaosApi } from '../api/api';
import type { ScheduleView } from '../api/views';
import { kebab } from '../faults/flags';
import type { FaultDef } from '../faults/types';
import type { ParsedFlags } from '../util/plain-argv';

/** The flags of every inject besides the fault's own (name → char, boolean, help). */
export const COMMON_INJECT_FLAGS: Record<
  string,
  { char?: 't'; boolean?: true; description: string; helpGroup?: string; helpValue?: string }
> = {
  uid: { description: 'experiment id, 5-36 of [A-Za-z0-9_-] (generated when absent)', helpGroup: 'EXPERIMENT' },
  timeout: {
    char: 't',
    description: 'recover automatically after this long: 30 (seconds), 30s, 5m, 2h; absent = until recovered',
    helpGroup: 'EXPERIMENT',
  },
  creator: { description: 'who runs it (default: the OS user)', helpGroup: 'EXPERIMENT' },
  'container-id': {
    description:
      'act inside this container: a full id, a unique prefix, a docker name, or docker://…, containerd://…, cri-o://…',
    helpGroup: 'EXPERIMENT',
  },
  'container-runtime': {
    description: 'docker (default when --container-id is given), containerd or crio',
    helpGroup: 'EXPERIMENT',
  },
  'containerd-namespace': {
    description: 'containerd: the namespace to look in first (default k8s.io; then moby and default)',
    helpGroup: 'EXPERIMENT',
  },
  'parent-uid': {
    description: 'the experiment this one is part of (set by kube inject on every node it reaches)',
    helpGroup: 'EXPERIMENT',
  },
  'dry-run': {
    boolean: true,
    description: 'print the exact changes it would make; change nothing, store nothing',
    helpGroup: 'EXPERIMENT',
  },
  lease: {
    description: 'dead-man lease: recover unless renewed (chaosmetad renew <uid>) within this long, e.g. 30s',
    helpGroup: 'EXPERIMENT',
  },
  schedule: {
    description: 'register a recurring experiment with the daemon: cron "*/10 * * * *" (6 fields = seconds first)',
    helpGroup: 'SCHEDULE',
  },
  duration: { description: 'with --schedule: how long each run lasts, e.g. 2m', helpGroup: 'SCHEDULE' },
};

/** Flags keyed by their long names (kebab-case), as oclif parses them. */
export type ParsedInjectFlags = ParsedFlags;

export async function runInject(
  def: FaultDef,
  flags: ParsedInjectFlags,
  api: ChaosApi,
  out: (line: string) => void,
): Promise<void> {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(def.flags).map(kebab)) if (flags[name] !== undefined) raw[name] = flags[name];
  const s = (k: string) => (typeof flags[k] === 'string' ? flags[k] : undefined);
  const reply = await api.inject({
    target: def.target,
    fault: def.fault,
    args: raw,
    uid: s('uid'),
    timeout: s('timeout'),
    creator: s('creator'),
    containerId: s('container-id'),
    containerRuntime: s('container-runtime'),
    containerdNamespace: s('containerd-namespace'),
    parentUid: s('parent-uid'),
    dryRun: flags['dry-run'] === true,
    lease: s('lease'),
    schedule: s('schedule'),
    duration: s('duration'),
  });
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
