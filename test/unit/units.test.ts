import { parseCpuList, parseDuration, parseSize, thousands } from '../../src/util/units';
import { ChaosError } from '../../src/errors';
import { splitArgv } from '../../src/util/argv';

describe('durations', () => {
  test.each([
    ['30', 's', 30_000],
    ['30s', 's', 30_000],
    ['5m', 's', 300_000],
    ['2h', 's', 7_200_000],
    ['200ms', 's', 200],
    ['1.5s', 's', 1500],
    ['200', 'us', 0.2],
    ['2s', 'us', 2000],
    [45, 's', 45_000],
  ])('%s (bare = %s) is %d ms', (raw, unit, ms) => {
    expect(parseDuration(raw, 'timeout', unit as 's')).toBe(ms);
  });
  test.each(['', '-1', '5 minutes', '1e3', 's', '10x', '; rm -rf /', '$(id)', '\u0000', '9'.repeat(30)])(
    'rejects %j naming the flag',
    (raw) => {
      expect(() => parseDuration(raw, 'timeout')).toThrow(/--timeout/);
      try {
        parseDuration(raw, 'timeout');
      } catch (e) {
        expect((e as ChaosError).code).toBe(1);
      }
    },
  );
});

describe('sizes', () => {
  test.each([
    ['512', 512 * 1024],
    ['512KB', 512 * 1024],
    ['100MB', 100 * 1024 ** 2],
    ['2GB', 2 * 1024 ** 3],
    ['1tb', 1024 ** 4],
    ['10M', 10 * 1024 ** 2],
    ['7B', 7],
  ])('%s is %d bytes', (raw, bytes) => expect(parseSize(raw, 'bytes')).toBe(bytes));
  test.each(['0', '-5MB', '5PB', '1.5GB', 'lots', '', '10 MB extra'])('rejects %j', (raw) => {
    expect(() => parseSize(raw, 'bytes')).toThrow(/--bytes must be/);
  });
});

describe('cpu lists', () => {
  test.each([
    ['0', [0]],
    ['0-2,6', [0, 1, 2, 6]],
    ['3,1,1', [1, 3]],
    ['1-1', [1]],
  ])('%s', (raw, cores) => {
    expect(parseCpuList(raw, 'list')).toEqual(cores);
  });
  test.each(['', '2-1', 'a', '0,,1', '-1', '0-99999', '1;2'])('rejects %j', (raw) => {
    expect(() => parseCpuList(raw, 'list')).toThrow(/--list must be a CPU list/);
  });
});

describe('argv splitting (the README examples)', () => {
  test.each([
    ['systemctl start nginx', ['systemctl', 'start', 'nginx']],
    [`touch '/tmp/a b; $(x)'`, ['touch', '/tmp/a b; $(x)']],
    ['echo "say \\"hi\\"" x\\ y', ['echo', 'say "hi"', 'x y']],
    ['a;b `c` $(d)', ['a;b', '`c`', '$(d)']],
  ])('%s', (line, argv) => expect(splitArgv(line, 'recover-cmd')).toEqual(argv));
  test.each(['', '   ', '"open', "'open"])('rejects %j', (line) =>
    expect(() => splitArgv(line, 'recover-cmd')).toThrow(/--recover-cmd/),
  );
});

test.each([
  [0, '0'],
  [999, '999'],
  [1000, '1,000'],
  [1234567, '1,234,567'],
  [2466126.9, '2,466,126'],
])('thousands(%d) = %s (no ICU at start-up)', (n, out) => expect(thousands(n)).toBe(out));
