/**
 * Issue 21, items 3 and 6: root never runs code or allocates memory that another party chose.
 * - oclif and another user's plugins: nobody prepares a data dir whose package.json lists a user and a link plugin
 *   with an init hook; root runs commands that are not on the fast path with CHAOSMETAD_DATA_DIR pointing there,
 *   through bin/ and through the single executable. (Before the fix the hooks ran as uid 0 for every one of them.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, SEA, asNobody, cli, tmpDir } from '../helpers';

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
