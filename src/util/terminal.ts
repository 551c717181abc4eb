/**
 * Text for the operator's terminal. What chaosmetad prints carries text that others chose: an agent's or a
 * daemon's reply, a process name, a file's line, an error message naming a path. Nothing in it may drive the
 * terminal (move the cursor, rewrite lines already shown, set the title, answer back, hide text): every escape
 * sequence, 7-bit (ESC …) or 8-bit (the C1 introducers U+009B CSI, U+009D OSC, U+0090 DCS, …), goes whole, and so
 * does every other C0 and C1 control character but the newline and the tab.
 *
 * A JSON line (--json, --format json) keeps its meaning: JSON.stringify already writes C0 controls and ESC as
 * \u escapes, but leaves DEL and C1 characters raw; in a line that is JSON those become their \u escapes (same
 * value for a program reading it, inert in a terminal).
 */

/** ESC sequences: CSI (ESC [ params intermediates final), the string ones (OSC, DCS, SOS, PM, APC: up to BEL or
 *  ST, or the end of the line), and the rest (ESC, intermediates, one final byte). */
const ESC_SEQ =
  // eslint-disable-next-line no-control-regex
  /\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?|[\]PX^_][^\x07\x1b\u009c\n]*(?:\x07|\x1b\\|\u009c)?|[\x20-\x2f]*[\x30-\x7e]?)/g;
/** The same introduced by an 8-bit C1 character: CSI U+009B, and the strings DCS, SOS, OSC, PM, APC. */
const C1_SEQ =
  // eslint-disable-next-line no-control-regex
  /\u009b[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?|[\u0090\u0098\u009d\u009e\u009f][^\x07\x1b\u009c\n]*(?:\x07|\x1b\\|\u009c)?/g;
/** Every control character but \t and \n: C0, DEL, C1. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
/** C0 controls JSON.stringify never leaves raw (a line with one is not JSON we wrote). */
// eslint-disable-next-line no-control-regex
const C0 = /[\x00-\x08\x0b-\x1f]/;
const RAW_IN_JSON = /[\x7f-\x9f]/g;

const u = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Text safe to print: escape sequences and control characters (but \n and \t) removed; a JSON line escaped. */
export function forTerminal(text: string): string {
  if (!CONTROL.test(text)) return text;
  if (/^\s*[[{]/.test(text) && !C0.test(text)) {
    try {
      JSON.parse(text);
      // DEL and C1 can only be inside JSON strings: their \u escapes mean the same
      return text.replace(RAW_IN_JSON, u);
    } catch {
      /* not JSON: plain text */
    }
  }
  return text.replace(ESC_SEQ, '').replace(C1_SEQ, '').replace(CONTROLS, '');
}

/** One table cell or one-line field: as forTerminal, and line breaks and tabs become one space. */
export function oneLine(text: string): string {
  return forTerminal(text).replace(/[\t\n]+/g, ' ');
}
