import * as net from 'node:net';
import { badArgs } from '../../errors';
import { oneOf, string } from '../flags';
import { defineFault } from '../types';
import { exists } from '../../host/files';
import { Scope, asSeen, inScope, isContainer } from '../../host/scope';
import { addLine, addLineStep, before, lineCheck, lineSteps, readText, removeLines, removeLinesStep } from './common';

const HOSTS = process.env.CHAOSMETAD_HOSTS_FILE || '/etc/hosts';
/** the file as the target has it: a container's own (through its root; docker bind-mounts it from the host) */
const fileOf = (t: Scope): string => (isContainer(t) ? inScope(t, '/etc/hosts') : HOSTS);

export default defineFault({
  target: 'dns',
  fault: 'record',
  container: 'root',
  summary: 'Add or delete a name in /etc/hosts',
  description:
    'add: a line "IP DOMAIN" (tagged with the experiment uid) is added to /etc/hosts, so the name resolves to --ip. ' +
    'delete: the name is taken out of every line that has it (only from the line with --ip, when given). The edit is ' +
    'atomic; recover removes only the line it added, or puts back only what it removed.',
  examples: [
    'chaosmetad inject dns record --domain api.example.com --ip 10.9.9.9 -t 5m',
    'chaosmetad inject dns record -d localhost -m delete -t 1m',
  ],
  flags: {
    domain: string({
      char: 'd',
      required: true,
      maxLength: 253,
      pattern: /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$/,
      form: 'a host name like api.example.com',
      description: 'the host name',
    }),
    ip: string({
      char: 'i',
      maxLength: 45,
      description: 'the address it resolves to (add; required there), or the only line to delete it from',
    }),
    mode: oneOf(['add', 'delete'] as const, { char: 'm', default: 'add', description: 'add or delete' }),
  },
  validate(a, target) {
    const hosts = fileOf(target);
    if (a.ip !== undefined && !net.isIP(a.ip))
      throw badArgs(`--ip must be an IPv4 or IPv6 address, got ${JSON.stringify(a.ip)}`);
    if (a.mode === 'add' && !a.ip) throw badArgs('--ip is required with --mode add');
    if (!exists(hosts)) throw badArgs(`${asSeen(target, hosts)} does not exist`);
    let text: string;
    try {
      text = readText(hosts);
    } catch (e) {
      throw badArgs(`${asSeen(target, hosts)}: ${(e as Error).message}`);
    }
    if (
      a.mode === 'delete' &&
      !text.split('\n').some((l) => names(l).includes(a.domain) && (!a.ip || fields(l)[0] === a.ip))
    ) {
      throw badArgs(
        `--domain ${a.domain} is not in ${asSeen(target, hosts)}${a.ip ? ` with ${a.ip}` : ''}; nothing to delete`,
      );
    }
  },
  claims: (a) => [`dns-record:${a.domain.toLowerCase().replace(/\.$/, '')}`],
  async inject(a, ctx) {
    const hosts = fileOf(ctx.scope);
    if (a.mode === 'add') {
      const line = `${a.ip} ${a.domain} # chaosmetad:${ctx.uid}`;
      await ctx.step(addLineStep, { file: hosts, line, ...before(hosts) }, async () => addLine(ctx.exec, hosts, line));
      return { file: hosts, added: line };
    }
    const r = await ctx.step(removeLinesStep, { file: hosts, ...before(hosts) }, async () => ({
      removed: await removeLines(ctx.exec, hosts, (l) => {
        const f = fields(l);
        if (!names(l).includes(a.domain) || (a.ip && f[0] !== a.ip)) return l;
        const rest = f.slice(1).filter((n) => n !== a.domain);
        return rest.length ? [f[0], ...rest].join(' ') : null;
      }),
    }));
    return { file: hosts, removed: r.removed?.length ?? 0 };
  },
  steps: lineSteps,
  check: (_a, ctx) => lineCheck(ctx),
});

function fields(line: string): string[] {
  return line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
}
function names(line: string): string[] {
  return fields(line).slice(1);
}
