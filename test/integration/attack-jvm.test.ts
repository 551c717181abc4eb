/**
 * Attacks on chaosmetad's talk with a JVM (issue 21, items 4 and 5), performed as the local user nobody against a
 * JVM of another user (daemon, uid 1) whose working directory is a root-only directory:
 * - nobody watches the host's /tmp (world-listable) for chaosmetad's command files and plants the agent's answer
 *   first: a forged reply, a FIFO swapped in and out, a sparse 2 GB file. The inject must fail with the agent's own
 *   answer (the class does not exist), in bounded time, without storing anything forged and without a big allocation.
 * - the attach trigger (.attach_pid<pid>) must be created as the JVM's user, never as root in a directory the JVM's
 *   user chose: nothing appears in the root-only working directory.
 *
 * @lane quiet (measures no CPU, rate or latency and exhausts no host-wide limit: runs beside the VM lane)
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BIN, HELPER, ROOT, asNobody, cli, lastTest, queryJson, tmpDir, waitFor } from '../helpers';

jest.setTimeout(240_000);
const JAVA = '/usr/lib/jvm/java-17-openjdk-amd64/bin/java';
const why = !fs.existsSync(JAVA)
  ? 'OpenJDK 17 is not installed (apt-get install openjdk-17-jdk-headless)'
  : !fs.existsSync(path.join(ROOT, 'jvm', 'build', 'chaosmetad-agent.jar'))
    ? 'the Java agent is not built (make -C jvm)'
    : '';
const d = why ? describe.skip : describe;
if (why) test.skip(`jvm attacks — skipped: ${why}`, () => {});

const dir = tmpDir('attack-jvm');
const classes = path.join(dir, 'classes');
/** the JVM's working directory: root's, 0755 (its user cannot create anything there) */
const rootOnly = path.join(dir, 'rootonly');
const DAEMON = 1;

/**
 * nobody's attacker: polls /tmp for new chaosmetad-cmd-* entries and plants `<entry>.reply` next to each (and, were
 * it a directory nobody could enter, `<file>.reply` inside it). Modes: forge (a JSON success), sparse (a 2 GB hole),
 * fifo (a regular file and a FIFO swapped in turn at the reply's name while the command file is there). Prints one
 * line per attempt: "planted PATH" or "CODE PATH".
 */
const ATTACKER = `
const fs = require('fs'), cp = require('child_process'), path = require('path');
const mode = process.argv[1], until = Date.now() + Number(process.argv[2]);
const forged = JSON.stringify({ ok: true, active: true, classes: 1, methods: ['FORGED-by-nobody'] });
const say = (s) => fs.writeSync(1, s + '\\n');
const own = fs.mkdtempSync('/tmp/cmatk-');
const fifo = path.join(own, 'f'), file = path.join(own, 'r'), tmpn = path.join(own, 't');
cp.execFileSync('mkfifo', [fifo]);
fs.writeFileSync(file, forged);
const seen = new Set(fs.readdirSync('/tmp'));
function plant(p, cmd) {
  try {
    if (mode === 'forge') fs.writeFileSync(p, forged, { flag: 'wx' });
    else if (mode === 'sparse') {
      const fd = fs.openSync(p, 'wx');
      fs.ftruncateSync(fd, 2 ** 31 - 4096);
      fs.closeSync(fd);
    } else {
      fs.linkSync(file, tmpn);
      fs.renameSync(tmpn, p);
      say('planted ' + p);
      // swap a FIFO and the forged file in turn while the command is there (at most 20 s)
      const stop = Date.now() + 20000;
      for (let i = 0; Date.now() < stop; i++) {
        fs.linkSync(i % 2 ? file : fifo, tmpn);
        fs.renameSync(tmpn, p);
        if (i % 64 === 0 && !fs.existsSync(cmd)) break;
      }
      return;
    }
    say('planted ' + p);
  } catch (e) {
    say(e.code + ' ' + p);
  }
}
while (Date.now() < until) {
  for (const e of fs.readdirSync('/tmp')) {
    if (!e.startsWith('chaosmetad-cmd-') || e.endsWith('.reply') || seen.has(e)) continue;
    seen.add(e);
    plant('/tmp/' + e + '.reply', '/tmp/' + e);
    try {
      for (const f of fs.readdirSync('/tmp/' + e)) plant('/tmp/' + e + '/' + f + '.reply', '/tmp/' + e + '/' + f);
    } catch (err) {
      say(err.code + ' /tmp/' + e + '/');
    }
  }
}
fs.rmSync(own, { recursive: true, force: true });
`;

class Attacker {
  proc: ChildProcess;
  out = '';
  constructor(mode: 'forge' | 'sparse' | 'fifo', ms: number) {
    this.proc = spawn(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '-e', ATTACKER, mode, String(ms)],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/', env: { PATH: '/usr/bin:/bin' } },
    );
    this.proc.stdout!.on('data', (b: Buffer) => (this.out += b.toString()));
  }
  /** Stop it; remove what it planted (the names it printed) and its own directory. */
  async stop(): Promise<string[]> {
    if (this.proc.exitCode === null) {
      this.proc.kill('SIGKILL');
      await new Promise((r) => this.proc.on('exit', r));
    }
    const lines = this.out.trim().split('\n').filter(Boolean);
    for (const l of lines) {
      const p = l.replace(/^\S+ /, '');
      if (l.startsWith('planted ')) fs.rmSync(p, { force: true });
    }
    for (const e of fs.readdirSync('/tmp')) if (e.startsWith('cmatk-')) fs.rmSync(`/tmp/${e}`, { recursive: true });
    return lines;
  }
}

/** chaosmetad inject jvm … run in the background, its peak memory (kB) measured by /usr/bin/time. */
interface Injected {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  maxRssKb: number;
}

function inject(args: string[], timeoutMs: number): Promise<Injected> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, BIN, 'inject', 'jvm', ...args], {
      cwd: ROOT,
      env: { ...process.env, CHAOSMETAD_DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // a hung inject is killed (node itself: time waits for it, then reports)
    const killer = setTimeout(() => spawnSync('pkill', ['-KILL', '-P', String(p.pid)]), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(killer);
      const m = /maxrss_kb=(\d+)/.exec(stderr);
      resolve({
        code: /Command terminated by signal/.test(stderr) ? null : code,
        stdout,
        stderr: stderr.replace(/.*Command terminated by signal.*\n?|maxrss_kb=\d+\n?/g, ''),
        ms: Date.now() - t0,
        maxRssKb: m ? Number(m[1]) : -1,
      });
    });
  });
}

const forgedStored = () => queryJson(dir).experiments.filter((e) => /FORGED/.test(String(e.runtime))).length;

d('JVM agent exchange and attach trigger: attacks by nobody', () => {
  let jvm: ChildProcess;
  let events: string[] = [];
  let watcher: fs.FSWatcher;
  // a class each (one method is one experiment's at a time: a forged success would hold it)
  const missing = (cls: string) => ['methoddelay', '-p', String(jvm.pid), '-m', `${cls}@work@1`];
  const notLoaded = (cls: string) => new RegExp(`class ${cls} is not loaded in this JVM`);
  afterEach(() => {
    cli(dir, ['recover', '--all']);
  });

  beforeAll(async () => {
    fs.mkdirSync(classes, { recursive: true });
    const r = spawnSync('javac', ['-d', classes, path.join(__dirname, '..', 'jvm', 'Loop.java')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(rootOnly, { mode: 0o755 });
    fs.chmodSync(rootOnly, 0o755);
    watcher = fs.watch(rootOnly, (ev, name) => events.push(`${ev} ${String(name)}`));
    // the JVM: user daemon, working directory root-only; no perf data file in /tmp
    jvm = spawn(
      'setpriv',
      [
        `--reuid=${DAEMON}`,
        `--regid=${DAEMON}`,
        '--clear-groups',
        '--',
        JAVA,
        '-XX:-UsePerfData',
        '-cp',
        classes,
        'Loop',
      ],
      { cwd: rootOnly, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let lines = 0;
    jvm.stdout!.on('data', (b: Buffer) => (lines += b.toString().split('\n').length - 1));
    expect(await waitFor(() => lines >= 2, 20_000)).toBe(true);
  });

  test('attack 5: the attach trigger is never created in the JVM’s (root-only) working directory', async () => {
    events = [];
    const r = await inject(['methoddelay', '-p', String(jvm.pid), '-m', 'Loop@work@1', '--uid', 'atk-trigger'], 60_000);
    await new Promise((res) => setTimeout(res, 300)); // inotify events delivered
    console.log(`attack 5: inject exit ${r.code}; entries created in the root-only cwd: ${JSON.stringify(events)}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(events).toEqual([]);
    expect(fs.readdirSync(rootOnly)).toEqual([]);
    expect(cli(dir, ['recover', 'atk-trigger']).code).toBe(0);
  });

  test('an exchange left by a killed chaosmetad is removed at recover, through descriptors; a look-alike of nobody’s is left alone', async () => {
    const r = await inject(['methoddelay', '-p', String(jvm.pid), '-m', 'Loop@work@1', '--uid', 'atk-sweep'], 60_000);
    expect(r.code).toBe(0);
    // a canary a link in a left exchange points at (file and directory): never followed by the sweep
    const canary = path.join(dir, 'canary');
    fs.mkdirSync(canary, { mode: 0o700 });
    fs.writeFileSync(path.join(canary, 'keep'), 'secret', { mode: 0o600 });
    const rootLeft = '/tmp/chaosmetad-cmd-atk-sweep-LEFTroot';
    fs.mkdirSync(rootLeft, { mode: 0o700 });
    fs.writeFileSync(path.join(rootLeft, 'command.properties'), 'op=status\n');
    const jvmLeft = '/tmp/chaosmetad-cmd-atk-sweep-LEFTjvm'; // handed to the JVM's user when chaosmetad was killed
    fs.mkdirSync(jvmLeft, { mode: 0o700 });
    fs.writeFileSync(path.join(jvmLeft, 'command.properties'), 'op=status\n');
    fs.symlinkSync(path.join(canary, 'keep'), path.join(jvmLeft, 'command.properties.reply')); // unlinked, not followed
    for (const p of ['', 'command.properties', 'command.properties.reply'])
      fs.lchownSync(path.join(jvmLeft, p), DAEMON, DAEMON);
    // one holding more than an exchange's files (the JVM's user may have renamed a directory of root's in): root
    // never empties it recursively, it is left as it is
    const oddLeft = '/tmp/chaosmetad-cmd-atk-sweep-LEFTodd';
    fs.mkdirSync(path.join(oddLeft, 'sub'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(oddLeft, 'sub', 'f'), 'x');
    fs.symlinkSync(canary, path.join(oddLeft, 'sub', 'dirlink'));
    for (const p of ['', 'sub', 'sub/f', 'sub/dirlink']) fs.lchownSync(path.join(oddLeft, p), DAEMON, DAEMON);
    const other = '/tmp/chaosmetad-cmd-atk-sweep-NOBODY';
    try {
      expect(asNobody(['sh', '-c', `mkdir ${other} && echo mine > ${other}/f`]).code).toBe(0);
      expect(cli(dir, ['recover', 'atk-sweep']).code).toBe(0);
      expect([
        fs.existsSync(rootLeft),
        fs.existsSync(jvmLeft),
        fs.readFileSync(path.join(oddLeft, 'sub', 'f'), 'utf8'),
        fs.readFileSync(`${other}/f`, 'utf8'),
      ]).toEqual([false, false, 'x', 'mine\n']);
      expect(fs.readFileSync(path.join(canary, 'keep'), 'utf8')).toBe('secret');
    } finally {
      for (const p of [rootLeft, jvmLeft, oddLeft, other]) fs.rmSync(p, { recursive: true, force: true });
    }
  });

  test('attack 4: a reply planted by nobody is never read: an inject of a missing class fails, nothing forged is stored', async () => {
    const a = new Attacker('forge', 60_000);
    await new Promise((res) => setTimeout(res, 500));
    let r: Injected | undefined;
    try {
      r = await inject(missing('NoSuchForged'), 60_000);
    } finally {
      const log = await a.stop();
      console.log(
        `attack 4 (forged reply): nobody's attempts ${JSON.stringify(log)}; inject exit ${r?.code}; forged results stored: ${forgedStored()}`,
      );
    }
    expect({ code: r.code, err: r.stderr }).toEqual({
      code: 3,
      err: expect.stringMatching(notLoaded('NoSuchForged')),
    });
    expect(forgedStored()).toBe(0);
  });

  test('attack 4: a FIFO swapped in at the reply name: every inject ends in bounded time with the agent’s own answer', async () => {
    const a = new Attacker('fifo', 120_000);
    await new Promise((res) => setTimeout(res, 500));
    const results: Array<{ code: number | null; ms: number; err: string }> = [];
    try {
      for (let i = 0; i < 6; i++) {
        const r = await inject(missing(`NoSuchFifo${i}`), 20_000);
        results.push({ code: r.code, ms: r.ms, err: r.stderr.trim().slice(0, 120) });
      }
    } finally {
      const log = await a.stop();
      console.log(
        `attack 4 (FIFO): nobody's attempts ${log.length} (${log.filter((l) => l.startsWith('planted')).length} planted); injects ${JSON.stringify(results)}`,
      );
    }
    results.forEach((r, i) => {
      expect(r).toEqual({ code: 3, ms: expect.any(Number), err: expect.stringMatching(notLoaded(`NoSuchFifo${i}`)) });
      expect(r.ms).toBeLessThan(15_000);
    });
    expect(forgedStored()).toBe(0);
  });

  test('attack 4: a sparse 2 GB reply is never read whole (peak memory of the inject stays small)', async () => {
    const a = new Attacker('sparse', 60_000);
    await new Promise((res) => setTimeout(res, 500));
    let r: Injected | undefined;
    try {
      r = await inject(missing('NoSuchSparse'), 60_000);
    } finally {
      const log = await a.stop();
      console.log(
        `attack 4 (sparse 2 GB): nobody's attempts ${JSON.stringify(log)}; inject exit ${r?.code}, peak RSS ${r?.maxRssKb} kB`,
      );
    }
    expect(r.maxRssKb).toBeGreaterThan(0);
    expect(r.maxRssKb).toBeLessThan(400 * 1024);
    expect({ code: r.code, err: r.stderr }).toEqual({
      code: 3,
      err: expect.stringMatching(notLoaded('NoSuchSparse')),
    });
  });

  lastTest(
    "leaves nothing of chaosmetad's (nor of the attacker's) in /tmp",
    async () => {
      watcher?.close();
      cli(dir, ['recover', '--all']);
      if (jvm && jvm.exitCode === null) {
        jvm.kill('SIGTERM');
        await new Promise((r) => jvm.on('exit', r));
      }
    },
    () => expect(fs.readdirSync('/tmp').filter((f) => /^(chaosmetad-(agent|cmd|hook)-|cmatk-)/.test(f))).toEqual([]),
  );
});

/**
 * Issue 21 item 9 (the JVM part): jattach reached the JVM's /tmp as /proc/PID/root/tmp with lstat, then chdir. A
 * container's root (here: a chroot's) swaps its tmp for a link to a host directory between the two: chdir followed
 * it from the host's root, and jattach talked to a socket there. The "JVM" is a static pause in a chroot; its tmp
 * and a link to a host directory are exchanged (renameat2 RENAME_EXCHANGE) in a tight loop while jattach runs 1 000
 * times; both directories hold a listening .java_pid<PID> socket. The host-side one must never be connected to.
 */
const gcc = spawnSync('gcc', ['--version']).status === 0;
(gcc && fs.existsSync(HELPER) ? describe : describe.skip)('jattach and a /tmp swapped for a link (item 9)', () => {
  test('1 000 attaches while the chroot’s tmp flips with a link to a host directory: 0 connections on the host side', async () => {
    const base = path.join(dir, 'swap');
    const root = path.join(base, 'root');
    const host = path.join(base, 'host-side');
    fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
    fs.mkdirSync(host);
    fs.symlinkSync(host, path.join(root, 'alt'));
    const build = (name: string, src: string) => {
      const r = spawnSync('gcc', ['-static', '-O2', '-o', path.join(base, name), '-x', 'c', '-'], {
        input: src,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(r.stderr);
    };
    build(
      'pause',
      '#include <signal.h>\n#include <unistd.h>\nint main(void){signal(SIGQUIT,SIG_IGN);for(;;)pause();}\n',
    );
    build(
      'flip',
      '#define _GNU_SOURCE\n#include <fcntl.h>\n#include <stdio.h>\n' +
        'int main(int c,char**v){(void)c;for(;;)renameat2(AT_FDCWD,v[1],AT_FDCWD,v[2],RENAME_EXCHANGE);}\n',
    );
    fs.copyFileSync(path.join(base, 'pause'), path.join(root, 'pause'));
    fs.chmodSync(path.join(root, 'pause'), 0o755);
    const jvmLike = spawn('chroot', [root, '/pause'], { stdio: 'ignore' });
    const pid = jvmLike.pid!;
    const hits = { inside: 0, host: 0 };
    const listen = (p: string, k: keyof typeof hits) =>
      new Promise<net.Server>((res) => {
        const s = net.createServer((c) => {
          hits[k]++;
          c.on('error', () => {}); // jattach hangs up on a socket that is not the JVM's
          c.end('0\n');
        });
        s.listen(p, () => res(s));
      });
    const servers = [
      await listen(path.join(root, 'tmp', `.java_pid${pid}`), 'inside'),
      await listen(path.join(host, `.java_pid${pid}`), 'host'),
    ];
    const flip = spawn(path.join(base, 'flip'), [path.join(root, 'tmp'), path.join(root, 'alt')], { stdio: 'ignore' });
    const codes = new Map<number, number>();
    try {
      for (let i = 0; i < 1000; i++) {
        const code = await new Promise<number>((res) => {
          const p = spawn(HELPER, ['jattach', String(pid), String(pid), '0', '0', '/none.jar', 'x'], {
            stdio: 'ignore',
          });
          p.on('close', (c) => res(c ?? -1));
        });
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    } finally {
      flip.kill('SIGKILL');
      jvmLike.kill('SIGKILL');
      for (const s of servers) s.close();
      await new Promise((r) => (jvmLike.exitCode !== null ? r(null) : jvmLike.on('exit', r)));
    }
    console.log(
      `item 9: 1000 attaches, exit codes ${JSON.stringify(Object.fromEntries(codes))}; connections: chroot's tmp ${hits.inside}, host side ${hits.host}`,
    );
    expect(hits.host).toBe(0);
    fs.rmSync(base, { recursive: true, force: true });
  });
});
