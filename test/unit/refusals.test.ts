/**
 * Bad input refused before anything runs, in-process: each command line goes through the CLI's own entry (as
 * bin/chaosmetad runs it: the start-up fast path, then oclif; the compiled lib/, as the CLI runs it) and must end
 * with exit 1 and exactly that message, nothing on stdout and nothing stored. Every inject is also given --dry-run,
 * so that a value wrongly taken fails here without touching the host. (Refusals that need the real host — a
 * container runtime, a namespace, a process the suite starts — stay in the integration suites.)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Store as StoreT } from '../../src/store/store';
import { TEXT_FLAGS, baseArgs, hostileText } from '../support/fault-fixtures';

// oclif asks an ES module (wsl-utils) whether this is WSL, through import(), which jest's CommonJS runtime lacks
jest.mock('../../node_modules/@oclif/core/lib/util/os.js', () => ({
  ...jest.requireActual<object>('../../node_modules/@oclif/core/lib/util/os.js'),
  getPlatform: () => Promise.resolve(os.platform()),
}));

const ROOT = path.resolve(__dirname, '..', '..');
/* eslint-disable @typescript-eslint/no-require-imports */
const lib = <T>(m: string): T => require(path.join(ROOT, 'lib', m)) as T;
const argv0 = lib<typeof import('../../src/cli/argv0')>('cli/argv0');
const fast = lib<typeof import('../../src/cli/fast')>('cli/fast');
const cliMain = lib<typeof import('../../src/cli/main')>('cli/main');
const { Store } = lib<typeof import('../../src/store/store')>('store/store');
const { allFaults } = lib<typeof import('../../src/faults/index')>('faults/index');
const { kebab, snake } = lib<typeof import('../../src/faults/flags')>('faults/flags');

const data = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-refusals-'));
const files = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-refusals-files-'));
afterAll(() => {
  fs.rmSync(data, { recursive: true, force: true });
  fs.rmSync(files, { recursive: true, force: true });
});

/** Run one command line as bin/chaosmetad does, in this process; its exit code and output. */
async function chaosmetad(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const spy = (k: 'stdout' | 'stderr') =>
    jest.spyOn(process[k], 'write').mockImplementation((chunk: string | Uint8Array) => {
      out[k] += String(chunk);
      return true;
    });
  const spies = [spy('stdout'), spy('stderr')];
  const env = process.env.CHAOSMETAD_DATA_DIR;
  // the CLI (oclif) sets process.exitCode on a refusal: in jest's own process (one worker: in band) it would
  // become jest's exit code, failing `npm run test:unit` with every test passed
  const exitCode = process.exitCode;
  process.env.CHAOSMETAD_DATA_DIR = data;
  try {
    const argv = argv0.effectiveArgv(args);
    let code: number | undefined;
    if (argv[0] === 'inject') code = await fast.fastInject(argv);
    else if (argv[0] === 'query' || argv[0] === 'recover') code = await fast.fastQueryOrRecover(argv);
    code ??= await cliMain.main(argv, ROOT);
    return { code, ...out };
  } finally {
    process.exitCode = exitCode;
    for (const s of spies) s.mockRestore();
    if (env === undefined) delete process.env.CHAOSMETAD_DATA_DIR;
    else process.env.CHAOSMETAD_DATA_DIR = env;
  }
}

function stored(): number {
  if (!fs.existsSync(path.join(data, 'chaosmetad.db'))) return 0;
  const s: StoreT = new Store(data);
  try {
    return s.query({ limit: 0 }).total;
  } finally {
    s.close();
  }
}

const SIZE = 'must be a size like 512KB, 100MB or 2GB (units KB, MB, GB, TB in any case; bare numbers are KB)';
const CIDRS = 'must be IPv4 or IPv6 addresses or CIDRs, comma separated';
const PSEUDO = 'chaosmetad does not change pseudo filesystems (/proc, /sys, /dev)';
const exists = path.join(files, 'exists.conf');
const toProc = path.join(files, 'to-proc');
beforeAll(() => {
  fs.writeFileSync(exists, 'x\n');
  fs.symlinkSync('/proc/self', toProc);
});

const CASES: Array<[string[], string]> = [
  // from lifecycle.test.ts: flags, names and commands
  [['inject', 'cpu', 'burn', '--percent', '20%'], '--percent must be an integer in 1..100, got "20%"'],
  [['inject', 'cpu', 'burn'], '--percent is required: target utilisation of each chosen core, 1..100'],
  [['inject', 'cpu', 'burn', '-p', '$(reboot)'], '--percent must be an integer in 1..100, got "$(reboot)"'],
  ...['a b', 'abc'].map((uid): [string[], string] => [
    ['inject', 'cpu', 'burn', '-p', '50', '--uid', uid],
    `--uid must be 5 to 36 characters of letters, digits, "_" and "-" (not starting with "-"), got "${uid}"`,
  ]),
  [
    ['inject', 'cpu', 'burn', '-p', '50', '-t', '5 minutes'],
    '--timeout must be a duration like 30, 30s, 5m, 2h or 200ms, got "5 minutes"',
  ],
  [['inject', 'cpu', 'burn', '-p', '50', '-c', '-1'], '--count must be an integer in 0..2147483647, got "-1"'],
  [['inject', 'mem', 'fill', '-b', '1MB', '-m', 'swap'], '--mode must be one of ram, cache, got "swap"'],
  ...['100m', '100b', '0.5gb', 'MB'].map((b): [string[], string] => [
    ['inject', 'mem', 'fill', '-b', b],
    `--bytes ${SIZE}, got "${b}"`,
  ]),
  [['inject', 'disk', 'fill', '-b', '1000B'], `--bytes ${SIZE}, got "1000B"`],
  [
    ['inject', 'nope', 'x'],
    'unknown target "nope"; valid targets: cpu, mem, process, file, disk, diskio, kernel, network, dns, container, jvm',
  ],
  [['inject', 'cpu', 'nope'], 'unknown fault "nope" for target cpu; valid faults: burn, load'],
  [['inject', 'cpu', 'burn', '-p', '50', '--no-such-flag'], 'Nonexistent flag: --no-such-flag'],
  [['recover'], 'please add the experiment uid (chaosmetad recover <uid>), or --all, --expired or --target'],
  [['recover', 'no-such-uid'], 'no experiment with uid "no-such-uid" (see: chaosmetad query)'],
  [['query', '--format', 'xml'], '--format must be table or json, got "xml"'],
  [['query', '--limit', '-1'], '--limit must be an integer in 0..999999999, got "-1"'],
  [['query', '--status', 'running'], '--status must be one of created, success, error, destroyed, got "running"'],
  // from network.test.ts
  [
    ['inject', 'network', 'limit', '-i', 'lo'],
    '--rate is required: bandwidth: 1mbit, 500kbit, 10gbit (bit/kbit/mbit/gbit/tbit; bps, kbps… are bytes)',
  ],
  [
    ['inject', 'network', 'limit', '-i', 'lo', '-r', 'fast'],
    '--rate must be a rate like 1mbit, 500kbit or 10gbit, got "fast"',
  ],
  [
    ['inject', 'network', 'limit', '-i', 'lo', '-r', '1mbit', '--dst-ip', '10.0.0.300'],
    `--dst-ip ${CIDRS} (e.g. 10.0.0.1,192.168.0.0/16,fd00::/8), got "10.0.0.300"`,
  ],
  [
    ['inject', 'network', 'limit', '-i', 'lo', '-r', '1mbit', '--src-ip', 'fd00::/129'],
    `--src-ip ${CIDRS} (e.g. 10.0.0.1,192.168.0.0/16,fd00::/8), got "fd00::/129"`,
  ],
  [
    ['inject', 'network', 'limit', '-i', 'lo', '-r', '1mbit', '--dst-port', '70000'],
    '--dst-port must be ports (1-65535) or port/mask, comma separated (e.g. 80,8000/0xfff0), got "70000"',
  ],
  [
    ['inject', 'network', 'limit', '-i', 'lo', '-r', '1mbit', '-d', 'sideways'],
    '--direction must be one of out, in, both, got "sideways"',
  ],
  [
    ['inject', 'network', 'limit', '-i', 'lo', '-r', '1mbit', '-m', 'exclude'],
    '--mode exclude needs something to exclude: --src-ip, --dst-ip, --src-port or --dst-port',
  ],
  [
    ['inject', 'network', 'delay', '-i', 'lo'],
    '--latency is required: added delay: 200ms, 1s, 500us (bare numbers are microseconds)',
  ],
  [
    ['inject', 'network', 'delay', '-i', 'lo', '-l', '10ms', '-j', '20ms'],
    '--jitter must not be larger than --latency',
  ],
  [['inject', 'network', 'loss', '-i', 'lo', '-p', '0'], '--percent must be an integer in 1..100, got "0"'],
  [
    ['inject', 'network', 'limit', '-i', 'lo; reboot', '-r', '1mbit'],
    '--interface must be an interface name like eth0, got "lo; reboot"',
  ],
  [['inject', 'network', 'partition'], 'give --ip, --port or both: what to cut off'],
  [['inject', 'network', 'partition', '--port', '80'], '--port needs --protocol tcp or udp'],
  [['inject', 'network', 'partition', '--ip', '10.0.0.0/33'], `--ip ${CIDRS}, got "10.0.0.0/33"`],
  [
    ['inject', 'network', 'partition', '--ip', '10.0.0.1', '-d', 'up'],
    '--direction must be one of both, out, in, got "up"',
  ],
  // from kernel.test.ts
  [['inject', 'kernel', 'nproc', '--user', 'root'], '--user must not be root: root ignores RLIMIT_NPROC'],
  [['inject', 'kernel', 'nproc', '--user', 'no-such-user-x'], '--user "no-such-user-x": no such user'],
  [['inject', 'kernel', 'nproc'], '--user is required: the user (name or uid) whose process limit to exhaust'],
  [['inject', 'kernel', 'fdfull', '-m', 'half'], '--mode must be one of conf, fill, got "half"'],
  [['inject', 'kernel', 'fdfull', '-c', '-5'], '--count must be an integer in 0..100000000, got "-5"'],
  // from process.test.ts
  [['inject', 'process', 'kill', '--pid', '999999'], '--pid 999999: no such process (or a kernel thread)'],
  [['inject', 'process', 'kill', '--pid', '1'], '--pid 1 is init; refusing to act on it'],
  [['inject', 'process', 'kill', '--pid', '1', '--force'], '--pid 1 is init; refusing to act on it'],
  [
    ['inject', 'process', 'kill', '--key', 'no-such-process-anywhere-xyz'],
    '--key "no-such-process-anywhere-xyz" matches no process (init, chaosmetad, its caller, sshd, the container ' +
      'runtime and kubelet are never matched without --force)',
  ],
  [['inject', 'process', 'kill'], 'one of --pid or --key is required'],
  [['inject', 'process', 'kill', '--pid', '1', '--key', 'x'], '--pid and --key cannot be used together; choose one'],
  [['inject', 'process', 'kill', '--pid', 'abc'], '--pid must be an integer in 1..4194304, got "abc"'],
  [
    ['inject', 'process', 'kill', '-p', '1', '-s', 'SIGNOPE'],
    '--signal must be a signal number (1-31) or name like KILL, TERM, HUP, got "SIGNOPE"',
  ],
  // from dns.test.ts
  [['inject', 'dns', 'record', '-d', 'x.example'], '--ip is required with --mode add'],
  [
    ['inject', 'dns', 'record', '-d', 'bad name!', '-i', '1.2.3.4'],
    '--domain must be a host name like api.example.com, got "bad name!"',
  ],
  [
    ['inject', 'dns', 'record', '-d', 'x.example', '-i', '999.1.1.1'],
    '--ip must be an IPv4 or IPv6 address, got "999.1.1.1"',
  ],
  [['inject', 'dns', 'server', '-i', 'dns.google'], '--ip must be an IPv4 or IPv6 address, got "dns.google"'],
  // from disk.test.ts (disk fill, diskio)
  [['inject', 'disk', 'fill', '-d', files], 'one of --percent or --bytes is required'],
  [['inject', 'disk', 'fill', '-d', '/no/such/dir', '-b', '1MB'], '--dir /no/such/dir is not a directory'],
  [['inject', 'disk', 'fill', '-d', files, '-p', '101'], '--percent must be an integer in 1..100, got "101"'],
  [['inject', 'disk', 'fill', '-d', files, '-b', '1XB'], `--bytes ${SIZE}, got "1XB"`],
  [['inject', 'diskio', 'limit', '-p', '999999', '--write-bytes', '1MB'], '--pid-list: no process 999999'],
  [['inject', 'diskio', 'limit', '-p', '1', '--write-bytes', '1MB'], '--pid-list: 1 is init or chaosmetad itself'],
  [['inject', 'diskio', 'limit', '--write-bytes', '1MB'], 'one of --pid-list or --key is required'],
  [
    ['inject', 'diskio', 'limit', '-p', 'x', '--write-bytes', '1MB'],
    '--pid-list must be pids separated by commas (e.g. 1234,5678), got "x"',
  ],
  [
    ['inject', 'diskio', 'limit', '-k', 'io-victim'],
    'give at least one of --read-bytes, --write-bytes, --read-io, --write-io',
  ],
  [
    ['inject', 'diskio', 'hang', '-k', 'io-victim', '-m', 'sideways'],
    '--mode must be one of all, read, write, got "sideways"',
  ],
  // from file.test.ts
  [
    ['inject', 'file', 'add', '-p', exists, '-c', 'x'],
    `--path ${exists} exists; add --force to replace it (it is restored on recover)`,
  ],
  [
    ['inject', 'file', 'add', '-p', '/proc/sys/kernel/hostname', '-c', 'x', '-f'],
    `--path "/proc/sys/kernel/hostname" is under /proc: ${PSEUDO}`,
  ],
  [
    ['inject', 'file', 'add', '-p', path.join(toProc, 'x'), '-c', 'x', '-f'],
    `--path "${path.join(toProc, 'x')}" is under /proc: ${PSEUDO}`,
  ],
  [['inject', 'file', 'add', '-p', '/sys/kernel/x', '-c', 'x'], `--path "/sys/kernel/x" is under /sys: ${PSEUDO}`],
  [['inject', 'file', 'del', '-p', '/dev/null'], `--path "/dev/null" is under /dev: ${PSEUDO}`],
  [
    ['inject', 'file', 'chmod', '-p', files, '-P', '9'],
    '--permission must be an octal mode like 644, 0755 or 4755, got "9"',
  ],
  [['inject', 'file', 'chmod', '-p', '/no/such/file', '-P', '644'], '--path /no/such/file: no such file'],
  [['inject', 'file', 'append', '-p', '/no/such/file', '-c', 'x'], '--path /no/such/file: no such file'],
  [['inject', 'file', 'append', '-p', files, '-c', 'x'], `--path ${files} is not a regular file`],
  [['inject', 'file', 'mv', '-s', '/no/such', '-d', path.join(files, 'x')], '--src /no/such: no such file'],
  [['inject', 'file', 'add', '-p', 'a\nb', '-c', 'x'], '--path must not contain NUL or newline characters'],
];

test.each(CASES)('%j: exit 1, %s', async (args, message) => {
  const before = stored();
  const r = await chaosmetad(args[0] === 'inject' ? [...args, '--dry-run'] : args);
  expect(r).toEqual({ code: 1, stdout: '', stderr: `[error] ${message}\n` });
  expect(stored()).toBe(before);
});

test('an accepted command line runs through the same entry (the harness can tell a refusal from a success)', async () => {
  const r = await chaosmetad(['inject', 'cpu', 'burn', '-p', '10', '--dry-run']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/start helper: .*burn/);
});

/**
 * Every flag of every fault, through the CLI (the hostile values of test/integration/hostile.test.ts that argv can
 * carry: text, no NUL, under argv's 128 KB): refused with exit 1 naming the flag, or — for the values a flag
 * legitimately takes (free text; an empty value meaning "not given") — taken as data. Nothing is run: a shell
 * metacharacter would leave the canary file. (The HTTP side, real injects and the JVM faults stay in that suite;
 * the container faults are tried against a live container in container.test.ts.)
 */
describe('hostile values for every flag of every fault, through the CLI', () => {
  const PWN = path.join(files, 'pwned');
  const HOSTILE = hostileText(PWN);
  /** --recover-cmd is a shell command line by design on the CLI (root typed it); over HTTP the daemon refuses it */
  const CLI_SHELL = new Set(['recoverCmd']);
  const FAULTS = allFaults().filter((f) => f.target !== 'container' && f.target !== 'jvm');
  let sleeper: ReturnType<typeof spawn>;
  beforeAll(() => {
    fs.writeFileSync(path.join(files, 'a'), 'original\n', { mode: 0o644 });
    sleeper = spawn('sleep', ['3607'], { stdio: 'ignore' });
  });
  afterAll(() => sleeper.kill('SIGKILL'));

  /** the fixtures (test/support/fault-fixtures.ts) on this host: a sleeping process, files of our own, lo */
  function base(target: string, fault: string, flag: string): Record<string, string> {
    const args = baseArgs({ files, pid: sleeper.pid!, iface: 'lo' }, target, fault, flag);
    return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, String(v)]));
  }
  const argv = (target: string, fault: string, args: Record<string, string>) => [
    'inject',
    target,
    fault,
    ...Object.entries(args).map(([k, v]) => `--${k.replace(/_/g, '-')}=${v}`),
    '--dry-run',
  ];
  // on a kernel without sch_netem a netem fault's dry run ends at its preflight (exit 3), after its flags were taken
  const NO_NETEM = /would be refused: this kernel has no sch_netem/;

  test('every fault has a base fixture that is taken (dry run)', async () => {
    const refused: string[] = [];
    for (const f of FAULTS) {
      const r = await chaosmetad(argv(f.target, f.fault, base(f.target, f.fault, '')));
      if (r.code !== 0 && !(r.code === 3 && NO_NETEM.test(r.stderr)))
        refused.push(`${f.target} ${f.fault}: exit ${r.code}: ${r.stderr}`);
    }
    expect(refused).toEqual([]);
  });

  test('each hostile value: exit 1 naming the flag, or taken as data; nothing run, nothing stored', async () => {
    const before = stored();
    const problems: string[] = [];
    let tried = 0;
    for (const f of FAULTS) {
      for (const [flag, spec] of Object.entries(f.flags)) {
        if (spec.kind === 'boolean' || CLI_SHELL.has(flag)) continue; // a switch takes no value
        for (const [label, value] of HOSTILE) {
          tried++;
          const args = { ...base(f.target, f.fault, flag), [snake(flag)]: value };
          const r = await chaosmetad(argv(f.target, f.fault, args));
          const where = `${f.target} ${f.fault} --${kebab(flag)} ${label}`;
          if (r.code === 1) {
            if (!r.stderr.includes(`--${kebab(flag)}`) && !r.stderr.includes(snake(flag)))
              problems.push(`${where}: refused, but the message does not name the flag: ${r.stderr.slice(0, 200)}`);
            continue;
          }
          const taken = r.code === 0 || (r.code === 3 && NO_NETEM.test(r.stderr));
          const data = (value === '' && !spec.required) || TEXT_FLAGS.has(flag);
          if (!taken || !data) problems.push(`${where}: expected exit 1, got ${r.code}: ${r.stderr.slice(0, 200)}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(tried).toBeGreaterThan(600);
    expect(fs.existsSync(PWN)).toBe(false);
    expect(stored()).toBe(before);
  }, 60_000);
});
