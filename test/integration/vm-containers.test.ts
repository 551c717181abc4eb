/**
 * A container on cgroup v2: containerd + runc (Debian's, from this host's / read-only) started inside the throwaway
 * VM of scripts/vm (stock kernel, unified hierarchy only), a container run from a busybox rootfs with a 1-CPU quota
 * and a 128 MB limit; then cpu burn, mem fill and mem oom with --container-runtime containerd measured from its v2
 * cgroup (cpu.stat, memory.current, memory.events), and the cgroup as before after recover; then container pause
 * on CRI-O (the v2 freezer; CRI-O's info endpoint stood in) of a busy container, measured from cpu.stat.
 *
 * @lane vm (a throwaway VM: changes nothing on this host, only uses its CPU)
 */
import * as fs from 'node:fs';
import { runInVm, SEA, VM_CONTAINERD, vmTest } from '../helpers';

jest.setTimeout(900_000);
const needs = fs.existsSync('/usr/bin/containerd')
  ? ''
  : 'containerd is not installed (apt-get install containerd runc)';

vmTest(
  'a containerd container on cgroup v2: cpu burn, mem fill and mem oom counted in its cgroup; CRI-O pause frozen',
  () => {
    const script = `
set -u
C="${SEA}"
export CHAOSMETAD_DATA_DIR=/tmp/cmd-data CHAOSMETAD_CACHE_DIR=/tmp/cmd-cache
echo "CGROUP=$(stat -fc %T /sys/fs/cgroup)"
${VM_CONTAINERD}
ctr -n default run -d --cpu-quota 100000 --cpu-period 100000 --memory-limit 134217728 --rootfs $R cm-v2 /bin/sleep 3600 >/tmp/run.log 2>&1 || { echo "RUN=failed"; cat /tmp/run.log; exit 1; }
sleep 1
PID=$(ctr -n default tasks ls | awk '$1 == "cm-v2" {print $2}')
CG=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$PID/cgroup)
echo "CG=$CG"
# per cent of one CPU over the time that really passed, read with the usage in one process (a loaded host's emulated
# VM can overrun a sleep, and each fork there takes a while)
sample() { awk 'FILENAME == "/proc/uptime" { t = $1 * 1000000; next } /^usage_usec/ { u = $2 } END { printf "%.0f %.0f\\n", u, t }' $CG/cpu.stat /proc/uptime; }
share() { read -r a t0 <<<"$(sample)"; sleep "$1"; read -r b t1 <<<"$(sample)"; echo $(( (b - a) * 100 / (t1 - t0) )); }
echo "IDLE=$(share 2)"
$C inject cpu burn -p 50 --container-id cm-v2 --container-runtime containerd --containerd-namespace default --uid v2-ct-burn > /tmp/inj.txt 2>&1 || { echo "BURN_INJECT=failed"; cat /tmp/inj.txt; }
sleep 2
echo "BURN=$(share 6)"
echo "HELPER_CG=$(cat /proc/$(pgrep -f 'chaosmetad-uid=v2-ct-burn' | head -1)/cgroup)"
$C recover v2-ct-burn >/dev/null || echo "BURN_RECOVER=failed"
sleep 1
echo "AFTER=$(share 2)"
M0=$(cat $CG/memory.current)
$C inject mem fill -b 32MB -m cache --container-id containerd://cm-v2 --containerd-namespace default --uid v2-ct-mem > /tmp/inj2.txt 2>&1 || { echo "MEM_INJECT=failed"; cat /tmp/inj2.txt; }
M1=$(cat $CG/memory.current)
echo "MEM_ADDED=$(( (M1 - M0) / 1048576 ))"
echo "MEM_OF=$($C query --uid v2-ct-mem --format json | grep -o "the container's memory limit ([^)]*)" | head -1)"
$C recover v2-ct-mem >/dev/null || echo "MEM_RECOVER=failed"
sleep 0.5
echo "MEM_BACK=$(( ($(cat $CG/memory.current) - M0) / 1048576 ))"
K0=$(awk '/^oom_kill /{print $2}' $CG/memory.events); K=$K0
$C inject mem oom -m ram --container-id cm-v2 --container-runtime containerd --containerd-namespace default --uid v2-ct-oom > /tmp/inj3.txt 2>&1 || { echo "OOM_INJECT=failed"; cat /tmp/inj3.txt; }
for i in $(seq 1 120); do K=$(awk '/^oom_kill /{print $2}' $CG/memory.events); [ $((K - K0)) -ge 2 ] && break; sleep 0.5; done
echo "OOM_KILLS=$((K - K0))"
$C recover v2-ct-oom >/dev/null || echo "OOM_RECOVER=failed"
sleep 0.5
echo "PROCS=$(wc -l < $CG/cgroup.procs)"
ctr -n default tasks kill -s KILL cm-v2 >/dev/null 2>&1
# container pause on CRI-O (its CRI has no pause: the v2 freezer, cgroup.freeze): a busy container, CRI-O's info
# endpoint stood in on a socket naming its pid
cp -a $R /tmp/rootfs2
ctr -n default run -d --rootfs /tmp/rootfs2 cm-frz /bin/sh -c 'while :; do :; done' >/tmp/run2.log 2>&1 || { echo "RUN2=failed"; cat /tmp/run2.log; }
sleep 1
PID2=$(ctr -n default tasks ls | awk '$1 == "cm-frz" {print $2}')
CG=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$PID2/cgroup)
node -e "require('http').createServer((q, s) => s.end(JSON.stringify({ name: 'cm-frz', pid: Number(process.argv[1]) }))).listen('/tmp/crio.sock')" $PID2 &
for i in $(seq 1 100); do [ -S /tmp/crio.sock ] && break; sleep 0.2; done
FID=$(printf '%064d' 0 | tr 0 f)
echo "BUSY=$(share 2)"
CONTAINER_RUNTIME_ENDPOINT=unix:///tmp/crio.sock $C inject container pause --container-id cri-o://$FID --uid v2-crio-pause > /tmp/inj4.txt 2>&1 || { echo "PAUSE_INJECT=failed"; cat /tmp/inj4.txt; }
echo "FROZEN=$(awk '/^frozen /{print $2}' $CG/cgroup.events)"
echo "PAUSED_USE=$(share 2)"
CONTAINER_RUNTIME_ENDPOINT=unix:///tmp/crio.sock $C recover v2-crio-pause >/dev/null || echo "PAUSE_RECOVER=failed"
echo "THAWED=$(awk '/^frozen /{print $2}' $CG/cgroup.events) $(cat $CG/cgroup.freeze)"
echo "THAWED_USE=$(share 2)"
ctr -n default tasks kill -s KILL cm-frz >/dev/null 2>&1
`;
    const v = runInVm(script).vars;
    console.log(`containerd container on cgroup v2 in the VM: ${JSON.stringify(v)}`);
    expect(v.CGROUP).toBe('cgroup2fs');
    expect([v.CONTAINERD, v.RUN, v.BURN_INJECT, v.BURN_RECOVER, v.MEM_INJECT, v.MEM_RECOVER]).toEqual(
      Array(6).fill(undefined),
    );
    expect([v.OOM_INJECT, v.OOM_RECOVER]).toEqual([undefined, undefined]);
    // the OOM killer acted in the container's v2 memory cgroup (memory.events), and its own process lived
    expect(Number(v.OOM_KILLS)).toBeGreaterThanOrEqual(2);
    expect(v.HELPER_CG).toBe(`0::${v.CG.slice('/sys/fs/cgroup'.length)}`);
    // an emulated CPU: its accounting is coarser than the host's (±3 points there)
    expect(Math.abs(Number(v.BURN) - 50)).toBeLessThan(8);
    expect(Number(v.AFTER)).toBeLessThan(5);
    expect(Number(v.MEM_ADDED)).toBeGreaterThanOrEqual(31);
    expect(Number(v.MEM_ADDED)).toBeLessThan(36);
    expect(v.MEM_OF).toMatch(/memory limit \(128/);
    expect(Number(v.MEM_BACK)).toBeLessThan(3);
    expect(v.PROCS).toBe('1'); // only the container's own process is left in its cgroup
    // CRI-O's pause on v2: cgroup.freeze, the kernel says frozen, a busy container uses nothing; then thawed
    expect([v.RUN2, v.PAUSE_INJECT, v.PAUSE_RECOVER]).toEqual([undefined, undefined, undefined]);
    expect(Number(v.BUSY)).toBeGreaterThan(30);
    expect([v.FROZEN, v.PAUSED_USE]).toEqual(['1', '0']);
    expect(v.THAWED).toBe('0 0');
    expect(Number(v.THAWED_USE)).toBeGreaterThan(30);
  },
  needs,
);
