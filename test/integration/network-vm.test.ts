/**
 * The netem faults, measured in the throwaway VM of scripts/vm (stock Debian kernel with sch_netem; this
 * machine's kernel has none): RTT for delay and jitter, loss rate, duplicates, corruption — between two network
 * namespaces inside the VM, then the interface back to its default qdisc. The single executable runs the faults:
 * under emulation it starts in a third of the time of node + lib/ read over 9p.
 *
 * @lane vm (a throwaway VM: changes nothing on this host, only uses its CPU)
 */
import { runInVm, SEA, vmTest } from '../helpers';

jest.setTimeout(900_000);
vmTest(
  'netem faults measured in the VM: delay, jitter, loss, duplicate, corrupt, reorder, the headline example on lo; recover restores the qdisc',
  () => {
    const script = `
set -u
C="ip netns exec a ${SEA}"
export CHAOSMETAD_DATA_DIR=/tmp/cmd-data CHAOSMETAD_CACHE_DIR=/tmp/cmd-cache
ip netns add a; ip netns add b
ip -n a link add va type veth peer name vb netns b
ip -n a addr add 10.77.0.1/24 dev va; ip -n b addr add 10.77.0.2/24 dev vb
ip -n a link set va up; ip -n b link set vb up; ip -n a link set lo up; ip -n b link set lo up
P="ip netns exec a /.vm/busybox ping -q -c"
rtt() { $P "$1" -i 0.02 10.77.0.2 | awk -F'[/ ]+' '/min\\/avg\\/max/{print $(NF-2)}'; }
lossrate() { $P "$1" -i 0.01 -W 1 10.77.0.2 | awk '/packet loss/{for(i=1;i<=NF;i++) if ($i ~ /%$/) print $i+0}'; }
echo "BASE_RTT=$(rtt 10)"
$C inject network delay -i va -l 100ms --uid vm-delay-1 >/dev/null || echo "DELAY_INJECT=failed"
echo "DELAY_RTT=$(rtt 20)"
echo "QDISC_DELAY=$(ip netns exec a tc qdisc show dev va | grep -c netem)"
$C recover vm-delay-1 >/dev/null || echo "DELAY_RECOVER=failed"
$C inject network delay -i va -l 50ms -j 20ms --uid vm-jitter-1 >/dev/null || echo "JITTER_INJECT=failed"
echo "JITTER=$($P 40 -i 0.02 10.77.0.2 | awk -F'[/ ]+' '/min\\/avg\\/max/{print $(NF-3) " " $(NF-1)}')"
$C recover vm-jitter-1 >/dev/null
$C inject network loss -i va -p 30 --uid vm-loss-1 >/dev/null || echo "LOSS_INJECT=failed"
echo "LOSS=$(lossrate 1000)"
$C recover vm-loss-1 >/dev/null
$C inject network duplicate -i va -p 50 --uid vm-dup-1 >/dev/null || echo "DUP_INJECT=failed"
echo "DUPS=$(ip netns exec a /.vm/busybox ping -c 40 -i 0.02 10.77.0.2 | grep -c DUP)"
$C recover vm-dup-1 >/dev/null
$C inject network corrupt -i va -p 50 --uid vm-corrupt-1 >/dev/null || echo "CORRUPT_INJECT=failed"
echo "CORRUPT_LOSS=$(lossrate 200)"
$C recover vm-corrupt-1 >/dev/null
$C inject network loss -i va -p 100 --dst-port 9 --uid vm-filter-1 >/dev/null || echo "FILTER_INJECT=failed"
echo "FILTERED_LOSS=$(lossrate 50)"
$C recover vm-filter-1 >/dev/null
$C inject network reorder -i va -l 50ms -g 5 --uid vm-reorder-1 >/dev/null || echo "REORDER_INJECT=failed"
echo "REORDERED=$(ip netns exec a /.vm/busybox ping -c 40 -i 0.01 10.77.0.2 | awk -F'seq=' '/seq=/{split($2,x," "); if (x[1] < last) n++; last=x[1]} END{print n+0}')"
$C recover vm-reorder-1 >/dev/null
# the headline example of the original, exactly as written (on the VM's own lo)
$C inject network delay -i lo -l 2s --uid test-fg3g4 -t 10m >/dev/null || echo "HEADLINE_INJECT=failed"
echo "HEADLINE_QUERY=$($C query | grep -c 'test-fg3g4.*network.*delay.*success')"
echo "HEADLINE_RTT=$(ip netns exec a /.vm/busybox ping -q -c 1 -w 15 127.0.0.1 | awk -F'[/ ]+' '/min\\/avg\\/max/{print $(NF-2)}')"
$C recover test-fg3g4 >/dev/null || echo "HEADLINE_RECOVER=failed"
echo "LO_AFTER=$(ip netns exec a tc qdisc show dev lo | head -1)"
echo "AFTER_RTT=$(rtt 10)"
echo "QDISC_AFTER=$(ip netns exec a tc qdisc show dev va | head -1)"
`;
    const v = runInVm(script).vars;
    console.log(`netem in the VM: ${JSON.stringify(v)}`);
    expect(Object.keys(v).filter((k) => k.endsWith('_INJECT') || k.endsWith('_RECOVER'))).toEqual([]);
    const base = Number(v.BASE_RTT);
    expect(Math.abs(Number(v.DELAY_RTT) - base - 100) / 100).toBeLessThan(0.1);
    const [min, max] = v.JITTER.split(' ').map(Number);
    expect(max - min).toBeGreaterThan(10); // jitter spreads the RTTs
    // 1 000 pings at 30 %: one standard deviation is 1.45 points; ±5 is 3.4 of them
    expect(Math.abs(Number(v.LOSS) - 30)).toBeLessThan(5);
    expect(Number(v.DUPS)).toBeGreaterThan(5);
    expect(Number(v.CORRUPT_LOSS)).toBeGreaterThan(20);
    expect(Number(v.FILTERED_LOSS)).toBeLessThan(5); // ICMP does not match --dst-port 9
    expect(Number(v.REORDERED)).toBeGreaterThan(0); // replies came back out of sequence
    expect(v.HEADLINE_QUERY).toBe('1');
    expect(Number(v.HEADLINE_RTT)).toBeGreaterThan(4000); // 2 s each way on lo
    expect(v.LO_AFTER).toMatch(/^qdisc noqueue 0: root/);
    expect(Number(v.AFTER_RTT)).toBeLessThan(base + 20);
    expect(v.QDISC_AFTER).toMatch(/^qdisc noqueue 0: root/);
  },
);
