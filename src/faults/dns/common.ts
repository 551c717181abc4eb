/**
 * Line edits of /etc/hosts and /etc/resolv.conf: atomic (temp file + rename, mode and owner kept), or in place
 * where the name is a symbolic link (systemd-resolved's /etc/resolv.conf: the target is edited, the link kept) or a
 * bind mount (containers); undone exactly: recover removes only the line it added, and puts back only the lines
 * it removed, whatever else was edited meanwhile. Links are followed only where root alone could have made them.
 */
import * as fs from 'node:fs';
import type { Executor } from '../../host/executor';
import { meta, readFrom, removeTemp, restoreTimes, sha256, writeAtomic, writeInPlace } from '../../host/files';
import { withLock } from '../../host/lock';
import { resolveSafe } from '../../host/safefs';
import type { CheckContext, Effect, UndoContext } from '../types';
import { defineStep, tally } from '../types';

export interface Removed {
  index: number;
  original: string;
  modified: string | null;
}

/** The file behind the name (links followed only where root alone could have made them). */
const real = (file: string): string => resolveSafe(file, { followFinal: true }).path;

/**
 * The most of /etc/hosts or resolv.conf that is read (and so held, and written back): a container's are its
 * root's to size, and a sparse file of gigabytes costs it nothing. Real ones are kilobytes; beyond this the file
 * is refused, naming it and the cap.
 */
export const LINE_FILE_MAX = 64 << 20;

export function readText(file: string): string {
  return readFrom(real(file), LINE_FILE_MAX).toString('utf8');
}

function write(file: string, text: string): void {
  const target = real(file);
  if (target !== file) {
    writeInPlace(target, Buffer.from(text));
    return;
  }
  const m = meta(file);
  try {
    writeAtomic(file, text, { mode: m.mode, uid: m.uid, gid: m.gid });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EBUSY' && (e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    writeInPlace(file, Buffer.from(text)); // a bind-mounted file cannot be replaced by rename
  }
}

/**
 * What the file is before an edit (journaled with the step, before the change): its bytes' hash and mtime. A
 * recover that brings back exactly these bytes brings back the mtime too; one that cannot (someone else edited the
 * file meanwhile) leaves the time of that edit. (The access time is every reader's: getent moves it.)
 */
export function before(file: string): { orig?: { sha: string; mtime: string } } {
  try {
    const target = real(file);
    return { orig: { sha: sha256(target), mtime: meta(target).mtime } };
  } catch {
    return {};
  }
}

/** After an undo's write: the original times back when the bytes are the original's again. */
async function timesBack(exec: Executor, file: string, orig?: { sha: string; mtime: string }) {
  if (!orig) return;
  const target = real(file);
  if (sha256(target) === orig.sha)
    await exec.change(`set the mtime of ${target} back`, () => restoreTimes(exec, target, { mtime: orig.mtime }));
}

/** Add a line (at the end, or at the top) that names the experiment. */
export async function addLine(
  exec: Executor,
  file: string,
  line: string,
  top = false,
): Promise<{ addedNewline: boolean }> {
  return withLock(`edit-${file}`, async () => addLineLocked(exec, file, line, top));
}
async function addLineLocked(
  exec: Executor,
  file: string,
  line: string,
  top: boolean,
): Promise<{ addedNewline: boolean }> {
  const text = readText(file);
  const addedNewline = !top && text.length > 0 && !text.endsWith('\n');
  const next = top ? `${line}\n${text}` : `${text}${addedNewline ? '\n' : ''}${line}\n`;
  await exec.change(`add to ${file}: ${line}`, () => write(file, next));
  return { addedNewline };
}

/** Remove (or rewrite) lines; returns what to put back. */
export async function removeLines(
  exec: Executor,
  file: string,
  edit: (line: string) => string | null,
): Promise<Removed[]> {
  return withLock(`edit-${file}`, async () => removeLinesLocked(exec, file, edit));
}
async function removeLinesLocked(
  exec: Executor,
  file: string,
  edit: (line: string) => string | null,
): Promise<Removed[]> {
  const lines = readText(file).split('\n');
  const removed: Removed[] = [];
  const out: string[] = [];
  lines.forEach((l, index) => {
    const e = edit(l);
    if (e === l) {
      out.push(l);
      return;
    }
    removed.push({ index, original: l, modified: e });
    if (e !== null) out.push(e);
  });
  if (removed.length)
    await exec.change(
      `edit ${file}: ${removed.map((r) => `${JSON.stringify(r.original)} -> ${r.modified === null ? 'removed' : JSON.stringify(r.modified)}`).join('; ')}`,
      () => write(file, out.join('\n')),
    );
  return removed;
}

/** The file's sha and mtime before the edit: the times go back when its bytes are the original's again. */
type Orig = { orig?: { sha: string; mtime: string } };
/** A line added to `file` (and the newline put before it, when its last line had none). */
type AddLine = Orig & { file: string; line: string; addedNewline?: boolean };
/** Lines removed from (or rewritten in) `file`. */
type RemoveLines = Orig & { file: string; removed?: Removed[] };

// (read-modify-write of a shared file: under the same lock as the inject edits)
export const addLineStep = defineStep('add-line', (d: AddLine, ctx) =>
  withLock(`edit-${d.file}`, () => undoAdd(d, ctx)),
);
export const removeLinesStep = defineStep('remove-lines', (d: RemoveLines, ctx) =>
  withLock(`edit-${d.file}`, () => undoRemove(d, ctx)),
);
/** The step kinds of the dns faults. */
export const lineSteps = [addLineStep, removeLinesStep];

async function undoAdd(d: AddLine, ctx: UndoContext): Promise<void> {
  removeTemp(d.file);
  if (!fs.existsSync(d.file)) return; // (through a trusted link: resolv.conf's target)
  let text = readText(d.file);
  const at = text.split('\n').indexOf(d.line);
  if (at < 0) return; // never added (a crash before the write), or removed by hand
  const lines = text.split('\n');
  lines.splice(at, 1);
  text = lines.join('\n');
  if (d.addedNewline && text.endsWith('\n')) text = text.slice(0, -1);
  await ctx.exec.change(`remove from ${d.file}: ${d.line}`, () => write(d.file, text));
  await timesBack(ctx.exec, d.file, d.orig);
}

async function undoRemove(d: RemoveLines, ctx: UndoContext): Promise<void> {
  removeTemp(d.file);
  if (!fs.existsSync(d.file) || !d.removed?.length) return;
  const removed = d.removed;
  const lines = readText(d.file).split('\n');
  for (const r of [...removed].reverse()) {
    if (r.modified !== null) {
      const at = lines.indexOf(r.modified);
      if (at >= 0) {
        lines[at] = r.original;
        continue;
      }
    }
    lines.splice(Math.min(r.index, lines.length), 0, r.original);
  }
  await ctx.exec.change(`restore in ${d.file}: ${removed.map((r) => JSON.stringify(r.original)).join(', ')}`, () =>
    write(d.file, lines.join('\n')),
  );
  await timesBack(ctx.exec, d.file, d.orig);
}

/** Read the file: are our added lines there, and the lines we removed still gone (or rewritten)? */
export async function lineCheck(ctx: CheckContext): Promise<Effect> {
  const added = ctx.stepsOf(addLineStep);
  const removes = ctx.stepsOf(removeLinesStep);
  if (!added.length && !removes.length) return 'unknown';
  const linesOf = (file: string): string[] | undefined => {
    try {
      return readText(file).split('\n');
    } catch {
      return undefined;
    }
  };
  let held = 0;
  for (const { data: d } of added) if (linesOf(d.file)?.includes(d.line)) held++;
  for (const { data: d } of removes) {
    const lines = linesOf(d.file);
    if (!lines) continue;
    const removed = d.removed ?? [];
    if (removed.every((r) => !lines.includes(r.original) || (r.modified !== null && lines.includes(r.modified))))
      held++;
  }
  return tally(held, added.length + removes.length);
}
