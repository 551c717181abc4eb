/** A host-wide lock between chaosmetad processes (e.g. around one interface's tc tree): mkdir is atomic. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alive } from './procs';

const LOCK_DIR = '/run/chaosmetad-locks';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lock directory: made 0700 by this user (root), and refused when it is anyone else's or a link. */
function lockDir(): void {
  fs.mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(LOCK_DIR);
  if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? 0) || st.mode & 0o077)
    throw new Error(
      `${LOCK_DIR} is not a directory of uid ${process.getuid?.() ?? 0} with mode 0700 (uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}): remove it`,
    );
}

export async function withLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  lockDir();
  const dir = path.join(LOCK_DIR, name.replace(/[^A-Za-z0-9_.-]/g, '_'));
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = 0;
      try {
        owner = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      if (owner && !alive(owner)) {
        fs.rmSync(dir, { recursive: true, force: true });
        continue;
      }
      // killed between mkdir and writing its pid: stale after a moment
      if (!owner) {
        try {
          if (Date.now() - fs.statSync(dir).mtimeMs > 2000) {
            fs.rmSync(dir, { recursive: true, force: true });
            continue;
          }
        } catch {
          continue;
        }
      }
      if (Date.now() > until) throw new Error(`lock ${name} is held by process ${owner || '?'}`);
      await sleep(25);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
