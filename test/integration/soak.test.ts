/**
 * The soak script, short: the daemon's inject/recover cycles leak no files, fds, helpers, cgroups or memory.
 *
 * @lane measuring (measures CPU, rates, latency or a host-wide limit: runs alone)
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT, SEA, hostSettles, hostState } from '../helpers';

jest.setTimeout(300_000);

test('1 200 daemon cycles of file and cpu faults: no leaks, RSS within 20 % of its value after 400', async () => {
  const before = hostState();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'soak.js'), '--exe', SEA], {
    encoding: 'utf8',
    env: { ...process.env, SOAK_CYCLES: '1200', SOAK_WARM: '400' },
    timeout: 280_000,
  });
  console.log(r.stdout);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(result).toMatchObject({
    cycles: 1200,
    failures: 0,
    helpers_left: 0,
    cgroups_left: 0,
    files_left: 0,
    work_dirs_left: 0,
    live_experiments: 0,
  });
  expect(result.fds_end).toBeLessThanOrEqual(result.fds_start + 2);
  expect(result.rss_growth_pct).toBeLessThanOrEqual(20);
  expect(r.status).toBe(0);
  expect(await hostSettles(before)).toBe(before);
});
