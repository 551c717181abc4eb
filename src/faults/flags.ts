/**
 * Fault flags are declared like every command's (util/flags.ts); here they read their value against the
 * experiment's target (a path flag resolves inside a container's root).
 */
import type { Scope } from '../host/scope';
import type { FlagSpec as Spec } from '../util/flags';

export type FlagSpec<T = unknown> = Spec<T, Scope>;
export {
  type FlagSpecs,
  type ParsedFlags,
  argsJson,
  boolean,
  cpuList,
  duration,
  integer,
  kebab,
  oneOf,
  parseFlags,
  size,
  snake,
  storedArgs,
  string,
} from '../util/flags';
