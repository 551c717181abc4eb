#!/usr/bin/env node
/**
 * host-state — what a fault injector may leave behind on this host, as text to diff:
 *   node scripts/host-state.js snapshot [FILE]   save the state (default /tmp/chaosmetad-host-state)
 *   node scripts/host-state.js diff [FILE]       compare now with FILE: exit 1 and print what differs
 *   node scripts/host-state.js show              print it
 * Covers links (ifb, veth, dummy), network namespaces, every interface's qdiscs and tc filters, iptables,
 * ip6tables and nft rules, /etc/hosts and /etc/resolv.conf, kernel limits, cgroups, mounts, chaosmetad's helpers
 * and watchers, docker containers when dockerd runs. The tests use state() to assert that each one left nothing.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A tool's stdout, '' when it is missing or fails (a host without nft has no nft rules to leave). */
function run(cmd, args) {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { PATH },
      timeout: 20_000,
    });
  } catch (e) {
    return typeof e.stdout === 'string' && e.status === 0 ? e.stdout : '';
  }
}

const lines = (text) => text.split('\n').filter((l) => l.trim() !== '');

function links() {
  return lines(run('ip', ['-o', 'link', 'show'])).map((l) => l.split(': ')[1].replace(/@.*/, ''));
}

function tcState(devs) {
  const out = [];
  for (const dev of devs) {
    for (const q of lines(run('tc', ['qdisc', 'show', 'dev', dev]))) {
      // the kernel's default root qdiscs are not ours
      if (/^qdisc (noqueue|pfifo_fast) 0: root refcnt/.test(q)) continue;
      out.push(`qdisc ${dev}: ${q}`);
    }
    for (const parent of ['root', 'ingress']) {
      for (const f of lines(run('tc', ['filter', 'show', 'dev', dev, parent])))
        out.push(`filter ${dev} ${parent}: ${f}`);
    }
  }
  return out.sort();
}

function rules() {
  const strip = (t) =>
    lines(t)
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
  return [...strip(run('iptables-save', [])), ...strip(run('ip6tables-save', []))];
}

function fileState(f) {
  try {
    const st = fs.statSync(f);
    const sum = crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex').slice(0, 16);
    return `${f} ${sum} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
  } catch {
    return `${f} absent`;
  }
}

function cgroups() {
  const out = [];
  const skip = /docker|containerd|system\.slice|user\.slice|init\.scope|process_api/;
  const walk = (dir, depth) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = `${dir}/${e.name}`;
      if (skip.test(p)) continue;
      out.push(p);
      if (depth < 4) walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 1);
  return out.sort();
}

function processes() {
  const out = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    let argv;
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0$/, '').split('\0');
    } catch {
      continue;
    }
    // chaosmetad's own processes: tagged helpers and watchers, the executable or bin/chaosmetad (a checkout's path
    // holding the word, e.g. a clone in /src/chaosmetad, is no reason to list a process)
    const own =
      argv.some((a) => a.startsWith('--chaosmetad-uid=')) ||
      argv.slice(0, 2).some((a) => /(^|\/)chaosmetad(-helper)?$/.test(a));
    if (own) out.push(argv.join(' '));
  }
  return out.sort();
}

/** The whole state as text; sections start with "## ". */
function state() {
  const devs = links();
  const sections = {
    links: [...devs].sort(),
    netns: lines(run('ip', ['netns', 'list']))
      .map((l) => l.split(' ')[0])
      .sort(),
    tc: tcState(devs),
    iptables: rules(),
    // packet counters (docker's rules count traffic) are not state anyone left behind
    nft: lines(run('nft', ['list', 'ruleset']))
      .filter((l) => !/handle/.test(l))
      .map((l) => l.replace(/counter packets \d+ bytes \d+/g, 'counter')),
    files: ['/etc/hosts', '/etc/resolv.conf'].map(fileState),
    kernel: ['fs/file-max', 'fs/nr_open', 'kernel/pid_max', 'kernel/threads-max'].map((k) => {
      try {
        return `${k} ${fs.readFileSync(`/proc/sys/${k}`, 'utf8').trim()}`;
      } catch {
        return `${k} ?`;
      }
    }),
    cgroups: cgroups(),
    mounts: lines(fs.readFileSync('/proc/mounts', 'utf8'))
      .map((l) => l.split(' ').slice(1, 3).join(' '))
      .filter((m) => !/^\/(proc|sys|dev|run)\//.test(m))
      .sort(),
    processes: processes(),
  };
  if (fs.existsSync('/var/run/docker.sock')) {
    sections.docker = lines(run('docker', ['ps', '-a', '--format', '{{.Names}} {{.Status}}']))
      .map((l) => l.replace(/(Up|Exited \(\d+\)).*/, '$1'))
      .sort();
  }
  return (
    Object.entries(sections)
      .map(([k, v]) => [`## ${k}`, ...v].join('\n'))
      .join('\n') + '\n'
  );
}

/** Lines only in `before` ('-') and only in `now` ('+'), by section. */
function difference(before, now) {
  const parse = (text) => {
    const m = new Map();
    let cur = '';
    for (const l of text.split('\n')) {
      if (l.startsWith('## ')) {
        cur = l;
        m.set(cur, []);
      } else if (l) m.get(cur)?.push(l);
    }
    return m;
  };
  const a = parse(before);
  const b = parse(now);
  const out = [];
  for (const sec of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(sec) ?? [];
    const y = b.get(sec) ?? [];
    const gone = x.filter((l) => !y.includes(l));
    const added = y.filter((l) => !x.includes(l));
    if (gone.length || added.length) out.push(sec, ...gone.map((l) => `-${l}`), ...added.map((l) => `+${l}`));
  }
  return out;
}

module.exports = { state, difference };

if (require.main === module) {
  const [cmd = 'show', file = '/tmp/chaosmetad-host-state'] = process.argv.slice(2);
  if (cmd === 'show') process.stdout.write(state());
  else if (cmd === 'snapshot') {
    fs.writeFileSync(file, state());
    console.log(`host-state: saved to ${file}`);
  } else if (cmd === 'diff') {
    if (!fs.existsSync(file)) {
      console.error(`host-state: no snapshot at ${file} (run: host-state.js snapshot)`);
      process.exit(2);
    }
    const d = difference(fs.readFileSync(file, 'utf8'), state());
    if (!d.length) console.log(`host-state: clean (same as ${file})`);
    else {
      console.log(`host-state: the host differs from ${file} ('-' was there before, '+' is there now):`);
      console.log(d.join('\n'));
      process.exit(1);
    }
  } else {
    console.error('usage: host-state.js snapshot|diff|show [FILE]');
    process.exit(2);
  }
}
