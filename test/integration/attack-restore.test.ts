/**
 * Issue 21, attack 1: a recursive restore across filesystems must write nowhere but the restored tree.
 *
 * `file del --recursive` keeps the tree in the data dir; when that is on another filesystem, recover copies it back.
 * The copy used to be `cp -r` into `<dir>/<name>.chaosmetad-partial`: the owner of <dir> renamed that directory
 * away and put a symbolic link in its place while cp ran, and root wrote the rest of the tree (the attacker's
 * names and bytes) into any directory — here a root-only one — and said success. Inside a container every restore
 * crosses filesystems, and container root's absolute link resolved against the host's `/`.
 * Now the copy is made on descriptors into a root-only staging directory, then renamed from its descriptor.
 * Proven three ways: the CLI attack as the user nobody; 300 restores (RESTORE_RACE_ROUNDS; 1 000 when it landed)
 * against a swapper on the host; as many inside a docker container whose root plants absolute links.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Executor } from '../../src/host/executor';
import { move } from '../../src/host/files';
import { BUSYBOX_IMAGE, dockerUnavailable, ensureDocker, ensureImages, exec, run, sh } from '../containers';
import { HELPER, cli, sleep, tmpDir, uidOf, waitFor } from '../helpers';

jest.setTimeout(240_000);
process.env.CHAOSMETAD_HELPER = HELPER;
const ROUNDS = Number(process.env.RESTORE_RACE_ROUNDS ?? 300);

const base = tmpDir('attack-restore'); // root's, 0755: nobody can walk in but not write
fs.chmodSync(base, 0o755);
const mnt = path.join(base, 'tmpfs'); // the data dir's filesystem: every restore crosses filesystems
const data = path.join(mnt, 'data');
const victim = path.join(base, 'victim'); // a root-only directory the attacker wants to write into
const home = path.join(base, 'home'); // the attacker's own directory, where the restored tree lives
fs.mkdirSync(mnt);
fs.mkdirSync(victim, { mode: 0o755 });
fs.writeFileSync(path.join(victim, 'canary'), 'root only\n', { mode: 0o600 });

beforeAll(() => {
  expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'cmd-attack-restore', mnt]).status).toBe(0);
});
afterAll(() => {
  cli(data, ['recover', '--all']);
  spawnSync('umount', [mnt]);
  fs.rmSync(base, { recursive: true, force: true });
});

/** Everything in the victim directory but its canary (what the attack wrote there). */
const written = () => fs.readdirSync(victim).filter((x) => x !== 'canary');

/** A tree of `dirs` directories of `files` files each, owned by nobody: name -> sha256 of every file. */
function makeTree(root: string, dirs: number, files: number, owner = 65534): Map<string, string> {
  const want = new Map<string, string>();
  fs.mkdirSync(root);
  for (let d = 0; d < dirs; d++) {
    const sub = path.join(root, `d${d}`);
    fs.mkdirSync(sub);
    for (let f = 0; f < files; f++) {
      const p = path.join(sub, `f${f}`);
      const bytes = crypto.randomBytes(64 + f);
      fs.writeFileSync(p, bytes);
      fs.chownSync(p, owner, owner);
      want.set(path.relative(root, p), crypto.createHash('sha256').update(bytes).digest('hex'));
    }
    fs.chownSync(sub, owner, owner);
  }
  fs.chownSync(root, owner, owner);
  return want;
}

/** The tree at root as name -> sha256 (files only). */
function readTree(root: string): Map<string, string> {
  const got = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else got.set(path.relative(root, p), crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(root);
  return got;
}

/**
 * The attacker, as nobody: whenever an entry of `dir` whose name holds "chaosmetad" appears (the copy's partial or
 * staging directory), rename it away and put a link to `to` in its place — after a random 0–2 ms, so the swap
 * lands at random moments of the copy. Prints "ready", then a count of swaps when `stop` appears.
 */
function swapper(dir: string, to: string, stop: string): { child: ChildProcess; swaps: () => Promise<number> } {
  const code = `
    const fs = require('fs'), path = require('path');
    let swaps = 0, n = 0;
    console.log('ready');
    const spin = (ms) => { const t = Date.now() + ms; while (Date.now() < t); };
    const end = Date.now() + 600000;
    while (!fs.existsSync(${JSON.stringify(stop)}) && Date.now() < end) {
      let names = [];
      try { names = fs.readdirSync(${JSON.stringify(dir)}); } catch {}
      for (const name of names) {
        if (!name.includes('chaosmetad')) continue;
        const p = path.join(${JSON.stringify(dir)}, name);
        try { if (fs.lstatSync(p).isSymbolicLink()) continue; } catch { continue; }
        spin(Math.random() * 2);
        try {
          fs.renameSync(p, path.join(${JSON.stringify(dir)}, 'away-' + n++));
          fs.symlinkSync(${JSON.stringify(to)}, p);
          swaps++;
        } catch {}
      }
    }
    console.log('swaps ' + swaps);`;
  const child = spawn(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '-e', code],
    {
      cwd: '/',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((r) => child.on('exit', r));
  return {
    child,
    swaps: async () => {
      fs.writeFileSync(stop, '');
      await exited;
      return Number(/swaps (\d+)/.exec(out)?.[1] ?? -1);
    },
  };
}

async function started(s: { child: ChildProcess }): Promise<void> {
  let out = '';
  s.child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  expect(await waitFor(() => out.includes('ready'), 10_000)).toBe(true);
}

/** Remove the attacker's leftovers (their renamed-away directories and links) from dir, keeping `keep`. */
function clearAttack(dir: string, keep: string): void {
  for (const e of fs.readdirSync(dir)) if (e !== keep) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
}

test('the CLI: file del --recursive, then recover while nobody swaps the copy for a link to a root-only directory', async () => {
  fs.mkdirSync(home, { mode: 0o755 });
  fs.chownSync(home, 65534, 65534);
  const tree = path.join(home, 'tree');
  const want = makeTree(tree, 6, 500); // 3 000 files: the copy takes long enough to be hit mid-way
  const uid = uidOf(cli(data, ['inject', 'file', 'del', '--recursive', '-p', tree]));
  expect(fs.existsSync(tree)).toBe(false);

  const stop = path.join(base, 'stop-cli');
  const s = swapper(home, victim, stop);
  await started(s);
  const rec = cli(data, ['recover', uid]);
  const swaps = await s.swaps();
  console.log(
    `attack 1 (CLI): recover exit ${rec.code}, the staging directory swapped ${swaps} times, ${written().length} entries written into the root-only directory`,
  );
  expect(swaps).toBeGreaterThan(0); // the attack really ran
  expect(written()).toEqual([]);
  // a swap that lands between the copy's checks is refused (exit 5, retryable; the race tests see it about once in
  // 300 restores): the next recover, with the attacker gone, finishes the restore
  if (rec.code === 5) {
    console.log(`attack 1 (CLI): the recover was refused (${rec.stderr.trim()}); recovering again`);
    expect(cli(data, ['recover', uid]).code).toBe(0);
  } else expect(rec.code).toBe(0);
  expect(readTree(tree)).toEqual(want); // restored whole
  expect(fs.statSync(tree).uid).toBe(65534);
  clearAttack(home, 'tree');
  fs.rmSync(tree, { recursive: true });
});

test('recover never removes a root-owned directory a user renamed to look like a staging or removal leftover', () => {
  const home3 = path.join(base, 'home3');
  fs.mkdirSync(home3, { mode: 0o755 });
  fs.chownSync(home3, 65534, 65534);
  const tree = path.join(home3, 'tree');
  makeTree(tree, 2, 3);
  const uid = uidOf(cli(data, ['inject', 'file', 'del', '--recursive', '-p', tree]));
  // root's directories that sit in the user's directory (the user may rename them, not change them)
  const planted = ['.tree.chaosmetad-stage-AAAA', '.tree.chaosmetad-gone-BBBB', 'tree.chaosmetad-partial'];
  for (const [i, name] of planted.entries()) {
    const d = path.join(home3, `rootdir${i}`);
    fs.mkdirSync(d, { mode: i === 0 ? 0o700 : 0o755 });
    fs.writeFileSync(path.join(d, 'precious'), 'root data\n');
    const r = spawnSync('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--',
      'mv',
      d,
      path.join(home3, name),
    ]);
    expect(r.status).toBe(0);
  }
  expect(cli(data, ['recover', uid]).code).toBe(0);
  for (const name of planted) expect(fs.readFileSync(path.join(home3, name, 'precious'), 'utf8')).toBe('root data\n');
  expect(fs.existsSync(path.join(tree, 'd0', 'f0'))).toBe(true);
});

/** ROUNDS restores of a small tree from `backupDir` to `target` (a delete, then the restore, each round). */
async function raceRounds(
  target: string,
  backupDir: string,
  want: Map<string, string>,
  restored: () => Map<string, string>,
  leaked: () => string[],
): Promise<{ ok: number; failed: number; partial: number; leaks: number }> {
  const ex = new Executor();
  const backup = path.join(backupDir, 'tree');
  let ok = 0;
  let failed = 0;
  let partial = 0;
  for (let i = 0; i < ROUNDS; i++) {
    await move(ex, target, backup); // the delete (staged in the root-only backup directory)
    try {
      await move(ex, backup, target); // the restore, beside the swapper
      const got = restored();
      if (got.size === want.size && [...want].every(([k, v]) => got.get(k) === v)) ok++;
      else partial++;
    } catch {
      failed++; // refused: the backup must still be whole and the target absent, then the round is retried
      if (fs.existsSync(target)) partial++;
      else await move(ex, backup, target).catch(() => undefined);
    }
    if (leaked().length) break;
  }
  return { ok, failed, partial, leaks: leaked().length };
}

test(`race harness on the host: ${ROUNDS} restores with nobody flipping the staging directory at random moments`, async () => {
  const home2 = path.join(base, 'home2');
  fs.mkdirSync(home2, { mode: 0o755 });
  fs.chownSync(home2, 65534, 65534);
  const bk = path.join(data, 'race-host');
  fs.mkdirSync(bk, { recursive: true, mode: 0o700 });
  const tree = path.join(home2, 'tree');
  const want = makeTree(tree, 3, 8);
  const stop = path.join(base, 'stop-host');
  const s = swapper(home2, victim, stop);
  await started(s);
  const t0 = performance.now();
  const r = await raceRounds(tree, bk, want, () => readTree(tree), written);
  const swaps = await s.swaps();
  console.log(
    `attack 1 (host race): ${ROUNDS} restores in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${r.ok} whole, ${r.failed} refused, ${r.partial} partial, ${swaps} swaps of the staging directory, ${r.leaks} entries written outside the tree`,
  );
  expect(swaps).toBeGreaterThan(ROUNDS / 10);
  expect(r.leaks).toBe(0);
  expect(r.partial).toBe(0);
  expect(r.ok + r.failed).toBe(ROUNDS);
  clearAttack(home2, 'tree');
});

const noDocker = dockerUnavailable();
(noDocker ? test.skip : test)(
  `race harness in a docker container: ${ROUNDS} restores with container root planting absolute links to a host directory`,
  async () => {
    await ensureDocker();
    ensureImages();
    const id = run([], BUSYBOX_IMAGE);
    try {
      const pid = Number(sh('docker', ['inspect', '-f', '{{.State.Pid}}', id]).out);
      const root = `/proc/${pid}/root`;
      expect(exec(id, ['busybox', 'mkdir', '-p', '/home/app']).code).toBe(0);
      const tree = `${root}/home/app/tree`;
      const want = makeTree(tree, 3, 8, 0);
      const bk = path.join(data, 'race-container');
      fs.mkdirSync(bk, { recursive: true, mode: 0o700 });
      // container root's swapper: the link is absolute, naming the HOST's victim directory (which the container
      // does not have): followed by the host's root, it would resolve there
      const loop =
        'i=0; while [ ! -e /stop ]; do for f in /home/app/.*chaosmetad*; do [ -L "$f" ] && continue; [ -d "$f" ] || continue; ' +
        `busybox mv "$f" /home/app/away$i 2>/dev/null && ln -s ${victim} "$f" && i=$((i+1)) && echo $i > /swaps; done; done`;
      const sw = spawn('docker', ['exec', id, 'sh', '-c', loop], { stdio: 'ignore' });
      await sleep(500);
      const t0 = performance.now();
      const r = await raceRounds(tree, bk, want, () => readTree(tree), written);
      fs.writeFileSync(`${root}/stop`, '');
      await new Promise((res) => sw.on('exit', res));
      const swaps = Number(exec(id, ['cat', '/swaps']).out || 0);
      console.log(
        `attack 1 (container race): ${ROUNDS} restores in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${r.ok} whole, ${r.failed} refused, ${r.partial} partial, ${swaps} swaps by container root, ${r.leaks} entries written into the host directory`,
      );
      expect(swaps).toBeGreaterThan(ROUNDS / 10);
      expect(r.leaks).toBe(0);
      expect(r.partial).toBe(0);
      expect(r.ok + r.failed).toBe(ROUNDS);
    } finally {
      sh('docker', ['rm', '-f', id]);
    }
  },
);
