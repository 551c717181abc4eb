/** The version reply (`chaosmetad version`, GET /v1/version): kept apart so that printing it loads nothing else. */
import * as fs from 'node:fs';
import type { z } from 'zod';
import type { VersionReply } from './schema';

declare const __CHAOSMETAD_BUILD_DATE__: string | undefined;
// eslint-disable-next-line no-restricted-syntax -- eager
const pkg = require('../../package.json') as { version: string };

export type VersionInfo = z.infer<typeof VersionReply>;

export function versionInfo(): VersionInfo {
  let date = typeof __CHAOSMETAD_BUILD_DATE__ === 'string' ? __CHAOSMETAD_BUILD_DATE__ : '';
  if (!date) {
    try {
      date = fs.statSync(__filename).mtime.toISOString().slice(0, 10);
    } catch {
      date = 'unknown';
    }
  }
  return { version: pkg.version, 'build-date': date };
}
