/**
 * The parser of the start-up fast paths (cli/fast.ts), and the flags every client command shares. A command's
 * flags are declared once (util/flags.ts); the oclif commands build their oclif flags from the same declarations
 * (oclif/base.ts oclifFlagsOf), so the fast path and oclif cannot drift apart.
 */
import { type FlagSpecs, boolean, kebab, string } from './flags';

/** Flag values as the command line gives them (oclif or the fast path), keyed by long name: not yet parsed. */
export type RawFlags = Record<string, string | boolean | string[] | undefined>;

/**
 * The output format, one flag for every command that prints results: `--format table|json` (also spelled
 * `--output`, `-o` where the command has no other -o) and `--json`, short for json. Declared under `format` or
 * `output` (the name the command has always shown in its help); outputFormat() reads whichever was given.
 */
export const outputFlag = (o: { char?: 'o'; helpGroup?: string; name: 'format' | 'output' }) =>
  string({
    char: o.char,
    description: 'table (default) or json',
    helpGroup: o.helpGroup,
    aliases: [o.name === 'format' ? 'output' : 'format'],
    pattern: /^(table|json)$/,
    form: 'table or json',
  });

export const JSON_FLAG = { json: boolean({ description: 'print the result as JSON' }) };

/** table or json, from whichever spelling was given (--json wins); a bad value is BadArgs naming the flag. */
export function outputFormat(flags: RawFlags): 'table' | 'json' {
  if (flags.json === true) return 'json';
  for (const name of ['format', 'output'] as const) {
    const v = flags[name];
    if (v !== undefined) return outputFlag({ name }).parse(v, name) as 'table' | 'json';
  }
  return 'table';
}

/** The flags every command that talks to an engine takes: where the store or the daemon is, and JSON output. */
export const CLIENT_FLAGS = {
  ...JSON_FLAG,
  'data-dir': string({
    description: 'where the experiment store lives (env CHAOSMETAD_DATA_DIR; default /var/lib/chaosmetad)',
    helpValue: 'DIR',
  }),
  server: string({
    description:
      "act through a chaosmetad daemon at this URL (e.g. http://10.0.0.5:29595 or unix:/run/chaosmetad.sock) instead of locally; a daemon on this host must be root's by the kernel's socket tables, else nothing is sent (exit 4)",
    helpGroup: 'REMOTE',
  }),
  'token-file': string({
    description:
      'with --server: file holding the bearer token (else env CHAOSMETAD_TOKEN; for a daemon on this host, DATA_DIR/token)',
    helpGroup: 'REMOTE',
  }),
} satisfies FlagSpecs;

export interface PlainParse {
  flags: Record<string, string | true>;
  args: string[];
}

/**
 * The flags as oclif would parse them — in the plain forms only: `--flag value`, `--flag=value`, `-c value`,
 * boolean `--flag` / `-c` — and at most `maxArgs` positional arguments. Anything else (help, an unknown or repeated
 * flag, a missing value, a value or argument that starts with "-", `--`, grouped short flags, one argument too
 * many, a repeatable flag) gives undefined: the full oclif CLI then handles the command, messages and all.
 */
export function parsePlainArgv(specs: FlagSpecs, tokens: readonly string[], maxArgs = 0): PlainParse | undefined {
  const names = new Map<string, string>();
  for (const [key, f] of Object.entries(specs)) {
    const name = kebab(key);
    if (f.char) names.set('-' + f.char, name);
    for (const a of f.aliases ?? []) names.set('--' + a, name);
    names.set('--' + name, name);
  }
  const kinds = new Map(Object.entries(specs).map(([k, f]) => [kebab(k), f]));
  const flags: Record<string, string | true> = {};
  const args: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (!tok.startsWith('-')) {
      if (args.length >= maxArgs) return undefined;
      args.push(tok);
      continue;
    }
    let name: string | undefined;
    let value: string | undefined;
    if (/^--[a-z][a-z0-9-]*(=|$)/.test(tok)) {
      const eq = tok.indexOf('=');
      name = names.get(tok.slice(0, eq < 0 ? undefined : eq));
      if (eq >= 0) value = tok.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(tok)) {
      name = names.get(tok);
    }
    const spec = name === undefined ? undefined : kinds.get(name);
    if (!name || !spec || name === 'help' || spec.multiple || name in flags) return undefined;
    if (spec.kind === 'boolean') {
      if (value !== undefined) return undefined;
      flags[name] = true;
      continue;
    }
    if (value === undefined) value = tokens[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    flags[name] = value;
  }
  return { flags, args };
}
