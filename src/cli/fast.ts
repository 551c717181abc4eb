/**
 * The start-up fast paths of `inject <target> <fault> …` (the command that most needs to be quick: a fault should
 * be in place a moment after it is asked for), `query` and `recover` (which scripts, cron and tests call most).
 * Each parses the plain forms — `--flag value`, `--flag=value`, `-c value`, boolean `--flag` — of its flags itself
 * (util/plain-argv.ts) and runs the command without loading oclif (~90–140 ms of the single executable's start-up).
 * Anything else (help, an unknown or repeated flag, a missing value, a value that starts with "-", an extra
 * argument) returns undefined and the full oclif CLI handles the command, messages and all. Results, messages and
 * exit codes are the same on both paths (cli/*-run.ts).
 */
import { openApi, runWatcher } from '../api/factory';
import { INJECT_FLAGS } from '../api/inject-flags';
import { ChaosError, ExitCode } from '../errors';
import { findFault } from '../faults/index';
import type { FaultDef } from '../faults/types';
import { CLIENT_FLAGS, type RawFlags, parsePlainArgv } from '../util/plain-argv';
import { type ParsedInjectFlags, runInject } from './inject-run';
import { QUERY_FLAGS, runQuery } from './query-run';
import { RECOVER_FLAGS, runRecover } from './recover-run';
import type { ChaosApi } from '../api/api';
import { forTerminal } from '../util/terminal';

/** The flags as oclif would parse them, or undefined when the argv is not in the plain forms. */
export function parseInjectArgv(def: FaultDef, tokens: string[]): ParsedInjectFlags | undefined {
  // besides the fault's own, the request's own fields (api/inject-flags.ts); later entries win a short flag (as in
  // the oclif command: -t is --timeout)
  return parsePlainArgv({ ...def.flags, ...INJECT_FLAGS, ...CLIENT_FLAGS }, tokens)?.flags;
}

/** An error on stderr as the full CLI prints it; its exit code returned. */
function reportError(e: unknown): number {
  const err = e instanceof ChaosError ? e : new ChaosError(ExitCode.Internal, (e as Error)?.message ?? String(e));
  process.stderr.write(`[error] ${forTerminal(err.message)}\n`);
  if (err.code === ExitCode.Internal && process.env.CHAOSMETAD_DEBUG)
    process.stderr.write(String((e as Error).stack) + '\n');
  return err.code;
}

/** Open the API the flags name, run fn with it, print an error as the CLI does; the exit code. */
async function withApi(
  flags: RawFlags,
  watcher: boolean,
  fn: (api: ChaosApi, out: (line: string) => void) => Promise<void>,
): Promise<number> {
  const str = (k: string) => flags[k] as string | undefined;
  let api: ChaosApi | undefined;
  try {
    api = openApi({ server: str('server'), tokenFile: str('token-file'), dataDir: str('data-dir'), watcher });
    await fn(api, (line) => process.stdout.write(forTerminal(line) + '\n'));
    return ExitCode.Ok;
  } catch (e) {
    return reportError(e);
  } finally {
    api?.close();
  }
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
  return withApi(flags, true, (api, out) => runInject(def, flags, api, out));
}

/** `query …` and `recover …` in their plain forms (scripts, cron and dashboards call them often). */
export async function fastQueryOrRecover(argv: string[]): Promise<number | undefined> {
  if (argv[0] === 'query') {
    const p = parsePlainArgv(QUERY_FLAGS, argv.slice(1));
    return p && withApi(p.flags, false, (api, out) => runQuery(p.flags, api, out));
  }
  if (argv[0] === 'recover') {
    const p = parsePlainArgv(RECOVER_FLAGS, argv.slice(1), 1);
    return p && withApi(p.flags, false, (api, out) => runRecover(p.args[0], p.flags, api, out));
  }
  return undefined;
}

/** The deadline watcher (as inject starts it) without oclif; undefined for any other form (the full CLI runs it). */
export async function fastWatch(argv: string[]): Promise<number | undefined> {
  try {
    return (await runWatcher(argv)) ? ExitCode.Ok : undefined;
  } catch (e) {
    return reportError(e);
  }
}
