/**
 * The systemd cgroup driver: in the throwaway VM booted with systemd as PID 1 (scripts/vm VM_INIT=systemd; this
 * host has no running systemd), containerd + runc run a container with runc's systemd cgroup manager — a transient
 * scope unit under system.slice, made by systemd over its bus — with a 1-CPU quota and a 128 MB limit. cpu burn and
 * mem fill in it are measured from that scope's v2 cgroup, and the scope is as before after recover.
 *
 * @lane vm (a throwaway VM: changes nothing on this host, only uses its CPU)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runInVm, SEA, VM_CONTAINERD, vmTest } from '../helpers';

jest.setTimeout(900_000);
const needs = ['/usr/bin/containerd', '/lib/systemd/systemd'].every((f) => fs.existsSync(f))
  ? ''
  : 'containerd or systemd is not installed (apt-get install containerd runc systemd)';

vmTest(
  "a container in a systemd scope (runc's systemd cgroup driver): cpu burn and mem fill counted in the scope",
  () => {
    const script = `
set -u
C="${SEA}"
export CHAOSMETAD_DATA_DIR=/tmp/cmd-data CHAOSMETAD_CACHE_DIR=/tmp/cmd-cache
echo "INIT=$(cat /proc/1/comm)"
${VM_CONTAINERD}
ctr -n default run -d --runc-systemd-cgroup --cgroup system.slice:cm:sd --cpu-quota 100000 --cpu-period 100000 --memory-limit 134217728 --rootfs $R cm-sd /bin/sleep 3600 >/tmp/run.log 2>&1 || { echo "RUN=failed"; cat /tmp/run.log; exit 1; }
sleep 1
PID=$(ctr -n default tasks ls | awk '$1 == "cm-sd" {print $2}')
CGPATH=$(sed -n 's/^0:://p' /proc/$PID/cgroup)
echo "CGPATH=$CGPATH"
echo "SCOPE=$(systemctl show -p ActiveState --value cm-sd.scope) $(systemctl show -p ControlGroup --value cm-sd.scope)"
CG=/sys/fs/cgroup$CGPATH
# per cent of one CPU over the time that really passed, read with the usage in one process (a loaded host's emulated
# VM can overrun a sleep, and each fork there takes a while)
sample() { awk 'FILENAME == "/proc/uptime" { t = $1 * 1000000; next } /^usage_usec/ { u = $2 } END { printf "%.0f %.0f\\n", u, t }' $CG/cpu.stat /proc/uptime; }
share() { read -r a t0 <<<"$(sample)"; sleep "$1"; read -r b t1 <<<"$(sample)"; echo $(( (b - a) * 100 / (t1 - t0) )); }
$C inject cpu burn -p 50 --container-id cm-sd --container-runtime containerd --containerd-namespace default --uid sd-burn > /tmp/inj.txt 2>&1 || { echo "BURN_INJECT=failed"; cat /tmp/inj.txt; }
sleep 2
echo "BURN=$(share 6)"
echo "HELPER_CG=$(cat /proc/$(pgrep -f 'chaosmetad-uid=sd-burn' | head -1)/cgroup)"
$C recover sd-burn >/dev/null || echo "BURN_RECOVER=failed"
sleep 1
echo "AFTER=$(share 2)"
M0=$(cat $CG/memory.current)
$C inject mem fill -b 32MB -m cache --container-id cm-sd --container-runtime containerd --containerd-namespace default --uid sd-mem > /tmp/inj2.txt 2>&1 || { echo "MEM_INJECT=failed"; cat /tmp/inj2.txt; }
echo "MEM_ADDED=$(( ($(cat $CG/memory.current) - M0) / 1048576 ))"
echo "MEM_OF=$($C query --uid sd-mem --format json | grep -o "the container's memory limit ([^)]*)" | head -1)"
$C recover sd-mem >/dev/null || echo "MEM_RECOVER=failed"
sleep 0.5
echo "MEM_BACK=$(( ($(cat $CG/memory.current) - M0) / 1048576 ))"
echo "PROCS=$(wc -l < $CG/cgroup.procs)"
ctr -n default tasks kill -s KILL cm-sd >/dev/null 2>&1
`;
    const v = runInVm(script, { VM_INIT: 'systemd' }).vars;
    console.log(`containerd container in a systemd scope in the VM: ${JSON.stringify(v)}`);
    expect(v.INIT).toBe('systemd');
    expect([v.CONTAINERD, v.RUN, v.BURN_INJECT, v.BURN_RECOVER, v.MEM_INJECT, v.MEM_RECOVER]).toEqual(
      Array(6).fill(undefined),
    );
    // the systemd driver's layout: a transient scope unit of systemd's, under system.slice
    expect(v.CGPATH).toBe('/system.slice/cm-sd.scope');
    expect(v.SCOPE).toBe('active /system.slice/cm-sd.scope');
    expect(v.HELPER_CG).toBe(`0::${v.CGPATH}`);
    // an emulated CPU: its accounting is coarser than the host's (±3 points there)
    expect(Math.abs(Number(v.BURN) - 50)).toBeLessThan(8);
    expect(Number(v.AFTER)).toBeLessThan(5);
    expect(Number(v.MEM_ADDED)).toBeGreaterThanOrEqual(31);
    expect(Number(v.MEM_ADDED)).toBeLessThan(36);
    expect(v.MEM_OF).toMatch(/memory limit \(128/);
    expect(Number(v.MEM_BACK)).toBeLessThan(3);
    expect(v.PROCS).toBe('1');
  },
  needs,
);

vmTest(
  'the shipped unit (scripts/systemd/chaosmetad.service) under systemd: starts, serves an inject and a recover, stops; its token from a credential, shown to no one',
  () => {
    const unit = path.resolve(__dirname, '../../scripts/systemd/chaosmetad.service');
    const script = `
set -u
# as on a booted host: the VM's init leaves / private, and systemd moves a service's credentials (a ramfs it fills
# in a mount namespace of its own) into /run/credentials through mount propagation
mount --make-rshared /
cp "${SEA}" /usr/local/bin/chaosmetad && cp "${unit}" /etc/systemd/system/ && systemctl daemon-reload || { echo "INSTALL=failed"; exit 1; }
systemctl start chaosmetad || echo "START=failed"
C="/usr/local/bin/chaosmetad"
S="--server http://127.0.0.1:29595 --token-file /var/lib/chaosmetad/token"
for i in $(seq 1 200); do $C query $S >/dev/null 2>&1 && break; sleep 0.1; done
PID=$(systemctl show -p MainPID --value chaosmetad)
echo "STATE=$(systemctl show -p ActiveState --value chaosmetad)"
echo "HEAP_OPTION=$(tr '\\0' '\\n' < /proc/$PID/environ | grep '^NODE_OPTIONS=')"
$C inject cpu burn -p 20 --uid unit-burn $S > /tmp/inj.txt 2>&1 || { echo "INJECT=failed"; cat /tmp/inj.txt; }
echo "BURNING=$(pgrep -c -x chaosmeta_burn)"
echo "QUERY=$($C query -u unit-burn $S | grep unit-burn)"
$C recover unit-burn $S > /tmp/rec.txt 2>&1 || { echo "RECOVER=failed"; cat /tmp/rec.txt; }
echo "LEFT=$(pgrep -c -x chaosmeta_burn)"
systemctl stop chaosmetad
echo "STOPPED=$(systemctl show -p ActiveState --value chaosmetad) $(systemctl show -p ExecMainStatus --value chaosmetad)"
echo "WARNINGS=$(journalctl -u chaosmetad -o cat 2>/dev/null | grep -ci warning)"
# the token as a systemd credential (LoadCredential=token:chaosmetad.token): the daemon takes it from
# $CREDENTIALS_DIRECTORY/token; the unit's properties (systemctl show: every user may read them) never hold it
TOK=vm-credential-token-4f8a2c1d9e
mkdir -p /etc/credstore && (umask 077; echo "$TOK" > /etc/credstore/chaosmetad.token)
systemctl start chaosmetad || echo "CRED_START=failed"
T="--server http://127.0.0.1:29595 --token-file /etc/credstore/chaosmetad.token"
for i in $(seq 1 200); do $C query $T >/dev/null 2>&1 && break; sleep 0.1; done
$C query $T >/dev/null 2>&1 && echo "CRED_QUERY=ok" || echo "CRED_QUERY=failed"
$C query $S >/dev/null 2>&1 && echo "OLD_TOKEN=accepted" || echo "OLD_TOKEN=refused"
PID=$(systemctl show -p MainPID --value chaosmetad)
echo "CRED_DIR=$(tr '\0' '\n' < /proc/$PID/environ | grep -c '^CREDENTIALS_DIRECTORY=')"
echo "ENV_TOKEN=$(tr '\0' '\n' < /proc/$PID/environ | grep -c '^CHAOSMETAD_TOKEN=')"
echo "SHOWN=$(systemctl show chaosmetad | grep -c "$TOK")"
systemctl stop chaosmetad
`;
    const v = runInVm(script, { VM_INIT: 'systemd' }).vars;
    console.log(`the shipped systemd unit in the VM: ${JSON.stringify(v)}`);
    expect([v.INSTALL, v.START, v.INJECT, v.RECOVER]).toEqual(Array(4).fill(undefined));
    expect(v.STATE).toBe('active');
    // V8's young generation kept small (RSS after scripts/bench-daemon.js: ~90 MB, ~108 MB without)
    expect(v.HEAP_OPTION).toBe('NODE_OPTIONS=--max-semi-space-size=4');
    expect(Number(v.BURNING)).toBeGreaterThanOrEqual(1);
    expect(v.QUERY).toMatch(/unit-burn.*success/);
    expect(v.LEFT).toBe('0');
    expect(v.STOPPED).toBe('inactive 0');
    expect(v.WARNINGS).toBe('0');
    // with /etc/credstore/chaosmetad.token: that token, not the data dir's, and in no property of the unit
    expect([v.CRED_START, v.CRED_QUERY, v.OLD_TOKEN]).toEqual([undefined, 'ok', 'refused']);
    expect([v.CRED_DIR, v.ENV_TOKEN, v.SHOWN]).toEqual(['1', '0', '0']);
  },
  needs,
);
