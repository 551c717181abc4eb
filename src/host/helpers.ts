/**
 * Start a native helper detached (own session, survives the CLI), tagged with its experiment's uid and step,
 * and wait for its readiness line before reporting success.
 */
import { spawn } from 'node:child_process';
import { ChaosError, ExitCode } from '../errors';
import { helperPath } from './assets';
import { cleanEnv } from './executor';
import { TAG_PREFIX } from './procs';

export interface HelperSpec {
  mode: 'burn' | 'load' | 'memfill' | 'oom' | 'append' | 'diskio' | 'fdfill' | 'nproc' | 'occupy';
  uid: string;
  step: number;
  params: Record<string, string | number>;
  deadline: number | null;
  /** the experiment log: where the helper reports failures after it became ready (one JSON line each) */
  log?: string;
}

export const stepTag = (step: number): string => `--chaosmetad-step=${step}`;

export function helperArgv(h: HelperSpec): [string, string[]] {
  const args = [h.mode, `${TAG_PREFIX}${h.uid}`, stepTag(h.step)];
  for (const [k, v] of Object.entries(h.params)) args.push(`${k}=${v}`);
  if (h.deadline) args.push(`deadline=${h.deadline}`);
  if (h.log) args.push(`log=${h.log}`);
  return [helperPath(), args];
}

/** Spawn and wait for "ready …"; returns the pid. Throws an inject error with the helper's own reason. */
export function startHelper(h: HelperSpec, readyTimeoutMs = 120_000): Promise<number> {
  const [file, args] = helperArgv(h);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
    let out = '';
    let err = '';
    let settled = false;
    const finish = (e: Error | null, pid?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
      if (e) reject(e);
      else resolve(pid!);
    };
    const timer = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      finish(new ChaosError(ExitCode.Inject, `helper ${h.mode} did not become ready within ${readyTimeoutMs / 1000}s`));
    }, readyTimeoutMs);
    child.on('error', (e) => finish(new ChaosError(ExitCode.Inject, `cannot start helper ${file}: ${e.message}`)));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const line = out.slice(0, nl);
      if (line.startsWith('ready')) finish(null, child.pid);
      else finish(new ChaosError(ExitCode.Inject, `helper ${h.mode}: ${line.replace(/^error /, '')}`));
    });
    child.on('exit', (code, sig) => {
      const line = out.split('\n')[0];
      finish(
        new ChaosError(
          ExitCode.Inject,
          `helper ${h.mode} exited (${sig ?? code}) before it was ready${line || err ? ': ' + (line || err).replace(/^error /, '').trim() : ''}`,
        ),
      );
    });
  });
}
