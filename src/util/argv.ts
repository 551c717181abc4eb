import { badArgs } from '../errors';

/**
 * Split a command line into argv the way a user expects, WITHOUT a shell: whitespace separates words; single
 * quotes keep everything; double quotes keep everything but \" and \\; a backslash outside quotes escapes the next
 * character. No variables, globs, pipes or substitutions: `$(…)` or `;` are just characters of an argument.
 */
export function splitArgv(line: string, flag: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q: '' | "'" | '"' = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q === "'") {
      if (c === "'") q = '';
      else cur += c;
      continue;
    }
    if (q === '"') {
      if (c === '"') q = '';
      else if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i];
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      q = c;
      inWord = true;
      continue;
    }
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) {
        out.push(cur);
        cur = '';
        inWord = false;
      }
      continue;
    }
    cur += c;
    inWord = true;
  }
  if (q) throw badArgs(`--${flag} has an unclosed ${q === '"' ? 'double' : 'single'} quote`);
  if (inWord) out.push(cur);
  if (!out.length) throw badArgs(`--${flag} is empty`);
  return out;
}
