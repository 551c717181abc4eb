/** oclif loads our command tree and nothing else, and takes none of our CHAOSMETAD_* variables as its own. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

test('package.json lists no plugins (core, dev, jit) and no hooks for oclif', () => {
  const oclif = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).oclif;
  for (const key of ['plugins', 'devPlugins', 'jitPlugins', 'hooks', 'helpClass', 'theme'])
    expect(oclif[key]).toBeUndefined();
});

test("oclif's dirs are not ours, and a package.json in $CHAOSMETAD_DATA_DIR loads nothing", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-oclif-unit-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ oclif: { plugins: [{ name: 'evil-link', type: 'link', root: dir }] } }),
    );
    // in a process of its own, from lib/ (oclif cannot load its commands inside jest's module sandbox)
    const code = `
      const { Config } = require('@oclif/core');
      const { oclifOptions } = require(${JSON.stringify(path.join(ROOT, 'lib', 'cli', 'main'))});
      Config.load(oclifOptions(${JSON.stringify(ROOT)})).then((c) => console.log(JSON.stringify({
        dirs: [c.dataDir, c.cacheDir, c.configDir],
        plugins: c.getPluginsList().map((p) => p.type),
        scoped: c.scopedEnvVar('DATA_DIR') ?? null,
        commands: c.commandIDs.length,
      })));`;
    const env = { ...process.env, CHAOSMETAD_DATA_DIR: dir, CHAOSMETAD_CACHE_DIR: dir, CHAOSMETAD_CONFIG_DIR: dir };
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: ROOT, env });
    expect(r.stderr).toBe('');
    const c = JSON.parse(r.stdout);
    expect(c.dirs).not.toContain(dir);
    expect(c.plugins).toEqual(['core']);
    expect(c.scoped).toBeNull();
    expect(c.commands).toBeGreaterThan(10);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
