import { Args, Command, Flags } from '@oclif/core';
import * as fs from 'node:fs';
import { ChaosCommand, dataDirFlag, jsonFlag } from './base';

declare const __CHAOSMETAD_BUILD_DATE__: string | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json') as { version: string };

export function versionInfo(): { version: string; 'build-date': string } {
  let date = typeof __CHAOSMETAD_BUILD_DATE__ === 'string' ? __CHAOSMETAD_BUILD_DATE__ : '';
  if (!date) {
    try { date = fs.statSync(__filename).mtime.toISOString().slice(0, 10); } catch { date = 'unknown'; }
  }
  return { version: pkg.version, 'build-date': date };
}

export class Version extends Command {
  static override summary = 'Print the version as one JSON line';
  static override examples = ['chaosmetad version'];
  async run(): Promise<void> {
    process.stdout.write(JSON.stringify(versionInfo()) + '\n');
  }
}

export class Check extends ChaosCommand {
  static override summary = "Read the host: is an experiment's fault in place, partly in place, or gone?";
  static override examples = ['chaosmetad check cpu-test-1'];
  static override args = { uid: Args.string({ description: 'the experiment', required: true }) };
  static override flags = { json: jsonFlag, 'data-dir': dataDirFlag };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(Check);
    const r = await this.engine(flags['data-dir']).check(args.uid);
    this.out(flags.json ? JSON.stringify(r) : `uid: ${r.uid} status: ${r.status} effect: ${r.effect}`);
  }
}

/** Hidden: the detached watcher that recovers an experiment at its deadline. */
export class Watch extends ChaosCommand {
  static override hidden = true;
  static override summary = 'Wait for an experiment\'s deadline, then recover it (started by inject)';
  static override args = { uid: Args.string({ required: true }), tag: Args.string({ description: 'process tag' }) };
  static override flags = { 'data-dir': dataDirFlag, 'chaosmetad-uid': Flags.string({ hidden: true }) };
  async run(): Promise<void> {
    const { args, flags } = await this.parse(Watch);
    await this.engine(flags['data-dir']).watch(args.uid);
  }
}
