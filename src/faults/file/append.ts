import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs } from '../../errors';
import { exists, meta, readFrom, restoreMeta, restoreXattrs, saveXattrs, lstatSafe } from '../../host/files';
import { UnsafePath, openNoFollow, withParent } from '../../host/safefs';
import { boolean, integer, string } from '../flags';
import { defineFault } from '../types';
import { pathFlag } from '../paths';

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

export default defineFault({
  target: 'file',
  fault: 'append',
  container: 'root',
  summary: 'Append lines to a file (removed again on recover)',
  description:
    'Appends --content plus a newline to --path, --count times, --interval seconds apart (a helper keeps appending ' +
    'until done or recovered). The content takes echo -e escapes, as the original: "a\\nb" is two lines. Recover ' +
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
      description: 'how many times to append (default 1)',
    }),
    interval: integer({
      char: 'i',
      min: 0,
      max: 86_400,
      default: 1,
      description: 'seconds between appends when --count > 1 (default 1)',
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
    await ctx.step('append', { path: a.path, chunk, raw: !!a.raw, meta: m, ino: m.ino, xattrs }, async () => {
      // a write by root drops file capabilities: keep every extended attribute to put back at recover
      if (!a.raw)
        await ctx.exec.change(`keep the extended attributes of ${a.path}`, () =>
          saveXattrs(ctx.exec, a.path, xattrs, m.ino),
        );
    });
    const src = path.join(ctx.workDir(), 'append-chunk');
    await ctx.exec.change(`write the line to ${src}`, () => fs.writeFileSync(src, chunk, { mode: 0o600 }));
    await ctx.helper('append', { path: a.path, src, count: a.count, 'interval-ms': a.interval * 1000, ino: m.ino });
    return { path: a.path, count: a.count };
  },
  undo: {
    async append(d, ctx) {
      if (d.raw || !exists(d.path)) return;
      const chunk = Buffer.from(d.chunk);
      try {
        const done = await ctx.exec.change(`remove the appended lines from ${d.path} (in place)`, () =>
          removeInPlace(d.path, d.meta.size, d.ino, chunk),
        );
        if (done === 'unchanged') return; // nothing of ours is there (a crash before the first append)
        if (lstatSafe(d.path).size === d.meta.size) await restoreMeta(ctx.exec, d.path, d.meta, d.ino);
        // last: a chown (in restoreMeta) drops file capabilities too
        if (d.xattrs && fs.existsSync(d.xattrs)) await restoreXattrs(ctx.exec, d.path, d.xattrs, d.ino);
      } catch (e) {
        if (!(e instanceof UnsafePath)) throw e;
        ctx.note(`${d.path} is not the file chaosmetad appended to any more (${e.message}); left it alone`);
      }
    },
  },
  async check(a, ctx) {
    const s = ctx.steps.find((x) => x.kind === 'append');
    if (!s || !exists(a.path)) return 'gone';
    try {
      return readFrom(a.path, s.data.meta.size, s.data.ino).includes(Buffer.from(s.data.chunk)) ? 'in-place' : 'gone';
    } catch {
      return 'gone';
    }
  },
});

/**
 * Take our chunks out of the bytes after the original end, on the same inode, through one descriptor opened
 * without following a link. Another writer appending meanwhile: the size is checked again right before the write,
 * and the edit redone on the grown tail.
 */
function removeInPlace(p: string, origSize: number, ino: string, chunk: Buffer): 'unchanged' | 'edited' {
  return withParent(p, (dir, name) => {
    const fd = openNoFollow(dir, name, fs.constants.O_RDWR, 0, ino);
    try {
      for (let attempt = 0; ; attempt++) {
        const size = fs.fstatSync(fd).size;
        const tail = Buffer.allocUnsafe(Math.max(0, size - origSize));
        for (let off = 0; off < tail.length;) {
          const n = fs.readSync(fd, tail, off, tail.length - off, origSize + off);
          if (n <= 0) break;
          off += n;
        }
        const kept = withoutChunks(tail, chunk);
        if (kept.length === tail.length) return 'unchanged';
        if (fs.fstatSync(fd).size !== size && attempt < 5) continue; // grew while we read: redo
        for (let off = 0; off < kept.length;) off += fs.writeSync(fd, kept, off, kept.length - off, origSize + off);
        fs.ftruncateSync(fd, origSize + kept.length);
        fs.fsyncSync(fd);
        return 'edited';
      }
    } finally {
      fs.closeSync(fd);
    }
  });
}
