/**
 * The kube port's agent command line: a drill file's snake_case args reach the agent as the fault's own kebab-case
 * flags (the agent's CLI refuses `--dst_port`), and the command a person sees is the `kube inject` one.
 */
import { findFault } from '../../src/faults';
import { injectArgv } from '../../src/kube/agent-api';
import { argFlags, flagArgs } from '../../src/drill/ports';
import { kebab } from '../../src/util/flags';

test("a kube step's snake_case args become the agent's kebab-case flags, each one the fault declares", () => {
  const args = { interface: 'eth0', rate: '1mbit', dst_port: '8080', src_ip: '10.0.0.1' };
  const argv = injectArgv({ target: 'network', fault: 'limit', args: flagArgs(args), uid: 'd-abcdefgh-1-1-1' });
  expect(argv.slice(0, 7)).toEqual([
    'inject',
    'network',
    'limit',
    '--interface=eth0',
    '--rate=1mbit',
    '--dst-port=8080',
    '--src-ip=10.0.0.1',
  ]);
  const declared = new Set(Object.keys(findFault('network', 'limit').flags).map(kebab));
  for (const a of argv.slice(3, 7)) expect(declared.has(a.slice(2).split('=')[0])).toBe(true);
  // the command line shown for the step names the same flags
  expect(argFlags(args)).toEqual(argv.slice(3, 7));
});
