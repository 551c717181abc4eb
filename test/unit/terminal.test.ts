/** Text shown to the operator cannot drive the terminal (issue 21, item 9): no escape sequence, no control. */
import { table } from '../../src/cli/present';
import { forTerminal, oneLine } from '../../src/util/terminal';

const ESC = '\x1b';
// every control character but \t and \n, and the escape sequences an agent reply could carry
const ANY_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/; // eslint-disable-line no-control-regex

test.each([
  ['a CSI that clears the screen and homes the cursor', `ok${ESC}[2J${ESC}[Hdone`, 'okdone'],
  ['a colour', `${ESC}[1;31mred${ESC}[0m text`, 'red text'],
  ['an OSC title set, BEL-terminated', `x${ESC}]0;pwned${'\x07'}y`, 'xy'],
  ['an OSC 8 hyperlink, ST-terminated', `${ESC}]8;;http://evil/${ESC}\\click${ESC}]8;;${ESC}\\`, 'click'],
  ['a DCS string', `a${ESC}P+q544e${ESC}\\b`, 'ab'],
  ['a two-byte ESC (keypad, charset)', `a${ESC}=b${ESC}(0c`, 'abc'],
  ['an 8-bit CSI', 'a\u009b2Jb', 'ab'],
  ['an 8-bit OSC to ST', 'a\u009d0;title\u009cb', 'ab'],
  ['a carriage return that would overwrite the line', 'real\rforged', 'realforged'],
  ['backspaces, BEL, NUL, DEL, other C1', 'a\b\b\x07\x00\x7f\u0085\u008eb', 'ab'],
  ['an unterminated OSC stops at the end of the line', `a${ESC}]0;t\nnext`, 'a\nnext'],
  ['a lone ESC at the end', `a${ESC}`, 'a'],
])('%s', (_what, raw, shown) => {
  const out = forTerminal(raw);
  expect(out).toBe(shown);
  expect(out).not.toMatch(ANY_CONTROL);
});

test('newlines and tabs stay in text; a table cell is one line', () => {
  expect(forTerminal('a\tb\nc')).toBe('a\tb\nc');
  expect(oneLine(`a\r\n\tb${ESC}[31m`)).toBe('a b');
  const t = table(['UID', 'MESSAGE'], [['u1', `fine\n[success] forged line${ESC}[1A${ESC}[2K`]]);
  expect(t.split('\n')).toHaveLength(2);
  expect(t).not.toMatch(ANY_CONTROL);
});

test('plain text without controls is returned as it is (the common case costs one test)', () => {
  const s = 'uid: abc status: success effect: in-place — ünïcode ✓';
  expect(forTerminal(s)).toBe(s);
});

test('a JSON line keeps its value: DEL and C1 become \\u escapes, nothing raw reaches the terminal', () => {
  const value = { message: `x\u009b2Jy${ESC}[31mz\x7f`, n: 1 };
  const line = JSON.stringify(value);
  expect(line).toMatch(/[\u007f-\u009f]/); // JSON.stringify leaves them raw
  const out = forTerminal(line);
  expect(out).not.toMatch(ANY_CONTROL);
  expect(JSON.parse(out)).toEqual(value);
});
