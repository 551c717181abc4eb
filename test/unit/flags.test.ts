/** The one flag declaration (util/flags.ts): its integer parser, the output-format spellings, the fast-path parser. */
import { ChaosError } from '../../src/errors';
import { boolean, integer, string } from '../../src/util/flags';
import { outputFormat, parsePlainArgv } from '../../src/util/plain-argv';
import { parseInteger } from '../../src/util/units';

describe('integers', () => {
  test.each([
    ['5', 5],
    [' 7 ', 7],
    [0, 0],
    [100, 100],
  ])('%j is %d', (raw, n) => expect(parseInteger(raw, 'count', 0, 100)).toBe(n));
  test.each(['', '-1', '101', '1.5', '1e3', 'many', '$(id)', true, null, [1], Number.NaN, '9'.repeat(20)])(
    'refuses %j naming the flag and the range',
    (raw) => {
      expect(() => parseInteger(raw, 'count', 0, 100)).toThrow(ChaosError);
      expect(() => parseInteger(raw, 'count', 0, 100)).toThrow(/^--count must be an integer in 0\.\.100, got "/);
    },
  );
  test('the integer() declaration parses with it', () => {
    const f = integer({ min: 1, max: 3, description: 'x' });
    expect(f.parse('2', 'n')).toBe(2);
    expect(() => f.parse('4', 'n')).toThrow('--n must be an integer in 1..3, got "4"');
  });
});

describe('the output format: --format, --output, -o and --json are one flag', () => {
  test.each([
    [{}, 'table'],
    [{ json: true }, 'json'],
    [{ format: 'json' }, 'json'],
    [{ output: 'json' }, 'json'],
    [{ format: 'table' }, 'table'],
    [{ json: true, format: 'table' }, 'json'],
  ] as const)('%j is %s', (flags, format) => expect(outputFormat(flags)).toBe(format));
  test.each([
    [{ format: 'xml' }, '--format must be table or json, got "xml"'],
    [{ output: 'yaml' }, '--output must be table or json, got "yaml"'],
  ])('%j is refused naming the flag given', (flags, message) => expect(() => outputFormat(flags)).toThrow(message));
});

describe('the fast-path parser reads the declarations', () => {
  const specs = {
    name: string({ char: 'n', description: 'x', aliases: ['label'] }),
    'dry-run': boolean({ description: 'x' }),
    many: string({ description: 'x', multiple: true }),
  };
  test('long, short, aliased and boolean forms', () => {
    expect(parsePlainArgv(specs, ['--label', 'a', '--dry-run'])).toEqual({
      flags: { name: 'a', 'dry-run': true },
      args: [],
    });
    expect(parsePlainArgv(specs, ['-n', 'b'])).toEqual({ flags: { name: 'b' }, args: [] });
  });
  test.each([[['--name', 'a', '--label', 'b']], [['--many', 'x']], [['--dry-run=1']], [['--help']]])(
    'declines %j',
    (tokens) => expect(parsePlainArgv(specs, tokens)).toBeUndefined(),
  );
});
