/**
 * Arrows point down only: each layer of src/ may import only the layers below it. Read from the sources' import
 * statements (static and require), so a new upward import fails here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : /\.ts$/.test(e.name) ? [p] : [];
  });
}

/** Every src-relative module a file imports ("store/store", "host/procs"), from import/export/require/import(). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /(?:from\s+|require\(\s*|import\(\s*)'(\.{1,2}\/[^']+)'/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const abs = path.resolve(path.dirname(file), m[1]);
    if (abs.startsWith(SRC + path.sep)) out.push(path.relative(SRC, abs));
  }
  return out;
}

const layer = (rel: string): string => (rel.includes(path.sep) ? rel.split(path.sep)[0] : rel.replace(/\.ts$/, ''));

/** What each layer may import (besides itself, util/, errors and types). */
const ALLOWED: Record<string, string[]> = {
  commands: ['cli', 'server', 'oclif', 'faults'],
  sea: ['commands', 'cli', 'api', 'host'],
  cli: ['oclif', 'api', 'faults', 'kube', 'drill'],
  drill: ['kube', 'api', 'engine', 'store', 'faults', 'host'],
  kube: ['api', 'faults'],
  server: ['oclif', 'api', 'engine', 'store', 'host', 'drill'],
  oclif: ['api', 'engine'],
  api: ['engine', 'store'],
  engine: ['faults', 'store', 'host'],
  faults: ['host'],
  store: [],
  host: [],
  util: [],
  errors: [],
  types: [],
};
const ALWAYS = ['util', 'errors', 'types'];

const all = files(SRC).map((f) => path.relative(SRC, f));

test.each(all)('%s imports only layers below it', (rel) => {
  const from = layer(rel);
  const allowed = ALLOWED[from];
  if (allowed === undefined) throw new Error(`${rel}: layer ${from} is not in the table of this test; add it`);
  const bad = importsOf(path.join(SRC, rel)).filter((imp) => {
    const to = layer(imp);
    return to !== from && !ALWAYS.includes(to) && !allowed.includes(to);
  });
  expect(bad).toEqual([]);
});

test.each(all.filter((f) => f.startsWith(`faults${path.sep}`) && f.split(path.sep).length === 3))(
  "%s imports no other target's module",
  (rel) => {
    const target = rel.split(path.sep)[1];
    const other = importsOf(path.join(SRC, rel)).filter((imp) => {
      const parts = imp.split(path.sep);
      return parts[0] === 'faults' && parts.length === 3 && parts[1] !== target;
    });
    expect(other).toEqual([]);
  },
);

test('the test reads imports at all (a file known to import the store)', () => {
  expect(importsOf(path.join(SRC, 'engine', 'engine.ts'))).toContain(path.join('store', 'store'));
});
