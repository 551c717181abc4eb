/**
 * The start-up fast paths of inject, query and recover (cli/fast.ts) parse exactly what oclif parses, for every
 * fault's examples and the usual forms, and decline (leaving the command to oclif) everything else.
 */
import { Parser } from '@oclif/core';
import { COMMANDS } from '../../src/commands';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseInjectArgv } from '../../src/cli/fast';
import { allFaults, findFault } from '../../src/faults/index';
import { splitArgv } from '../../src/util/argv';
import { parsePlainArgv } from '../../src/util/plain-argv';
import type { FlagSpecs } from '../../src/util/flags';
import { QUERY_FLAGS } from '../../src/cli/query-run';
import { RECOVER_FLAGS } from '../../src/cli/recover-run';

async function oclifFlags(target: string, fault: string, tokens: string[]): Promise<Record<string, unknown>> {
  const cmd = COMMANDS[`inject:${target}:${fault}`];
  const { flags } = await Parser.parse(tokens, { flags: cmd.flags, strict: true });
  return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined && v !== false));
}

const FAULTS = allFaults();
const examples = FAULTS.flatMap((def) =>
  def.examples.map((line) => {
    const argv = splitArgv(line, 'example');
    return [line, def.target, def.fault, argv.slice(4)] as const; // chaosmetad inject <target> <fault> …
  }),
);

test.each(examples)('%s: the fast path parses what oclif parses', async (_line, target, fault, tokens) => {
  const fast = parseInjectArgv(findFault(target, fault), [...tokens]);
  expect(fast).toBeDefined();
  expect(fast).toEqual(await oclifFlags(target, fault, [...tokens]));
});

test.each([
  [['--percent=60', '-l', '0-1', '-t', '30s', '--json', '--uid', 'abc12'], 'cpu', 'burn'],
  [
    ['-p', '50', '--dry-run', '--data-dir', '/tmp/x', '--server', 'unix:/run/c.sock', '--token-file', '/t'],
    'cpu',
    'burn',
  ],
  [['--schedule', '*/5 * * * *', '--duration', '2m', '-c', '1'], 'cpu', 'load'],
  [['-i', 'eth0', '-l', '200ms', '--direction', 'in', '--src-ip', '10.0.0.0/8,fd00::/8'], 'network', 'delay'],
])('%j: the same flags as oclif', async (tokens, target, fault) => {
  expect(parseInjectArgv(findFault(target, fault), tokens)).toEqual(await oclifFlags(target, fault, tokens));
});

test.each([
  [['--help']],
  [['-h']],
  [['--percent', '50', '--percent', '60']],
  [['--percent']],
  [['--percent', '-5']],
  [['--percent', '']],
  [['--no-such-flag', '1']],
  [['-Z', '1']],
  [['-pl', '50']],
  [['extra-arg']],
  [['--', '--percent', '50']],
  [['--json=true']],
])('declines %j (oclif handles it, message and all)', (tokens) => {
  expect(parseInjectArgv(findFault('cpu', 'burn'), tokens)).toBeUndefined();
});

describe('query and recover on the fast path', () => {
  const table: Record<'query' | 'recover', FlagSpecs> = { query: QUERY_FLAGS, recover: RECOVER_FLAGS };
  async function viaOclif(cmd: 'query' | 'recover', tokens: string[]) {
    const C = COMMANDS[cmd];
    const { flags, args } = await Parser.parse(tokens, { flags: C.flags, args: C.args, strict: true });
    return {
      flags: Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined && v !== false)),
      args: Object.values(args).filter((v) => v !== undefined),
    };
  }

  test('each has exactly the oclif command’s flags, short forms and kinds', () => {
    for (const cmd of ['query', 'recover'] as const) {
      const oclif = Object.entries(COMMANDS[cmd].flags).map(([n, f]) => [n, f.char, f.type]);
      const plain = Object.entries(table[cmd]).map(([n, f]) => [
        n,
        f.char,
        f.kind === 'boolean' ? 'boolean' : 'option',
      ]);
      expect(plain).toEqual(oclif);
    }
  });

  test.each([
    ['query', []],
    ['query', ['--uid', 'abc12', '--format', 'json']],
    ['query', ['-s', 'success', '-t', 'cpu', '--all']],
    ['query', ['-a', '-l', '0', '--offset=5', '--json', '--data-dir', '/tmp/x']],
    ['query', ['--schedules', '--server', 'unix:/run/c.sock', '--token-file', '/t']],
    ['query', ['--parent-uid', 'p1234', '--container-id', 'abc', '--container-runtime', 'docker', '-c', 'root']],
    ['recover', ['cpu-test-1']],
    ['recover', ['--all']],
    ['recover', ['-a', '--json']],
    ['recover', ['--expired', '--target', 'cpu']],
    ['recover', ['--target', 'cpu', '--fault', 'burn']],
    ['recover', ['-t', 'network', '-f', 'delay', '--data-dir=/tmp/y']],
    ['recover', ['--json', 'cpu-test-1', '--server', 'http://127.0.0.1:29595']],
  ] as const)('%s %j: the same flags and arguments as oclif', async (cmd, tokens) => {
    expect(parsePlainArgv(table[cmd], tokens, cmd === 'recover' ? 1 : 0)).toEqual(await viaOclif(cmd, [...tokens]));
  });

  test.each([
    ['query', ['--help']],
    ['query', ['-h']],
    ['query', ['extra']],
    ['query', ['--uid']],
    ['query', ['--uid', '-x']],
    ['query', ['-al', '5']],
    ['query', ['--all=yes']],
    ['query', ['--limit', '5', '--limit', '6']],
    ['recover', ['a1234', 'b1234']],
    ['recover', ['--', '-odd-uid']],
    ['recover', ['--no-such']],
  ] as const)('%s declines %j (oclif handles it, message and all)', (cmd, tokens) => {
    expect(parsePlainArgv(table[cmd], tokens, cmd === 'recover' ? 1 : 0)).toBeUndefined();
  });
});

describe('query and recover print the same and exit the same on both paths', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-fastpaths-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // each path in a process of its own, from lib/ (oclif cannot load its commands inside jest's module sandbox)
  const LIB = path.resolve(__dirname, '..', '..', 'lib', 'cli');
  function run(code: string, argv: string[]) {
    const r = spawnSync(process.execPath, ['-e', code, ...argv], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const viaFast = (argv: string[]) =>
    run(
      `require(${JSON.stringify(path.join(LIB, 'fast'))}).fastQueryOrRecover(process.argv.slice(1))` +
        `.then((c) => { process.exitCode = c === undefined ? 99 : c; })`,
      argv,
    );
  const viaOclif = (argv: string[]) =>
    run(
      `require(${JSON.stringify(path.join(LIB, 'main'))}).main(process.argv.slice(1))` +
        `.then((c) => { process.exitCode = c; })`,
      argv,
    );

  test.each([
    ['query'],
    ['query', '--json'],
    ['query', '-a', '--format', 'json'],
    ['query', '--status', 'bogus'],
    ['query', '--format', 'xml'],
    ['query', '--limit', 'many'],
    ['query', '--schedules'],
    ['recover'],
    ['recover', 'no-such-uid-1'],
    ['recover', 'no-such-uid-1', '--json'],
    ['recover', '--all'],
    ['recover', '--all', '--json'],
    ['recover', '--fault', 'burn'],
    ['recover', '--all', '--expired'],
  ])('%s %s', (...argv) => {
    const withDir = [...argv, '--data-dir', dir];
    const fast = viaFast(withDir);
    expect(fast.code).not.toBe(99); // taken by the fast path
    expect(fast).toEqual(viaOclif(withDir));
  });
});
