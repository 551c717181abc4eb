/**
 * Moving a file back where it was: the undo of file del (the original kept aside in the work dir) and of file mv
 * (moved to --dst). The move may have been cut short at any moment (a kill, a timeout, a power cut) and the paths
 * changed since by others; each case is decided from what is on disk now.
 */
import { recoverError } from '../../errors';
import { exists, inodeOf, lstatSafe, meta, move, removePartial, removeTree } from '../../host/files';
import type { UndoContext } from '../types';

export interface Moved {
  /** where the file was (and goes back to) */
  from: string;
  /** where it was moved */
  to: string;
  /** the original's inode number (a cross-filesystem move removes the original only after a complete copy) */
  ino?: string;
  /** the original's mtime: when given, a complete copy is dropped only while `to` still has it */
  mtime?: string;
}

export interface RestoreOpts {
  /**
   * `to` is in chaosmetad's own work dir (del's backup): whatever a cut-short copy left there is ours, and no one
   * else put a file there (a `to` that is missing means the move never happened: nothing to say).
   */
  ours: boolean;
  /**
   * `from` exists again (recreated by someone): 'replace' it by the original (del: the original is what the user
   * wants back; a directory on either side is refused instead), or 'leave' both where they are (mv).
   */
  recreated: 'replace' | 'leave';
}

export async function restoreMoved(d: Moved, ctx: UndoContext, o: RestoreOpts): Promise<void> {
  await removePartial(ctx.exec, d.to, o.ours ? { ours: true } : {}); // a copy cut short: the original stayed
  await removePartial(ctx.exec, d.from, { ino: d.ino }); // its removal cut short: the complete copy is kept
  if (!exists(d.to)) {
    // never moved (a crash before the move), or moved away since by someone else
    if (!o.ours && !exists(d.from)) ctx.note(`${d.to} is gone; nothing to move back`);
    return;
  }
  if (exists(d.from) && d.ino && inodeOf(d.from) === d.ino) {
    // a cross-filesystem move killed after its copy was complete: the original never left; drop the copy —
    // only if it is still that copy (its times are the original's to the ns): whoever can write --dst's
    // directory could have put another tree there
    if (d.mtime && meta(d.to).mtime !== d.mtime) {
      ctx.note(`${d.from} is back and ${d.to} is not the copy chaosmetad made; left both`);
      return;
    }
    await ctx.exec.change(`remove the unused copy ${d.to}`, () => removeTree(ctx.exec, d.to));
    return;
  }
  if (exists(d.from)) {
    if (o.recreated === 'leave') {
      ctx.note(`${d.from} exists again; left ${d.to} where it is`);
      return;
    }
    if (lstatSafe(d.from).isDirectory() || lstatSafe(d.to).isDirectory())
      throw recoverError(`${d.from} exists again; not overwriting it (the original is kept at ${d.to})`);
    ctx.note(`${d.from} had been recreated; replaced by the original`);
  }
  await ctx.exec.change(`move ${d.to} back to ${d.from}`, () => move(ctx.exec, d.to, d.from));
}
