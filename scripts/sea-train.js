#!/usr/bin/env node
// node scripts/sea-train.js BUNDLE OUT — the training run of the single executable's code cache (build-sea.js runs
// it in a fresh node, the very binary the executable is a copy of, with no flags: V8 accepts a code cache only from
// the same version and flags). It compiles the bundle wrapped exactly as the executable's loader wraps it, writes a
// cache of that first (kept if the run fails), runs `inject cpu burn --dry-run` with a throwaway data and cache
// directory, and at exit writes a cache that also holds every function that run compiled: the modules of the inject
// path and what they call. Nothing on the host is changed (a dry run plans; it does not act).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { WRAP_HEAD, WRAP_TAIL } = require('./sea-wrap');

const [bundle, out] = process.argv.slice(2);
const src = fs.readFileSync(bundle, 'utf8');
// named as a file of better-sqlite3's package: its addon lookup (the `bindings` package) starts from the caller's
// file, so the training run finds the addon in node_modules (the executable passes its extracted copy instead)
const filename = path.join(path.dirname(require.resolve('better-sqlite3/package.json')), 'lib', 'sea-training.js');
const script = new vm.Script(WRAP_HEAD + src + WRAP_TAIL, {
  filename,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
fs.writeFileSync(out, script.createCachedData());
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-sea-train-'));
process.env.CHAOSMETAD_DATA_DIR = path.join(scratch, 'data');
process.env.CHAOSMETAD_CACHE_DIR = path.join(scratch, 'cache');
process.argv = [process.execPath, 'chaosmetad', 'inject', 'cpu', 'burn', '--percent', '50', '--dry-run'];
process.on('exit', () => {
  fs.writeFileSync(out, script.createCachedData());
  fs.rmSync(scratch, { recursive: true, force: true });
});
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, bundle, path.dirname(bundle));
