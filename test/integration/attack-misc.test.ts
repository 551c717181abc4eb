/**
 * Issue 21, items 3 and 6: root never runs code or allocates memory that another party chose.
 * - oclif and another user's plugins: nobody prepares a data dir whose package.json lists a user and a link plugin
 *   with an init hook; root runs commands that are not on the fast path with CHAOSMETAD_DATA_DIR pointing there,
 *   through bin/ and through the single executable. (Before the fix the hooks ran as uid 0 for every one of them.)
 * - Files a target sizes: a sparse 8 GB /etc/hosts or resolv.conf (a host path given by the variables that allow
 *   one, and a container's own /etc/hosts grown by its root) is refused at once, naming the file and the cap; a
 *   file that file append appended to, grown to 8 GB by its owner, is recovered at once, the lines left with a
 *   note. Each run's peak RSS is measured (/usr/bin/time). (Before: 1 GB hosts took 1.1 GB of RSS and 3 s, 8 GB
 *   failed with a RangeError; append's recover failed with one.)
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, SEA, asNobody, cli, tmpDir, uidOf } from '../helpers';
import { dockerUnavailable, ensureDocker, ensureImages, exec, run, sh } from '../containers';

jest.setTimeout(120_000);
const work = tmpDir('attack-misc');
// nobody must be able to create its data dir here; the sticky bit keeps its entries its own
fs.chmodSync(work, 0o1777);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** nobody's data dir: a package.json listing a user plugin (node_modules/evil-user) and a link plugin. */
function nobodysPlugins(): { dir: string; marker: string } {
  const dir = path.join(work, 'nobody-data');
  const marker = path.join(dir, 'marker');
  const hook = (kind: string) =>
    `module.exports = async function () { require('fs').appendFileSync(${JSON.stringify(marker)}, '${kind} hook ran as uid ' + process.getuid() + '\\n'); };\n`;
  const script = [
    `mkdir -p ${dir}/node_modules/evil-user ${dir}/evil-link`,
    ...['user', 'link'].flatMap((kind) => {
      const at = kind === 'user' ? `${dir}/node_modules/evil-user` : `${dir}/evil-link`;
      const pjson = { name: `evil-${kind}`, version: '1.0.0', oclif: { hooks: { init: './init.js' } } };
      return [
        `printf '%s' '${JSON.stringify(pjson)}' > ${at}/package.json`,
        `printf '%s' "$HOOK_${kind.toUpperCase()}" > ${at}/init.js`,
      ];
    }),
    `printf '%s' '${JSON.stringify({
      private: true,
      oclif: {
        schema: 1,
        plugins: [
          { name: 'evil-user', type: 'user', tag: 'latest' },
          { name: 'evil-link', type: 'link', root: `${dir}/evil-link` },
        ],
      },
    })}' > ${dir}/package.json`,
    // the marker's directory: writable by anyone, so a hook run by any user could leave it
    `chmod 777 ${dir}`,
  ].join(' && ');
  const r = asNobody(['env', `HOOK_USER=${hook('user')}`, `HOOK_LINK=${hook('link')}`, 'sh', '-c', script]);
  if (r.code !== 0) throw new Error(`nobody could not prepare its data dir: ${r.stderr}`);
  expect(fs.statSync(path.join(dir, 'package.json')).uid).toBe(65534);
  return { dir, marker };
}

describe('oclif loads no plugin from $CHAOSMETAD_DATA_DIR (issue 21, item 3)', () => {
  const { dir, marker } = nobodysPlugins();
  for (const [how, exe] of [
    ['bin/chaosmetad', BIN],
    ['the single executable', SEA],
  ] as const) {
    for (const args of [['schedule', 'list'], ['check', 'x'], ['--help'], ['server', '--help']]) {
      test(`root's \`${args.join(' ')}\` (${how}) with nobody's data dir runs no hook of nobody's`, () => {
        const r = cli(dir, args, { exe });
        const ran = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '';
        fs.rmSync(marker, { force: true });
        expect(ran).toBe('');
        // the data-dir ownership check still refuses the directory itself (a command that opens it)
        if (args[0] !== '--help' && args[1] !== '--help') {
          expect(r.code).toBe(2);
          expect(r.stderr).toMatch(/owned by uid 65534/);
        } else expect(r.code).toBe(0);
      });
    }
  }
});

/** Run the CLI under /usr/bin/time: its result, wall time and peak RSS. */
function measured(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): { code: number; stdout: string; stderr: string; seconds: number; rssMB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', 'MEASURED %e %M', process.execPath, BIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CHAOSMETAD_DATA_DIR: dataDir, ...env },
  });
  const m = /MEASURED ([\d.]+) (\d+)\s*$/.exec(r.stderr ?? '');
  if (!m) throw new Error(`no measure: ${r.stderr}`);
  return {
    code: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr.slice(0, m.index),
    seconds: Number(m[1]),
    rssMB: Number(m[2]) / 1024,
  };
}

const GB = 1024 ** 3;
const BOUNDS = { seconds: 5, rssMB: 200 };

describe('files a target sizes are never read whole (issue 21, item 6)', () => {
  const data = path.join(work, 'bounded-data');
  afterAll(() => {
    cli(data, ['recover', '--all']);
  });

  const hosts = ['inject', 'dns', 'record', '-d', 'x.example', '-i', '10.1.1.1'];
  const resolv = ['inject', 'dns', 'server', '-i', '10.1.1.1'];
  test.each([
    ['/etc/hosts', 8, 'CHAOSMETAD_HOSTS_FILE', hosts],
    ['/etc/hosts', 1, 'CHAOSMETAD_HOSTS_FILE', hosts],
    ['/etc/resolv.conf', 8, 'CHAOSMETAD_RESOLV_FILE', resolv],
  ] as const)(
    'a sparse %s of %d GB (%s) is refused at once, naming it and the 64 MB cap',
    (_what, gb, variable, args) => {
      const file = path.join(work, `sparse-${variable}-${gb}`);
      fs.writeFileSync(file, '127.0.0.1 localhost\n');
      fs.truncateSync(file, gb * GB);
      try {
        const r = measured(data, [...args], { [variable]: file });
        expect(r.stderr).toContain(`${file} is ${gb}GB: more than the 64MB chaosmetad reads of a file it edits whole`);
        expect(r.code).toBe(1);
        expect(r.seconds).toBeLessThan(BOUNDS.seconds);
        expect(r.rssMB).toBeLessThan(BOUNDS.rssMB);
      } finally {
        fs.rmSync(file, { force: true });
      }
    },
  );

  const why = dockerUnavailable();
  (why ? test.skip : test)(
    "a container's /etc/hosts grown to a sparse 8 GB by its root is refused at once",
    async () => {
      await ensureDocker();
      ensureImages();
      const id = run([]);
      try {
        // the container's root makes its /etc/hosts (docker's bind-mounted file) 8 GB, at no cost
        const dd = exec(id, ['dd', 'if=/dev/null', 'of=/etc/hosts', 'bs=1048576', 'seek=8192']);
        expect(dd.code).toBe(0);
        expect(exec(id, ['stat', '-c', '%s', '/etc/hosts']).out).toBe(String(8 * GB));
        const r = measured(data, [
          'inject',
          'dns',
          'record',
          '-d',
          'x.example',
          '-i',
          '10.1.1.1',
          '--container-id',
          id,
        ]);
        expect(r.stderr).toMatch(/\/etc\/hosts.* is 8GB: more than the 64MB chaosmetad reads of a file it edits whole/);
        expect(r.code).toBe(1);
        expect(r.seconds).toBeLessThan(BOUNDS.seconds);
        expect(r.rssMB).toBeLessThan(BOUNDS.rssMB);
      } finally {
        sh('docker', ['rm', '-f', id]);
      }
    },
  );

  test('file append: its file grown to a sparse 8 GB by its owner is recovered at once, the lines left with a note', () => {
    const dir = path.join(work, 'append');
    fs.mkdirSync(dir, { mode: 0o755 });
    const file = path.join(dir, 'target.log');
    fs.writeFileSync(file, 'orig\n');
    fs.chownSync(file, 65534, 65534);
    const uid = uidOf(cli(data, ['inject', 'file', 'append', '-p', file, '-c', 'chaos line', '-t', '10m']));
    try {
      expect(fs.readFileSync(file, 'utf8')).toBe('orig\nchaos line\n');
      expect(asNobody(['truncate', '-s', String(8 * GB), file]).code).toBe(0);
      const r = measured(data, ['recover', uid]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(
        /grew by 8\.0GB since the inject, more than the 1GB recover reads and moves: the appended lines were left in it/,
      );
      expect(r.code).toBe(0);
      expect(r.seconds).toBeLessThan(BOUNDS.seconds);
      expect(r.rssMB).toBeLessThan(BOUNDS.rssMB);
      expect(fs.statSync(file).blocks).toBeLessThan(64); // still sparse: nothing was moved down
    } finally {
      cli(data, ['recover', uid]);
      fs.rmSync(file, { force: true });
    }
  });
});
