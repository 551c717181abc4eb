/** Which drill API a command talks to: a daemon's (--server) or this process's runner with the local engine. */
import { openEngine } from '../engine/engine';
import { policyConfigured } from '../engine/policy';
import { badArgs } from '../errors';
import type { RawFlags } from '../util/plain-argv';
import type { DrillApi } from './api';
import { HttpDrillApi } from './http';
import { LocalDrillApi } from './local';

export function openDrillApi(flags: RawFlags): DrillApi {
  if (policyConfigured())
    throw badArgs('refused by the agent policy, rule drill: drills run where kubectl or the host is, not in the agent');
  const s = (k: string) => (typeof flags[k] === 'string' ? flags[k] : undefined);
  const server = s('server');
  if (server) return new HttpDrillApi({ server, tokenFile: s('token-file'), dataDir: s('data-dir') });
  return new LocalDrillApi(openEngine(s('data-dir'), { watcher: true }));
}
