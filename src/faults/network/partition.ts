import * as crypto from 'node:crypto';
import { badArgs, injectError } from '../../errors';
import { Executor, whichTool } from '../../host/executor';
import { describeScope, interfacesOf } from '../../host/scope';
import { shown } from '../../util/units';
import { oneOf, string } from '../flags';
import { defineFault, defineStep, tally } from '../types';
import { cidrFamily } from './common';

function cidrs(raw: unknown, flag: string): string[] {
  const items = (typeof raw === 'string' ? raw : '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (!items.length || items.length > 64 || !items.every((it) => cidrFamily(it)))
    throw badArgs(`--${flag} must be IPv4 or IPv6 addresses or CIDRs, comma separated, got ${shown(raw)}`);
  return items;
}

type Tool = 'iptables' | 'ip6tables';
function ports(raw: unknown, flag: string): string[] {
  const items = (typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const ok = (p: string) =>
    /^\d{1,5}(:\d{1,5})?$/.test(p) && p.split(':').every((n) => Number(n) >= 1 && Number(n) <= 65535);
  if (!items.length || items.length > 15 || !items.every(ok))
    throw badArgs(`--${flag} must be ports or ranges like 80,8000:8100 (at most 15), got ${shown(raw)}`);
  return items;
}

/** Our chain's name: unique per experiment, within iptables' 28 characters. */
const chainOf = (uid: string) => `CHAOSMETAD-${crypto.createHash('sha1').update(uid).digest('hex').slice(0, 12)}`;

/** Does the nf_tables `ip filter` (ip6tables: `ip6 filter`) table exist? 'unknown' with iptables-legacy, no nft. */
async function nftFilterTable(exec: Executor, tool: Tool = 'iptables'): Promise<'present' | 'absent' | 'unknown'> {
  const v = await exec.run(tool, ['-V'], { allowFail: true });
  if (!/nf_tables/.test(v.stdout) || !whichTool('nft')) return 'unknown';
  const r = await exec.run('nft', ['list', 'table', tool === 'iptables' ? 'ip' : 'ip6', 'filter'], { allowFail: true });
  return r.exitCode === 0 ? 'present' : 'absent';
}

/**
 * The base chain's state in an nft `filter` table that exists (docker's, say, has FORWARD but no INPUT/OUTPUT):
 * iptables-nft creates a missing base chain when a rule is first added to it, and leaves it behind.
 */
async function nftBaseChain(exec: Executor, tool: Tool, chain: string): Promise<'present' | 'absent'> {
  const r = await exec.run('nft', ['list', 'chain', tool === 'iptables' ? 'ip' : 'ip6', 'filter', chain], {
    allowFail: true,
  });
  return r.exitCode === 0 ? 'present' : 'absent';
}

/** The tools a selection needs: IPv4 addresses → iptables, IPv6 → ip6tables, ports only → both. */
function toolsFor(ips: string[] | undefined): Tool[] {
  if (!ips) return ['iptables', 'ip6tables'];
  const out: Tool[] = [];
  if (ips.some((ip) => cidrFamily(ip) === 4)) out.push('iptables');
  if (ips.some((ip) => cidrFamily(ip) === 6)) out.push('ip6tables');
  return out;
}

// (journals from before IPv6 support have no tool: they were iptables)
/** The `ip filter` table iptables-nft created on first use: removed again when nothing but its base chains is left. */
const filterTableStep = defineStep('filter-table', async (d: { created: boolean; tool?: Tool }, ctx) => {
  const tool: Tool = d.tool ?? 'iptables';
  // only if nothing but the empty base chains is left (another experiment or the admin may use it now)
  const rules = await ctx.exec.run(tool, ['-w', '-S'], { allowFail: true });
  const empty =
    rules.exitCode === 0 &&
    rules.stdout
      .trim()
      .split('\n')
      .every((l) => /^-P (INPUT|FORWARD|OUTPUT) ACCEPT$/.test(l.trim()));
  if (empty && (await nftFilterTable(ctx.exec, tool)) === 'present')
    await ctx.exec.run('nft', ['delete', 'table', tool === 'iptables' ? 'ip' : 'ip6', 'filter'], {
      allowFail: true,
    });
});

/** A base chain (INPUT, OUTPUT) a jump made iptables-nft create: removed again while empty. */
const baseChainStep = defineStep('base-chain', async (d: { tool: Tool; chain: string }, ctx) => {
  const fam = d.tool === 'ip6tables' ? 'ip6' : 'ip';
  const r = await ctx.exec.run('nft', ['list', 'chain', fam, 'filter', d.chain], { allowFail: true });
  if (r.exitCode !== 0) return;
  // only while empty: a rule someone else added since keeps it
  const body = r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l !== '}' && !/^(table|chain) /.test(l) && !/^type filter hook/.test(l));
  if (!body.length) await ctx.exec.run('nft', ['delete', 'chain', fam, 'filter', d.chain], { allowFail: true });
});

/** A rule sending the selected traffic to the experiment's chain. */
const jumpStep = defineStep('jump', async (d: { tool?: Tool; spec: string[] }, ctx) => {
  // -D removes one copy; loop in case a crash retried the insert
  for (let i = 0; i < 8; i++) {
    const r = await ctx.exec.run(d.tool ?? 'iptables', ['-w', '-D', ...d.spec], { allowFail: true });
    if (r.exitCode !== 0) break;
  }
});

/** The experiment's chain (it drops everything sent to it). */
const chainStep = defineStep('chain', async (d: { chain: string; tool?: Tool }, ctx) => {
  await ctx.exec.run(d.tool ?? 'iptables', ['-w', '-F', d.chain], { allowFail: true });
  await ctx.exec.run(d.tool ?? 'iptables', ['-w', '-X', d.chain], { allowFail: true });
});

export default defineFault({
  target: 'network',
  fault: 'partition',
  container: 'net',
  volatile: true,
  summary: 'Cut traffic to and from given addresses or ports (iptables; no netem needed)',
  description:
    "Drops the matching packets in a chain of the experiment's own, jumped to from OUTPUT (--direction out), INPUT " +
    '(in) or both (default): connections to those peers time out. IPv4 peers through iptables, IPv6 ones through ' +
    'ip6tables; --port alone cuts both. Recover removes the jumps and the chains, nothing else.',
  examples: [
    'chaosmetad inject network partition --ip 10.0.0.0/8 -t 2m',
    'chaosmetad inject network partition --ip 10.1.2.3 --port 5432 --protocol tcp --direction out -t 1m',
  ],
  flags: {
    ip: { kind: 'string', description: 'peer IPv4 or IPv6 addresses or CIDRs, comma separated', parse: cidrs },
    port: {
      kind: 'string',
      description: 'peer ports or ranges (80,8000:8100); with --protocol tcp or udp',
      parse: ports,
    },
    protocol: oneOf(['all', 'tcp', 'udp', 'icmp'] as const, {
      default: 'all',
      description: 'all (default), tcp, udp or icmp',
    }),
    direction: oneOf(['both', 'out', 'in'] as const, {
      char: 'd',
      default: 'both',
      description: 'both (default), out (to the peers) or in (from them)',
    }),
    interface: string({
      char: 'i',
      maxLength: 15,
      pattern: /^[A-Za-z0-9_.:@-]{1,15}$/,
      form: 'an interface name like eth0',
      description: 'only on this interface',
    }),
  },
  validate(a, target) {
    for (const tool of toolsFor(a.ip))
      if (!whichTool(tool)) throw badArgs(`${tool} is not installed (apt-get install iptables)`);
    if (!a.ip && !a.port) throw badArgs('give --ip, --port or both: what to cut off');
    if (a.port && a.protocol !== 'tcp' && a.protocol !== 'udp') throw badArgs('--port needs --protocol tcp or udp');
    if (a.interface && !interfacesOf(target).includes(a.interface))
      throw badArgs(`--interface ${shown(a.interface)}: no such network interface in ${describeScope(target)}`);
  },
  async inject(a, ctx) {
    const chain = chainOf(ctx.uid);
    const tools = toolsFor(a.ip);
    for (const tool of tools) {
      // iptables-nft creates the `ip filter` table on first use: remember whether we did, to remove it again if empty
      if (!ctx.dryRun && (await nftFilterTable(ctx.exec, tool)) === 'absent')
        await ctx.step(filterTableStep, { created: true, tool }, async () => {});
      await ctx.step(chainStep, { chain, tool }, async () => {
        await ctx.exec.run(tool, ['-w', '-N', chain]);
        await ctx.exec.run(tool, ['-w', '-A', chain, '-j', 'DROP']);
      });
    }
    const jumps: Array<{ tool: Tool; spec: string[] }> = [];
    for (const dir of a.direction === 'both' ? ['out', 'in'] : [a.direction]) {
      const out = dir === 'out';
      for (const tool of tools) {
        const fam = tool === 'iptables' ? 4 : 6;
        for (const ip of a.ip ? a.ip.filter((x) => cidrFamily(x) === fam) : [undefined]) {
          const spec = [out ? 'OUTPUT' : 'INPUT'];
          if (a.interface) spec.push(out ? '-o' : '-i', a.interface);
          if (ip) spec.push(out ? '-d' : '-s', ip);
          if (a.protocol !== 'all') spec.push('-p', a.protocol === 'icmp' && fam === 6 ? 'ipv6-icmp' : a.protocol);
          if (a.port) spec.push('-m', 'multiport', out ? '--dports' : '--sports', a.port.join(','));
          spec.push('-j', chain);
          jumps.push({ tool, spec });
        }
      }
    }
    // base chains a jump will make iptables-nft create in an existing table: journaled, removed again when empty
    if (!ctx.dryRun) {
      for (const { tool, chain: base } of [
        ...new Map(jumps.map((j) => [`${j.tool} ${j.spec[0]}`, { tool: j.tool, chain: j.spec[0] }])).values(),
      ]) {
        if (
          (await nftFilterTable(ctx.exec, tool)) === 'present' &&
          (await nftBaseChain(ctx.exec, tool, base)) === 'absent'
        )
          await ctx.step(baseChainStep, { tool, chain: base }, async () => {});
      }
    }
    for (const j of jumps) {
      await ctx.step(jumpStep, j, async () => {
        await ctx.exec.run(j.tool, ['-w', '-I', ...j.spec]);
      });
    }
    if (!ctx.dryRun) {
      for (const j of jumps) {
        const r = await ctx.exec.run(j.tool, ['-w', '-C', ...j.spec], { allowFail: true });
        if (r.exitCode !== 0)
          throw injectError(`after inject, ${j.tool} does not show the rule ${j.spec.join(' ')}; undone`);
      }
    }
    return { chain, rules: jumps.map((j) => `${j.tool} ${j.spec.join(' ')}`) };
  },
  steps: [filterTableStep, baseChainStep, jumpStep, chainStep],
  async check(_a, ctx) {
    const jumps = ctx.stepsOf(jumpStep);
    let ok = 0;
    for (const j of jumps)
      if (
        (await ctx.exec.run(j.data.tool ?? 'iptables', ['-w', '-C', ...j.data.spec], { allowFail: true })).exitCode ===
        0
      )
        ok++;
    return tally(ok, jumps.length);
  },
});
