import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../../errors';
import {
  BLOCK,
  exists,
  lstatSafe,
  meta,
  rangeIncludes,
  readRange,
  removeChunksInPlace,
  restoreMeta,
  restoreXattrs,
  saveXattrs,
  writeAll,
  type Meta,
} from '../../host/files';
import { UnsafePath, openNoFollow, withParent } from '../../host/safefs';
import { boolean, integer, string } from '../flags';
import { defineFault, defineStep } from '../types';
import { pathFlag } from '../paths';
import { formatBytes } from '../../util/units';

/**
 * The most of a file's growth since the inject that recover and check read (a block at a time, never whole): the
 * file is its owner's, who can make it grow by gigabytes at no cost (a sparse extension); beyond this recover
 * leaves the appended lines, with a note, rather than read and move down what the owner sized.
 */
export const TAIL_MAX = 1 << 30;

/** The content as the original's `echo -e` prints it: \n, \t, \\, \0NNN, \xHH…; \c ends the output. */
export function echoE(s: string): string {
  const simple: Record<string, string> = {
    a: '\x07',
    b: '\b',
    e: '\x1b',
    E: '\x1b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
    '\\': '\\',
  };
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\' || i === s.length - 1) {
      out += s[i];
      continue;
    }
    const c = s[i + 1];
    if (c in simple) {
      out += simple[c];
      i++;
      continue;
    }
    if (c === 'c') return out;
    const oct = /^0([0-7]{0,3})/.exec(s.slice(i + 1));
    if (oct) {
      out += String.fromCharCode(parseInt(oct[1] || '0', 8) & 0xff);
      i += oct[0].length;
      continue;
    }
    const hex = /^x([0-9a-fA-F]{1,2})/.exec(s.slice(i + 1));
    if (hex) {
      out += String.fromCharCode(parseInt(hex[1], 16));
      i += hex[0].length;
      continue;
    }
    out += '\\';
  }
  return out;
}

/**
 * The tail with every copy of chunk that starts a line (or starts the tail, right after the original end) taken
 * out: whole appended blocks only, never part of a line another writer wrote.
 */
export function withoutChunks(tail: Buffer, chunk: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = tail.indexOf(chunk); i >= 0; i = tail.indexOf(chunk, i + 1)) {
    if (i < from || (i > 0 && tail[i - 1] !== 0x0a)) continue;
    parts.push(tail.subarray(from, i));
    from = i + chunk.length;
    i = from - 1;
  }
  parts.push(tail.subarray(from));
  return Buffer.concat(parts);
}

/**
 * The lines appended to `path` (inode `ino`, `meta` before): `chunk` each time; `newline` when a newline was added
 * first after a last line without one; `xattrs`: where its extended attributes are kept (absent with --raw).
 */
interface AppendData {
  path: string;
  chunk: string;
  raw: boolean;
  meta: Meta;
  ino: string;
  xattrs?: string;
  newline?: boolean;
}
const appendStep = defineStep('append', async (d: AppendData, ctx) => {
  if (d.raw || !exists(d.path)) return;
  const chunk = Buffer.from(d.chunk);
  try {
    const done = await ctx.exec.change(`remove the appended lines from ${d.path} (in place)`, () =>
      removeInPlace(d.path, d.meta.size, d.ino, chunk),
    );
    if (typeof done === 'number') {
      ctx.note(
        `${d.path} grew by ${formatBytes(done)} since the inject, more than the ${formatBytes(TAIL_MAX)} recover reads and moves: the appended lines were left in it`,
      );
      return;
    }
    // our newline after a last line that had none: taken away when it is all that is left after that line
    const cut = d.newline === true && cutNewline(d.path, d.meta.size, d.ino);
    if (done === 'unchanged' && !cut) return; // nothing of ours is there (a crash before the first append)
    if (lstatSafe(d.path).size === d.meta.size) await restoreMeta(ctx.exec, d.path, d.meta, d.ino);
    // last: a chown (in restoreMeta) drops file capabilities too
    if (d.xattrs && fs.existsSync(d.xattrs)) await restoreXattrs(ctx.exec, d.path, d.xattrs, d.ino);
  } catch (e) {
    if (!(e instanceof UnsafePath)) throw e;
    ctx.note(`${d.path} is not the file chaosmetad appended to any more (${e.message}); left it alone`);
  }
});

export default defineFault({
  target: 'file',
  fault: 'append',
  container: 'root',
  summary: 'Append lines to a file (removed again on recover)',
  description:
    'Appends --content plus a newline to --path, --count times, --interval seconds apart (a helper keeps appending ' +
    'until done or recovered; a last line without a newline is ended first, so the lines start on their own — ' +
    'recover takes that newline away again). ' +
    'The content takes echo -e escapes, as the original: "a\\nb" is two lines. Recover ' +
    'edits the file in place (same inode: a writer holding it open keeps writing to the live file) and removes ' +
    'exactly the whole lines it added, leaving anything else written meanwhile; the original times come back when ' +
    'the file is back to its original size, and its extended attributes (file capabilities, ACLs) always. With --raw the lines stay. A path swapped for another file or a link ' +
    'is never written through: the helper writes to the file it opened, and recover leaves a swapped path alone.',
  examples: [
    'chaosmetad inject file append --path /tmp/chaos-demo.log --content "ERROR injected" --count 5 --interval 1 -t 1m',
    'chaosmetad inject file append -p /tmp/chaos-demo.log -c "kept line" --raw',
  ],
  flags: {
    path: pathFlag({ char: 'p', required: true, description: 'the file to append to (must exist)' }),
    content: string({
      char: 'c',
      required: true,
      maxLength: 1 << 20,
      description: 'the line to append (echo -e escapes: \\n, \\t, …)',
    }),
    raw: boolean({ char: 'r', description: 'leave the appended lines in place at recover' }),
    count: integer({
      char: 'C',
      min: 1,
      max: 1_000_000,
      default: 1,
      description: 'how many times to append',
    }),
    interval: integer({
      char: 'i',
      min: 0,
      max: 86_400,
      default: 1,
      description: 'seconds between appends when --count > 1',
    }),
  },
  validate(a) {
    if (!exists(a.path)) throw badArgs(`--path ${a.path}: no such file`);
    if (meta(a.path).link !== undefined) throw badArgs(`--path ${a.path} is a symbolic link; give its target`);
    if (!lstatSafe(a.path).isFile()) throw badArgs(`--path ${a.path} is not a regular file`);
  },
  claims: (a) => [`file:${path.resolve(a.path)}`],
  async inject(a, ctx) {
    const chunk = echoE(a.content) + '\n';
    const m = meta(a.path);
    const xattrs = path.join(ctx.workDir(), 'append-xattrs');
    // a last line without its newline: the lines start on a line of their own (as the original), and recover
    // takes exactly that newline away again
    const newline = m.size > 0 && lastByte(a.path, m.ino) !== 0x0a;
    const step = { path: a.path, chunk, raw: !!a.raw, meta: m, ino: m.ino, xattrs, newline };
    await ctx.step(appendStep, step, async () => {
      // a write by root drops file capabilities: keep every extended attribute to put back at recover
      if (!a.raw)
        await ctx.exec.change(`keep the extended attributes of ${a.path}`, () =>
          saveXattrs(ctx.exec, a.path, xattrs, m.ino),
        );
      if (newline)
        await ctx.exec.change(`end the last line of ${a.path} (it has no newline)`, () => appendNewline(a.path, m.ino));
    });
    const src = path.join(ctx.workDir(), 'append-chunk');
    await ctx.exec.change(`write the line to ${src}`, () => fs.writeFileSync(src, chunk, { mode: 0o600 }));
    await ctx.helper('append', { path: a.path, src, count: a.count, 'interval-ms': a.interval * 1000, ino: m.ino });
    return { path: a.path, count: a.count };
  },
  steps: [appendStep],
  async check(a, ctx) {
    const s = ctx.stepsOf(appendStep)[0];
    if (!s || !exists(a.path)) return 'gone';
    try {
      // a block at a time, and no further than TAIL_MAX past the original end
      return withParent(a.path, (dir, name) => {
        const fd = openNoFollow(dir, name, fs.constants.O_RDONLY, 0, s.data.ino);
        try {
          const from = s.data.meta.size;
          const end = fs.fstatSync(fd).size;
          if (rangeIncludes(fd, from, Math.min(end, from + TAIL_MAX), Buffer.from(s.data.chunk))) return 'in-place';
          return end - from > TAIL_MAX ? 'unknown' : 'gone';
        } finally {
          fs.closeSync(fd);
        }
      });
    } catch {
      return 'gone';
    }
  },
});

/**
 * Take our chunks out of the bytes after the original end, on the same inode, through one descriptor opened
 * without following a link. Another writer appending meanwhile (O_APPEND: always at the end of the file) loses
 * nothing that landed before the last size check: what grew while we edited is moved down after our kept bytes
 * before the file is cut, and the size is checked again right before the cut. The cut itself cannot be atomic
 * against such a writer (Linux has no "truncate if the size is still N"); the window is the two system calls.
 */
function removeInPlace(p: string, origSize: number, ino: string, chunk: Buffer): 'unchanged' | 'edited' | number {
  return withParent(p, (dir, name) => {
    const fd = openNoFollow(dir, name, fs.constants.O_RDWR, 0, ino);
    try {
      let seen = fs.fstatSync(fd).size;
      // its owner may have grown it by gigabytes: beyond TAIL_MAX nothing is read (the growth is returned)
      if (seen - origSize > TAIL_MAX) return seen - origSize;
      // a block at a time: never more held than a block and a chunk
      const r = removeChunksInPlace(fd, origSize, seen, chunk);
      if (!r.removed) return 'unchanged';
      seen = r.readTo;
      let end = r.keptEnd;
      warmTruncate();
      const probe = Buffer.alloc(1);
      for (;;) {
        // has it grown past what we read? A one-byte read there, then the cut at once: nothing between the two
        // calls that could wait (no stat object, no first-call compile of ftruncateSync)
        if (fs.readSync(fd, probe, 0, 1, seen) === 0) {
          fs.ftruncateSync(fd, end);
          break;
        }
        const now = fs.fstatSync(fd).size;
        // appended while we edited: those bytes follow ours (end < seen, so this never overwrites unread bytes),
        // a block at a time (memory; the loop goes on while it grows)
        const grown = readRange(fd, seen, Math.min(BLOCK, now - seen));
        writeAll(fd, grown, end);
        end += grown.length;
        seen += grown.length;
      }
      fs.fsyncSync(fd);
      return 'edited';
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** The last byte of a regular file (opened without following a link, only if it is still inode `ino`). */
function lastByte(p: string, ino: string): number | undefined {
  return withParent(p, (dir, name) => {
    const fd = openNoFollow(dir, name, fs.constants.O_RDONLY, 0, ino);
    try {
      const size = fs.fstatSync(fd).size;
      return size > 0 ? readRange(fd, size - 1, 1)[0] : undefined;
    } finally {
      fs.closeSync(fd);
    }
  });
}

function appendNewline(p: string, ino: string): void {
  withParent(p, (dir, name) => {
    const fd = openNoFollow(dir, name, fs.constants.O_WRONLY | fs.constants.O_APPEND, 0, ino);
    try {
      fs.writeSync(fd, '\n');
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** Remove the one newline at `at` when the file ends there (nothing but it after the original end); true if cut. */
function cutNewline(p: string, at: number, ino: string): boolean {
  return withParent(p, (dir, name) => {
    const fd = openNoFollow(dir, name, fs.constants.O_RDWR, 0, ino);
    try {
      if (fs.fstatSync(fd).size !== at + 1 || readRange(fd, at, 1)[0] !== 0x0a) return false;
      fs.ftruncateSync(fd, at);
      fs.fsyncSync(fd);
      return true;
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** ftruncateSync's first call in a process is slow (compiled then); make it on /dev/null (EINVAL), not on the file. */
function warmTruncate(): void {
  const fd = fs.openSync('/dev/null', 'r+');
  try {
    for (let i = 0; i < 2; i++) {
      try {
        fs.ftruncateSync(fd, 0);
      } catch {
        /* EINVAL: /dev/null has no size */
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}
