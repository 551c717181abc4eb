/** Shell completion generated from the registry, exercised in real bash, zsh and fish (.ci/run installs them). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMANDS } from '../../src/commands';
import { bashScript, completionTree, fishScript, zshScript } from '../../src/cli/completion';
import { allFaults } from '../../src/faults/index';

const FAULTS = allFaults();
const tree = completionTree(COMMANDS);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-unit-compl-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What bash's completion offers for a command line ending in `words` (the last one being completed). */
function bash(script: string, words: string[], shell = 'bash'): string[] {
  const file = path.join(dir, `c.${shell}`);
  fs.writeFileSync(file, script);
  const arr = words.map((w) => `'${w}'`).join(' ');
  const prelude = shell === 'zsh' ? 'autoload -U compinit && compinit -u; ' : '';
  const set = shell === 'zsh' ? 'setopt ksharrays; ' : '';
  const r = spawnSync(
    shell,
    [
      '-c',
      `${prelude}source ${file}; ${set}COMP_WORDS=(chaosmetad ${arr}); COMP_CWORD=${words.length}; _chaosmetad; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`${shell}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('the tree covers every target, fault (and alias) and flag of the registry', () => {
  const node = (p: string) => tree.find((n) => n.path === p)!;
  expect(node('inject').subs.sort()).toEqual([...new Set(FAULTS.map((f) => f.target))].sort());
  for (const f of FAULTS) {
    expect(node(`inject ${f.target}`).subs).toContain(f.fault);
    for (const a of f.aliases ?? []) expect(node(`inject ${f.target}`).subs).toContain(a);
    const flags = node(`inject ${f.target} ${f.fault}`).flags;
    for (const [k, spec] of Object.entries(f.flags)) {
      if (spec.hidden) continue;
      expect(flags).toContain(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      if (spec.char) expect(flags).toContain(`-${spec.char}`);
    }
  }
  expect(node('').subs).not.toContain('watch'); // hidden
});

test('bash completes commands, targets, faults, flags and enumerated values', () => {
  const s = bashScript(tree);
  expect(bash(s, [''])).toEqual([
    'check',
    'completion',
    'drill',
    'inject',
    'kube',
    'query',
    'recover',
    'renew',
    'schedule',
    'server',
    'version',
  ]);
  expect(bash(s, ['inject', 'n'])).toEqual(['network']);
  expect(bash(s, ['inject', 'file', 'de'])).toEqual(['del', 'delete']);
  expect(bash(s, ['inject', 'cpu', 'burn', '--pe'])).toEqual(['--percent']);
  expect(bash(s, ['inject', 'mem', 'fill', '--mode', ''])).toEqual(['cache', 'ram']);
  expect(bash(s, ['inject', 'network', 'delay', '-i', 'eth0', '--dir'])).toEqual(['--direction']);
  expect(bash(s, ['server', '--allow-r'])).toEqual(['--allow-recover-cmd']);
});

const has = (sh: string) => spawnSync('sh', ['-c', `command -v ${sh}`]).status === 0;

test('zsh (through bashcompinit) completes the same', () => {
  expect(has('zsh')).toBe(true); // .ci/run installs it
  const s = zshScript(tree);
  expect(bash(s, ['inject', 'mem', 'fill', '--mode', ''], 'zsh')).toEqual(['cache', 'ram']);
  expect(bash(s, ['inject', 'cpu', ''], 'zsh')).toEqual(['burn', 'load']);
});

test('fish completes the same', () => {
  expect(has('fish')).toBe(true); // .ci/run installs it
  const file = path.join(dir, 'c.fish');
  fs.writeFileSync(file, fishScript(tree));
  const complete = (line: string) => {
    const r = spawnSync('fish', ['-c', `source ${file}; complete -C'${line}'`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0])
      .sort();
  };
  expect(complete('chaosmetad inject c')).toEqual(['container', 'cpu']);
  expect(complete('chaosmetad inject cpu burn --pe')).toEqual(['--percent']);
  expect(complete('chaosmetad inject mem fill --mode ')).toEqual(['cache', 'ram']);
  expect(complete('chaosmetad inject file del')).toEqual(['del', 'delete']);
});
