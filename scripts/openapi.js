#!/usr/bin/env node
// node scripts/openapi.js [--check] — write src/server/openapi.json from the HTTP contract (src/api/schema.ts, via
// the compiled lib/server/openapi.js: run `npm run build:ts` first, as `npm run openapi` does). --check: exit 1 when
// the committed file differs, write nothing.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'src', 'server', 'openapi.json');
const text = require('../lib/server/openapi.js').openApiText();
if (process.argv.includes('--check')) {
  const same = fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text;
  if (!same) console.error(`${path.relative(process.cwd(), file)} is stale: run npm run openapi`);
  process.exit(same ? 0 : 1);
}
fs.writeFileSync(file, text);
// and the compiled copy the daemon serves from lib/ (tsc copied the old one before this script ran)
const built = path.join(__dirname, '..', 'lib', 'server', 'openapi.json');
if (fs.existsSync(built)) fs.writeFileSync(built, text);
console.log(`wrote ${path.relative(process.cwd(), file)}`);
