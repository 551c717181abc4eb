/**
 * Entry of the single executable (Node SEA). In a SEA, `require` loads built-ins only, so the bundle's banner
 * recreates it with module.createRequire. oclif loads its command list from disk, so a tiny package.json and a
 * commands stub (which hands over the bundled COMMANDS through a global) are written once per build into the
 * cache directory, next to the extracted helper and sqlite addon.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { versionInfo } from '../api/version';
import { seaRuntimeDir } from '../host/assets';
import { dropClosedPipe, effectiveArgv } from '../cli/argv0';
import { lazy } from '../util/lazy';

// loaded lazily, so that each path pays only for what it runs
const hostexec = lazy<typeof import('../host/hostexec')>(() => require('../host/hostexec'));
const cliFast = lazy<typeof import('../cli/fast')>(() => require('../cli/fast'));
const commands = lazy<typeof import('../commands')>(() => require('../commands'));
const cliMain = lazy<typeof import('../cli/main')>(() => require('../cli/main'));

// eslint-disable-next-line no-restricted-syntax -- eager
const pkg = require('../../package.json') as {
  name: string;
  version: string;
  description: string;
  oclif: Record<string, unknown>;
};

/** Write a small file unless it already holds exactly this text (a planted or truncated one is replaced). */
function writeIfMissing(file: string, text: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === text && !fs.lstatSync(file).isSymbolicLink()) return;
  } catch {
    /* absent */
  }
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'w' });
  fs.renameSync(tmp, file);
}

function prepareRoot(): string {
  const dir = path.join(seaRuntimeDir(), 'oclif');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const oclif = { ...pkg.oclif, commands: { strategy: 'explicit', target: './commands.js', identifier: 'COMMANDS' } };
  writeIfMissing(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: pkg.name, version: pkg.version, description: pkg.description, oclif }),
  );
  writeIfMissing(path.join(dir, 'commands.js'), 'module.exports = { COMMANDS: globalThis.__CHAOSMETAD_COMMANDS__ };\n');
  return dir;
}

function start(): void {
  // in an agent pod: every command runs on the node instead (host/hostexec.ts)
  if (process.env.CHAOSMETAD_HOST_EXEC) {
    const { runOnNode } = hostexec();
    if (runOnNode()) return;
  }
  // `version` (scripts and probes call it often) prints without loading the command tree: the bundle's modules are
  // loaded lazily, through the loaders above, so this costs what an empty single executable costs
  dropClosedPipe();
  const argv = effectiveArgv(process.argv.slice(2));
  if (argv.length === 1 && argv[0] === 'version') {
    process.stdout.write(JSON.stringify(versionInfo()) + '\n');
    return;
  }
  // `inject …`, `query …` and `recover …` in their plain forms, and the deadline watcher, run without oclif
  // (cli/fast.ts); anything else, or what they decline, runs the CLI
  if (argv[0] === 'inject' || argv[0] === 'watch' || argv[0] === 'query' || argv[0] === 'recover') {
    const fast = cliFast();
    const run = argv[0] === 'inject' ? fast.fastInject : argv[0] === 'watch' ? fast.fastWatch : fast.fastQueryOrRecover;
    void run(argv).then((code) => {
      if (code === undefined) fullCli();
      else process.exitCode = code;
    });
    return;
  }
  fullCli();
}

function fullCli(): void {
  const { COMMANDS } = commands();
  const { runCli } = cliMain();
  (globalThis as Record<string, unknown>).__CHAOSMETAD_COMMANDS__ = COMMANDS;
  runCli(prepareRoot());
}

// With a V8 start-up snapshot (pkg.config.json useSnapshot) every module above is already evaluated in the
// snapshot, and start() runs when the executable starts; without one, start now.
// eslint-disable-next-line no-restricted-syntax -- eager
const v8 = require('node:v8') as {
  startupSnapshot?: { isBuildingSnapshot(): boolean; setDeserializeMainFunction(fn: () => void): void };
};
if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(start);
else start();
