/**
 * A drill file: YAML or JSON (JSON is YAML), validated by the schema, each problem with its line and column and
 * the accepted form. And the daemon's stricter read of a drill file for its schedules: root's file, written by
 * no one else, in directories no one else can swap it in.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs, fileProblem } from '../errors';
import { lazy } from '../util/lazy';
import { shown } from '../util/units';
import { Drill, z } from './schema';

const yaml = lazy<typeof import('yaml')>(() => require('yaml'));

export interface DrillProblem {
  line: number;
  col: number;
  /** the field's path: faults.lanes[0].steps[1].inject.args */
  path: string;
  message: string;
}

const pathText = (p: ReadonlyArray<PropertyKey>) =>
  p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(top)';

/** Parse and validate a drill's text; the drill, or every problem with where it is. */
export function parseDrill(text: string): { drill: Drill } | { problems: DrillProblem[] } {
  const Y = yaml();
  const lc = new Y.LineCounter();
  const doc = Y.parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length)
    return {
      problems: doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return { line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0] };
      }),
    };
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  const r = Drill.safeParse(value ?? {}, { reportInput: true });
  if (r.success) return { drill: r.data };
  return {
    problems: r.error.issues.map((iss) => {
      // the deepest node of the path that is in the file (a missing field: its parent)
      let at: { line: number; col: number } = { line: 1, col: 1 };
      for (let n = iss.path.length; n >= 0; n--) {
        const node = doc.getIn(iss.path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node && typeof node === 'object' && node.range) {
          at = lc.linePos(node.range[0]);
          break;
        }
      }
      return { line: at.line, col: at.col, path: pathText(iss.path), message: explained(iss) };
    }),
  };
}

type JsonNode = {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonNode>;
  items?: JsonNode;
  anyOf?: JsonNode[];
};

/** The drill format's JSON Schema node at a path (the accepted form of a field), if the path is in it. */
function nodeAt(path: ReadonlyArray<PropertyKey>): JsonNode | undefined {
  let node: JsonNode | undefined = drillJsonSchema() as JsonNode;
  for (const k of path) {
    const options: JsonNode[] = node?.anyOf ?? (node ? [node] : []);
    node = undefined;
    for (const o of options) {
      const next = typeof k === 'number' ? o.items : o.properties?.[String(k)];
      if (next) {
        node = next;
        break;
      }
    }
    if (!node) return undefined;
  }
  return node;
}

/** A field's accepted form in words: "an integer in 1..65535", "one of GET, POST", "a duration: 500ms, 30s …". */
function form(n: JsonNode | undefined): string {
  if (!n) return '';
  if (n.anyOf) return n.anyOf.map(form).filter(Boolean).join(', or ');
  if (n.enum) return `one of ${n.enum.map(String).join(', ')}`;
  const type = Array.isArray(n.type) ? n.type.join(' or ') : n.type;
  const range =
    n.minimum !== undefined || n.maximum !== undefined ? ` in ${n.minimum ?? '…'}..${n.maximum ?? '…'}` : '';
  const what =
    type === 'object' && n.properties
      ? `an object with ${Object.keys(n.properties).join(', ')}`
      : type === 'array'
        ? `a list${n.items ? ` of ${form(n.items) || 'items'}` : ''}`
        : type === 'integer'
          ? `an integer${range}`
          : type === 'number'
            ? `a number${range}`
            : (type ?? '');
  return n.description ? `${what}${what ? ' — ' : ''}${n.description}` : what;
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  keys?: string[];
}

/** A problem in the reader's words, with the accepted form of the field from the one declaration. */
function explained(iss: Issue): string {
  const accepted = form(nodeAt(iss.path));
  if (iss.code === 'unrecognized_keys') {
    const fields = Object.keys(nodeAt(iss.path)?.properties ?? {});
    return `unknown field${(iss.keys ?? []).length > 1 ? 's' : ''} ${(iss.keys ?? []).join(', ')}${fields.length ? `; accepted: ${fields.join(', ')}` : ''}`;
  }
  if (iss.code === 'invalid_type') {
    if (iss.input === undefined) return `is required${accepted ? `: ${accepted}` : ''}`;
    return `must be ${accepted || iss.message.replace(/^Invalid input: expected /, '').replace(/, received .*$/, '')}, got ${shown(iss.input)}`;
  }
  if (iss.code === 'invalid_value' && accepted) return `must be ${accepted}, got ${shown(iss.input)}`;
  if (iss.code === 'too_small' || iss.code === 'too_big' || iss.code === 'invalid_format')
    return `${iss.message}${accepted ? ` (accepted: ${accepted})` : ''}`;
  return iss.message;
}

/** The problems as lines: FILE:LINE:COL: PATH: MESSAGE */
export function problemLines(file: string, problems: DrillProblem[]): string[] {
  return problems.map((p) => `${file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
}

/** Read and validate a drill file (the CLI: the user's own file); BadArgs with every problem. */
export function loadDrill(file: string): Drill {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw badArgs(`cannot read the drill file ${file}: ${fileProblem(e)}`);
  }
  return checked(file, text);
}

/**
 * The text each drill was read from (checked() records it): a daemon is sent the drill as written (drill/http.ts),
 * not the validated form (durations in ms, bounds parsed), which its own validation would read differently.
 */
const TEXTS = new WeakMap<Drill, { file: string; text: string }>();

/** The file and text a drill was read from by checked() / loadDrill(), if it was. */
export function drillText(d: Drill): { file: string; text: string } | undefined {
  return TEXTS.get(d);
}

export function checked(file: string, text: string): Drill {
  if (text.length > 4 << 20) throw badArgs(`the drill file ${file} is larger than 4 MiB`);
  const r = parseDrill(text);
  if ('drill' in r) {
    TEXTS.set(r.drill, { file, text });
    return r.drill;
  }
  throw badArgs(
    `the drill file ${file} is not valid (the format: chaosmetad drill schema; README "Drills"):\n` +
      problemLines(file, r.problems).join('\n'),
  );
}

/**
 * The daemon reads a drill file for a schedule, as root, on its own: the file must be root's and written by no one
 * else, and no directory above it writable by others (a sticky one like /tmp excepted, but not the file's own), so
 * no local user can make the daemon run their drill (a command probe is a root command). Opened without following a
 * symlink; the checks are of the file opened.
 */
export function readTrustedDrillFile(file: string): { text: string; real: string; mode: number } {
  if (!path.isAbsolute(file)) throw badArgs(`a scheduled drill file must be an absolute path, got ${file}`);
  let real: string;
  try {
    real = fs.realpathSync(path.dirname(file));
  } catch (e) {
    throw badArgs(`the drill file's directory ${path.dirname(file)}: ${fileProblem(e)}`);
  }
  real = path.join(real, path.basename(file));
  let dir = path.dirname(real);
  let own = true;
  for (;;) {
    const d = fs.lstatSync(dir);
    if (d.uid !== 0)
      throw badArgs(`refused: the directory ${dir} belongs to uid ${d.uid}, not root (drill file ${file})`);
    if (d.mode & 0o022 && (own || !(d.mode & 0o1000)))
      throw badArgs(
        `refused: the directory ${dir} is writable by other users (mode ${(d.mode & 0o7777).toString(8)}): they could swap the drill file ${file}`,
      );
    own = false;
    if (dir === '/') break;
    dir = path.dirname(dir);
  }
  let fd: number;
  try {
    fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw badArgs(`cannot open the drill file ${file}: ${fileProblem(e)}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw badArgs(`refused: the drill file ${file} is not a regular file`);
    if (st.uid !== 0) throw badArgs(`refused: the drill file ${file} belongs to uid ${st.uid}, not root`);
    if (st.mode & 0o022)
      throw badArgs(
        `refused: the drill file ${file} is writable by other users (mode ${(st.mode & 0o7777).toString(8)})`,
      );
    if (st.size > 4 << 20) throw badArgs(`the drill file ${file} is larger than 4 MiB`);
    return { text: fs.readFileSync(fd, 'utf8'), real, mode: st.mode };
  } finally {
    fs.closeSync(fd);
  }
}

/** The drill format as JSON Schema (drill schema), from the one declaration. */
export function drillJsonSchema(): unknown {
  return z.toJSONSchema(Drill, { io: 'input', unrepresentable: 'any' });
}
