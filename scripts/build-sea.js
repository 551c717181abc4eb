#!/usr/bin/env node
// Build dist/chaosmetad: one file carrying the CLI, the native helper and better-sqlite3's addon.
// Driven by pkg.config.json. Steps: esbuild bundle (CJS) -> code cache from a training run (warmCodeCache) -> SEA
// blob -> copy of node -> postject.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync, spawnSync } = require('node:child_process');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const cfg = JSON.parse(fs.readFileSync(path.join(root, 'pkg.config.json'), 'utf8'));
const abs = (p) => path.join(root, p);
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * Make a single executable from one CommonJS file: SEA blob (code cache, assets) -> copy of node -> postject.
 * Used for dist/chaosmetad and, by the benchmark, for a trivial one built the same way (the start-up floor).
 */
function seaFromScript({
  main,
  blob,
  output,
  assets = {},
  useCodeCache = true,
  useSnapshot = false,
  stripDebug = false,
}) {
  const seaConfig = {
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: !useSnapshot && useCodeCache,
    useSnapshot,
    assets,
  };
  const seaConfigPath = `${blob}.config.json`;
  fs.writeFileSync(seaConfigPath, JSON.stringify(seaConfig, null, 2));
  // node warns that SEA and snapshots are experimental; show its output only when it fails
  const made = spawnSync(process.execPath, ['--experimental-sea-config', seaConfigPath], { encoding: 'utf8' });
  if (made.status !== 0) {
    process.stderr.write(made.stdout + made.stderr);
    throw new Error('building the SEA blob failed');
  }
  const tmp = output + '.tmp';
  fs.copyFileSync(process.execPath, tmp);
  fs.chmodSync(tmp, 0o755);
  if (stripDebug) {
    try {
      execFileSync('strip', ['--strip-debug', tmp]);
    } catch (e) {
      console.warn('strip failed, keeping debug info:', e.message);
    }
  }
  // postject's ELF library warns about node's many .note sections; show its output only when it fails
  const inj = spawnSync(
    process.execPath,
    [require.resolve('postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE],
    { encoding: 'utf8' },
  );
  if (inj.status !== 0) {
    process.stderr.write(inj.stdout + inj.stderr);
    throw new Error('postject failed');
  }
  fs.renameSync(tmp, output);
}

module.exports = { seaFromScript };

/**
 * The single executable's main with a warm code cache: the bundle compiled from its asset with the cache made by
 * scripts/sea-train.js. V8 checks the cache (its version, flags and the source's hash) and compiles without it when
 * it does not fit (e.g. NODE_OPTIONS with V8 flags): slower then, never wrong.
 */
function loaderSource() {
  const { WRAP_HEAD, WRAP_TAIL } = require('./sea-wrap');
  return `'use strict';
const sea = require('node:sea');
const vm = require('node:vm');
const script = new vm.Script(${JSON.stringify(WRAP_HEAD)} + sea.getAsset('chaosmetad.cjs', 'utf8') + ${JSON.stringify(WRAP_TAIL)}, {
  filename: process.execPath,
  cachedData: Buffer.from(sea.getAsset('chaosmetad.cache')),
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
if (process.env.CHAOSMETAD_DEBUG)
  process.stderr.write('chaosmetad: code cache ' + (script.cachedDataRejected ? 'rejected' : 'used') + '\\n');
script.runInThisContext()(module.exports, require, module, __filename, __dirname);
`;
}

function build() {
  for (const [name, file] of Object.entries(cfg.assets)) {
    if (!fs.existsSync(abs(file)))
      throw new Error(`asset ${name} missing: ${file} (run npm run build:native / npm ci)`);
  }
  fs.mkdirSync(path.dirname(abs(cfg.bundle)), { recursive: true });

  const buildDate = new Date().toISOString().slice(0, 10);
  // every asset's content hash and size, checked when it is extracted and each time it is reused
  const manifest = Object.fromEntries(
    Object.entries(cfg.assets).map(([name, file]) => {
      const data = fs.readFileSync(abs(file));
      return [name, { sha256: crypto.createHash('sha256').update(data).digest('hex'), size: data.length }];
    }),
  );
  esbuild.buildSync({
    entryPoints: [abs(cfg.entry)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: abs(cfg.bundle),
    external: cfg.external,
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: {
      __CHAOSMETAD_BUILD_DATE__: JSON.stringify(buildDate),
      __CHAOSMETAD_BUILD_ID__: '"@@BUILD_ID@@"',
      __CHAOSMETAD_ASSETS__: JSON.stringify(manifest),
    },
    // in a SEA the injected `require` loads built-ins only: recreate a real one
    banner: { js: 'require = require("node:module").createRequire(process.execPath);' },
  });

  // the build id names the cache directory the assets are extracted to: it changes whenever any of them does
  let bundle = fs.readFileSync(abs(cfg.bundle), 'utf8');
  const h = crypto.createHash('sha256').update(bundle);
  for (const file of Object.values(cfg.assets)) h.update(fs.readFileSync(abs(file)));
  const buildId = h.digest('hex').slice(0, 16);
  bundle = bundle.split('@@BUILD_ID@@').join(buildId);
  fs.writeFileSync(abs(cfg.bundle), bundle);

  const out = abs(cfg.output);
  const assets = Object.fromEntries(Object.entries(cfg.assets).map(([k, v]) => [k, abs(v)]));
  let main = abs(cfg.bundle);
  if (cfg.warmCodeCache) {
    // the bundle and a code cache from a training run are assets; the executable's main is a small loader that
    // compiles the one with the other (node's own SEA code cache holds only the bundle's top level: every module
    // of a command was still compiled at each start)
    const cache = `${abs(cfg.bundle)}.cache`;
    const trained = spawnSync(process.execPath, [path.join(__dirname, 'sea-train.js'), abs(cfg.bundle), cache], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (!fs.existsSync(cache)) {
      process.stderr.write(trained.stdout + trained.stderr);
      throw new Error('the code cache training run failed');
    }
    assets['chaosmetad.cjs'] = abs(cfg.bundle);
    assets['chaosmetad.cache'] = cache;
    main = `${abs(cfg.bundle)}.loader.js`;
    fs.writeFileSync(main, loaderSource());
  }
  seaFromScript({
    main,
    blob: abs(cfg.blob),
    output: out,
    assets,
    useCodeCache: !!cfg.useCodeCache,
    useSnapshot: !!cfg.useSnapshot,
    stripDebug: !!cfg.stripDebug,
  });
  console.log(`built ${path.relative(root, out)} (${(fs.statSync(out).size / 1e6).toFixed(1)} MB, build ${buildId})`);
}

if (require.main === module) build();
