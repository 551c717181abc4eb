/** The CLI entry: oclif runs the command tree; every error ends as `[error] message` and a compat exit code. */
import { Config, type Interfaces, run, settings } from '@oclif/core';
import * as path from 'node:path';
import { ChaosError, ExitCode } from '../errors';
import { findFault, targets } from '../faults/index';
import { effectiveArgv, isPlugin } from './argv0';
import { forTerminal } from '../util/terminal';

/** `inject <target> <fault>` with a name that does not exist: say which ones do (before oclif's generic message). */
function checkInjectNames(argv: string[]): void {
  if (argv[0] !== 'inject') return;
  const [target, fault] = argv.slice(1, 3);
  if (target === undefined || target.startsWith('-')) return;
  if (!targets().includes(target)) findFault(target, fault ?? '');
  if (fault !== undefined && !fault.startsWith('-')) findFault(target, fault);
}

function exitCodeOf(err: unknown): [ExitCode, string] {
  if (err instanceof ChaosError) return [err.code, err.message];
  const e = err as { oclif?: { exit?: number }; message?: string; code?: string };
  if (e?.code === 'EEXIT' && e.oclif?.exit !== undefined) return [e.oclif.exit, ''];
  if (e?.oclif) return [ExitCode.BadArgs, (e.message ?? String(err)).split('\nSee more help with')[0]];
  return [ExitCode.Internal, e?.message ?? String(err)];
}

// we always run compiled JavaScript: never let oclif look for TypeScript sources or ts-node (NODE_ENV=test/dev)
settings.enableAutoTranspile = false;

/**
 * oclif takes settings from environment variables named after the bin: CHAOSMETAD_DATA_DIR would be ITS data dir,
 * where it loads the user and link plugins a package.json there lists (their init hooks run as whoever runs us:
 * root, before our own data-dir checks), CHAOSMETAD_CACHE_DIR its cache, CHAOSMETAD_DEBUG its debug switch,
 * CHAOSMETAD_CONTENT_TYPE=json a JSON switch. Those names are ours, and so oclif reads none of them: its data,
 * config and cache dirs are its own defaults under $HOME (never $CHAOSMETAD_DATA_DIR), and it reads no theme file.
 * (Config.load runs again inside run(), so this is the one place that covers both loads.)
 */
const OCLIF_ENV: Record<string, string> = { DISABLE_THEME: 'true' };
Config.prototype.scopedEnvVar = (k: string): string | undefined => OCLIF_ENV[k];
Config.prototype.scopedEnvVarKeys = (): string[] => [];

/**
 * How oclif loads the command tree: from our root's package.json only. No user or link plugins (userPlugins: a
 * package.json in its data dir), no dev plugins, no additions; our package.json lists no core plugins, no
 * jitPlugins and no hooks (test/unit/oclif-plugins.test.ts holds it to that).
 */
export function oclifOptions(root: string): Interfaces.LoadOptions {
  return { root, userPlugins: false, devPlugins: false, pluginAdditions: undefined };
}

export async function main(
  argv: string[] = effectiveArgv(process.argv.slice(2)),
  root = path.resolve(__dirname, '..', '..'),
): Promise<number> {
  try {
    checkInjectNames(argv);
    await run(argv, oclifOptions(root));
    return ExitCode.Ok;
  } catch (err) {
    const [code, message] = exitCodeOf(err);
    if (message) process.stderr.write(`[error] ${forTerminal(message)}\n`);
    if (code === ExitCode.Internal && process.env.CHAOSMETAD_DEBUG)
      process.stderr.write(String((err as Error).stack) + '\n');
    return code;
  }
}

/**
 * As the kubectl plugin, oclif's help names the commands as the tree has them (`$ chaosmetad kube COMMAND`,
 * `kube inject`): shown as they are typed there (`$ kubectl chaosmetad COMMAND`, `inject`).
 */
function pluginHelp(): void {
  const write = process.stdout.write.bind(process.stdout) as (
    chunk: string | Uint8Array,
    ...rest: unknown[]
  ) => boolean;
  process.stdout.write = (chunk: string | Uint8Array, ...rest: unknown[]) =>
    write(typeof chunk === 'string' ? asPlugin(chunk) : chunk, ...rest);
}

/** Help text as the plugin names things: a listed `kube X` becomes `X`, its wrapped lines moved left alike. */
export function asPlugin(text: string): string {
  let listing = false;
  return text
    .replace(/\bchaosmetad kube\b/g, 'kubectl chaosmetad')
    .split('\n')
    .map((line) => {
      if (/^ {2}kube \S/.test(line)) {
        listing = true;
        return '  ' + line.slice(7);
      }
      if (listing && /^ {7,}\S/.test(line)) return line.slice(5);
      listing = false;
      return line;
    })
    .join('\n');
}

/** Run and exit once stdout is flushed. */
export function runCli(root?: string): void {
  if (isPlugin()) pluginHelp();
  void main(effectiveArgv(process.argv.slice(2)), root).then((code) => {
    process.exitCode = code;
  });
}
