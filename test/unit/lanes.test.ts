/**
 * Integration lanes are declared by each suite (`@lane quiet|measuring|vm (why)` in its docblock), not in a
 * hand-kept list: a new suite without one fails here, instead of silently landing in the measuring lane.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { lanes, pattern, LANES } = require('../../scripts/lanes.js') as {
  lanes: (dir?: string) => Record<string, string>;
  pattern: (lane: string) => string;
  LANES: string[];
};
const DIR = path.resolve(__dirname, '..', 'integration');
const suites = fs.readdirSync(DIR).filter((f) => f.endsWith('.test.ts'));

test('every integration suite names exactly one lane, with why', () => {
  const table = lanes();
  expect(Object.keys(table).sort()).toEqual(suites.map((f) => f.replace(/\.test\.ts$/, '')).sort());
  for (const f of suites) {
    const head = fs.readFileSync(path.join(DIR, f), 'utf8').split('*/')[0];
    expect([f, /^\s*\*\s*@lane\s+(quiet|measuring|vm)\s+\(\S/m.test(head)]).toEqual([f, true]);
  }
});

test('the lanes split the suites: each matched by exactly one lane pattern', () => {
  for (const f of suites) {
    const full = path.join(DIR, f);
    const matched = LANES.filter((l) => new RegExp(pattern(l), 'i').test(full));
    expect([f, matched.length]).toEqual([f, 1]);
  }
});

test('a suite without a lane is refused with a message naming it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-lanes-'));
  fs.writeFileSync(path.join(dir, 'zz-no-lane-probe.test.ts'), '/** a suite that forgot its lane */\n');
  try {
    expect(() => lanes(dir)).toThrow(/zz-no-lane-probe\.test\.ts: its docblock must name one lane/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
