/**
 * One way to touch a path (issue 21): every open, create, copy, move, chmod, chown, truncate and remove that
 * names a path goes through the safe layer (src/host/safefs.ts, src/host/files.ts: resolved without following
 * links someone else controls, then acted on through descriptors) — or names a path that is ours or the kernel's,
 * listed here with the reason. A new fault that calls fs.writeFileSync(userPath) fails this test until it uses the
 * layer or says here why the path cannot be another user's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
const LAYER = ['src/host/safefs.ts', 'src/host/files.ts'];

/** fs calls that take a path and open, create, change or remove what it names */
const OPS = new Set([
  'openSync',
  'open',
  'readFileSync',
  'readFile',
  'writeFileSync',
  'writeFile',
  'appendFileSync',
  'appendFile',
  'unlinkSync',
  'unlink',
  'rmSync',
  'rm',
  'rmdirSync',
  'rmdir',
  'renameSync',
  'rename',
  'mkdirSync',
  'mkdir',
  'mkdtempSync',
  'chmodSync',
  'chmod',
  'chownSync',
  'chown',
  'lchownSync',
  'truncateSync',
  'copyFileSync',
  'copyFile',
  'cpSync',
  'symlinkSync',
  'linkSync',
  'utimesSync',
  'lutimesSync',
  'createWriteStream',
  'createReadStream',
]);
/** tools that act on paths: run only by the layer, on descriptors (/proc/self/fd/N) */
const PATH_TOOLS = new Set(['cp', 'rm', 'mv', 'ln', 'chmod', 'chown', 'install', 'tar', 'rsync', 'truncate', 'dd']);

/**
 * Automatically fine: an entry of a directory the layer opened (`dir.at(name)`, `at(fd, name)`: the openat() of a
 * Node program), or a kernel file named by a literal (/proc — not a process's root or cwd —, /sys, /dev/null).
 */
function descriptorOrKernel(arg: string): boolean {
  if (/^(\w+\.)?at\(/.test(arg) || /^[\w.]+\.at\(/.test(arg)) return true;
  return /^[`'"]\/(proc|sys|dev\/null)\b/.test(arg) && !/\/(root|cwd)\b/.test(arg);
}

/** Paths that are ours or the kernel's, by file: the first argument's text, and why no one else can swap it. */
const OURS: Array<{ file: string; args: string[]; why: string }> = [
  {
    file: 'src/api/http-client.ts',
    args: ["path.join(this.dataDir(), 'daemon.pid')", "path.join(this.dataDir(), 'token')", 'this.opts.tokenFile'],
    why: "the data dir (root's, checked when the store opens) and the operator's own --token-file",
  },
  {
    file: 'src/engine/daemon.ts',
    args: ['this.pidFile'],
    why: "the daemon's pid file in the data dir (root-only, ownership checked before use)",
  },
  {
    file: 'src/engine/engine.ts',
    args: ['d', "path.join(this.workDir(uid, false), 'reserve')"],
    why: "the experiment's work directories under the data dir (root-only, ownership checked before use)",
  },
  {
    file: 'src/engine/journal.ts',
    args: ['env.workDir(uid, false)'],
    why: "the experiment's work directory under the data dir (Engine.workDir: root-only, ownership checked before use)",
  },
  {
    file: 'src/engine/log.ts',
    args: ['file'],
    why: 'the experiment log in the data dir (root-only, ownership checked before use; engine/log.ts logFileOf)',
  },
  {
    file: 'src/faults/disk/fill.ts',
    args: ['d.path', 'reserve'],
    why: "the store's reserve file in the experiment's work directory (data dir)",
  },
  {
    file: 'src/faults/file/append.ts',
    args: ['src'],
    why: "the helper's input file in the experiment's work directory",
  },
  {
    file: 'src/faults/kernel/fdfull.ts',
    args: ['FILE_MAX', 'FILE_NR', 'd.key'],
    why: 'sysctl files under /proc/sys (kernel-owned: no links, no other writer)',
  },
  {
    file: 'src/host/assets.ts',
    args: ['dir', 'tmp', '`${file}.verified`', 'file'],
    why: "this build's private cache directory (created 0700, owner and mode checked before use)",
  },
  {
    file: 'src/sea/entry.ts',
    args: ['dir', 'file', 'tmp'],
    why: "the single executable's private cache directory (created 0700, owner and mode checked before use)",
  },
  {
    file: 'src/host/cgroup.ts',
    args: [
      'dir',
      'SUBTREE_CONTROL',
      'p',
      "path.join(V2_ROOT, 'cgroup.controllers')",
      "path.join(cgroupDir, 'cgroup.procs')",
      "path.join(dir, 'io.max')",
      'path.join(dir, `blkio.throttle.${f}`)',
      "path.join(fs.realpathSync(sys), '..', 'dev')",
      '`${V1_BLKIO}/chaosmetad`',
      'file',
    ],
    why: 'cgroup filesystems and /sys (kernel-owned: no symbolic links can exist there)',
  },
  {
    file: 'src/host/command.ts',
    args: ['logDir', 'log'],
    why: "recover-command logs in the experiment's work directory (data dir)",
  },
  {
    file: 'src/host/hostexec.ts',
    args: ['tmp', 'process.execPath', 'path.dirname(dest)', 'mark', '`${mark}.${process.pid}`'],
    why: "the agent's copy of its own executable on the node: its directory and all above checked root's alone (notOursAlone)",
  },
  {
    file: 'src/host/jvm.ts',
    args: ['agentJar()', 'p'],
    why: "the agent jar (this build's cache) and readRegular's descriptor-relative reply (O_NOFOLLOW, owner and size checked)",
  },
  {
    file: 'src/host/lock.ts',
    args: ['LOCK_DIR', 'dir', "path.join(dir, 'pid')"],
    why: '/run/chaosmetad-locks (created 0700 by root, checked)',
  },
  {
    file: 'src/host/sockets.ts',
    args: ['netPid ? `/proc/${netPid}/net/${table}` : `/proc/net/${table}`'],
    why: "the kernel's socket tables",
  },
  { file: 'src/host/scope.ts', args: ['file'], why: "/proc/PID/net/dev, the kernel's" },
  { file: 'src/host/tc.ts', args: ['`${dir}/${file}`'], why: "/lib/modules/<release>/modules.*, root's" },
  {
    file: 'src/server/config.ts',
    args: ["'/etc/group'", "s('cert')!", "s('key')!"],
    why: "the operator's own flags",
  },
  {
    file: 'src/server/listeners.ts',
    args: ['file'],
    why: "the operator's --socket; its directory and every one above it are checked root's alone first (config.ts)",
  },
  {
    file: 'src/server/command.ts',
    args: ['at.socket.file'],
    why: "the operator's --socket, removed at exit; its directory was checked root's alone first (config.ts)",
  },
  {
    file: 'src/server/guard.ts',
    args: ['file', 'fd'],
    why: 'token files in the data dir (or $CREDENTIALS_DIRECTORY), opened O_NOFOLLOW and checked',
  },
  {
    file: 'src/host/policyfile.ts',
    args: ['cur'],
    why: "the agent policy: every directory on the way root-only or on a read-only mount, every link root's, O_NOFOLLOW",
  },
  { file: 'src/store/store.ts', args: ['dir'], why: 'the data dir itself (created 0700, ownership checked)' },
  {
    file: 'src/cli/drill.ts',
    args: ['args.file'],
    why: "the operator's own drill file, named on the command line and only read (as --token-file)",
  },
  {
    file: 'src/drill/file.ts',
    args: ['file', 'real', 'fd'],
    why:
      "file: the operator's own drill file, only read; real and fd: a scheduled drill file the daemon reads, its " +
      "directories checked (root's, no other writer), opened O_NOFOLLOW and checked through the descriptor",
  },
  {
    file: 'src/drill/probes.ts',
    args: ["path.join(v1, 'cpuacct.usage')", "path.join(v2, 'cpu.stat')"],
    why: "a container's cgroup files (cgroup filesystems: kernel-owned, no links)",
  },
  {
    file: 'src/drill/report.ts',
    args: ['resolved.path', 'fd'],
    why:
      'the report directory: resolved following only links no other user controls (resolveSafe), made if missing, ' +
      "then opened without following any and refused unless root's (or this user's) with no other writer; fd: a " +
      'file created O_EXCL|O_NOFOLLOW in it',
  },
];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

interface Hit {
  file: string;
  call: string;
  arg: string;
  line: number;
}

/** Every path operation in src/ outside the layer: fs calls (by their first argument) and path tools run. */
function scan(dir = path.join(ROOT, 'src'), base = ROOT): Hit[] {
  const hits: Hit[] = [];
  for (const f of files(dir)) {
    const file = path.relative(base, f);
    if (LAYER.includes(file)) continue;
    const sf = ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node) => {
      if (ts.isCallExpression(n)) {
        const e = n.expression;
        const arg0 = n.arguments[0] ? n.arguments[0].getText(sf).replace(/\s+/g, ' ') : '';
        const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
        if (ts.isPropertyAccessExpression(e) && OPS.has(e.name.text)) {
          const obj = e.expression.getText(sf);
          if (/^(fs|fsp|fs\.promises|promises)$/.test(obj) && !descriptorOrKernel(arg0))
            hits.push({ file, call: `${obj}.${e.name.text}`, arg: arg0, line });
        }
        // exec.run('cp', …), execa('rm', …), spawn('mv', …)
        const callee = e.getText(sf);
        if (/(\.run|execa|execa\.sync|spawn|spawnSync|execFile|execFileSync)$/.test(callee)) {
          const tool = /^['"`]([\w/.-]+)['"`]$/.exec(arg0)?.[1];
          if (tool && PATH_TOOLS.has(path.basename(tool))) hits.push({ file, call: callee, arg: arg0, line });
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return hits;
}

test('no path operation outside the safe layer but on paths that are ours or the kernel’s (listed, with why)', () => {
  const unlisted = scan()
    .filter((h) => !OURS.some((o) => o.file === h.file && o.args.includes(h.arg)))
    .map((h) => `${h.file}:${h.line}: ${h.call}(${h.arg}, …)`);
  expect(unlisted).toEqual([]);
});

test('every listed path is still used (the list says what the code does, no more)', () => {
  const hits = scan();
  const stale = OURS.flatMap((o) =>
    o.args.filter((a) => !hits.some((h) => h.file === o.file && h.arg === a)).map((a) => `${o.file}: ${a}`),
  );
  expect(stale).toEqual([]);
});

test('the scan is live: it finds path operations a new fault could add', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmd-path-layer-'));
  const probe = path.join(dir, 'probe.ts');
  try {
    fs.writeFileSync(
      probe,
      [
        "import * as fs from 'node:fs';",
        'export function bad(p: string, exec: any) {',
        "  fs.writeFileSync(p, 'x');",
        '  fs.rmSync(p, { recursive: true });',
        "  exec.run('cp', ['-r', p, '/x']);",
        '  fs.readFileSync(`/proc/${1}/root/etc/passwd`);',
        "  fs.readFileSync('/proc/meminfo');",
        '  fs.unlinkSync(dir.at(name));',
        '}',
      ].join('\n'),
    );
    const found = scan(dir, dir).map((h) => `${h.call}(${h.arg})`);
    expect(found).toEqual([
      'fs.writeFileSync(p)',
      'fs.rmSync(p)',
      "exec.run('cp')",
      'fs.readFileSync(`/proc/${1}/root/etc/passwd`)',
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
