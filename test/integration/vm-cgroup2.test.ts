/**
 * cgroup v2 paths (diskio limit/hang through io.max) inside the throwaway VM of scripts/vm: a stock Debian
 * kernel with only the unified hierarchy. The host's / (and so this checkout and node) is visible read-only there.
 *
 * @lane vm (a throwaway VM: changes nothing on this host, only uses its CPU)
 */
import { HELPER, runInVm, SEA, vmTest } from '../helpers';

jest.setTimeout(900_000);
vmTest('diskio limit and hang on cgroup v2 (io.max): measured, and the host put back', () => {
  const script = `
set -u
C="${SEA}"
export CHAOSMETAD_DATA_DIR=/tmp/cmd-data CHAOSMETAD_CACHE_DIR=/tmp/cmd-cache
echo "CGROUP=$(stat -fc %T /sys/fs/cgroup)"
/.vm/modprobe loop 2>/dev/null
truncate -s 300M /tmp/disk.img && LOOP=$(losetup -f --show /tmp/disk.img) && mkfs.ext4 -q "$LOOP" && mkdir -p /mnt/t && mount "$LOOP" /mnt/t || { echo "SETUP=failed"; exit 1; }
cp ${HELPER} /tmp/io-victim
cd /mnt/t
# 64 KiB direct writes: the throttle lets whole bios through, so with 1 MiB ones a 6 s window at 1 MiB/s was off by
# one to three bios (+17..49 %); at 64 KiB the granularity is 1 %
/tmp/io-victim diskio file=/mnt/t/f mode=write block=65536 size=33554432 >/dev/null &
V=$!
cd /
# this kernel's /proc/PID/io stays at 0; only the victim writes to the loop device, so count its sectors
DEVSTAT=/sys/block/$(basename "$LOOP")/stat
# bytes per second over the time that really passed, read with the count in one process: a loaded host's emulated
# VM can overrun a 6 s sleep by a second or more (one CI run measured 1.25 MiB/s "per 6 s" at a 1 MiB/s limit)
sample() { awk 'FILENAME == "/proc/uptime" { t = $1 * 1000000; next } { s = $7 } END { printf "%.0f %.0f\\n", s * 512, t }' "$DEVSTAT" /proc/uptime; }
rate() { read -r a t0 <<<"$(sample)"; sleep "$1"; read -r b t1 <<<"$(sample)"; echo $(( (b - a) * 1000000 / (t1 - t0) )); }
sleep 2
echo "CG_BEFORE=$(cat /proc/$V/cgroup)"
echo "FREE=$(rate 3)"
$C inject diskio limit --pid-list $V --write-bytes 1MB --uid v2-limit-1 || echo "INJECT=failed"
echo "IOMAX=$(cat /sys/fs/cgroup/chaosmetad-v2-limit-1/io.max)"
echo "CG_DURING=$(cat /proc/$V/cgroup)"
sleep 2
echo "LIMITED=$(rate 6)"
echo "CHECK=$($C check v2-limit-1)"
$C recover v2-limit-1 || echo "RECOVER=failed"
echo "CG_AFTER=$(cat /proc/$V/cgroup)"
echo "AFTER=$(rate 3)"
$C inject diskio hang --pid-list $V --mode write --uid v2-hang-1 || echo "INJECT_HANG=failed"
sleep 2
echo "HUNG=$(rate 3)"
$C recover v2-hang-1 || echo "RECOVER_HANG=failed"
echo "RESUMED=$(rate 3)"
echo "LEFT=$(ls /sys/fs/cgroup | grep -c chaosmetad)"
echo "SUBTREE=$(cat /sys/fs/cgroup/cgroup.subtree_control)"
kill $V; wait
`;
  const v = runInVm(script).vars;
  console.log(`cgroup v2 in the VM: ${JSON.stringify(v)}`);
  expect(v.CGROUP).toBe('cgroup2fs');
  expect(v.INJECT).toBeUndefined();
  expect(v.IOMAX).toMatch(/^7:\d+ rbps=max wbps=1048576 riops=max wiops=max$/);
  expect(v.CG_DURING).toBe('0::/chaosmetad-v2-limit-1');
  const limited = Number(v.LIMITED);
  expect(Math.abs(limited - 1048576) / 1048576).toBeLessThan(0.2);
  expect(Number(v.FREE)).toBeGreaterThan(3 * 1048576);
  expect(v.CHECK).toMatch(/in-place/);
  expect(v.CG_AFTER).toBe(v.CG_BEFORE);
  expect(Number(v.AFTER)).toBeGreaterThan(3 * 1048576);
  expect(Number(v.HUNG)).toBeLessThan(65536);
  expect(Number(v.RESUMED)).toBeGreaterThan(3 * 1048576);
  expect(v.LEFT).toBe('0');
  expect(v.SUBTREE ?? '').not.toMatch(/\bio\b/); // the io controller we enabled is disabled again
});
