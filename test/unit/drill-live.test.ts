/**
 * The live view of `drill run` on a terminal: the phase, each lane's step, every probe's last value and whether it
 * held, the points so far — redrawn in place (cursor up, lines cleared), never more lines than it drew before
 * left on the screen.
 */
import { LiveView } from '../../src/drill/live';
import { parseDrill } from '../../src/drill/file';
import type { DrillResult } from '../../src/drill/types';

jest.useFakeTimers();

test('draws the phase, lanes, probes and points, and redraws in place', () => {
  const r = parseDrill(`name: live
probes: [{ name: web, tcp: { host: 127.0.0.1, port: 80 } }]
faults: { lanes: [{ name: net, steps: [{ wait: 1s }, { inject: { target: cpu, fault: burn, args: { percent: 5 }, duration: 5s } }] }] }
`);
  if (!('drill' in r)) throw new Error('invalid');
  let written = '';
  const out = { columns: 100, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
  const view = new LiveView(r.drill, out);
  view.start('d-12345678');
  const now = Date.now();
  const result = {
    started: now - 10_000,
    phase: 'faults',
    faults: [{ lane: 'net', step: 1, target: 'cpu', fault: 'burn', state: 'injected', start: now - 2000 }],
    series: [{ name: 'web', unit: 'ms', samples: [{ t: now, value: 12.345, ok: true }] }],
    baseline: { web: 3.2 },
    points: { inject: now - 2000, effect: now - 1000 },
  } as unknown as DrillResult;
  view.update(result);
  view.event(now, 'lane net: inject cpu burn');
  jest.advanceTimersByTime(300);
  const first = written;
  expect(first).toContain('drill live');
  expect(first).toContain('phase: faults');
  expect(first).toContain('lane net: step 2/2: cpu burn injected 2s');
  expect(first).toMatch(/✔.*web\s+12\.35 ms\s+baseline 3\.2/);
  expect(first).toContain('effect +1.0s');
  expect(first).toContain('lane net: inject cpu burn');
  written = '';
  jest.advanceTimersByTime(250);
  const lines = first.split('\n').length - 1;
  expect(written.startsWith(`\x1b[${lines}A`)).toBe(true);
  view.stop();
});
