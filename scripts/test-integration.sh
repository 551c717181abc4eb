#!/usr/bin/env bash
# The integration tests, in lanes. They share this host, so host suites run one at a time. The VM suites (a
# throwaway VM: they change nothing here, they only use the CPU) run beside the "quiet" host suites, which measure
# no CPU, rate or latency and do not exhaust a host-wide limit; the measuring suites then run alone.
# Extra arguments go to every jest run (e.g. --ci). Exit 1 when any lane failed.
set -u
cd "$(dirname "$0")/.."
jest=(node node_modules/jest/bin/jest.js --runInBand "$@")
# (not process: its --key tests assume no other process names chaosmetad, and the VM's qemu has the word in its
# paths — a --key test once stopped it)
# (jvm: its delays are sleeps, ±20 ms; kube: rates are tbf's and its one CPU share has room beside the VM's core)
# (cri: its CPU reading is "none at all" while frozen, "some" after)
quiet='test/integration/(killcampaign|hostile|attack-restore|file|file-restores|file-attacks|daemon-auth|dns|concurrency|server|helper|reboot|jvm|kube|cri|containerd|attack-misc|attack-daemon|attack-jvm|attack-kube|attack-metrics)\.test\.ts$'
vmsuites='test/integration/(network-vm|vm-cgroup2|vm-containers|vm-systemd|sea-vm)\.test\.ts$' # as jest.config.js
vmlog=$(mktemp /tmp/chaosmetad-vm-lane.XXXXXX)
trap 'rm -f "$vmlog"' EXIT
start=$(date +%s)
"${jest[@]}" --selectProjects vm >"$vmlog" 2>&1 &
vm=$!
"${jest[@]}" --selectProjects integration --testPathPatterns "$quiet"
quiet_rc=$?
wait "$vm"
vm_rc=$?
echo "--- the VM lane (ran beside the quiet suites) ---"
cat "$vmlog"
echo "--- the measuring suites, alone ($(($(date +%s) - start)) s so far) ---"
"${jest[@]}" --selectProjects integration --testPathIgnorePatterns "$quiet" "$vmsuites"
rest_rc=$?
echo "integration lanes: quiet $quiet_rc, vm $vm_rc, measuring $rest_rc; $(($(date +%s) - start)) s"
scripts/stop-runtimes.sh # the runtimes started for the tests (none that ran before)
[ "$quiet_rc$vm_rc$rest_rc" = 000 ]
