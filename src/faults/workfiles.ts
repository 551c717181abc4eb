/**
 * Work files a fault creates in a directory of its target (disk fill's fill file, diskio burn's I/O file): where
 * they go, and their removal — through the container's root while it runs, or from its writable layer on the host
 * when it stopped first (an overlay's upper file keeps its inode number: only that very file is removed).
 */
import * as fs from 'node:fs';
import { exists, lstatSafe } from '../host/files';
import { hostPathOf } from '../host/mounts';
import { withParent } from '../host/safefs';
import { Scope, asSeen, inScope, isContainer, scopeAlive } from '../host/scope';
import type { UndoContext } from './types';

export function lstatOrNone(p: string): fs.Stats | undefined {
  try {
    return lstatSafe(p);
  } catch {
    return undefined;
  }
}

/** --dir as the host opens it; the default /tmp is the target's. */
export const dirOf = (dir: string | undefined, target: Scope): string => dir ?? inScope(target, '/tmp');

/** In a container: the host path of a work file about to be made at `file` (/proc/PID/root/…), if it has one. */
export function hostPathFor(target: Scope, file: string): { host_path?: string } {
  const host = isContainer(target) ? hostPathOf(target.pid, asSeen(target, file)) : undefined;
  return host ? { host_path: host } : {};
}

/** After creating it: keep the host path only when it names this very file (same inode number). */
export function confirmHostPath(d: { host_path?: string }, ino: number): { ino?: number; host_path?: string } {
  return d.host_path && lstatOrNone(d.host_path)?.ino === ino ? { ino } : { host_path: undefined };
}

/** A work file: its path (as the host opens it) and, in a container, the same file in its layer on the host. */
export interface WorkFile {
  path: string;
  host_path?: string;
  ino?: number;
}

/** Undo of a work-file step. Works when the container is gone (undoWhenGone). */
export async function removeWorkFile(d: WorkFile, ctx: UndoContext, what: string): Promise<void> {
  if (!scopeAlive(ctx.scope)) {
    // the container stopped (or restarted): its writable layer is still on the host, and so is the file
    const st = d.host_path ? lstatOrNone(d.host_path) : undefined;
    if (d.host_path && st?.isFile() && st.ino === d.ino) {
      const hp = d.host_path;
      await ctx.exec.change(`remove ${hp} (the ${what}, in the stopped container's layer)`, () =>
        withParent(hp, (dir, name) => fs.unlinkSync(dir.at(name))),
      );
      ctx.note(`the container is gone: removed its ${what} from the host (${hp})`);
    }
    return;
  }
  if (exists(d.path))
    await ctx.exec.change(`remove ${asSeen(ctx.scope, d.path)}`, () =>
      withParent(d.path, (dir, name) => fs.unlinkSync(dir.at(name))),
    );
}
