/**
 * A module loaded on first use, not at start-up (the CLI's start-up time; node:http cannot be part of the single
 * executable's start-up snapshot):
 *
 *   const execa = lazy<typeof import('execa')>(() => require('execa'));
 *   … execa().sync(…)
 *
 * The require() stays literal, at the call site: esbuild bundles only literal requires, and a relative path resolves
 * from the calling file. The only require()s src/ may hold are these (eslint.config.mjs).
 */
export function lazy<T = unknown>(load: () => unknown): () => T {
  let loaded = false;
  let value: T;
  return () => {
    if (!loaded) {
      value = load() as T;
      loaded = true;
    }
    return value;
  };
}
