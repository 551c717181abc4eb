/** What every oclif command shares, the CLI's and the daemon's: the base class and the common flags. */
import { Command, Flags, type Interfaces } from '@oclif/core';
import { CLIENT_FLAGS, type CliFlags } from '../util/plain-argv';
import type { ChaosApi } from '../api/api';
import { openApi } from '../api/factory';
import { type Engine, type EngineOptions, openEngine } from '../engine/engine';
import { forTerminal } from '../util/terminal';

/** oclif flags from a plain flag table (util/plain-argv.ts): the fast paths parse the same table. */
export function oclifFlagsOf(table: CliFlags): Interfaces.FlagInput {
  return Object.fromEntries(
    Object.entries(table).map(([name, f]) => {
      const o = { char: f.char as Char | undefined, description: f.description, helpGroup: f.helpGroup };
      return [name, f.boolean ? Flags.boolean(o) : Flags.string({ ...o, helpValue: f.helpValue })];
    }),
  );
}

type Char = Interfaces.AlphabetLowercase | Interfaces.AlphabetUppercase;

const { json, server, 'data-dir': dataDir, 'token-file': tokenFile } = CLIENT_FLAGS;

export const dataDirFlag = Flags.string({ description: dataDir.description, helpValue: dataDir.helpValue });

export const jsonFlag = Flags.boolean({ description: json.description });

/** The flags that choose where a command's requests go (api/factory.ts decides; commands never branch on it). */
export const clientFlags = {
  server: Flags.string({ description: server.description, helpGroup: server.helpGroup }),
  'token-file': Flags.string({ description: tokenFile.description, helpGroup: tokenFile.helpGroup }),
};

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
