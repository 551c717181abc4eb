/**
 * The examples of README.md and docs/ that need nothing but this host run as written: every fenced block whose
 * info string is `sh runnable` is run by bash (`-e`), with `chaosmetad` on PATH (the single executable when built,
 * else bin/chaosmetad) and a fresh data dir; it must exit 0 and leave the host as it found it.
 *
 * @lane measuring (measures nothing itself, but its examples burn a core and load the CPU for seconds: the VM
 * suites beside a quiet one would feel that)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, ROOT, SEA, cli, hostDifference, hostSettles, hostState, queryJson, tmpDir } from '../helpers';

jest.setTimeout(180_000);

interface Example {
  file: string;
  line: number;
  script: string;
}

/** the `sh runnable` blocks of one Markdown file, with the line their fence opens on */
function runnableBlocks(file: string): Example[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh runnable\s*$/.test(lines[i])) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: a runnable block that never closes`);
    out.push({ file, line: i + 1, script: lines.slice(i + 1, end).join('\n') + '\n' });
    i = end;
  }
  return out;
}

const PAGES = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const EXAMPLES = PAGES.flatMap(runnableBlocks);

// `chaosmetad` as a user has it: the single executable when built, else the checkout's bin/chaosmetad
const binDir = tmpDir('readme-bin');
const exe = path.join(binDir, 'chaosmetad');
if (fs.existsSync(SEA)) fs.symlinkSync(SEA, exe);
else
  fs.writeFileSync(exe, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`, {
    mode: 0o755,
  });

test('README.md has runnable examples, and so do the docs pages they point to', () => {
  expect(EXAMPLES.filter((e) => e.file === 'README.md').length).toBeGreaterThanOrEqual(4);
  expect(EXAMPLES.length).toBeGreaterThan(EXAMPLES.filter((e) => e.file === 'README.md').length);
});

test.each(EXAMPLES.map((e) => [`${e.file}:${e.line}`, e] as const))('%s runs as written', async (_where, ex) => {
  const before = hostState();
  const dataDir = tmpDir('readme');
  const r = spawnSync('bash', ['-e', '-c', ex.script], {
    encoding: 'utf8',
    cwd: ROOT,
    timeout: 150_000,
    env: {
      ...process.env,
      PATH: `${binDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
      CHAOSMETAD_DATA_DIR: dataDir,
    },
  });
  // the block itself must put back what it changed: look before recovering anything
  const live = queryJson(dataDir)
    .experiments.filter((e) => e.status === 'created' || e.status === 'success')
    .map((e) => e.uid);
  const now = await hostSettles(before, 10_000);
  // then whatever it left is recovered anyway, so a failing example leaves nothing behind either
  const rest = cli(dataDir, ['recover', '--all']);
  const after = await hostSettles(before, 10_000);
  expect({ code: r.status, signal: r.signal, stderr: r.status === 0 ? '' : r.stderr }).toEqual({
    code: 0,
    signal: null,
    stderr: '',
  });
  expect({ live, left: hostDifference(before, now) }).toEqual({ live: [], left: [] });
  expect(rest.code).toBe(0);
  expect(hostDifference(before, after)).toEqual([]);
});
