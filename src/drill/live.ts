/**
 * The live view of a drill on a terminal: the phase, each lane's step, every probe's last value and whether it
 * held, the last events — redrawn in place a few times a second (stdout not a terminal: the CLI prints plain
 * timestamped lines instead).
 */
import { forTerminal } from '../util/terminal';
import type { Drill } from './schema';
import type { DrillResult } from './types';

const ESC = '\x1b[';

export class LiveView {
  private id = '';
  private last?: DrillResult;
  private events: string[] = [];
  private drawn = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly drill: Drill,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {}

  start(id: string): void {
    this.id = id;
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
  }

  event(t: number, text: string): void {
    this.events.push(`${new Date(t).toISOString().slice(11, 19)} ${text}`);
    if (this.events.length > 6) this.events.shift();
  }

  update(r: DrillResult): void {
    this.last = r;
  }

  private lines(): string[] {
    const r = this.last;
    const width = Math.max(40, (this.out.columns || 100) - 1);
    const cut = (s: string) => (s.length > width ? s.slice(0, width - 1) + '…' : s);
    const out: string[] = [];
    const elapsed = r ? ((Date.now() - r.started) / 1000).toFixed(0) : '0';
    out.push(`${ESC}1mdrill ${this.drill.name}${ESC}0m ${this.id}  phase: ${r?.phase ?? 'starting'}  ${elapsed}s`);
    for (const lane of this.drill.faults.lanes) {
      const mine = r?.faults.filter((f) => f.lane === lane.name) ?? [];
      const cur = mine[mine.length - 1];
      const state = cur
        ? `step ${cur.step + 1}/${lane.steps.length}: ${cur.target} ${cur.fault} ${cur.state}${
            cur.start && !cur.end ? ` ${((Date.now() - cur.start) / 1000).toFixed(0)}s` : ''
          }`
        : 'waiting';
      out.push(cut(`  lane ${lane.name}: ${state}`));
    }
    for (const s of r?.series ?? []) {
      const x = s.samples[s.samples.length - 1];
      const base = r?.baseline[s.name];
      const v = x ? (x.value === null ? 'failed' : `${+x.value.toFixed(2)} ${s.unit}`) : '-';
      const mark = x ? (x.ok ? `${ESC}32m✔${ESC}0m` : `${ESC}31m✘${ESC}0m`) : ' ';
      out.push(
        cut(
          `  ${mark} ${s.name.padEnd(20)} ${v.padEnd(14)}${base !== undefined && base !== null ? ` baseline ${+base.toFixed(2)}` : ''}`,
        ),
      );
    }
    const p = r?.points ?? {};
    const since = (t?: number) =>
      t !== undefined && p.inject !== undefined ? `+${((t - p.inject) / 1000).toFixed(1)}s` : '-';
    out.push(
      `  effect ${since(p.effect)}  detection ${since(p.detection)}  recovery ${p.recovery !== undefined && p.recovered !== undefined ? `${((p.recovery - p.recovered) / 1000).toFixed(1)}s` : '-'}`,
    );
    for (const e of this.events) out.push(cut(`  ${forTerminal(e)}`));
    return out;
  }

  private draw(): void {
    const lines = this.lines();
    let s = this.drawn ? `${ESC}${this.drawn}A` : '';
    s += lines.map((l) => `${ESC}2K${l}`).join('\n') + '\n';
    // a shorter frame than the last: clear what is left below
    if (this.drawn > lines.length) s += `${ESC}J`;
    this.out.write(s);
    this.drawn = lines.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.id) this.draw();
  }
}
