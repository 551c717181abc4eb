/**
 * The single executable on another CPU: the throwaway VM emulates a CPU model with other features than the build
 * machine's, so nothing in the executable may depend on the CPU it was built on (a V8 start-up snapshot did: it
 * died with exit 14 "Invalid snapshot data"). dist/chaosmetad itself — not bin/chaosmetad — runs there: version,
 * inject, query, check, recover; and the code cache made at build time is used there too.
 *
 * @lane vm (a throwaway VM: changes nothing on this host, only uses its CPU)
 */
import { runInVm, SEA, vmTest } from '../helpers';

jest.setTimeout(900_000);
vmTest('the single executable runs on another CPU model: version, inject, query, check, recover', () => {
  const script = `
set -u
export CHAOSMETAD_DATA_DIR=/tmp/cmd-sea-data CHAOSMETAD_CACHE_DIR=/tmp/cmd-sea-cache
grep -m1 'model name' /proc/cpuinfo | sed 's/^.*: /CPU=/'
CHAOSMETAD_DEBUG=1 ${SEA} version > /tmp/v.json 2>/tmp/v.err; echo "VERSION_EXIT=$?"; echo "VERSION=$(cat /tmp/v.json)"
echo "CODE_CACHE=$(cat /tmp/v.err)"
echo hello > /tmp/target.txt
${SEA} inject file append -p /tmp/target.txt -c vm-line --uid sea-vm-1 > /tmp/inj.txt 2>&1; echo "INJECT_EXIT=$?"; echo "INJECT=$(tr '\\n' ' ' < /tmp/inj.txt)"
echo "DURING=$(tr '\\n' '|' < /tmp/target.txt)"
echo "QUERY=$(${SEA} query --uid sea-vm-1 --format json)"
echo "CHECK=$(${SEA} check sea-vm-1)"
${SEA} recover sea-vm-1 > /dev/null 2>&1; echo "RECOVER_EXIT=$?"
echo "AFTER=$(tr '\\n' '|' < /tmp/target.txt)"
`;
  const r = runInVm(script);
  console.log(`single executable in the VM (${r.vars.CPU ?? '?'}): ${JSON.stringify(r.vars)}`);
  expect(r.vars.VERSION_EXIT).toBe('0');
  expect(JSON.parse(r.vars.VERSION)).toHaveProperty('version');
  expect(r.vars.CODE_CACHE).toBe('chaosmetad: code cache used'); // bytecode: no CPU features in it
  expect(r.vars.INJECT_EXIT).toBe('0');
  expect(r.vars.INJECT).toMatch(/uid: sea-vm-1/);
  expect(r.vars.DURING).toBe('hello|vm-line|');
  expect(JSON.parse(r.vars.QUERY).experiments[0]).toMatchObject({ uid: 'sea-vm-1', status: 'success' });
  expect(r.vars.CHECK).toMatch(/effect: in-place/);
  expect(r.vars.RECOVER_EXIT).toBe('0');
  expect(r.vars.AFTER).toBe('hello|');
});
