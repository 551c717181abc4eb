import * as net from 'node:net';
import { badArgs } from '../../errors';
import { oneOf, string } from '../flags';
import { defineFault } from '../types';
import { exists } from '../../host/files';
import { Scope, asSeen, inScope, isContainer } from '../../host/scope';
import { addLine, addLineStep, before, lineCheck, lineSteps, readText, removeLines, removeLinesStep } from './common';

const RESOLV = process.env.CHAOSMETAD_RESOLV_FILE || '/etc/resolv.conf';
/** the file as the target has it: a container's own (through its root; docker bind-mounts it from the host) */
const fileOf = (t: Scope): string => (isContainer(t) ? inScope(t, '/etc/resolv.conf') : RESOLV);

export default defineFault({
  target: 'dns',
  fault: 'server',
  container: 'root',
  summary: 'Add or delete a name server in /etc/resolv.conf',
  description:
    'add: a plain "nameserver IP" line goes first in /etc/resolv.conf, so it is asked first — ' +
    'point it at a dead or wrong server. delete: every "nameserver IP" line goes. Atomic edits; recover removes only ' +
    'the line it added, or puts back only what it removed. A symbolic link (systemd-resolved) is kept and its target ' +
    'edited in place.',
  examples: [
    'chaosmetad inject dns server --ip 192.0.2.53 -t 5m',
    'chaosmetad inject dns server -i 10.255.255.53 -m delete -t 1m',
  ],
  flags: {
    ip: string({ char: 'i', required: true, maxLength: 45, description: 'the name server address' }),
    mode: oneOf(['add', 'delete'] as const, { char: 'm', default: 'add', description: 'add or delete' }),
  },
  validate(a, target) {
    const resolv = fileOf(target);
    if (!net.isIP(a.ip)) throw badArgs(`--ip must be an IPv4 or IPv6 address, got ${JSON.stringify(a.ip)}`);
    if (!exists(resolv)) throw badArgs(`${asSeen(target, resolv)} does not exist`);
    let text: string;
    try {
      text = readText(resolv);
    } catch (e) {
      throw badArgs(`${asSeen(target, resolv)}: ${(e as Error).message}`);
    }
    if (a.mode === 'delete' && !text.split('\n').some((l) => isServer(l, a.ip))) {
      throw badArgs(`--ip ${a.ip} is not a nameserver in ${asSeen(target, resolv)}; nothing to delete`);
    }
  },
  claims: (a) => [`dns-server:${a.ip}`],
  async inject(a, ctx) {
    const resolv = fileOf(ctx.scope);
    if (a.mode === 'add') {
      const line = `nameserver ${a.ip}`; // resolv.conf's syntax has no trailing comments
      await ctx.step(addLineStep, { file: resolv, line, ...before(resolv) }, async () =>
        addLine(ctx.exec, resolv, line, true),
      );
      return { file: resolv, added: line };
    }
    const r = await ctx.step(removeLinesStep, { file: resolv, ...before(resolv) }, async () => ({
      removed: await removeLines(ctx.exec, resolv, (l) => (isServer(l, a.ip) ? null : l)),
    }));
    return { file: resolv, removed: r.removed?.length ?? 0 };
  },
  steps: lineSteps,
  check: (_a, ctx) => lineCheck(ctx),
});

function isServer(line: string, ip: string): boolean {
  const f = line.replace(/#.*/, '').trim().split(/\s+/);
  return f[0] === 'nameserver' && f[1] === ip;
}
