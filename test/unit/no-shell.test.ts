/** No code path builds a shell command from input: the only explicit shell: --recover-cmd's bash -c. */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
function files(dir: string, ext: RegExp): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, ext) : ext.test(e.name) ? [p] : [];
  });
}

const PATTERNS: Array<[string, RegExp]> = [
  ['shell: true', /shell\s*:\s*true/],
  ['sh -c / bash -c', /\b(ba)?sh\b['"]?\s*,?\s*\[?\s*['"]?-c\b/],
  ['child_process exec/execSync (runs a shell)', /\b(exec|execSync)\s*\(\s*[`'"]/],
  ['execa.command / $`` (parses a command string)', /execa\.command|execaCommand|\$`/],
  ['system()/popen() in C', /\b(system|popen)\s*\(/],
];

/** the explicit, documented shell of --recover-cmd (the CLI user's own command line; gated over HTTP) */
const ALLOWED: Array<[string, string]> = [
  ['src/faults/recover-cmd.ts', "{ argv: [shell(), '-c', a.recoverCmd] }"],
  ['src/faults/recover-cmd.ts', "description: 'shell command line run with bash -c at recover"],
  ['src/faults/network/occupy.ts', '--recover-cmd (a shell command line, bash -c)'],
  ['src/faults/process/kill.ts', '--recover-cmd, a shell command line (bash -c, as the original)'],
];

test('no shell anywhere in src/ or native/ but the documented --recover-cmd', () => {
  const hits: string[] = [];
  for (const f of [...files(path.join(ROOT, 'src'), /\.ts$/), ...files(path.join(ROOT, 'native'), /\.[ch]$/)]) {
    const rel = path.relative(ROOT, f);
    fs.readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const [name, re] of PATTERNS) {
          if (!re.test(line)) continue;
          if (ALLOWED.some(([file, text]) => rel === file && line.includes(text))) continue;
          if (/^\s*(\/\/|\*|\/\*)/.test(line)) continue; // comments and help text
          hits.push(`${rel}:${i + 1}: ${name}: ${line.trim()}`);
        }
      });
  }
  expect(hits).toEqual([]);
});

test('the grep would catch them (the patterns are live)', () => {
  for (const bad of [
    "spawn('x', [], { shell: true })",
    "execa('bash', ['-c', cmd])",
    "execa('/bin/sh', ['-c', x])",
    "execSync('rm ' + p)",
    'system("rm -rf x");',
  ]) {
    expect(PATTERNS.some(([, re]) => re.test(bad))).toBe(true);
  }
});
