import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { badArgs, injectError } from '../../errors';
import { Executor, whichTool } from '../../host/executor';
import { ifaceExists } from '../../host/tc';
import { shown } from '../../util/units';
import type { FlagSpec } from '../flags';
import { oneOf, string } from '../flags';
import { defineFault } from '../types';

function cidrs(raw: unknown, flag: string): string[] {
  const items = (typeof raw === 'string' ? raw : '').split(',').map((x) => x.trim()).filter(Boolean);
  const ok = (it: string) => { const [ip, bits, extra] = it.split('/'); return extra === undefined && net.isIPv4(ip) && (bits === undefined || (/^\d{1,2}$/.test(bits) && Number(bits) <= 32)); };
  if (!items.length || items.length > 64 || !items.every(ok)) throw badArgs(`--${flag} must be IPv4 addresses or CIDRs, comma separated, got ${shown(raw)}`);
  return items;
}
function ports(raw: unknown, flag: string): string[] {
  const items = (typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '').split(',').map((x) => x.trim()).filter(Boolean);
  const ok = (p: string) => /^\d{1,5}(:\d{1,5})?$/.test(p) && p.split(':').every((n) => Number(n) >= 1 && Number(n) <= 65535);
  if (!items.length || items.length > 15 || !items.every(ok)) throw badArgs(`--${flag} must be ports or ranges like 80,8000:8100 (at most 15), got ${shown(raw)}`);
  return items;
}

/** Our chain's name: unique per experiment, within iptables' 28 characters. */
const chainOf = (uid: string) => `CHAOSMETAD-${crypto.createHash('sha1').update(uid).digest('hex').slice(0, 12)}`;

/** Does the nf_tables `ip filter` table exist? 'unknown' with iptables-legacy or without nft. */
async function nftFilterTable(exec: Executor): Promise<'present' | 'absent' | 'unknown'> {
  const v = await exec.run('iptables', ['-V'], { allowFail: true });
  if (!/nf_tables/.test(v.stdout) || !whichTool('nft')) return 'unknown';
  const r = await exec.run('nft', ['list', 'table', 'ip', 'filter'], { allowFail: true });
  return r.exitCode === 0 ? 'present' : 'absent';
}

export default defineFault({
  target: 'network',
  fault: 'partition',
  summary: 'Cut traffic to and from given addresses or ports (iptables; no netem needed)',
  description:
    'Drops the matching packets in a chain of the experiment\'s own, jumped to from OUTPUT (--direction out), INPUT ' +
    '(in) or both (default): connections to those peers time out. Recover removes the jumps and the chain, nothing else.',
  examples: ['chaosmetad inject network partition --ip 10.0.0.0/8 -t 2m', 'chaosmetad inject network partition --ip 10.1.2.3 --port 5432 --protocol tcp --direction out -t 1m'],
  flags: {
    ip: { kind: 'string', description: 'peer IPv4 addresses or CIDRs, comma separated', parse: cidrs } as FlagSpec<string[]>,
    port: { kind: 'string', description: 'peer ports or ranges (80,8000:8100); with --protocol tcp or udp', parse: ports } as FlagSpec<string[]>,
    protocol: oneOf(['all', 'tcp', 'udp', 'icmp'] as const, { default: 'all', description: 'all (default), tcp, udp or icmp' }),
    direction: oneOf(['both', 'out', 'in'] as const, { char: 'd', default: 'both', description: 'both (default), out (to the peers) or in (from them)' }),
    interface: string({ char: 'i', maxLength: 15, pattern: /^[A-Za-z0-9_.:@-]{1,15}$/, form: 'an interface name like eth0', description: 'only on this interface' }),
  },
  validate(a) {
    if (!whichTool('iptables')) throw badArgs('iptables is not installed (apt-get install iptables)');
    if (!a.ip && !a.port) throw badArgs('give --ip, --port or both: what to cut off');
    if (a.port && a.protocol !== 'tcp' && a.protocol !== 'udp') throw badArgs('--port needs --protocol tcp or udp');
    if (a.interface && !ifaceExists(a.interface)) throw badArgs(`--interface ${shown(a.interface)}: no such network interface`);
  },
  async inject(a, ctx) {
    const chain = chainOf(ctx.uid);
    // iptables-nft creates the `ip filter` table on first use: remember whether we did, to remove it again if empty
    if (!ctx.dryRun && (await nftFilterTable(ctx.exec)) === 'absent') await ctx.step('filter-table', { created: true }, async () => {});
    await ctx.step('chain', { chain }, async () => {
      await ctx.exec.run('iptables', ['-w', '-N', chain]);
      await ctx.exec.run('iptables', ['-w', '-A', chain, '-j', 'DROP']);
    });
    const jumps: string[][] = [];
    for (const dir of a.direction === 'both' ? ['out', 'in'] : [a.direction!]) {
      const out = dir === 'out';
      for (const ip of a.ip ?? [undefined]) {
        const spec = [out ? 'OUTPUT' : 'INPUT'];
        if (a.interface) spec.push(out ? '-o' : '-i', a.interface);
        if (ip) spec.push(out ? '-d' : '-s', ip);
        if (a.protocol !== 'all') spec.push('-p', a.protocol!);
        if (a.port) spec.push('-m', 'multiport', out ? '--dports' : '--sports', a.port.join(','));
        spec.push('-j', chain);
        jumps.push(spec);
      }
    }
    for (const spec of jumps) {
      await ctx.step('jump', { spec }, async () => { await ctx.exec.run('iptables', ['-w', '-I', ...spec]); });
    }
    if (!ctx.dryRun) {
      for (const spec of jumps) {
        const r = await ctx.exec.run('iptables', ['-w', '-C', ...spec], { allowFail: true });
        if (r.exitCode !== 0) throw injectError(`after inject, iptables does not show the rule ${spec.join(' ')}; undone`);
      }
    }
    return { chain, rules: jumps.map((j) => j.join(' ')) };
  },
  undo: {
    async 'filter-table'(_d, ctx) {
      // only if nothing but the empty base chains is left (another experiment or the admin may use it now)
      const rules = await ctx.exec.run('iptables', ['-w', '-S'], { allowFail: true });
      const empty = rules.exitCode === 0 && rules.stdout.trim().split('\n').every((l) => /^-P (INPUT|FORWARD|OUTPUT) ACCEPT$/.test(l.trim()));
      if (empty && (await nftFilterTable(ctx.exec)) === 'present') await ctx.exec.run('nft', ['delete', 'table', 'ip', 'filter'], { allowFail: true });
    },
    async jump(d, ctx) {
      // -D removes one copy; loop in case a crash retried the insert
      for (let i = 0; i < 8; i++) {
        const r = await ctx.exec.run('iptables', ['-w', '-D', ...d.spec], { allowFail: true });
        if (r.exitCode !== 0) break;
      }
    },
    async chain(d, ctx) {
      await ctx.exec.run('iptables', ['-w', '-F', d.chain], { allowFail: true });
      await ctx.exec.run('iptables', ['-w', '-X', d.chain], { allowFail: true });
    },
  },
  async check(_a, ctx) {
    const jumps = ctx.steps.filter((s) => s.kind === 'jump');
    let ok = 0;
    for (const j of jumps) if ((await ctx.exec.run('iptables', ['-w', '-C', ...j.data.spec], { allowFail: true })).exitCode === 0) ok++;
    return jumps.length && ok === jumps.length ? 'in-place' : ok ? 'partial' : 'gone';
  },
});
