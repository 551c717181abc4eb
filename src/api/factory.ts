/** Which engine API a command talks to: a daemon's (--server) or the local engine. The one place that decides. */
import { openEngine } from '../engine/engine';
import { policyConfigured } from '../engine/policy';
import { badArgs } from '../errors';

/** The deadline watcher's own process (engine/watcher.ts runWatcher), for the start-up fast path. */
export { runWatcher } from '../engine/watcher';
import type { ChaosApi } from './api';
import { HttpApi } from './http-client';
import { LocalApi } from './local';

export interface ApiOptions {
  /** a daemon's URL (http://, https://, unix:/path); absent = this host's engine */
  server?: string;
  tokenFile?: string;
  dataDir?: string;
  /** local: start a detached watcher for experiments with a deadline (the CLI; the daemon has its own timers) */
  watcher?: boolean;
}

export function openApi(opts: ApiOptions): ChaosApi {
  // under the agent policy, the policy's own engine: another daemon on the node (a standalone chaosmetad without
  // the policy) must not be reachable through the agent's executable
  if (opts.server && policyConfigured())
    throw badArgs(
      'refused by the agent policy, rule server: --server is not allowed in the agent (its own engine only)',
    );
  if (opts.server) return new HttpApi({ server: opts.server, tokenFile: opts.tokenFile, dataDir: opts.dataDir });
  return new LocalApi(openEngine(opts.dataDir, { watcher: opts.watcher }));
}
