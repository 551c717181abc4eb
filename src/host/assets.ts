/**
 * Files chaosmetad needs on disk: the native helper and better-sqlite3's addon. From a checkout they are in
 * native/build and node_modules; in the single executable they are SEA assets, extracted once per build into a
 * cache directory (atomically: temp file + rename, so concurrent first runs do not race).
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
      // eslint-disable-next-line @typescript-eslint/no-require-imports
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

function extract(name: string, mode: number): string {
  const s = sea()!;
  const buildId = typeof __CHAOSMETAD_BUILD_ID__ === 'string' ? __CHAOSMETAD_BUILD_ID__ : 'dev';
  const dir = path.join(cacheRoot(), buildId);
  const file = path.join(dir, name);
  const data = Buffer.from(s.getAsset(name));
  privateDir(cacheRoot());
  privateDir(dir);
  // reused only when it is exactly what we carry (a truncated or planted file is replaced)
  try {
    const st = fs.lstatSync(file);
    if (
      st.isFile() &&
      st.uid === (process.getuid?.() ?? 0) &&
      !(st.mode & 0o022) &&
      st.size === data.length &&
      crypto
        .createHash('sha256')
        .update(fs.readFileSync(file))
        .digest()
        .equals(crypto.createHash('sha256').update(data).digest())
    )
      return file;
  } catch {
    /* absent */
  }
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
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
  if (isSea()) return extract('chaosmetad-helper', 0o755);
  return path.join(repoRoot(), 'native', 'build', 'chaosmetad-helper');
}

/** better-sqlite3's native binding: undefined from a checkout (it finds its own), the loaded addon in a SEA. */
export function sqliteBinding(): object | undefined {
  if (!isSea()) return undefined;
  const file = extract('better_sqlite3.node', 0o755);
  const mod = { exports: {} as object };
  process.dlopen(mod, file);
  return mod.exports;
}

/** A directory holding files written at run time for the SEA (oclif's package.json and command stub). */
export function seaRuntimeDir(): string {
  const buildId = typeof __CHAOSMETAD_BUILD_ID__ === 'string' ? __CHAOSMETAD_BUILD_ID__ : 'dev';
  const dir = path.join(cacheRoot(), buildId);
  privateDir(cacheRoot());
  privateDir(dir);
  return dir;
}
