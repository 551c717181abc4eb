/**
 * A drill with netem in the throwaway VM (this machine's kernel has no sch_netem): a real HTTP service (busybox
 * httpd) in a network namespace behind a veth, a drill run by the single executable in the other namespace with a
 * steady state, traffic (autocannon, bundled) and `network delay` on the service's link — the http probe's latency
 * and the traffic's p50 show the effect, the effect point lands within 2 × the interval of the inject, and the
 * recovery point is found after the recover; the link's qdisc is back as it was.
 *
 * @lane vm (a throwaway VM: changes nothing on this host, only uses its CPU)
 */
import { runInVm, SEA, vmTest } from '../helpers';

jest.setTimeout(900_000);

const DRILL = `
name: vm-web-delay
interval: 500ms
probes:
  - name: page
    http: { url: "http://10.77.0.2:8080/page.bin", timeout: 5s }
steady_state: { samples: 4, timeout: 60s, criteria: [{ probe: page, ok: true }, { probe: page, below: 150 }] }
traffic: { url: "http://10.77.0.2:8080/page.bin", rate: 10, concurrency: 2 }
faults:
  lease: 20s
  lanes:
    - name: net
      steps:
        - inject: { target: network, fault: delay, args: { interface: va, latency: 200ms, dst_ip: 10.77.0.2 }, duration: 8s }
measure:
  effect: { criteria: [{ probe: page, above: "+150" }], within: 10s }
  recovery: { criteria: [{ probe: page, below: 150, for: 2 }], within: 30s }
abort: [{ probe: traffic.success, below: 10, for: 10 }]
`;

vmTest(
  'a web drill with netem in the VM: effect within 2 intervals of the inject, recovery found, qdisc restored',
  () => {
    const script = `
set -u
export CHAOSMETAD_DATA_DIR=/tmp/cmd-data CHAOSMETAD_CACHE_DIR=/tmp/cmd-cache
ip netns add a; ip netns add b
ip -n a link add va type veth peer name vb netns b
ip -n a addr add 10.77.0.1/24 dev va; ip -n b addr add 10.77.0.2/24 dev vb
ip -n a link set va up; ip -n b link set vb up; ip -n a link set lo up; ip -n b link set lo up
mkdir -p /tmp/www && /.vm/busybox dd if=/dev/zero of=/tmp/www/page.bin bs=1024 count=16 2>/dev/null
ip netns exec b /.vm/busybox httpd -p 10.77.0.2:8080 -h /tmp/www
cat > /tmp/drill.yaml <<'DRILL'
${DRILL}
DRILL
echo "QDISC_BEFORE=$(ip netns exec a tc qdisc show dev va | head -1)"
ip netns exec a ${SEA} drill run /tmp/drill.yaml --out /tmp/out --plain > /tmp/run.log 2>&1
echo "DRILL_EXIT=$?"
echo "RESULT=$(tr -d '\\n' < /tmp/out/result.json)"
echo "QDISC_AFTER=$(ip netns exec a tc qdisc show dev va | head -1)"
echo "LIVE=$(ip netns exec a ${SEA} query --status success | grep -c success)"
sed 's/^/LOG: /' /tmp/run.log | tail -20
`;
    const r = runInVm(script);
    const v = r.vars;
    const res = JSON.parse(v.RESULT ?? '{}') as {
      status: string;
      points: Record<string, string>;
      durations: Record<string, number | null>;
      baseline: Record<string, number>;
      series: Array<{ name: string; samples: Array<[string, number | null, boolean]> }>;
    };
    console.log(`drill in the VM: exit ${v.DRILL_EXIT}, ${JSON.stringify({ ...res, series: undefined })}`);
    if (v.DRILL_EXIT !== '0')
      console.log(
        r.out
          .split('\n')
          .filter((l) => l.startsWith('LOG: '))
          .join('\n'),
      );
    expect(v.DRILL_EXIT).toBe('0');
    expect(res.status).toBe('passed');
    // the effect point: within 2 × the interval (500 ms) of the inject
    expect(res.durations.effect_ms).toBeLessThanOrEqual(1000);
    expect(res.durations.recover_ms).not.toBeNull();
    // the probe's latency during the fault: + 200 ms (each request crosses the delayed link twice: SYN and request)
    const page = res.series.find((s) => s.name === 'page')!;
    // (the window's ends kept clear of the inject's and the recover's own run: emulated, each takes a second or more)
    const during = page.samples
      .filter(
        ([t]) =>
          Date.parse(t) > Date.parse(res.points.inject) + 1000 &&
          Date.parse(t) < Date.parse(res.points.recovered) - 2000,
      )
      .map(([, x]) => x!);
    expect(during.length).toBeGreaterThan(5);
    expect(Math.min(...during) - res.baseline.page).toBeGreaterThan(180);
    // the traffic saw it too
    const p50 = res.series.find((s) => s.name === 'traffic.p50')!;
    expect(p50.samples.some(([, x]) => (x ?? 0) > res.baseline['traffic.p50'] + 150)).toBe(true);
    expect(v.QDISC_AFTER).toBe(v.QDISC_BEFORE);
    expect(v.LIVE).toBe('0');
  },
);
