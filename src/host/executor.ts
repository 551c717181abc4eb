/**
 * Every host change goes through here: argv arrays only (never a shell string), tools resolved from a fixed
 * PATH that includes /usr/sbin and /sbin (cron's PATH does not), an exec context (the host, or a container's
 * namespaces entered through nsenter), and a dry-run mode that records instead of running.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChaosError, ExitCode } from '../errors';
import { lazy } from '../util/lazy';

export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where a command runs: this host, or inside a process's namespaces (containers, later issues). */
export type ExecContext =
  { kind: 'host' } | { kind: 'ns'; pid: number; namespaces: Array<'mnt' | 'net' | 'pid' | 'uts' | 'ipc'> };
export const HOST: ExecContext = { kind: 'host' };

/** Variables a child may inherit: the locale, home and terminal; never tokens or other secrets of the caller. */
const execa = lazy<typeof import('execa')>(() => require('execa')); // loaded on first use: start-up time

const KEEP_ENV = /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|USER|LOGNAME|SHELL)$/;
/** chaosmetad's own settings, kept for chaosmetad's own children (watchers); CHAOSMETAD_TOKEN never is. */
const KEEP_OWN = /^CHAOSMETAD_(DATA_DIR|CACHE_DIR|HELPER|DEBUG)$/;

/**
 * The environment for every process chaosmetad starts (tools, helpers, watchers, recover commands): a short
 * allow-list of the caller's, so a daemon's CHAOSMETAD_TOKEN or a shell's secrets never reach them.
 */
export function cleanEnv(opts: { own?: boolean } = {}, set: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (KEEP_ENV.test(k) || (opts.own && KEEP_OWN.test(k)))) out[k] = v;
  }
  return { ...out, ...set };
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}
export interface ExecOptions {
  input?: string;
  allowFail?: boolean;
  timeoutMs?: number;
  /** descriptors handed to the command as its fd 3, 4, … (named /proc/self/fd/3…: a file or directory opened safely) */
  fds?: number[];
}

export function whichTool(cmd: string): string | undefined {
  if (cmd.includes('/')) return fs.existsSync(cmd) ? cmd : undefined;
  const dirs = [...SYSTEM_PATH.split(':'), ...(process.env.PATH ?? '').split(':')];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export class Executor {
  /** What a dry run would have done, in order (human-readable). */
  readonly planned: string[] = [];

  constructor(
    readonly dryRun = false,
    readonly context: ExecContext = HOST,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Record a change that is not a command (a file write, a helper start) for dry-run output and the log. */
  note(what: string): void {
    if (this.dryRun) this.planned.push(what);
    this.log(what);
  }

  /** A change made from Node (a file write, a signal): recorded in a dry run, logged and done otherwise. */
  async change<T>(what: string, fn: () => T | Promise<T>): Promise<T | undefined> {
    if (this.dryRun) {
      this.planned.push(what);
      return undefined;
    }
    this.log(what);
    return fn();
  }

  /** Resolve argv for the exec context. */
  argv(cmd: string, args: string[]): [string, string[]] {
    if (this.context.kind === 'ns') {
      const ns = this.context.namespaces.map((n) => `--${n === 'mnt' ? 'mount' : n}`);
      return ['nsenter', ['-t', String(this.context.pid), ...ns, '--', cmd, ...args]];
    }
    return [cmd, args];
  }

  async run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [file, argv] = this.argv(cmd, args);
    const line = [file, ...argv].map(quoteForDisplay).join(' ');
    if (this.dryRun) {
      this.planned.push(`run: ${line}`);
      return { stdout: '', stderr: '', exitCode: 0 };
    }
    const resolved = whichTool(file);
    if (!resolved)
      throw new ChaosError(ExitCode.Inject, `${file} not found (looked in ${SYSTEM_PATH}); install it first`);
    this.log(`run: ${line}`);
    const r = await execa()(resolved, argv, {
      reject: false,
      input: opts.input,
      timeout: opts.timeoutMs ?? 60_000,
      ...(opts.fds?.length ? { stdio: ['pipe', 'pipe', 'pipe', ...opts.fds] } : {}),
      env: cleanEnv({}, { PATH: SYSTEM_PATH, LC_ALL: 'C' }),
      extendEnv: false,
      stripFinalNewline: true,
    });
    const result = { stdout: r.stdout ?? '', stderr: r.stderr ?? '', exitCode: r.exitCode ?? -1 };
    if (result.exitCode !== 0 && !opts.allowFail) {
      throw new ChaosError(
        ExitCode.Inject,
        `${line} failed (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim().slice(0, 500)}`,
      );
    }
    return result;
  }
}

/** Shell-like quoting for display only (dry-run, logs); never executed. */
export function quoteForDisplay(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
