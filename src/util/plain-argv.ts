/**
 * Flag tables as plain data, and the parser of the start-up fast paths (cli/fast.ts). A command's flags are defined
 * once here (name → short char, boolean, help); the oclif commands build their oclif flags from the same tables
 * (oclif/base.ts oclifFlagsOf), so the fast path and oclif cannot drift apart.
 */

/** One flag: its short form, whether it takes no value, and its help. */
export interface CliFlag {
  char?: string;
  boolean?: true;
  description: string;
  helpGroup?: string;
  helpValue?: string;
}

export type CliFlags = Record<string, CliFlag>;

/** Parsed flags, from oclif or the fast path: a string per value flag, true for a boolean one that is set. */
export type ParsedFlags = Record<string, string | boolean | undefined>;

/** The flags every command that talks to an engine takes: where the store or the daemon is, and JSON output. */
export const CLIENT_FLAGS = {
  json: { boolean: true, description: 'print the result as JSON' },
  'data-dir': {
    description: 'where the experiment store lives (env CHAOSMETAD_DATA_DIR; default /var/lib/chaosmetad)',
    helpValue: 'DIR',
  },
  server: {
    description:
      "act through a chaosmetad daemon at this URL (e.g. http://10.0.0.5:29595 or unix:/run/chaosmetad.sock) instead of locally; a daemon on this host must be root's by the kernel's socket tables, else nothing is sent (exit 4)",
    helpGroup: 'REMOTE',
  },
  'token-file': {
    description:
      'with --server: file holding the bearer token (else env CHAOSMETAD_TOKEN; for a daemon on this host, DATA_DIR/token)',
    helpGroup: 'REMOTE',
  },
} satisfies CliFlags;

export interface PlainParse {
  flags: Record<string, string | true>;
  args: string[];
}

/**
 * The flags as oclif would parse them — in the plain forms only: `--flag value`, `--flag=value`, `-c value`,
 * boolean `--flag` / `-c` — and at most `maxArgs` positional arguments. Anything else (help, an unknown or repeated
 * flag, a missing value, a value or argument that starts with "-", `--`, grouped short flags, one argument too
 * many) gives undefined: the full oclif CLI then handles the command, messages and all.
 */
export function parsePlainArgv(table: CliFlags, tokens: readonly string[], maxArgs = 0): PlainParse | undefined {
  const chars = new Map<string, string>();
  for (const [name, f] of Object.entries(table)) if (f.char) chars.set(f.char, name);
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
      name = tok.slice(2, eq < 0 ? undefined : eq);
      if (eq >= 0) value = tok.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(tok)) {
      name = chars.get(tok[1]);
    }
    if (!name || name === 'help' || !Object.hasOwn(table, name) || name in flags) return undefined;
    if (table[name].boolean) {
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
