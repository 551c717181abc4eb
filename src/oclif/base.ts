/** What every oclif command shares, the CLI's and the daemon's: the base class and the common flags. */
import { Command, Flags, type Interfaces } from '@oclif/core';
import { type FlagSpecs, kebab } from '../util/flags';
import { CLIENT_FLAGS, type RawFlags } from '../util/plain-argv';
import type { ChaosApi } from '../api/api';
import { openApi } from '../api/factory';
import { type Engine, type EngineOptions, openEngine } from '../engine/engine';
import { forTerminal } from '../util/terminal';

type Char = Interfaces.AlphabetLowercase | Interfaces.AlphabetUppercase;

/**
 * oclif flags from flag declarations (util/flags.ts): the fast paths parse the same declarations. Every value flag
 * is an oclif string (its value is checked by its own parser where it is used: one message format for CLI and
 * HTTP). Help says an enum's choices, required and the default unless the description does. `taken`: short flags
 * the command uses itself (a declaration with the same letter keeps only its long name).
 */
export function oclifFlagsOf(specs: FlagSpecs, taken: readonly string[] = []): Interfaces.FlagInput {
  const out: Interfaces.FlagInput = {};
  for (const [key, spec] of Object.entries(specs)) {
    let description = spec.description;
    if (spec.kind === 'enum' && spec.options && !description.includes(spec.options.join(', ')))
      description += ` (one of ${spec.options.join(', ')})`;
    if (spec.required) description += ' (required)';
    // a description that says its default in its own words (10M, not 10485760) is not told it again
    if (spec.default !== undefined && spec.default !== false && !/\bdefault\b/.test(description))
      description += ` (default: ${String(spec.default)})`;
    const char = spec.char && !taken.includes(spec.char) ? (spec.char as Char) : undefined;
    const shape = {
      char,
      description,
      hidden: spec.hidden,
      helpGroup: spec.helpGroup,
      aliases: spec.aliases ? [...spec.aliases] : undefined,
    };
    out[kebab(key)] =
      spec.kind === 'boolean'
        ? Flags.boolean(shape)
        : spec.multiple
          ? Flags.string({ ...shape, helpValue: spec.helpValue, multiple: true })
          : Flags.string({ ...shape, helpValue: spec.helpValue });
  }
  return out;
}

/** The flags as oclif parsed them (declared by oclifFlagsOf: strings, booleans, lists of strings), unparsed. */
export const cliValues = (flags: unknown): RawFlags => flags as RawFlags;

const { json, server, 'data-dir': dataDir, 'token-file': tokenFile } = oclifFlagsOf(CLIENT_FLAGS);

export const dataDirFlag = dataDir;

export const jsonFlag = json;

/** The flags that choose where a command's requests go (api/factory.ts decides; commands never branch on it). */
export const clientFlags = { server, 'token-file': tokenFile };

/** The flags that say where (typed loosely: commands built from a plain flag table have loosely typed flags). */
type Where = Record<string, unknown>;
const opt = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Base for chaosmetad commands: gets the engine API from the factory, prints results, leaves errors to main(). */
export abstract class ChaosCommand extends Command {
  private opened?: ChaosApi;
  private engineInstance?: Engine;

  /** The engine API these flags name: a daemon's (--server) or this host's. */
  protected api(flags: Where, opts: { watcher?: boolean } = {}): ChaosApi {
    this.opened ??= openApi({
      server: opt(flags.server),
      tokenFile: opt(flags['token-file']),
      dataDir: opt(flags['data-dir']),
      watcher: opts.watcher,
    });
    return this.opened;
  }

  /** This host's engine itself: for the commands that are the engine's own processes (server, watch). */
  protected engine(dataDir: string | undefined, opts: EngineOptions = {}): Engine {
    this.engineInstance ??= openEngine(dataDir, opts);
    return this.engineInstance;
  }

  protected out(line: string): void {
    process.stdout.write(forTerminal(line) + '\n');
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    this.opened?.close();
    try {
      this.engineInstance?.store.close();
    } catch {
      /* already closed */
    }
    return super.finally(err);
  }
}
