/**
 * The start-up fast path of `inject <target> <fault> …` (the command that most needs to be quick: a fault should
 * be in place a moment after it is asked for). It parses the plain forms — `--flag value`, `--flag=value`,
 * `-c value`, boolean `--flag` — of the fault's and the common inject flags itself and runs the inject without
 * loading oclif (~90 ms of the single executable's start-up). Anything else (help, an unknown or repeated flag, a
 * missing value, a value that starts with "-", an extra argument) returns undefined and the full oclif CLI handles
 * the command, messages and all. Results, messages and exit codes are the same on both paths (cli/inject-run.ts).
 */
import { openApi, runWatcher } from '../api/factory';
import { ChaosError, ExitCode } from '../errors';
import { kebab } from '../faults/flags';
import { findFault } from '../faults/index';
import type { FaultDef } from '../faults/types';
import { COMMON_INJECT_FLAGS, type ParsedInjectFlags, runInject } from './inject-run';

/** oclif-free flags every command of this kind also takes (see oclif/base.ts). */
const STRING_FLAGS = ['data-dir', 'server', 'token-file'];
const BOOLEAN_FLAGS = ['json'];

/** The flags as oclif would parse them, or undefined when the argv is not in the plain forms. */
export function parseInjectArgv(def: FaultDef, tokens: string[]): ParsedInjectFlags | undefined {
  const booleans = new Set<string>(BOOLEAN_FLAGS);
  const names = new Set<string>([...STRING_FLAGS, ...BOOLEAN_FLAGS]);
  const chars = new Map<string, string>();
  for (const [key, spec] of Object.entries(def.flags)) {
    const name = kebab(key);
    names.add(name);
    if (spec.kind === 'boolean') booleans.add(name);
    if (spec.char) chars.set(spec.char, name);
  }
  for (const [name, f] of Object.entries(COMMON_INJECT_FLAGS)) {
    names.add(name);
    if (f.boolean) booleans.add(name);
    if (f.char) chars.set(f.char, name);
  }
  const out: ParsedInjectFlags = {};
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    let name: string | undefined;
    let value: string | undefined;
    if (/^--[a-z][a-z0-9-]*(=|$)/.test(tok)) {
      const eq = tok.indexOf('=');
      name = tok.slice(2, eq < 0 ? undefined : eq);
      if (eq >= 0) value = tok.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(tok)) {
      name = chars.get(tok[1]);
    }
    if (!name || !names.has(name) || name in out || name === 'help') return undefined;
    if (booleans.has(name)) {
      if (value !== undefined) return undefined;
      out[name] = true;
      continue;
    }
    if (value === undefined) value = tokens[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    out[name] = value;
  }
  return out;
}

/** Run `inject …` on the fast path; undefined when it is not one for it (the caller runs the full CLI). */
export async function fastInject(argv: string[]): Promise<number | undefined> {
  if (argv[0] !== 'inject' || argv.length < 3) return undefined;
  let def: FaultDef;
  try {
    def = findFault(argv[1], argv[2]);
  } catch {
    return undefined;
  }
  const flags = parseInjectArgv(def, argv.slice(3));
  if (!flags) return undefined;
  const str = (k: string) => flags[k] as string | undefined;
  let api: ReturnType<typeof openApi> | undefined;
  try {
    api = openApi({ server: str('server'), tokenFile: str('token-file'), dataDir: str('data-dir'), watcher: true });
    await runInject(def, flags, api, (line) => process.stdout.write(line + '\n'));
    return ExitCode.Ok;
  } catch (e) {
    const err = e instanceof ChaosError ? e : new ChaosError(ExitCode.Internal, (e as Error)?.message ?? String(e));
    process.stderr.write(`[error] ${err.message}\n`);
    if (err.code === ExitCode.Internal && process.env.CHAOSMETAD_DEBUG)
      process.stderr.write(String((e as Error).stack) + '\n');
    return err.code;
  } finally {
    api?.close();
  }
}

/** The deadline watcher (as inject starts it) without oclif; undefined for any other form (the full CLI runs it). */
export async function fastWatch(argv: string[]): Promise<number | undefined> {
  try {
    return (await runWatcher(argv)) ? ExitCode.Ok : undefined;
  } catch (e) {
    const err = e instanceof ChaosError ? e : new ChaosError(ExitCode.Internal, (e as Error)?.message ?? String(e));
    process.stderr.write(`[error] ${err.message}\n`);
    return err.code;
  }
}
