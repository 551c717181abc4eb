import { badArgs, injectError } from '../../errors';
import { type ProcessRef as Proc, protection, readArgv, sameProcess, startTime, terminate } from '../../host/procs';
import { portInodes, socketOwners } from '../../host/sockets';
import { Scope, isContainer } from '../../host/scope';
import { boolean, integer, oneOf } from '../flags';
import { journalRecoverCmd, recoverCmdFlags, recoverCmdStep, validateRecoverCmd } from '../recover-cmd';
import { defineFault, defineStep } from '../types';

/** The port's owner killed (--force): it cannot be brought back (recover-cmd can), only noted. */
const killOwnerStep = defineStep('kill-owner', async (d: Proc, ctx) => {
  if (!sameProcess(d.pid, d.start)) ctx.note(`killed ${d.pid} (${d.cmdline})`);
});

export default defineFault({
  target: 'network',
  fault: 'occupy',
  container: 'net',
  volatile: true,
  summary: 'Hold a port so nothing else can bind it',
  description:
    'A helper binds --port (and listens, for tcp) until recover. A port already in use is refused, unless --force: ' +
    'then its owner is killed first (recorded) and --recover-cmd (a shell command line, bash -c) ' +
    'restarts it at recover.',
  examples: [
    'chaosmetad inject network occupy --port 8080 -t 5m',
    'chaosmetad inject network occupy -p 53 -P udp -t 1m',
  ],
  flags: {
    port: integer({ char: 'p', min: 1, max: 65535, required: true, description: 'the port to hold' }),
    protocol: oneOf(['tcp', 'udp', 'tcp6', 'udp6'] as const, {
      char: 'P',
      default: 'tcp',
      description: 'tcp, udp, tcp6 or udp6 (default tcp)',
    }),
    force: boolean({ char: 'f', description: 'kill the process holding the port first' }),
    ...recoverCmdFlags,
  },
  validate(a, target) {
    validateRecoverCmd(a);
    const owners = socketOwners(portInodes(a.port, a.protocol, netPid(target)));
    for (const pid of owners) {
      const p = protection(pid);
      if (p) throw badArgs(`--port ${a.port}/${a.protocol} is held by pid ${pid}, ${p.why}; --force will not kill it`);
    }
    if (owners.length && !a.force) {
      throw badArgs(
        `--port ${a.port}/${a.protocol} is in use by ${owners.map((p) => `pid ${p} (${(readArgv(p) ?? []).join(' ').slice(0, 60)})`).join(', ')}; add --force to kill it first`,
      );
    }
  },
  claims: (a) => [`port:${a.protocol}:${a.port}`],
  async inject(a, ctx) {
    await journalRecoverCmd(a, ctx);
    const owners = socketOwners(portInodes(a.port, a.protocol, netPid(ctx.scope)));
    for (const pid of owners) {
      const t = { pid, start: startTime(pid), cmdline: (readArgv(pid) ?? []).join(' ').slice(0, 200) };
      await ctx.step(killOwnerStep, t, async () => {
        await ctx.exec.change(`kill the owner of port ${a.port}: ${pid} (${t.cmdline})`, () => terminate([pid], 1000));
      });
    }
    const pid = await ctx.helper('occupy', { port: a.port, proto: a.protocol, 'retry-ms': owners.length ? 3000 : 0 });
    if (!ctx.dryRun && !socketOwners(portInodes(a.port, a.protocol, netPid(ctx.scope))).includes(pid))
      throw injectError(`port ${a.port}/${a.protocol} is not held by the helper after inject`);
    return { port: a.port, protocol: a.protocol, killed: owners, pids: [pid] };
  },
  steps: [killOwnerStep, recoverCmdStep],
});

/** The process whose net namespace the port lives in: the container's init, or none (the host's). */
function netPid(t: Scope): number | undefined {
  return isContainer(t) ? t.pid : undefined;
}
