/**
 * The one table of an inject request's own fields (besides target, fault and the fault's args), each as it is on
 * every side: the request field is the key (camelCase: `containerId`), its CLI flag the key in kebab-case
 * (`--container-id`, declared here with util/flags.ts), its HTTP body field the key in snake_case (`container_id`,
 * in the JSON form `wire` says). Read by the CLI (its flags, and the request it builds from them: cli/inject-run.ts),
 * the kube layer (the agent's argv of a request: kube/agent-api.ts) and the HTTP decoder (api/schema.ts).
 * No zod here: the CLI's start-up loads this table.
 */
import { type FlagSpec, boolean, kebab, string } from '../util/flags';
import type { InjectRequest } from './api';

/**
 * How a field travels in the HTTP body: a string of at most `text` characters; a duration (a string, or a number of
 * seconds); a cron string; true or false.
 */
export type WireForm = { text: number } | 'duration' | 'cron' | 'switch';

const field = <F extends FlagSpec<any>, const W extends WireForm>(flag: F, wire: W): F & { wire: W } =>
  Object.assign(flag, { wire });

/** The order is the CLI's (its usage line). */
export const INJECT_FLAGS = {
  uid: field(
    string({ description: 'experiment id, 5-36 of [A-Za-z0-9_-] (generated when absent)', helpGroup: 'EXPERIMENT' }),
    { text: 64 },
  ),
  timeout: field(
    string({
      char: 't',
      description: 'recover automatically after this long: 30 (seconds), 30s, 5m, 2h; absent = until recovered',
      helpGroup: 'EXPERIMENT',
    }),
    'duration',
  ),
  creator: field(string({ description: 'who runs it (default: the OS user)', helpGroup: 'EXPERIMENT' }), { text: 256 }),
  containerId: field(
    string({
      description:
        'act inside this container: a full id, a unique prefix, a docker name, or docker://…, containerd://…, cri-o://…',
      helpGroup: 'EXPERIMENT',
    }),
    { text: 256 },
  ),
  containerRuntime: field(
    string({
      description: 'docker (default when --container-id is given), containerd or crio',
      helpGroup: 'EXPERIMENT',
    }),
    { text: 64 },
  ),
  containerdNamespace: field(
    string({
      description: 'containerd: the namespace to look in first (default k8s.io; then moby and default)',
      helpGroup: 'EXPERIMENT',
    }),
    { text: 128 },
  ),
  parentUid: field(
    string({
      description: 'the experiment this one is part of (set by kube inject on every node it reaches)',
      helpGroup: 'EXPERIMENT',
    }),
    { text: 64 },
  ),
  dryRun: field(
    boolean({
      description: 'print the exact changes it would make; change nothing, store nothing',
      helpGroup: 'EXPERIMENT',
    }),
    'switch',
  ),
  lease: field(
    string({
      description: 'dead-man lease: recover unless renewed (chaosmetad renew <uid>) within this long, e.g. 30s',
      helpGroup: 'EXPERIMENT',
    }),
    'duration',
  ),
  schedule: field(
    string({
      description: 'register a recurring experiment with the daemon: cron "*/10 * * * *" (6 fields = seconds first)',
      helpGroup: 'SCHEDULE',
    }),
    'cron',
  ),
  duration: field(
    string({ description: 'with --schedule: how long each run lasts, e.g. 2m', helpGroup: 'SCHEDULE' }),
    'duration',
  ),
};

export type InjectField = keyof typeof INJECT_FLAGS;

/** The request's own fields from CLI flags as parsed (keyed by their long names): strings, and the switch. */
export function injectFieldsOf(flags: Record<string, unknown>): Omit<InjectRequest, 'target' | 'fault' | 'args'> {
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(INJECT_FLAGS)) {
    const v = flags[kebab(k)];
    out[k] = spec.wire === 'switch' ? v === true : typeof v === 'string' ? v : undefined;
  }
  return out;
}

/** The argv's first flags (what a reader of the command looks for); the rest follow in the table's order. */
const ARGV_FIRST: readonly InjectField[] = ['uid', 'parentUid', 'timeout', 'lease'];

/** The request's own fields as CLI flags, in `--name=value` form (a switch as `--name`); absent ones left out. */
export function injectFlagArgv(req: InjectRequest): string[] {
  const out: string[] = [];
  const keys = [...ARGV_FIRST, ...(Object.keys(INJECT_FLAGS) as InjectField[]).filter((k) => !ARGV_FIRST.includes(k))];
  for (const k of keys) {
    const v = req[k];
    if (INJECT_FLAGS[k].wire === 'switch') {
      if (v === true) out.push(`--${kebab(k)}`);
    } else if (v !== undefined && v !== '' && v !== false) out.push(`--${kebab(k)}=${String(v)}`);
  }
  return out;
}
