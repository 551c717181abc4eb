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
import { BIN, ROOT, SEA, cli, hostDifference, hostState, queryJson, sleep, tmpDir } from '../helpers';

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

/** the other command lines the pages show (code blocks, indented or fenced): `chaosmetad …` / `kubectl chaosmetad …` */
function shownCommands(file: string): Array<{ where: string; argv: string[] }> {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const out: Array<{ where: string; argv: string[] }> = [];
  let fence: string | undefined;
  lines.forEach((l, i) => {
    if (l.startsWith('```')) {
      fence = fence === undefined ? l : undefined;
      return;
    }
    if (fence === '```sh runnable' || (fence === undefined && !l.startsWith('    '))) return;
    const m = /(?:^\s*|&& )(kubectl )?chaosmetad (.*)$/.exec(l);
    if (!m || m[2].includes('<')) return; // `<uid>`, `[flags]`: a synopsis, not a command
    const words = m[2].replace(/\s+#.*$/, '').split(/\s+/);
    out.push({ where: `${file}:${i + 1}`, argv: m[1] ? ['kube', ...words] : words });
  });
  return out;
}
const SHOWN = PAGES.flatMap(shownCommands);

// `chaosmetad` as a user has it: the single executable when built, else the checkout's bin/chaosmetad
const binDir = tmpDir('readme-bin');
const exe = path.join(binDir, 'chaosmetad');
if (fs.existsSync(SEA)) fs.symlinkSync(SEA, exe);
else
  fs.writeFileSync(exe, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`, {
    mode: 0o755,
  });

const helpDir = tmpDir('readme-help');

/**
 * What differs on the host but chaosmetad processes of others: engineers sharing this machine run unit tests
 * from their own checkouts meanwhile. A process of this suite names its checkout, its PATH directory (the
 * daemon, the CLI) or its data dir (helpers and watchers carry it).
 */
function ourDifference(before: string, now: string, dataDir: string): string[] {
  const ours = [ROOT, binDir, dataDir];
  let section = '';
  const kept = hostDifference(before, now).filter((l) => {
    if (l.startsWith('## ')) section = l;
    return section !== '## processes' || l === section || ours.some((o) => l.includes(o));
  });
  return kept.filter((l, i) => !l.startsWith('## ') || (kept[i + 1] !== undefined && !kept[i + 1].startsWith('## ')));
}

/** wait until the host is as before, but for others' processes (zombies need a moment to be reaped) */
async function settled(before: string, dataDir: string): Promise<string[]> {
  const until = Date.now() + 10_000;
  for (;;) {
    const left = ourDifference(before, hostState(), dataDir);
    if (left.length === 0 || Date.now() > until) return left;
    await sleep(200);
  }
}

test('README.md has runnable examples, and so do the docs pages they point to', () => {
  expect(EXAMPLES.filter((e) => e.file === 'README.md').length).toBeGreaterThanOrEqual(4);
  expect(EXAMPLES.length).toBeGreaterThan(EXAMPLES.filter((e) => e.file === 'README.md').length);
});

// what needs more than this host (a container, a JVM, a cluster) is not run: its command and every flag it uses must
// at least exist, as that command's --help lists them
test.each(SHOWN.map((c) => [c.where, c.argv] as const))('%s names a command and flags that exist', (_where, argv) => {
  const end = argv.findIndex((w) => !/^[a-z][a-z-]*$/.test(w)); // the command: its leading plain words
  const words = end < 0 ? argv : argv.slice(0, end);
  const help = cli(helpDir, [...words, '--help'], { exe });
  expect([words, help.code, help.stderr]).toEqual([words, 0, '']);
  const flags = argv.filter((w) => /^--?[a-z]/.test(w)).map((w) => w.replace(/=.*$/, ''));
  for (const f of flags) expect([f, new RegExp(`(^|[\\s,])${f}[\\s,=]`, 'm').test(help.stdout)]).toEqual([f, true]);
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
  const left = await settled(before, dataDir);
  // then whatever it left is recovered anyway, so a failing example leaves nothing behind either
  const rest = cli(dataDir, ['recover', '--all']);
  const after = await settled(before, dataDir);
  expect({ code: r.status, signal: r.signal, stderr: r.status === 0 ? '' : r.stderr }).toEqual({
    code: 0,
    signal: null,
    stderr: '',
  });
  expect({ live, left }).toEqual({ live: [], left: [] });
  expect(rest.code).toBe(0);
  expect(after).toEqual([]);
});
