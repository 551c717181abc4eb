/**
 * Files chaosmetad needs on disk: the native helper and better-sqlite3's addon (and whatever pkg.config.json
 * lists). From a checkout they are in native/build and node_modules; in the single executable they are SEA assets,
 * extracted once per build into a cache directory, each checked against the content hash its build recorded.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

declare const __CHAOSMETAD_BUILD_ID__: string | undefined;

type Sea = { isSea(): boolean; getAsset(name: string): ArrayBuffer };
let seaModule: Sea | null | undefined;

export function sea(): Sea | null {
  if (seaModule === undefined) {
    try {
      // eslint-disable-next-line no-restricted-syntax -- eager
      const s = require('node:sea') as Sea;
      seaModule = s.isSea() ? s : null;
    } catch {
      seaModule = null;
    }
  }
  return seaModule;
}

export const isSea = (): boolean => sea() !== null;

const repoRoot = (): string => path.resolve(__dirname, '..', '..');

function cacheRoot(): string {
  if (process.env.CHAOSMETAD_CACHE_DIR) return process.env.CHAOSMETAD_CACHE_DIR;
  if (process.getuid?.() === 0) return '/var/cache/chaosmetad';
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'chaosmetad');
}

/** What the build put in the executable: every asset's sha256 and size (scripts/build-sea.js, pkg.config.json). */
declare const __CHAOSMETAD_ASSETS__: Record<string, { sha256: string; size: number }> | undefined;

const extracted = new Map<string, string>();

const sha256 = (data: Buffer): string => crypto.createHash('sha256').update(data).digest('hex');

/** This boot's id: every reboot, a power cut's included, changes it. */
function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** What a full check of `file` was valid for: this boot, this inode as it was (any write, truncate, chmod or
 * replacement changes its ctime at least), this content hash. Kept next to it as NAME.verified. */
function verifiedLine(st: fs.BigIntStats, want: { sha256: string }): string | undefined {
  const boot = bootId();
  if (!boot) return undefined;
  return `${boot} ${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}:${st.uid} ${want.sha256}\n`;
}

/** Remember a full check (atomically; losing the record only costs the next command a re-hash). */
function markVerified(file: string, want: { sha256: string }): void {
  try {
    const line = verifiedLine(fs.lstatSync(file, { bigint: true }), want);
    if (!line) return;
    const tmp = `${file}.verified.${process.pid}.${crypto.randomBytes(6).toString('hex')}`;
    fs.writeFileSync(tmp, line, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, `${file}.verified`);
  } catch {
    /* the next command checks the hash again */
  }
}

/**
 * Is `file` exactly this asset: a regular file of ours, writable by no one else, of its size and content hash?
 * The hash is computed on the first use in each boot and whenever the file changed since (its record no longer
 * matches); a power cut always means a full check at the next start. ~6 ms saved on every later command.
 */
function intact(file: string, want: { sha256: string; size: number }): boolean {
  try {
    const st = fs.lstatSync(file, { bigint: true });
    const mine = st.uid === BigInt(process.getuid?.() ?? 0);
    if (!st.isFile() || !mine || st.mode & 0o022n || st.size !== BigInt(want.size)) return false;
    const line = verifiedLine(st, want);
    try {
      if (line && fs.readFileSync(`${file}.verified`, 'utf8') === line) return true;
    } catch {
      /* no record: check the content */
    }
    if (sha256(fs.readFileSync(file)) !== want.sha256) return false;
    markVerified(file, want);
    return true;
  } catch {
    return false;
  }
}

/**
 * One of the executable's assets as a file: reused when it is intact (size and content hash as the build recorded
 * them), else (absent, truncated by a power cut, planted) written anew: exclusively under a random name, fsynced,
 * renamed into place, the directory fsynced. Any number of assets; each verified once per process.
 */
export function assetFile(name: string, mode = 0o755): string {
  const known = extracted.get(name);
  if (known) return known;
  const s = sea();
  if (!s) throw new Error(`asset ${name}: not running as the single executable`);
  const manifest = typeof __CHAOSMETAD_ASSETS__ === 'object' ? __CHAOSMETAD_ASSETS__ : {};
  const want = manifest[name];
  if (!want) throw new Error(`this build of chaosmetad carries no asset ${name}`);
  const dir = seaRuntimeDir();
  const file = path.join(dir, name);
  if (!intact(file, want)) {
    const data = Buffer.from(s.getAsset(name));
    if (data.length !== want.size || sha256(data) !== want.sha256) {
      throw new Error(
        `the executable's asset ${name} does not match the hash its build recorded: ${process.execPath} is damaged; reinstall it`,
      );
    }
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}`;
    const fd = fs.openSync(
      tmp,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      mode,
    );
    try {
      fs.writeSync(fd, data);
      fs.fchmodSync(fd, mode);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    const d = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(d);
    } finally {
      fs.closeSync(d);
    }
    markVerified(file, want);
  }
  extracted.set(name, file);
  return file;
}

/** The cache dir and its build dirs: created 0700; one owned by another user or writable by others is refused. */
function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const me = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== me || st.mode & 0o022) {
    throw new Error(
      `the cache dir ${dir} is ${st.isDirectory() ? `owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}` : 'not a directory'}: it must be this user's (uid ${me}) and writable by no one else; remove it or set CHAOSMETAD_CACHE_DIR`,
    );
  }
}

/** The multi-call native helper binary. */
export function helperPath(): string {
  if (process.env.CHAOSMETAD_HELPER) return process.env.CHAOSMETAD_HELPER;
  if (isSea()) return assetFile('chaosmetad-helper');
  return path.join(repoRoot(), 'native', 'build', 'chaosmetad-helper');
}

/** chaosmetad's Java agent (jvm/): the JVM faults load it into the target JVM. */
export function agentJar(): string {
  if (process.env.CHAOSMETAD_AGENT_JAR) return process.env.CHAOSMETAD_AGENT_JAR;
  if (isSea()) return assetFile('chaosmetad-agent.jar', 0o644);
  return path.join(repoRoot(), 'jvm', 'build', 'chaosmetad-agent.jar');
}

/** better-sqlite3's native binding: undefined from a checkout (it finds its own), the loaded addon in a SEA. */
export function sqliteBinding(): object | undefined {
  if (!isSea()) return undefined;
  const file = assetFile('better_sqlite3.node');
  const mod = { exports: {} as object };
  process.dlopen(mod, file);
  return mod.exports;
}

/** This build's private cache directory: the extracted assets, oclif's package.json and command stub. */
export function seaRuntimeDir(): string {
  const buildId = typeof __CHAOSMETAD_BUILD_ID__ === 'string' ? __CHAOSMETAD_BUILD_ID__ : 'dev';
  const dir = path.join(cacheRoot(), buildId);
  privateDir(cacheRoot());
  privateDir(dir);
  return dir;
}
