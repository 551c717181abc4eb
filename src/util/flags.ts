/**
 * The one way a flag is declared, for every command: fault flags (also the HTTP API's `args` JSON object,
 * snake_case keys), query, recover, server, kube, schedule…. From one declaration come the oclif flags
 * (oclif/base.ts oclifFlagsOf), the start-up fast path's parser (util/plain-argv.ts), the help text and the shell
 * completion (cli/completion.ts, from the oclif flags and the enum options). Every flag parses a raw value — a CLI
 * string or a JSON value — and throws BadArgs naming the flag and the accepted form. Validation never touches the
 * host.
 */
import { badArgs } from '../errors';
import { parseCpuList, parseDuration, parseInteger, parseSize, shown } from './units';

/** How a flag shows on the command line and in help (besides its name, the declaration's key in kebab-case). */
export interface CliShape {
  char?: string;
  description: string;
  hidden?: boolean;
  /** the help section it is listed under (EXPERIMENT, REMOTE, KUBE…) */
  helpGroup?: string;
  /** the placeholder of its value in help (`--data-dir=DIR`) */
  helpValue?: string;
  /** repeatable: the command gets every value given */
  multiple?: true;
  /** other long names it is also given by (`--output` for `--format`) */
  aliases?: readonly string[];
}

/**
 * `S`: what a flag's value is read against — for fault flags the experiment's target (a path flag resolves inside a
 * container's root); the command flags need nothing.
 */
export interface FlagSpec<T = unknown, S = unknown> extends CliShape {
  kind: 'string' | 'integer' | 'boolean' | 'enum' | 'duration' | 'size' | 'cpulist';
  required?: boolean;
  default?: T;
  /** enum choices, for help and completion */
  options?: readonly string[];
  parse(raw: unknown, flag: string, scope?: S): T;
}

const MAX_STRING = 4096;

function asString(raw: unknown, flag: string, form: string): string {
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (typeof raw !== 'string') throw badArgs(`--${flag} must be ${form}, got ${shown(raw)}`);
  return raw;
}

interface Common<T> extends CliShape {
  required?: boolean;
  default?: T;
}
/** What a builder returns: the spec, remembering whether it is required or has a default (for ParsedFlags). */
type Built<T, O> = FlagSpec<T> & Pick<O, Extract<keyof O, 'required' | 'default'>>;

export function integer<const O extends Common<number> & { min: number; max: number }>(o: O): Built<number, O> {
  return {
    kind: 'integer',
    ...o,
    parse: (raw, flag) => parseInteger(raw, flag, o.min, o.max),
  };
}

export function string<
  const O extends Common<string> & { pattern?: RegExp; form?: string; maxLength?: number; numeric?: boolean },
>(o: O): Built<string, O> {
  return {
    kind: 'string',
    ...o,
    parse(raw, flag) {
      const form = o.form ?? 'a string';
      if (typeof raw !== 'string' && !(o.numeric && typeof raw === 'number'))
        throw badArgs(`--${flag} must be ${form} (a JSON string), got ${shown(raw)}`);
      const s = asString(raw, flag, form);
      if (s.length > (o.maxLength ?? MAX_STRING))
        throw badArgs(`--${flag} is too long (${s.length} characters, at most ${o.maxLength ?? MAX_STRING})`);
      if (s.includes('\0')) throw badArgs(`--${flag} must not contain NUL characters`);
      if (o.pattern && !o.pattern.test(s)) throw badArgs(`--${flag} must be ${form}, got ${shown(raw)}`);
      return s;
    },
  };
}

export function boolean<const O extends Common<boolean>>(o: O): Built<boolean, O> {
  return {
    kind: 'boolean',
    ...o,
    parse(raw, flag) {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0' || raw === '') return false;
      throw badArgs(`--${flag} must be true or false, got ${shown(raw)}`);
    },
  };
}

export function oneOf<const V extends readonly string[], const O extends Common<V[number]>>(
  options: V,
  o: O,
): Built<V[number], O> {
  return {
    kind: 'enum',
    options,
    ...o,
    parse(raw, flag) {
      const form = `one of ${options.join(', ')}`;
      const s = asString(raw, flag, form);
      if (!options.includes(s)) throw badArgs(`--${flag} must be ${form}, got ${shown(raw)}`);
      return s;
    },
  };
}

export function duration<const O extends Common<number> & { unit?: 'us' | 'ms' | 's' }>(o: O): Built<number, O> {
  return { kind: 'duration', ...o, parse: (raw, flag) => parseDuration(raw, flag, o.unit ?? 's') };
}

/** A byte size; `strict`: the original's --bytes grammar (KB, MB, GB, TB in any case, plain = KB; nothing else). */
export function size<const O extends Common<number> & { unit?: string; strict?: boolean }>(o: O): Built<number, O> {
  return { kind: 'size', ...o, parse: (raw, flag) => parseSize(raw, flag, o.unit ?? 'KB', o.strict) };
}

export function cpuList<const O extends Common<number[]>>(o: O): Built<number[], O> {
  return { kind: 'cpulist', ...o, parse: parseCpuList };
}

export type FlagSpecs = Record<string, FlagSpec<any>>;
export type ParsedFlags<F extends FlagSpecs> = {
  [K in keyof F]: F[K] extends FlagSpec<infer T>
    ? F[K] extends { required: true } | { default: NonNullable<unknown> }
      ? T
      : T | undefined
    : never;
};

/** camelCase → kebab-case (CLI); camelCase or kebab-case → snake_case (HTTP fields and args): the only copies. */
export const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
export const snake = (k: string): string => k.replace(/-/g, '_').replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

/**
 * Parse raw values keyed by camelCase, kebab-case or snake_case names. Unknown keys, missing required flags and
 * bad values are BadArgs. Absent optional flags take their default (or stay undefined).
 */
export function parseFlags<F extends FlagSpecs>(
  specs: F,
  raw: Record<string, unknown>,
  scope?: unknown,
): ParsedFlags<F> {
  const byName = new Map<string, string>();
  for (const k of Object.keys(specs)) {
    byName.set(k, k);
    byName.set(kebab(k), k);
    byName.set(snake(k), k);
  }
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined || value === null) continue;
    const k = byName.get(key);
    if (!k) {
      const known =
        Object.keys(specs)
          .map((x) => '--' + kebab(x))
          .join(', ') || 'none';
      throw badArgs(`unknown flag ${shown(key)}; this fault takes: ${known}`);
    }
    if (k in values) throw badArgs(`--${kebab(k)} is given twice`);
    values[k] = value;
  }
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(specs)) {
    const name = kebab(k);
    // an empty value is "not given" (HTTP clients send "" for unset fields), for every kind
    if (k in values && values[k] !== '') {
      out[k] = spec.parse(values[k], name, scope);
    } else if (spec.required) {
      throw badArgs(`--${name} is required: ${spec.description}`);
    } else {
      out[k] = spec.default;
    }
  }
  return out as ParsedFlags<F>;
}

/** The parsed args as stored and shown (snake_case keys, as the original's `args` JSON). */
export function argsJson(specs: FlagSpecs, parsed: Record<string, unknown>): string {
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(specs)) if (parsed[k] !== undefined) o[snake(k)] = parsed[k];
  return JSON.stringify(o);
}

/**
 * Stored args (argsJson) back as parsed args, by the flags' own names (camelCase): the values as they were parsed
 * then, not parsed again (a path flag is stored resolved already). Absent flags are undefined.
 */
export function storedArgs<F extends FlagSpecs>(specs: F, json: string): ParsedFlags<F> {
  const stored = JSON.parse(json) as Record<string, unknown>;
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(specs)) o[k] = stored[snake(k)] ?? stored[k];
  return o as ParsedFlags<F>;
}
