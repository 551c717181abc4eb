/** Run a user's command (a recover-cmd): detached, clean environment, output kept in a file of the experiment's. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SYSTEM_PATH, cleanEnv, whichTool } from './executor';

export interface CommandOutcome {
  exitCode: number | null;
  output: string;
  running: boolean;
}

/**
 * Start argv detached (its own session, so a daemon it starts outlives us), wait up to waitMs for it to exit.
 * A command still running then (a server started in the foreground) is left running and reported as such.
 * Its output goes to a new file in `logDir` (the experiment's work directory under the data dir: root-only,
 * created exclusively — never a predictable name in /tmp).
 */
export async function runUserCommand(argv: string[], logDir: string, waitMs = 2000): Promise<CommandOutcome> {
  const file = whichTool(argv[0]);
  if (!file)
    return { exitCode: 127, output: `${argv[0]}: command not found (looked in ${SYSTEM_PATH})`, running: false };
  fs.mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const log = path.join(logDir, `recover-cmd-${process.pid}-${Date.now()}.log`);
  const fd = fs.openSync(
    log,
    fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
    0o600,
  );
  try {
    const env = cleanEnv({}, { PATH: `${process.env.PATH ? process.env.PATH + ':' : ''}${SYSTEM_PATH}` });
    const child = spawn(file, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env, argv0: argv[0] });
    const exitCode = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => resolve(null), waitMs);
      child.on('exit', (code, sig) => {
        clearTimeout(t);
        resolve(code ?? (sig ? 128 : -1));
      });
      child.on('error', () => {
        clearTimeout(t);
        resolve(126);
      });
    });
    child.unref();
    const output = fs.readFileSync(log, 'utf8').slice(0, 2000).trim();
    return { exitCode, output, running: exitCode === null };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(log, { force: true });
  }
}
