/** Exit codes of the original chaosmetad (compat.md); the HTTP API uses the same numbers as `code`. */
export enum ExitCode {
  Ok = 0,
  BadArgs = 1,
  Store = 2,
  Inject = 3,
  Internal = 4,
  Recover = 5,
  Unknown = 6,
}

export class ChaosError extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
    /** what the request still produced (a set of recover results, some failed): sent along over HTTP */
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'ChaosError';
  }
}

export const badArgs = (message: string): ChaosError => new ChaosError(ExitCode.BadArgs, message);
export const injectError = (message: string): ChaosError => new ChaosError(ExitCode.Inject, message);
export const recoverError = (message: string): ChaosError => new ChaosError(ExitCode.Recover, message);
export const storeError = (message: string): ChaosError => new ChaosError(ExitCode.Store, message);

/** Any thrown value as a ChaosError; unexpected ones become internal errors. */
export function asChaosError(err: unknown, fallback: ExitCode = ExitCode.Internal): ChaosError {
  if (err instanceof ChaosError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ChaosError(fallback, message);
}

/** A file error as a person reads it: "no such file", not "ENOENT: no such file or directory, open '/x'". */
export function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'is a directory, not a file',
    ENOTDIR: 'a component of the path is not a directory',
    ELOOP: 'is a symbolic link (not followed) or a loop of them',
    EPERM: 'operation not permitted',
  };
  return (code && words[code]) || (e as Error).message;
}
