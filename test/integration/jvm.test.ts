/**
 * JVM faults in a real JVM (OpenJDK 17 from Debian): test/jvm/Loop.java calls its methods every 10 ms and prints,
 * per 250 ms, the mean latency of work(), the exceptions it caught (with the last message) and what value() and
 * name() returned. Each fault's effect and then the recovery are read from that output while the JVM keeps running
 * (never restarted). Also: a JVM of another user (nobody), a JVM in a docker container whose image has no shell and
 * no JDK tools, and the refusals (not a JVM, attach disabled, a class or method that is not there, a value that does
 * not convert, a void method, a second rule on the same method).
 *
 * @lane quiet (its delays are sleeps, ±20 ms)
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, lastTest, queryJson, sleep, tmpDir, waitFor } from '../helpers';
import { dockerUnavailable, ensureDocker, inspect, jreImage, sh } from '../containers';

jest.setTimeout(180_000);
const JAVA = '/usr/lib/jvm/java-17-openjdk-amd64/bin/java';
const why = !fs.existsSync(JAVA)
  ? 'OpenJDK 17 is not installed (apt-get install openjdk-17-jdk-headless)'
  : !fs.existsSync(path.join(__dirname, '..', '..', 'jvm', 'build', 'chaosmetad-agent.jar'))
    ? 'the Java agent is not built (make -C jvm: needs javac and libjavassist-java)'
    : '';
const d = why ? describe.skip : describe;
if (why) test.skip(`jvm faults — skipped: ${why}`, () => {});

const dir = tmpDir('jvm');
const classes = path.join(dir, 'classes');

interface Window {
  /** when the window began (its calls all began after it), epoch ms */
  start: number;
  calls: number;
  avg_ms: number;
  exceptions: number;
  last_exception: string;
  value: number;
  name: string;
}

/** A running Loop JVM and its latest windows. */
class Loop {
  proc: ChildProcess;
  windows: Window[] = [];
  constructor(argv: string[]) {
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.proc.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('{')) this.windows.push(JSON.parse(line) as Window);
      }
    });
  }
  get pid(): number {
    return this.proc.pid!;
  }
  /** The first n windows that began after now (every call in them began after now). */
  async next(n = 2): Promise<Window[]> {
    const t = Date.now();
    const after = () => this.windows.filter((w) => w.start >= t);
    if (!(await waitFor(() => after().length >= n, 30_000, 20)))
      throw new Error(`the JVM timed ${after().length} of ${n} windows in 30 s`);
    return after().slice(0, n);
  }
  /** SIGTERM: the JVM exits normally and removes its attach socket and perf data from /tmp. */
  stop(): void {
    this.proc.kill('SIGTERM');
  }
}

/** chaosmetad inject jvm FAULT … */
const jinject = (fault: string, args: string[]) => cli(dir, ['inject', 'jvm', fault, ...args]);

const mean = (ws: Window[], k: keyof Window) => ws.reduce((s, w) => s + Number(w[k]), 0) / ws.length;

d('JVM faults in a running JVM', () => {
  let loop: Loop;
  beforeAll(async () => {
    fs.mkdirSync(classes, { recursive: true });
    const r = spawnSync('javac', ['-d', classes, path.join(__dirname, '..', 'jvm', 'Loop.java')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    fs.chmodSync(dir, 0o755);
    loop = new Loop([JAVA, '-cp', classes, 'Loop']);
    expect(await waitFor(() => loop.windows.length >= 2, 20_000)).toBe(true);
  });

  test('a JVM that dies before recover: check says gone, recover notes it and removes the agent jar it had', async () => {
    const short = new Loop([JAVA, '-cp', classes, 'Loop']);
    expect(await waitFor(() => short.windows.length >= 2, 20_000)).toBe(true);
    const r = jinject('methoddelay', ['-p', String(short.pid), '-m', 'Loop@work@5', '--uid', 'jvm-dies']);
    expect(r.stderr).toBe('');
    const jars = () => fs.readdirSync('/tmp').filter((f) => f.startsWith('chaosmetad-agent-'));
    expect(jars()).toHaveLength(1);
    short.proc.kill('SIGKILL');
    await new Promise((res) => short.proc.on('exit', res));
    expect(cli(dir, ['check', 'jvm-dies']).stdout).toMatch(/effect: gone/);
    const rec = cli(dir, ['recover', 'jvm-dies']);
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/JVM \d+ is gone: nothing to undo in it/);
    expect(jars()).toEqual([]);
    fs.rmSync(`/tmp/.java_pid${short.pid}`, { force: true }); // what the killed JVM could not remove itself
  });

  test('methoddelay 200 ms: work() takes +200 ms (±20), then exactly as before; the JVM never restarted', async () => {
    const before = mean(await loop.next(2), 'avg_ms');
    const r = jinject('methoddelay', ['--pid', String(loop.pid), '--method', 'Loop@work@200', '--uid', 'jvm-delay']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const during = mean(await loop.next(4), 'avg_ms');
    console.log(`jvm methoddelay 200: work() ${before.toFixed(3)} ms → ${during.toFixed(1)} ms`);
    expect(Math.abs(during - before - 200)).toBeLessThan(20);
    expect(JSON.parse(queryJson(dir, ['--uid', 'jvm-delay']).experiments[0].runtime)).toEqual({
      jvms: [{ pid: loop.pid, methods: ['Loop.work()V'] }],
    });
    expect(cli(dir, ['check', 'jvm-delay']).stdout).toMatch(/effect: in-place/);
    expect(cli(dir, ['recover', 'jvm-delay']).code).toBe(0);
    const after = mean(await loop.next(2), 'avg_ms');
    expect(after).toBeLessThan(before + 1);
    expect(cli(dir, ['check', 'jvm-delay']).stdout).toMatch(/status: destroyed/);
    expect(loop.proc.exitCode).toBe(null);
  });

  test('methodexception: the caller counts the injected exceptions with their message (RuntimeException, or a named class)', async () => {
    const r = jinject('methodexception', ['-p', String(loop.pid), '-m', 'Loop@work@injected boom', '--uid', 'jvm-exc']);
    expect(r.stderr).toBe('');
    const ws = await loop.next(2);
    expect(ws.map((w) => [w.exceptions, w.last_exception])).toEqual(
      ws.map((w) => [w.calls, 'java.lang.RuntimeException: injected boom']),
    );
    expect(cli(dir, ['recover', 'jvm-exc']).code).toBe(0);
    expect((await loop.next(2)).map((w) => w.exceptions)).toEqual([0, 0]);
    // an exception class it cannot build with a message: refused before anything changes
    const named = jinject('methodexception', [
      '-p',
      String(loop.pid),
      '-m',
      'Loop@work@java.io.UncheckedIOException:disk gone',
    ]);
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(/java.io.UncheckedIOException has no public \(String\) or \(\) constructor/);
    const io = jinject('methodexception', [
      '-p',
      String(loop.pid),
      '-m',
      'Loop@work@java.lang.IllegalStateException:no stock',
      '--uid',
      'jvm-exc3',
    ]);
    expect(io.stderr).toBe('');
    expect((await loop.next(2))[1].last_exception).toBe('java.lang.IllegalStateException: no stock');
    expect(cli(dir, ['recover', 'jvm-exc3']).code).toBe(0);
  });

  test('methodreturn: the caller sees the injected values (int and String, two methods in one experiment), then the real ones', async () => {
    const r = jinject('methodreturn', [
      '-p',
      String(loop.pid),
      '-m',
      'Loop@value@42,Loop@name@injected',
      '--uid',
      'jvm-ret',
    ]);
    expect(r.stderr).toBe('');
    const ws = await loop.next(2);
    expect(ws.map((w) => [w.value, w.name])).toEqual([
      [42, 'injected'],
      [42, 'injected'],
    ]);
    expect(cli(dir, ['recover', 'jvm-ret']).code).toBe(0);
    expect((await loop.next(2)).map((w) => [w.value, w.name])).toEqual([
      [2, 'real'],
      [2, 'real'],
    ]);
  });

  test('refused with the reason, nothing stored as success: bad values, void, missing class or method, a second rule, not a JVM', async () => {
    const fail = (args: string[]) => cli(dir, ['inject', 'jvm', ...args]);
    const p = String(loop.pid);
    const cases: Array<[string[], number, RegExp]> = [
      [
        ['methodreturn', '-p', p, '-m', 'Loop@value@many'],
        1,
        /cannot return many from Loop.value\(I\)I \(it returns int\)/,
      ],
      [['methodreturn', '-p', p, '-m', 'Loop@work@1'], 1, /returns void/],
      [['methoddelay', '-p', p, '-m', 'Loop@work@soon'], 1, /whole milliseconds/],
      [['methoddelay', '-p', p, '-m', 'NoSuchClass@work@1'], 3, /class NoSuchClass is not loaded in this JVM/],
      [
        ['methoddelay', '-p', p, '-m', 'Loop@nothing@1'],
        3,
        /class Loop has no method nothing with a body \(it has: main, name, value, work\)/,
      ],
      [['methoddelay', '-p', p, '-m', 'Loop'], 1, /is not class@method@value/],
      [['methoddelay', '-p', String(process.pid), '-m', 'Loop@work@1'], 1, /is not a JVM/],
      [['methoddelay', '-m', 'Loop@work@1'], 1, /one of --pid or --key is required/],
    ];
    for (const [args, code, msg] of cases) {
      const total = queryJson(dir).experiments.filter((e) => e.status === 'success').length;
      const r = fail(args);
      expect({ args, code: r.code, err: r.stderr }).toEqual({ args, code, err: expect.stringMatching(msg) });
      expect(queryJson(dir).experiments.filter((e) => e.status === 'success').length).toBe(total);
    }
    // one method, one experiment at a time
    expect(fail(['methoddelay', '-p', p, '-m', 'Loop@work@5', '--uid', 'jvm-one']).code).toBe(0);
    const second = fail(['methodexception', '-p', p, '-m', 'Loop@work@x']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already altered by live experiment jvm-one/);
    expect(cli(dir, ['recover', 'jvm-one']).code).toBe(0);
    // the method is as before
    expect(mean(await loop.next(2), 'avg_ms')).toBeLessThan(1);
  });

  test('the rule carries its deadline: with chaosmetad and its watcher gone, the JVM restores itself', async () => {
    const r = jinject('methoddelay', [
      '-p',
      String(loop.pid),
      '-m',
      'Loop@work@50',
      '--timeout',
      '2s',
      '--uid',
      'jvm-deadline',
    ]);
    expect(r.stderr).toBe('');
    // nothing of chaosmetad's may act: its watcher is killed
    spawnSync('pkill', ['-KILL', '-f', 'chaosmetad-uid=jvm-deadline']);
    expect(mean(await loop.next(2), 'avg_ms')).toBeGreaterThan(45);
    await sleep(2500);
    expect(mean(await loop.next(2), 'avg_ms')).toBeLessThan(1);
    expect(cli(dir, ['recover', 'jvm-deadline']).code).toBe(0);
  });

  test('a JVM running as another user (nobody): attached as its user, changed, restored', async () => {
    const other = new Loop([
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      JAVA,
      '-cp',
      classes,
      'Loop',
    ]);
    try {
      expect(await waitFor(() => other.windows.length >= 2, 20_000)).toBe(true);
      const pid =
        Number(spawnSync('pgrep', ['-P', String(other.pid)], { encoding: 'utf8' }).stdout.trim()) || other.pid;
      const r = jinject('methodreturn', ['-p', String(pid), '-m', 'Loop@value@7', '--uid', 'jvm-nobody']);
      expect(r.stderr).toBe('');
      expect((await other.next(2)).map((w) => w.value)).toEqual([7, 7]);
      expect(cli(dir, ['recover', 'jvm-nobody']).code).toBe(0);
      expect((await other.next(2)).map((w) => w.value)).toEqual([2, 2]);
    } finally {
      other.stop();
    }
  });

  (dockerUnavailable() ? test.skip : test)(
    'a JVM in a docker container whose image has no shell and no JDK tools: --container-id and its own pid 1',
    async () => {
      await ensureDocker();
      const image = jreImage();
      const name = `cmtest-jvm-${process.pid}`;
      const boxed = new Loop([
        'docker',
        'run',
        '--rm',
        '--label',
        'chaosmetad-test=1',
        '--name',
        name,
        '-v',
        `${classes}:/app:ro`,
        image,
        '-cp',
        '/app',
        'Loop',
      ]);
      try {
        expect(await waitFor(() => boxed.windows.length >= 2, 60_000)).toBe(true);
        expect(sh('docker', ['exec', name, 'sh', '-c', 'true']).code).not.toBe(0); // no shell in there
        const hostPid = inspect(name).State.Pid as number;
        const before = mean(await boxed.next(2), 'avg_ms');
        const r = jinject('methoddelay', [
          '--container-id',
          name,
          '--pid',
          '1',
          '-m',
          'Loop@work@100',
          '--uid',
          'jvm-box',
        ]);
        expect(r.stderr).toBe('');
        const during = mean(await boxed.next(3), 'avg_ms');
        console.log(
          `jvm methoddelay 100 in a distroless container (JVM pid 1 there, ${hostPid} here): ${before.toFixed(3)} → ${during.toFixed(1)} ms`,
        );
        expect(Math.abs(during - before - 100)).toBeLessThan(20);
        // the agent jar went into the container's /tmp, not the host's
        expect(fs.readdirSync('/tmp').filter((f) => f.startsWith('chaosmetad-agent-'))).toEqual([]);
        expect(cli(dir, ['check', 'jvm-box']).stdout).toMatch(/effect: in-place/);
        expect(cli(dir, ['recover', 'jvm-box']).code).toBe(0);
        expect(mean(await boxed.next(2), 'avg_ms')).toBeLessThan(before + 1);
        expect(inspect(name).State.Pid).toBe(hostPid); // never restarted
      } finally {
        sh('docker', ['rm', '-f', name]);
        boxed.stop();
      }
    },
  );

  lastTest(
    "leaves nothing of chaosmetad's in the JVMs' /tmp (the host's here)",
    async () => {
      cli(dir, ['recover', '--all']);
      loop?.stop();
      await new Promise((r) => (loop.proc.exitCode !== null ? r(null) : loop.proc.on('exit', r)));
    },
    () => expect(fs.readdirSync('/tmp').filter((f) => /^chaosmetad-(agent|cmd|hook)-/.test(f))).toEqual([]),
  );
});
