/** Prometheus text exposition (format 0.0.4), written by hand: counters, one histogram family, gauges. */

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type Labels = Record<string, string>;
const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const fmt = (l: Labels) => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

interface Hist {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
  add(seconds: number): void;
}

export class Metrics {
  private counters = new Map<string, { help: string; values: Map<string, { labels: Labels; v: number }> }>();
  private hists = new Map<string, { help: string; values: Map<string, Hist> }>();

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    this.counter(name, help, labels).v += by;
  }

  observe(name: string, help: string, labels: Labels, seconds: number): void {
    this.histogram(name, help, labels).add(seconds);
  }

  /** One counter series (created at 0 when new): hot paths keep it and bump `.v` without formatting labels. */
  counter(name: string, help: string, labels: Labels = {}): { v: number } {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const key = fmt(labels);
    let e = c.values.get(key);
    if (!e) c.values.set(key, (e = { labels, v: 0 }));
    return e;
  }

  /** One histogram series, kept by hot paths like counter(). */
  histogram(name: string, help: string, labels: Labels = {}): { add(seconds: number): void } {
    let h = this.hists.get(name);
    if (!h) this.hists.set(name, (h = { help, values: new Map() }));
    const key = fmt(labels);
    let e = h.values.get(key);
    if (!e) {
      const made: Hist = {
        labels,
        counts: BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
        add(seconds: number) {
          for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) made.counts[i]++;
          made.sum += seconds;
          made.count++;
        },
      };
      h.values.set(key, (e = made));
    }
    return e;
  }

  /** gauges are computed at scrape time and passed in */
  render(gauges: Array<{ name: string; help: string; values: Array<{ labels: Labels; v: number }> }>): string {
    const out: string[] = [];
    for (const g of gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const v of g.values) out.push(`${g.name}${fmt(v.labels)} ${v.v}`);
    }
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const e of c.values.values()) out.push(`${name}${fmt(e.labels)} ${e.v}`);
    }
    for (const [name, h] of this.hists) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      for (const e of h.values.values()) {
        BUCKETS.forEach((b, i) => out.push(`${name}_bucket${fmt({ ...e.labels, le: String(b) })} ${e.counts[i]}`));
        out.push(`${name}_bucket${fmt({ ...e.labels, le: '+Inf' })} ${e.count}`);
        out.push(`${name}_sum${fmt(e.labels)} ${e.sum}`, `${name}_count${fmt(e.labels)} ${e.count}`);
      }
    }
    return out.join('\n') + '\n';
  }
}
