/** What every oclif command shares, the CLI's and the daemon's: the base class and the common flags. */
import { Command, Flags } from '@oclif/core';
import type { ChaosApi } from '../api/api';
import { openApi } from '../api/factory';
import { type Engine, openEngine } from '../engine/engine';

export const dataDirFlag = Flags.string({
  description: 'where the experiment store lives (env CHAOSMETAD_DATA_DIR; default /var/lib/chaosmetad)',
  helpValue: 'DIR',
});

export const jsonFlag = Flags.boolean({ description: 'print the result as JSON' });

/** The flags that choose where a command's requests go (api/factory.ts decides; commands never branch on it). */
export const clientFlags = {
  server: Flags.string({
    description:
      'act through a chaosmetad daemon at this URL (e.g. http://10.0.0.5:29595 or unix:/run/chaosmetad.sock) instead of locally',
    helpGroup: 'REMOTE',
  }),
  'token-file': Flags.string({
    description:
      'with --server: file holding the bearer token (else env CHAOSMETAD_TOKEN; for a daemon on this host, DATA_DIR/token)',
    helpGroup: 'REMOTE',
  }),
};

interface Where {
  server?: string;
  'token-file'?: string;
  'data-dir'?: string;
}

/** Base for chaosmetad commands: gets the engine API from the factory, prints results, leaves errors to main(). */
export abstract class ChaosCommand extends Command {
  private opened?: ChaosApi;
  private engineInstance?: Engine;

  /** The engine API these flags name: a daemon's (--server) or this host's. */
  protected api(flags: Where, opts: { watcher?: boolean } = {}): ChaosApi {
    this.opened ??= openApi({
      server: flags.server,
      tokenFile: flags['token-file'],
      dataDir: flags['data-dir'],
      watcher: opts.watcher,
    });
    return this.opened;
  }

  /** This host's engine itself: for the commands that are the engine's own processes (server, watch). */
  protected engine(dataDir: string | undefined, opts: { watcher?: boolean } = {}): Engine {
    this.engineInstance ??= openEngine(dataDir, opts);
    return this.engineInstance;
  }

  protected out(line: string): void {
    process.stdout.write(line + '\n');
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
