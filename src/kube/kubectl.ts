/**
 * kubectl as the transport: the user's kubeconfig, contexts and auth plugins just work. Every call is an argv
 * array (never a shell string). A command that ran in the pod and failed is told apart from a transport failure
 * (the API server, the kubelet or the connection): only the latter is worth retrying.
 */
import { ChaosError, ExitCode } from '../errors';
import { lazy } from '../util/lazy';

export interface KubeOptions {
  kubeconfig?: string;
  context?: string;
  /** the kubectl to run (env CHAOSMETAD_KUBECTL, default kubectl on PATH) */
  kubectl?: string;
}

export interface KubectlResult {
  /** the command's exit code in the pod (when it ran) */
  code: number;
  stdout: string;
  stderr: string;
  /** kubectl could not run the command, or lost it: nothing is known of what happened in the pod */
  transport: boolean;
}

/** kubectl exec reports a command's non-zero exit as this line (and exits with the same code). */
const execa = lazy<typeof import('execa')>(() => require('execa')); // loaded on first use: start-up time

const REMOTE_EXIT = /command terminated with exit code (\d+)/;

/** kubectl's own summary of a failure is its last line (client-go logs its retries before it). */
const lastLine = (text: string): string =>
  text
    .trim()
    .split('\n')
    .filter((l) => !/^[EWI]\d{4} /.test(l))
    .pop() ??
  text.trim().split('\n').pop() ??
  '';

export class Kubectl {
  constructor(readonly opts: KubeOptions = {}) {}

  private base(): string[] {
    const a: string[] = [];
    if (this.opts.kubeconfig) a.push('--kubeconfig', this.opts.kubeconfig);
    if (this.opts.context) a.push('--context', this.opts.context);
    return a;
  }

  private async run(args: string[], timeoutMs: number) {
    const bin = this.opts.kubectl ?? process.env.CHAOSMETAD_KUBECTL ?? 'kubectl';
    try {
      const r = await execa()(bin, [...this.base(), ...args], {
        reject: false,
        timeout: timeoutMs,
        stripFinalNewline: false,
        env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'true' },
      });
      return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut, missing: false };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT')
        throw new ChaosError(ExitCode.BadArgs, `kubectl not found (${bin}): install it or set CHAOSMETAD_KUBECTL`);
      throw e;
    }
  }

  /** `kubectl get …  -o json`, parsed. Throws with kubectl's own message when it fails. */
  async getJson<T = any>(args: string[], timeoutMs = 30_000): Promise<T> {
    const r = await this.run(['get', ...args, '-o', 'json'], timeoutMs);
    if (r.code !== 0)
      throw new ChaosError(
        ExitCode.BadArgs,
        `kubectl get ${args.join(' ')}: ${r.timedOut ? 'timed out' : lastLine(r.stderr) || `exit ${r.code}`}`,
      );
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new ChaosError(ExitCode.Internal, `kubectl get ${args.join(' ')}: not JSON`);
    }
  }

  /** Run argv in a pod's container (no stdin, no tty). */
  async exec(ns: string, pod: string, container: string, argv: string[], timeoutMs = 120_000): Promise<KubectlResult> {
    const r = await this.run(['exec', '-n', ns, pod, '-c', container, '--', ...argv], timeoutMs);
    if (r.code === 0) return { code: 0, stdout: r.stdout, stderr: r.stderr, transport: false };
    const m = REMOTE_EXIT.exec(r.stderr);
    if (m && !r.timedOut) {
      // the remote's own stderr comes first; kubectl's line about the exit code is not the command's message
      const stderr = r.stderr.replace(/^.*command terminated with exit code \d+.*\n?/m, '');
      return { code: Number(m[1]), stdout: r.stdout, stderr, transport: false };
    }
    return {
      code: r.code,
      stdout: r.stdout,
      stderr: r.timedOut ? `kubectl exec timed out after ${timeoutMs / 1000}s` : r.stderr,
      transport: true,
    };
  }
}
