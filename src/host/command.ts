/** Run a user's command (a recover-cmd): argv without a shell unless explicitly asked; detached; output kept. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SYSTEM_PATH, whichTool } from './executor';

export interface CommandOutcome { exitCode: number | null; output: string; running: boolean }

/**
 * Start argv detached (its own session, so a daemon it starts outlives us), wait up to waitMs for it to exit.
 * A command still running then (a server started in the foreground) is left running and reported as such.
 */
export async function runUserCommand(argv: string[], waitMs = 2000): Promise<CommandOutcome> {
  const file = whichTool(argv[0]);
  if (!file) return { exitCode: 127, output: `${argv[0]}: command not found (looked in ${SYSTEM_PATH})`, running: false };
  const log = path.join(os.tmpdir(), `chaosmetad-cmd-${process.pid}-${Date.now()}.log`);
  const fd = fs.openSync(log, 'w+', 0o600);
  try {
    const child = spawn(file, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, PATH: `${process.env.PATH ?? ''}:${SYSTEM_PATH}` } });
    const exitCode = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => resolve(null), waitMs);
      child.on('exit', (code, sig) => { clearTimeout(t); resolve(code ?? (sig ? 128 : -1)); });
      child.on('error', () => { clearTimeout(t); resolve(126); });
    });
    child.unref();
    const output = fs.readFileSync(log, 'utf8').slice(0, 2000).trim();
    return { exitCode, output, running: exitCode === null };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(log, { force: true });
  }
}
