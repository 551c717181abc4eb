import { Command, Flags } from '@oclif/core';
import { Engine } from '../engine/engine';
import { Store, defaultDataDir } from '../store/store';

export const dataDirFlag = Flags.string({
  description: 'where the experiment store lives (env CHAOSMETAD_DATA_DIR; default /var/lib/chaosmetad)',
  helpValue: 'DIR',
});

export const jsonFlag = Flags.boolean({ description: 'print the result as JSON' });

/** Base for chaosmetad commands: opens the store lazily, prints results, leaves errors to main(). */
export abstract class ChaosCommand extends Command {
  private engineInstance?: Engine;

  protected engine(dataDir: string | undefined, opts: { watcher?: boolean } = {}): Engine {
    if (!this.engineInstance) this.engineInstance = new Engine(new Store(dataDir || defaultDataDir()), opts);
    return this.engineInstance;
  }

  protected out(line: string): void {
    process.stdout.write(line + '\n');
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    try { this.engineInstance?.store.close(); } catch { /* already closed */ }
    return super.finally(err);
  }
}
