/** An experiment row for tests that write the store directly (store unit tests, retention and metrics at scale). */
import type { ExperimentRow } from '../src/store/store';
import { formatTime } from '../src/util/units';

/** A cpu burn row, live (success/injected) unless `over` says otherwise; its times from create_ms/update_ms or now. */
export function experimentRow(uid: string, over: Partial<ExperimentRow> = {}): ExperimentRow {
  const now = over.update_ms ?? over.create_ms ?? Date.now();
  return {
    uid,
    target: 'cpu',
    fault: 'burn',
    args: '{}',
    runtime: '{}',
    status: 'success',
    phase: 'injected',
    creator: 'root',
    timeout: '',
    deadline: null,
    error: '',
    create_time: formatTime(now),
    update_time: formatTime(now),
    create_ms: now,
    update_ms: now,
    container_id: '',
    container_runtime: '',
    owner_pid: null,
    lease_ms: null,
    lease_until: null,
    schedule_id: null,
    ...over,
  };
}
