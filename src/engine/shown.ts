/** How the API shows what the engine stores about a target. */
import { asSeen, parseScope } from '../host/scope';

/** A container experiment's flags as the user gave them: its paths as the container sees them (not /proc/PID/root). */
export function shownArgs(targetInfo: string, args: string): string {
  const t = parseScope(targetInfo);
  try {
    const o = JSON.parse(args) as Record<string, unknown>;
    for (const [k, v] of Object.entries(o)) if (typeof v === 'string') o[k] = asSeen(t, v);
    return JSON.stringify(o);
  } catch {
    return args;
  }
}
