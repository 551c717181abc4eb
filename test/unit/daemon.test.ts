import { nextRun, validCron } from '../../src/engine/schedules';
import { Metrics } from '../../src/server/metrics';
import { routes } from '../../src/server/http';
import openapi from '../../src/server/openapi.json';

test('the OpenAPI document lists exactly the routes the daemon serves', () => {
  const served = Object.keys(routes({} as never, new Metrics())).concat('GET /metrics', 'GET /openapi.json');
  const documented = Object.entries(openapi.paths).flatMap(([p, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
  );
  expect(documented.sort()).toEqual(served.sort());
});

test('cron: standard 5 fields, 6 with seconds, @macros; bad ones name --schedule', () => {
  expect(validCron(' */10 * * * * ')).toBe('*/10 * * * *');
  const t = Date.UTC(2026, 0, 1, 0, 0, 0);
  expect(nextRun('*/10 * * * *', t + 1000) - t).toBe(10 * 60_000);
  expect(nextRun('*/5 * * * * *', t + 1000) - t).toBe(5000);
  expect(validCron('@hourly')).toBe('@hourly');
  for (const bad of [
    '',
    '61 * * * *',
    '* * *',
    '; rm -rf /',
    '$(id) * * * *',
    '* * * * * * *',
    'x'.repeat(300),
    '* * * *\n*',
    42,
  ]) {
    expect(() => validCron(bad)).toThrow(/--schedule/);
  }
});

test('metrics render in the Prometheus text format', () => {
  const m = new Metrics();
  m.inc('chaosmetad_injects_total', 'Injects', { target: 'cpu', fault: 'burn', result: 'ok' });
  m.inc('chaosmetad_injects_total', 'Injects', { target: 'cpu', fault: 'burn', result: 'ok' });
  m.observe('chaosmetad_http_request_duration_seconds', 'Latency', { route: '/v1/x' }, 0.003);
  const text = m.render([
    {
      name: 'chaosmetad_experiments',
      help: 'By status',
      values: [{ labels: { status: 'success', target: 'a"b' }, v: 3 }],
    },
  ]);
  expect(text).toContain(
    '# TYPE chaosmetad_injects_total counter\nchaosmetad_injects_total{target="cpu",fault="burn",result="ok"} 2',
  );
  expect(text).toContain('chaosmetad_experiments{status="success",target="a\\"b"} 3');
  expect(text).toContain('chaosmetad_http_request_duration_seconds_bucket{route="/v1/x",le="0.0025"} 0');
  expect(text).toContain('chaosmetad_http_request_duration_seconds_bucket{route="/v1/x",le="0.005"} 1');
  expect(text).toContain('chaosmetad_http_request_duration_seconds_count{route="/v1/x"} 1');
  for (const line of text.trim().split('\n'))
    expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [0-9.e+-]+)$/);
});
