#!/usr/bin/env bash
# The integration tests, in lanes. They share this host, so host suites run one at a time. The VM suites (a
# throwaway VM: they change nothing here, they only use the CPU) run beside the "quiet" host suites, which measure
# no CPU, rate or latency and do not exhaust a host-wide limit; the measuring suites then run alone.
# With --unit first (npm test), the test type-check and the unit tests run first in the host lane, beside the VM
# lane (which needs only the build), in one worker (the VM keeps its core): they measure nothing. Other arguments
# go to every jest run (e.g. --ci).
# Exit 1 when any lane (or the unit tests) failed.
set -u
cd "$(dirname "$0")/.."
unit=0
if [ "${1:-}" = --unit ]; then
  unit=1
  shift
fi
jest=(node node_modules/jest/bin/jest.js --runInBand "$@")
# Each suite names its lane in its docblock (@lane quiet|measuring|vm, and why): scripts/lanes.js reads them.
quiet=$(node scripts/lanes.js quiet) || exit 1
measuring=$(node scripts/lanes.js measuring) || exit 1
vmlog=$(mktemp /tmp/chaosmetad-vm-lane.XXXXXX)
trap 'rm -f "$vmlog"' EXIT
start=$(date +%s)
"${jest[@]}" --selectProjects vm >"$vmlog" 2>&1 &
vm=$!
unit_rc=0
if [ "$unit" = 1 ]; then
  { node node_modules/typescript/bin/tsc -p test/tsconfig.json --noEmit &&
    node node_modules/jest/bin/jest.js --selectProjects unit --maxWorkers=1 "$@"; } || unit_rc=1
  echo "--- unit tests: exit $unit_rc ($(($(date +%s) - start)) s so far) ---"
fi
"${jest[@]}" --selectProjects integration --testPathPatterns "$quiet"
quiet_rc=$?
wait "$vm"
vm_rc=$?
echo "--- the VM lane (ran beside the quiet suites) ---"
cat "$vmlog"
echo "--- the measuring suites, alone ($(($(date +%s) - start)) s so far) ---"
"${jest[@]}" --selectProjects integration --testPathPatterns "$measuring"
rest_rc=$?
echo "lanes: unit $unit_rc, quiet $quiet_rc, vm $vm_rc, measuring $rest_rc; $(($(date +%s) - start)) s"
scripts/stop-runtimes.sh # the runtimes started for the tests (none that ran before)
[ "$unit_rc$quiet_rc$vm_rc$rest_rc" = 0000 ]
