import * as fs from 'node:fs';
import * as path from 'node:path';
import { allFaults, findFault, registryNames, targets } from '../../src/faults/index';
import { BUILTIN_STEPS } from '../../src/engine/steps';
import { HOST_SCOPE } from '../../src/host/scope';
import { kebab, parseFlags, argsJson, storedArgs } from '../../src/faults/flags';
import { splitArgv } from '../../src/util/argv';
import { parseDuration } from '../../src/util/units';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json');
const FAULTS = allFaults();
const COMMON_CHARS = ['t'];

describe('fault registry', () => {
  test('the lazy registry names each module by its own target, fault and aliases', () => {
    expect(FAULTS.map((f) => ({ target: f.target, fault: f.fault, aliases: f.aliases ?? [] }))).toEqual(
      registryNames(),
    );
  });

  test('every fault is complete: summary, examples that name it, flags with descriptions', () => {
    for (const f of FAULTS) {
      expect(f.summary.length).toBeGreaterThan(10);
      expect(f.examples.length).toBeGreaterThan(0);
      for (const ex of f.examples)
        expect([f.fault, ...(f.aliases ?? [])].some((n) => ex.startsWith(`chaosmetad inject ${f.target} ${n} `))).toBe(
          true,
        );
      for (const [k, spec] of Object.entries(f.flags)) {
        expect(spec.description).toBeTruthy();
        expect(kebab(k)).toMatch(/^[a-z][a-z0-9-]*$/);
      }
    }
  });

  test('short flags are unique within a fault and do not clash with the common ones', () => {
    for (const f of FAULTS) {
      const chars = Object.values(f.flags)
        .map((s) => s.char)
        .filter(Boolean);
      expect(new Set(chars).size).toBe(chars.length);
      for (const c of chars) expect(COMMON_CHARS).not.toContain(c);
    }
  });

  test('the README shows every fault with its examples', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    for (const f of FAULTS)
      for (const ex of f.examples) expect([f.fault, readme.includes(ex)]).toEqual([f.fault, true]);
  });

  test('every target has an oclif topic with a description (help on every level)', () => {
    for (const t of targets()) expect(pkg.oclif.topics[`inject:${t}`]?.description).toBeTruthy();
  });

  test('unknown names list the valid ones', () => {
    expect(() => findFault('nope', 'x')).toThrow(/valid targets: cpu, mem, process, file, disk, diskio, kernel/);
    expect(() => findFault('cpu', 'x')).toThrow(/valid faults: burn, load/);
  });

  test('every example parses: flags, values and common flags (what the README shows is well-formed)', () => {
    for (const f of FAULTS) {
      for (const ex of f.examples) {
        const argv = splitArgv(ex, 'example').slice(4);
        const raw: Record<string, string | boolean> = {};
        for (let i = 0; i < argv.length; i++) {
          const a = argv[i];
          if (a === '-t' || a === '--timeout') {
            expect(() => parseDuration(argv[++i], 'timeout')).not.toThrow();
            continue;
          }
          if (['--uid', '--container-id', '--container-runtime', '--containerd-namespace'].includes(a)) {
            i++; // common inject flags (cli/inject-run.ts), not the fault's
            continue;
          }
          const key = a.startsWith('--')
            ? Object.keys(f.flags).find((k) => kebab(k) === a.slice(2))
            : Object.keys(f.flags).find((k) => f.flags[k].char === a.slice(1));
          expect([ex, key]).toEqual([ex, expect.any(String)]);
          raw[key!] = f.flags[key!].kind === 'boolean' ? true : argv[++i];
        }
        expect(() => parseFlags(f.flags, raw)).not.toThrow();
      }
    }
  });
});

describe('flag parsing (one code path for CLI strings and HTTP JSON)', () => {
  const burn = findFault('cpu', 'burn');
  test('CLI strings and JSON values give the same args', () => {
    const a = parseFlags(burn.flags, { percent: '60', count: '1' });
    const b = parseFlags(burn.flags, { percent: 60, count: 1 });
    expect(a).toEqual(b);
    expect(argsJson(burn.flags, a)).toBe('{"percent":60,"count":1}');
  });
  test("a check gets the stored args back by the flags' own names (multi-word ones too), not parsed again", () => {
    const limit = findFault('diskio', 'limit');
    const a = parseFlags(limit.flags, { read_bytes: '1MB', write_io: '100', pid_list: '1' });
    const json = argsJson(limit.flags, a);
    expect(json).toContain('"read_bytes":1048576');
    expect(storedArgs(limit.flags, json)).toEqual(a);
    // (a flag absent when stored is undefined, as parsed)
    expect(storedArgs(limit.flags, '{}').readBytes).toBeUndefined();
  });
  test('snake_case, kebab-case and camelCase keys are accepted', () => {
    const fill = findFault('mem', 'fill');
    expect(parseFlags(fill.flags, { bytes: '1MB', mode: 'ram' }).bytes).toBe(1024 * 1024);
  });
  test.each([
    [{ percent: '20%' }, /--percent must be an integer in 1\.\.100, got "20%"/],
    [{ percent: '0' }, /--percent must be an integer in 1\.\.100/],
    [{ percent: '101' }, /--percent must be an integer in 1\.\.100/],
    [{ percent: true }, /--percent must be an integer/],
    [{ percent: [1] }, /--percent must be an integer/],
    [{}, /--percent is required/],
    [{ percent: '50', bogus: '1' }, /unknown flag "bogus"/],
    [{ percent: '50', list: '0-' }, /--list must be a CPU list/],
  ])('%j is refused: %s', (raw, msg) => {
    expect(() => parseFlags(burn.flags, raw as Record<string, unknown>)).toThrow(msg);
  });
  test('mem fill needs --percent or --bytes; with both the percent wins (as the original); sizes as the original', () => {
    const fill = findFault('mem', 'fill');
    expect(() => fill.validate!(parseFlags(fill.flags, {}), HOST_SCOPE)).toThrow(/one of --percent or --bytes/);
    expect(() => fill.validate!(parseFlags(fill.flags, { percent: '50', bytes: '1MB' }), HOST_SCOPE)).not.toThrow();
    for (const ok of ['500mB', '2gb', '100', '1TB', '7kb'])
      expect(() => parseFlags(fill.flags, { bytes: ok })).not.toThrow();
    expect(parseFlags(fill.flags, { bytes: '100' }).bytes).toBe(100 * 1024);
    for (const bad of ['100m', '100b', '1000B', '0.5gb', 'MB', '1 MB'])
      expect(() => parseFlags(fill.flags, { bytes: bad })).toThrow(/--bytes must be a size/);
    expect(() => parseFlags(fill.flags, { bytes: '1MB', mode: 'disk' })).toThrow(/--mode must be one of ram, cache/);
  });
});

test('every fault checks its effect on the host; only helper-based faults rely on the default (helpers alive)', () => {
  const helperBased = ['cpu burn', 'cpu load', 'mem fill', 'mem oom', 'diskio burn', 'kernel nproc', 'network occupy'];
  expect(FAULTS.filter((f) => !f.check).map((f) => `${f.target} ${f.fault}`)).toEqual(helperBased);
});

describe('journal step kinds', () => {
  const named = (f: (typeof FAULTS)[number]) => `${f.target} ${f.fault}`;

  test('each fault declares its kinds once, never an engine one; undoWhenGone names declared kinds', () => {
    for (const f of FAULTS) {
      const names = (f.steps ?? []).map((k) => k.name);
      expect({ fault: named(f), names: new Set(names).size }).toEqual({ fault: named(f), names: names.length });
      for (const n of names)
        expect({ fault: named(f), builtin: BUILTIN_STEPS.has(n) }).toEqual({ fault: named(f), builtin: false });
      for (const k of f.undoWhenGone ?? []) expect(f.steps).toContain(k);
    }
  });

  test('a stored name is one kind (one undo) across all faults — but for the two `move`s journaled before kinds', () => {
    // file mv and diskio hang/limit both stored `move` before step kinds were values; journals on disk keep that
    // name, and recover looks a step up among its own fault's kinds, so the two never meet
    const legacy = new Map([['move', 2]]);
    const byName = new Map<string, Set<unknown>>();
    for (const f of FAULTS) for (const k of f.steps ?? []) byName.set(k.name, (byName.get(k.name) ?? new Set()).add(k));
    for (const [name, kinds] of byName)
      expect({ name, kinds: kinds.size }).toEqual({ name, kinds: legacy.get(name) ?? 1 });
  });

  test('the stored names are the ones older journals hold (never renamed: they must still recover)', () => {
    const TC = ['ifb', 'tc-class', 'tc-filter', 'tc-root'];
    const stored = Object.fromEntries(FAULTS.map((f) => [named(f), (f.steps ?? []).map((k) => k.name).sort()]));
    expect(stored).toEqual({
      'container kill': ['container-kill'],
      'container pause': ['container-pause'],
      'container restart': ['container-restart'],
      'container rm': ['container-rm'],
      'cpu burn': [],
      'cpu load': [],
      'disk fill': ['fill-file', 'reserve'],
      'diskio burn': ['work-file'],
      'diskio hang': ['cgroup', 'container-io', 'io-controller', 'move'],
      'diskio limit': ['cgroup', 'container-io', 'io-controller', 'move'],
      'dns record': ['add-line', 'remove-lines'],
      'dns server': ['add-line', 'remove-lines'],
      'file add': ['mkdir', 'write'],
      'file append': ['append'],
      'file chmod': ['chmod'],
      'file del': ['delete'],
      'file mv': ['move'],
      'jvm methoddelay': ['jvm-rule'],
      'jvm methodexception': ['jvm-rule'],
      'jvm methodreturn': ['jvm-rule'],
      'kernel fdfull': ['sysctl'],
      'kernel nproc': [],
      'mem fill': [],
      'mem oom': [],
      'network corrupt': TC,
      'network delay': TC,
      'network duplicate': TC,
      'network limit': TC,
      'network loss': TC,
      'network occupy': ['kill-owner', 'recover-cmd'],
      'network partition': ['base-chain', 'chain', 'filter-table', 'jump'],
      'network reorder': TC,
      'process kill': ['recover-cmd', 'signal'],
      'process stop': ['stop'],
    });
    expect([...BUILTIN_STEPS.keys()]).toEqual(['helper', 'watcher']);
  });
});
