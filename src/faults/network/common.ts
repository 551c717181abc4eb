/**
 * What the tc network faults share: interface, direction, mode and filter flags, and the journaled steps that build
 * their part of chaosmetad's tc tree; the tc commands themselves are host/tc.ts.
 */
import * as net from 'node:net';
import { badArgs } from '../../errors';
import { whichTool } from '../../host/executor';
import { withLock } from '../../host/lock';
import { Scope, describeScope, interfacesOf } from '../../host/scope';
import {
  PASS_CLASS,
  ROOT,
  addBand,
  addFilter,
  addIngressRedirect,
  addRoot,
  classId,
  filterPrefs,
  foreignRoot,
  ifaceExists,
  ifbName,
  ingressRedirectInPlace,
  leafHandle,
  netemAvailable,
  qdiscs,
  removeBand,
  removeFilter,
  removeIngressRedirectIfUnused,
  removeRootIfUnused,
  tcError,
  usedBands,
} from '../../host/tc';
import { shown } from '../../util/units';
import type { FlagSpec } from '../flags';
import { boolean, oneOf, string } from '../flags';
import type { CheckContext, Effect, InjectContext } from '../types';
import { defineStep, tally } from '../types';

/** One IPv4 or IPv6 address or CIDR (10.0.0.0/8, fd00::/8); undefined when it is neither. */
export function cidrFamily(it: string): 4 | 6 | undefined {
  const [ip, bits, extra] = it.split('/');
  const fam = net.isIP(ip);
  if (extra !== undefined || (fam !== 4 && fam !== 6)) return undefined;
  if (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (fam === 4 ? 32 : 128))) return undefined;
  return fam;
}

export function ipList(raw: unknown, flag: string): string[] {
  const s = typeof raw === 'string' ? raw.trim() : '';
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const form = 'IPv4 or IPv6 addresses or CIDRs, comma separated (e.g. 10.0.0.1,192.168.0.0/16,fd00::/8)';
  if (!items.length || items.length > 64) throw badArgs(`--${flag} must be ${form}, got ${shown(raw)}`);
  for (const it of items) if (!cidrFamily(it)) throw badArgs(`--${flag} must be ${form}, got ${shown(it)}`);
  return items;
}

function portList(raw: unknown, flag: string): string[] {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = () =>
    badArgs(`--${flag} must be ports (1-65535) or port/mask, comma separated (e.g. 80,8000/0xfff0), got ${shown(raw)}`);
  if (!items.length || items.length > 64) throw bad();
  for (const it of items) {
    const m = /^(\d{1,5})(?:\/(0x[0-9a-fA-F]{1,4}|\d{1,5}))?$/.exec(it);
    if (!m || Number(m[1]) > 65535 || (m[2] !== undefined && Number(m[2]) > 0xffff)) throw bad();
  }
  return items;
}

const list = (parse: (raw: unknown, flag: string) => string[], description: string): FlagSpec<string[]> => ({
  kind: 'string',
  description,
  parse,
});

export const netFlags = {
  interface: string({
    char: 'i',
    required: true,
    maxLength: 15,
    pattern: /^[A-Za-z0-9_.:@-]{1,15}$/,
    form: 'an interface name like eth0',
    description: 'the network interface, e.g. eth0',
  }),
  direction: oneOf(['out', 'in', 'both'] as const, {
    char: 'd',
    default: 'out',
    description: 'out (egress), in (ingress, through an ifb device) or both',
  }),
  mode: oneOf(['normal', 'exclude'] as const, {
    char: 'm',
    default: 'normal',
    description: 'normal: only matching traffic; exclude: all traffic but the matching',
  }),
  force: boolean({
    char: 'f',
    description: 'stack on a catch-all experiment already on the interface, or replace a root qdisc the host had',
  }),
  srcIp: list(ipList, 'source IPs or CIDRs, comma separated'),
  dstIp: list(ipList, 'destination IPs or CIDRs, comma separated'),
  srcPort: list(portList, 'source ports or port/mask, comma separated'),
  dstPort: list(portList, 'destination ports or port/mask, comma separated'),
};

export interface NetArgs {
  interface: string;
  direction?: 'out' | 'in' | 'both';
  mode?: 'normal' | 'exclude';
  force?: boolean;
  srcIp?: string[];
  dstIp?: string[];
  srcPort?: string[];
  dstPort?: string[];
}

export function validateNet(a: NetArgs, target: Scope): void {
  if (!whichTool('tc')) throw badArgs('tc is not installed (apt-get install iproute2)');
  if (!interfacesOf(target).includes(a.interface))
    throw badArgs(`--interface ${shown(a.interface)}: no such network interface in ${describeScope(target)}`);
  if (a.mode === 'exclude' && !a.srcIp && !a.dstIp && !a.srcPort && !a.dstPort) {
    throw badArgs('--mode exclude needs something to exclude: --src-ip, --dst-ip, --src-port or --dst-port');
  }
  matchSets(a);
}

/** One u32 filter: its protocol (ip = IPv4, ipv6) and match clauses. */
export interface MatchSet {
  proto: 'ip' | 'ipv6';
  match: string[];
}

/**
 * u32 match clauses: the product of the lists (each list is an OR, the kinds are ANDed), per address family —
 * IPv4 addresses give `ip` filters, IPv6 ones `ipv6` filters (u32 `ip6` matches), ports alone give both. [] = all
 * traffic (a `protocol all` filter: IPv4, IPv6 and the rest). A combination of an IPv4 and an IPv6 address cannot
 * match any packet and is left out.
 */
export function matchSets(a: NetArgs): MatchSet[] {
  if (!a.srcIp && !a.dstIp && !a.srcPort && !a.dstPort) return [];
  const port = (p: string) => {
    const [n, m] = p.split('/');
    return [n, m ?? '0xffff'];
  };
  const out: MatchSet[] = [];
  for (const fam of [4, 6] as const) {
    const kw = fam === 4 ? 'ip' : 'ip6';
    const host = fam === 4 ? 32 : 128;
    const ips = (l?: string[]) => l?.filter((ip) => cidrFamily(ip) === fam);
    const src = ips(a.srcIp);
    const dst = ips(a.dstIp);
    if ((a.srcIp && !src!.length) || (a.dstIp && !dst!.length)) continue; // no address of this family asked for
    const dims: string[][][] = [];
    if (src) dims.push(src.map((ip) => ['match', kw, 'src', ip.includes('/') ? ip : `${ip}/${host}`]));
    if (dst) dims.push(dst.map((ip) => ['match', kw, 'dst', ip.includes('/') ? ip : `${ip}/${host}`]));
    if (a.srcPort) dims.push(a.srcPort.map((p) => ['match', kw, 'sport', ...port(p)]));
    if (a.dstPort) dims.push(a.dstPort.map((p) => ['match', kw, 'dport', ...port(p)]));
    let sets: string[][] = [[]];
    for (const d of dims) sets = sets.flatMap((prefix) => d.map((m) => [...prefix, ...m]));
    out.push(...sets.map((match) => ({ proto: fam === 4 ? ('ip' as const) : ('ipv6' as const), match })));
  }
  if (!out.length)
    throw badArgs('--src-ip and --dst-ip have no address family in common (IPv4 with IPv6): no packet could match');
  if (out.length > 256) throw badArgs(`the ip and port lists combine into ${out.length} filters; at most 256`);
  return out;
}

/** Filter prefs: IPv4 and IPv6 filters of one experiment cannot share a pref (a tc chain has one protocol). */
export const PREF = { pass4: 100, pass6: 20000, match4: 1000, match6: 10000, all: 30000 } as const;
const MATCH_BASES = [PREF.match4, PREF.match6, PREF.all];

const NETEM_HINT =
  "this kernel has no sch_netem (tc netem): use a kernel with CONFIG_NET_SCH_NETEM, e.g. Debian's stock kernel, or install its modules package";

/** Devices a direction acts on: out = the interface; in = its ifb. */
function devices(a: NetArgs): Array<{ dev: string; ingress: boolean }> {
  const d = a.direction ?? 'out';
  const out: Array<{ dev: string; ingress: boolean }> = [];
  if (d !== 'in') out.push({ dev: a.interface, ingress: false });
  if (d !== 'out') out.push({ dev: ifbName(a.interface), ingress: true });
  return out;
}

/**
 * Put `leaf` (e.g. ['netem','delay','200ms']) on the traffic the flags select, in each direction: journaled
 * step by step, under a lock per interface, then read back from the kernel.
 */
export async function applyLeaf(a: NetArgs, leaf: string[], ctx: InjectContext): Promise<Record<string, unknown>> {
  // the same preflight in a dry run: a plan for an inject that would be refused is no plan
  if (leaf[0] === 'netem' && !netemAvailable())
    throw tcError(ctx.dryRun ? `the inject would be refused: ${NETEM_HINT}` : NETEM_HINT);
  const sets = matchSets(a);
  const placed: Array<{ dev: string; band: number }> = [];
  await withLock('tc', async () => {
    for (const { dev, ingress } of devices(a)) {
      if (ingress) await ensureIfb(a, ctx);
      await ensureRoot(dev, a, ctx);
      const catchAll = a.mode === 'exclude' || sets.length === 0;
      if (catchAll && !a.force) {
        const other = (await filterPrefs(ctx.exec, dev)).find((p) => p >= PREF.all);
        if (other !== undefined) {
          throw tcError(
            `${dev} already has an experiment on all its traffic (filter pref ${other}); this one would not see its traffic. Recover it first, or add --force to stack anyway`,
          );
        }
      }
      const used = await usedBands(ctx.exec, dev);
      let band = 2;
      while (used.includes(band)) band++;
      if (band > 0xfff) throw tcError(`${dev} has no free slot for another experiment`);
      await ctx.step(classStep, { dev, band }, () => addBand(ctx.exec, dev, band, leaf));
      const byFamily = async (base4: number, base6: number, flowid: string) => {
        for (const proto of ['ip', 'ipv6'] as const) {
          const mine = sets.filter((m) => m.proto === proto);
          if (!mine.length) continue;
          const pref = (proto === 'ip' ? base4 : base6) + band;
          await ctx.step(filterStep, { dev, pref, proto }, async () => {
            for (const m of mine) await addFilter(ctx.exec, dev, proto, pref, m.match, flowid);
          });
        }
      };
      const catchAllFilter = () =>
        ctx.step(filterStep, { dev, pref: PREF.all + band, proto: 'all' }, async () => {
          await addFilter(ctx.exec, dev, 'all', PREF.all + band, [], classId(band));
        });
      if (a.mode === 'exclude') {
        await byFamily(PREF.pass4, PREF.pass6, PASS_CLASS);
        await catchAllFilter();
      } else if (sets.length) {
        await byFamily(PREF.match4, PREF.match6, classId(band));
      } else {
        await catchAllFilter();
      }
      placed.push({ dev, band });
    }
  });
  if (!ctx.dryRun) {
    for (const p of placed) {
      const leafOk = (await qdiscs(ctx.exec, p.dev)).some((q) => q.handle === leafHandle(p.band) && q.kind === leaf[0]);
      const prefs = await filterPrefs(ctx.exec, p.dev);
      const filterOk = MATCH_BASES.some((base) => prefs.includes(base + p.band));
      if (!leafOk || !filterOk)
        throw tcError(
          `after inject, ${p.dev} does not show the ${leaf[0]} qdisc and its filters (tc qdisc/filter show); undone`,
        );
    }
  }
  return { placed, tc: leaf.join(' ') };
}

async function ensureRoot(dev: string, a: NetArgs, ctx: InjectContext): Promise<void> {
  // every experiment journals the root: whichever is recovered last removes it
  const list = await qdiscs(ctx.exec, dev);
  const ours = list.some((q) => q.root && q.handle === ROOT);
  const foreign = ours ? undefined : foreignRoot(list);
  if (foreign && !a.force) {
    throw tcError(
      `${dev} has a root qdisc the host set up (${foreign.kind} ${foreign.handle}); chaosmetad leaves it alone. Add --force to replace it (recover then leaves the kernel default)`,
    );
  }
  await ctx.step(rootStep, { dev, replaced: foreign ? `${foreign.kind} ${foreign.handle}` : '' }, async () => {
    if (!ours) await addRoot(ctx.exec, dev, !!foreign);
  });
}

async function ensureIfb(a: NetArgs, ctx: InjectContext): Promise<void> {
  const ifb = ifbName(a.interface);
  const ingress = (await qdiscs(ctx.exec, a.interface)).find((q) => q.kind === 'ingress');
  const ours = !!ingress && (await ingressRedirectInPlace(ctx.exec, a.interface, ifb));
  if (ingress && !ours && !a.force)
    throw tcError(`${a.interface} already has an ingress qdisc the host set up; add --force to use it anyway`);
  // journaled by every ingress experiment: whichever is recovered last takes the ifb down
  await ctx.step(ifbStep, { iface: a.interface, ifb, hadIngress: !!ingress && !ours }, async () => {
    if (!ours) await addIngressRedirect(ctx.exec, a.interface, ifb, !!ingress);
  });
}

/** A filter sending the selected traffic of `dev` to the experiment's class (proto: ip, ipv6 or all). */
const filterStep = defineStep('tc-filter', async (d: { dev: string; pref: number; proto?: string }, ctx) => {
  // (journals before IPv6 support had no proto: they were all `ip`)
  await removeFilter(ctx.exec, d.dev, d.proto ?? 'ip', d.pref);
});
/** The experiment's class on `dev` (band), with its leaf qdisc. */
const classStep = defineStep('tc-class', async (d: { dev: string; band: number }, ctx) => {
  await removeBand(ctx.exec, d.dev, d.band);
});
/** chaosmetad's root qdisc on `dev` (journaled by every experiment; the last one recovered removes it). */
const rootStep = defineStep('tc-root', async (d: { dev: string; replaced: string }, ctx) => {
  const removed = await withLock('tc', () => removeRootIfUnused(ctx.exec, d.dev));
  if (removed && d.replaced) {
    ctx.note(`${d.dev}: the host's root qdisc (${d.replaced}) was replaced by --force; the kernel default is back`);
  }
});
/** The ifb that carries `iface`'s ingress (journaled by every ingress experiment; the last one takes it down). */
const ifbStep = defineStep('ifb', async (d: { iface: string; ifb: string; hadIngress: boolean }, ctx) => {
  await withLock('tc', () => removeIngressRedirectIfUnused(ctx.exec, d.iface, d.ifb, d.hadIngress));
});

/** The step kinds of the tc faults. */
export const netSteps = [filterStep, classStep, rootStep, ifbStep];

/** In place when every leaf qdisc and its filters are in the kernel. */
export async function netCheck(ctx: CheckContext, exec: import('../../host/executor').Executor): Promise<Effect> {
  const classes = ctx.stepsOf(classStep);
  if (!classes.length) return 'gone';
  let ok = 0;
  // read each interface's tree once, however many of its classes the experiment made
  const seen = new Map<string, { handles: string[]; prefs: number[] }>();
  for (const c of classes) {
    if (!ifaceExists(c.data.dev, exec)) continue;
    let tree = seen.get(c.data.dev);
    if (!tree) {
      tree = {
        handles: (await qdiscs(exec, c.data.dev)).map((q) => q.handle),
        prefs: await filterPrefs(exec, c.data.dev),
      };
      seen.set(c.data.dev, tree);
    }
    const { handles, prefs } = tree;
    if (handles.includes(leafHandle(c.data.band)) && MATCH_BASES.some((b) => prefs.includes(b + c.data.band))) ok++;
  }
  return tally(ok, classes.length);
}
