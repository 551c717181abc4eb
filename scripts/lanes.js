#!/usr/bin/env node
// The integration lanes, as each suite declares its own in its docblock: `@lane quiet|measuring|vm (why)`.
//   quiet      measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane
//   measuring  measures something the other lanes would disturb: runs alone
//   vm         the throwaway VM: changes nothing on this host, only uses its CPU
// `node scripts/lanes.js LANE` prints a jest path pattern matching that lane's suites; required as a module
// (jest.config.js, test/unit/lanes.test.ts) it gives the table.
const fs = require('node:fs');
const path = require('node:path');

const DIR = path.join(__dirname, '..', 'test', 'integration');
const LANES = ['quiet', 'measuring', 'vm'];

/** suite name (file without .test.ts) -> its lane; a suite without exactly one valid @lane throws */
function lanes(dir = DIR) {
  const out = {};
  const suites = fs.readdirSync(dir).filter((x) => x.endsWith('.test.ts'));
  for (const f of suites.sort()) {
    const head = fs.readFileSync(path.join(dir, f), 'utf8').split('*/')[0];
    const tags = [...head.matchAll(/^\s*\*\s*@lane\s+(\S+)/gm)].map((m) => m[1]);
    if (tags.length !== 1 || !LANES.includes(tags[0]))
      throw new Error(
        `${path.join('test/integration', f)}: its docblock must name one lane: @lane ${LANES.join('|')} (why)`,
      );
    out[f.replace(/\.test\.ts$/, '')] = tags[0];
  }
  return out;
}

/** a path pattern for jest's --testPathPatterns matching exactly the suites of `lane` */
function pattern(lane) {
  const names = Object.entries(lanes())
    .filter(([, l]) => l === lane)
    .map(([n]) => n); // [a-z0-9-]: nothing to escape
  return `test/integration/(${names.join('|')})\\.test\\.ts$`;
}

module.exports = { lanes, pattern, LANES };
if (require.main === module) {
  const lane = process.argv[2];
  if (!LANES.includes(lane)) {
    console.error(`usage: node scripts/lanes.js ${LANES.join('|')}`);
    process.exit(2);
  }
  process.stdout.write(pattern(lane) + '\n');
}
