/** How results are shown in a terminal. (The JSON shapes are api/views.ts.) */
import { oneLine } from '../util/terminal';

/** A plain aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  // a cell is one line, and nothing in it drives the terminal (agents' and daemons' text lands here)
  const all = [headers, ...rows.map((r) => r.map((c) => oneLine(c ?? '')))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
