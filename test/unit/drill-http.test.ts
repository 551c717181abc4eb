/**
 * The drill API over HTTP (src/drill/http.ts) against a stand-in of the daemon's routes: the drill is sent as
 * written, run() passes on each event once (also when the runner dropped its oldest), calls onUpdate at each poll,
 * returns once the drill has ended; Ctrl-C posts one abort and keeps polling until the drill has ended.
 */
import { checked } from '../../src/drill/file';
import { HttpDrillApi } from '../../src/drill/http';
import type { DrillResult } from '../../src/drill/types';

const TEXT = 'name: stand-in\nfaults:\n  lanes:\n    - { name: a, steps: [{ wait: 1s }] }\n';

function result(status: DrillResult['status'], events: Array<[number, string]>): DrillResult {
  return {
    id: 'd-12345678',
    name: 'stand-in',
    status,
    message: '',
    started: 1,
    phase: status === 'running' ? 'faults' : 'done',
    points: {},
    durations: {},
    baseline: {},
    expectations: [],
    faults: [],
    series: [],
    events: events.map(([t, text]) => ({ t, text })),
    runner: { host: 'h', pid: 1 },
  };
}

/** An HttpDrillApi whose requests are answered by `answer` (route, body) and recorded. */
function standIn(answer: (route: string, body: Record<string, unknown>) => unknown) {
  const api = new HttpDrillApi({ server: 'http://127.0.0.1:1' });
  const calls: Array<[string, Record<string, unknown>]> = [];
  (api as unknown as { post: (r: string, b: Record<string, unknown>) => Promise<unknown> }).post = async (r, b) => {
    calls.push([r, b]);
    return answer(r, b);
  };
  return { api, calls };
}

test('run: the drill as written; every event once (the oldest dropped on the way); the final result', async () => {
  // what the daemon's store shows at each poll: two events at the same ms, then the runner drops the first
  const polls = [
    result('running', [[10, 'started']]),
    result('running', [
      [10, 'started'],
      [20, 'inject a'],
      [20, 'inject b'],
    ]),
    result('running', [
      [20, 'inject b'],
      [30, 'recovered'],
    ]),
    result('passed', [
      [20, 'inject b'],
      [30, 'recovered'],
      [40, 'passed: every expectation held'],
    ]),
  ];
  let i = 0;
  const { api, calls } = standIn((route) => (route === 'v1/drill/run' ? { id: 'd-12345678' } : { drill: polls[i++] }));
  const events: string[] = [];
  const updates: string[] = [];
  let started = '';
  const r = await api.run(checked('/x/drill.yaml', TEXT), {
    source: '/x/drill.yaml',
    onStart: (id) => (started = id),
    onEvent: (t, text) => events.push(`${t} ${text}`),
    onUpdate: (u) => updates.push(u.status),
  });
  expect(r.status).toBe('passed');
  expect(started).toBe('d-12345678');
  expect(calls[0]).toEqual(['v1/drill/run', { drill: TEXT, source: '/x/drill.yaml' }]);
  expect(calls.slice(1).map((c) => c[1])).toEqual(polls.map(() => ({ id: 'd-12345678' })));
  expect(events).toEqual([
    '10 started',
    '20 inject a',
    '20 inject b',
    '30 recovered',
    '40 passed: every expectation held',
  ]);
  expect(updates).toEqual(['running', 'running', 'running', 'passed']);
});

test('Ctrl-C: one abort posted, polled on until the drill has ended (aborted)', async () => {
  const ac = new AbortController();
  let polls = 0;
  let aborted = false;
  const { api, calls } = standIn((route) => {
    if (route === 'v1/drill/run') return { id: 'd-12345678' };
    if (route === 'v1/drill/abort') {
      aborted = true;
      return { id: 'd-12345678', status: 'aborted', recovered: [] };
    }
    if (++polls === 2) ac.abort();
    // the runner takes a poll more to recover everything
    return { drill: result(aborted && polls > 3 ? 'aborted' : 'running', []) };
  });
  const r = await api.run(checked('/x/drill.yaml', TEXT), { signal: ac.signal });
  expect(r.status).toBe('aborted');
  expect(calls.filter((c) => c[0] === 'v1/drill/abort')).toEqual([['v1/drill/abort', { id: 'd-12345678' }]]);
  expect(polls).toBe(4);
});

test('a drill not read from its text cannot be sent', async () => {
  const { api } = standIn(() => ({ id: 'x' }));
  const d = checked('/x/drill.yaml', TEXT);
  await expect(api.plan({ ...d })).rejects.toThrow(/must be read from its file/);
});
