/**
 * The Java agent jar (jvm/build, made by `make -C jvm`): Java 8 class files (major version 52), so it loads into
 * old JVMs too; the manifest names the agent class and allows retransforming; javassist and the hook jar are inside.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const JAR = path.join(__dirname, '..', '..', 'jvm', 'build', 'chaosmetad-agent.jar');
const built = fs.existsSync(JAR) && spawnSync('unzip', ['-v']).status === 0;
const t = built ? test : test.skip;
const entry = (name: string, jar = JAR) => spawnSync('unzip', ['-p', jar, name], { maxBuffer: 1 << 24 }).stdout;

t('class files are Java 8 (major 52); the manifest makes it an agent that can retransform', () => {
  for (const c of [
    'chaosmetad/agent/Agent.class',
    'chaosmetad/agent/Agent$Transformer.class',
    'javassist/ClassPool.class',
  ]) {
    const b = entry(c);
    expect([c, b.readUInt32BE(0).toString(16), b.readUInt16BE(6) <= 52]).toEqual([c, 'cafebabe', true]);
  }
  const mf = entry('META-INF/MANIFEST.MF').toString();
  expect(mf).toMatch(/^Agent-Class: chaosmetad\.agent\.Agent\r?$/m);
  expect(mf).toMatch(/^Can-Retransform-Classes: true\r?$/m);
  // the hook travels as a jar of its own (the agent puts it on the bootstrap class path)
  const hook = entry('chaosmetad-hook.jar');
  const tmp = path.join(fs.mkdtempSync('/tmp/cmd-hook-'), 'hook.jar');
  fs.writeFileSync(tmp, hook);
  expect(entry('chaosmetad/hook/Hook.class', tmp).readUInt16BE(6)).toBe(52);
  fs.rmSync(path.dirname(tmp), { recursive: true });
});
