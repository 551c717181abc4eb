/**
 * The start-up fast path of inject (cli/fast.ts) parses exactly what oclif parses, for every fault's examples and
 * the usual forms, and declines (leaving the command to oclif) everything else.
 */
import { Parser } from '@oclif/core';
import { COMMANDS } from '../../src/commands';
import { parseInjectArgv } from '../../src/cli/fast';
import { allFaults, findFault } from '../../src/faults/index';
import { splitArgv } from '../../src/util/argv';

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
