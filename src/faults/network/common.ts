/** What the tc network faults share: interface, direction, mode and filter flags; the journaled tc changes. */
import * as net from 'node:net';
import { badArgs } from '../../errors';
import { whichTool } from '../../host/executor';
import { withLock } from '../../host/lock';
import {
  MIRRED_PREF, PASS_CLASS, ROOT, classId, filterPrefs, foreignRoot, ifaceExists, ifbName, leafHandle, qdiscs, tcError, usedBands,
} from '../../host/tc';
import { shown } from '../../util/units';
import type { FlagSpec } from '../flags';
import { boolean, oneOf, string } from '../flags';
import type { CheckContext, Effect, InjectContext, UndoFn } from '../types';

function ipList(raw: unknown, flag: string): string[] {
  const s = typeof raw === 'string' ? raw.trim() : '';
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  if (!items.length || items.length > 64) throw badArgs(`--${flag} must be IPv4 addresses or CIDRs, comma separated (e.g. 10.0.0.1,192.168.0.0/16), got ${shown(raw)}`);
  for (const it of items) {
    const [ip, bits, extra] = it.split('/');
    if (extra !== undefined || !net.isIPv4(ip) || (bits !== undefined && !(/^\d{1,2}$/.test(bits) && Number(bits) <= 32))) {
      throw badArgs(`--${flag} must be IPv4 addresses or CIDRs, comma separated (e.g. 10.0.0.1,192.168.0.0/16), got ${shown(it)}`);
    }
  }
  return items;
}

function portList(raw: unknown, flag: string): string[] {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = () => badArgs(`--${flag} must be ports (1-65535) or port/mask, comma separated (e.g. 80,8000/0xfff0), got ${shown(raw)}`);
  if (!items.length || items.length > 64) throw bad();
  for (const it of items) {
    const m = /^(\d{1,5})(?:\/(0x[0-9a-fA-F]{1,4}|\d{1,5}))?$/.exec(it);
    if (!m || Number(m[1]) > 65535 || (m[2] !== undefined && Number(m[2]) > 0xffff)) throw bad();
  }
  return items;
}

const list = (parse: (raw: unknown, flag: string) => string[], description: string): FlagSpec<string[]> => ({ kind: 'string', description, parse });

export const netFlags = {
  interface: string({ char: 'i', required: true, maxLength: 15, pattern: /^[A-Za-z0-9_.:@-]{1,15}$/, form: 'an interface name like eth0', description: 'the network interface, e.g. eth0' }),
  direction: oneOf(['out', 'in', 'both'] as const, { char: 'd', default: 'out', description: 'out (egress), in (ingress, through an ifb device) or both' }),
  mode: oneOf(['normal', 'exclude'] as const, { char: 'm', default: 'normal', description: 'normal: only matching traffic; exclude: all traffic but the matching' }),
  force: boolean({ char: 'f', description: 'stack on a catch-all experiment already on the interface, or replace a root qdisc the host had' }),
  srcIp: list(ipList, 'source IPs or CIDRs, comma separated'),
  dstIp: list(ipList, 'destination IPs or CIDRs, comma separated'),
  srcPort: list(portList, 'source ports or port/mask, comma separated'),
  dstPort: list(portList, 'destination ports or port/mask, comma separated'),
};

export interface NetArgs {
  interface: string; direction?: 'out' | 'in' | 'both'; mode?: 'normal' | 'exclude'; force?: boolean;
  srcIp?: string[]; dstIp?: string[]; srcPort?: string[]; dstPort?: string[];
}

export function validateNet(a: NetArgs): void {
  if (!whichTool('tc')) throw badArgs('tc is not installed (apt-get install iproute2)');
  if (!ifaceExists(a.interface)) throw badArgs(`--interface ${shown(a.interface)}: no such network interface`);
  if (a.mode === 'exclude' && !a.srcIp && !a.dstIp && !a.srcPort && !a.dstPort) {
    throw badArgs('--mode exclude needs something to exclude: --src-ip, --dst-ip, --src-port or --dst-port');
  }
}

/** u32 match clauses: the product of the lists (each list is an OR, the kinds are ANDed). [] = all traffic. */
export function matchSets(a: NetArgs): string[][] {
  const port = (p: string) => { const [n, m] = p.split('/'); return [n, m ?? '0xffff']; };
  const dims: string[][][] = [];
  if (a.srcIp) dims.push(a.srcIp.map((ip) => ['match', 'ip', 'src', ip.includes('/') ? ip : `${ip}/32`]));
  if (a.dstIp) dims.push(a.dstIp.map((ip) => ['match', 'ip', 'dst', ip.includes('/') ? ip : `${ip}/32`]));
  if (a.srcPort) dims.push(a.srcPort.map((p) => ['match', 'ip', 'sport', ...port(p)]));
  if (a.dstPort) dims.push(a.dstPort.map((p) => ['match', 'ip', 'dport', ...port(p)]));
  let out: string[][] = [[]];
  for (const d of dims) out = out.flatMap((prefix) => d.map((m) => [...prefix, ...m]));
  if (out.length > 256) throw badArgs(`the ip and port lists combine into ${out.length} filters; at most 256`);
  return dims.length ? out : [];
}

const NETEM_HINT = 'this kernel has no sch_netem (tc netem): use a kernel with CONFIG_NET_SCH_NETEM, e.g. Debian\'s stock kernel, or install its modules package';

/** Is netem available: loaded, built in, or a module the kernel can load on demand (read-only checks)? */
export async function netemAvailable(ctx: InjectContext): Promise<boolean> {
  if (ctx.dryRun) return true;
  const fs = await import('node:fs');
  const os = await import('node:os');
  if (fs.existsSync('/sys/module/sch_netem')) return true;
  const dir = `/lib/modules/${os.release()}`;
  const has = (file: string) => { try { return fs.readFileSync(`${dir}/${file}`, 'utf8').includes('sch_netem.ko'); } catch { return false; } };
  return has('modules.builtin') || has('modules.dep');
}

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
  if (leaf[0] === 'netem' && !(await netemAvailable(ctx))) throw tcError(NETEM_HINT);
  const sets = matchSets(a);
  const placed: Array<{ dev: string; band: number }> = [];
  await withLock('tc', async () => {
    for (const { dev, ingress } of devices(a)) {
      if (ingress) await ensureIfb(a, ctx);
      await ensureRoot(dev, a, ctx);
      const catchAll = a.mode === 'exclude' || sets.length === 0;
      if (catchAll && !a.force) {
        const other = (await filterPrefs(ctx.exec, dev)).find((p) => p >= 30000);
        if (other !== undefined) {
          throw tcError(`${dev} already has an experiment on all its traffic (filter pref ${other}); this one would not see its traffic. Recover it first, or add --force to stack anyway`);
        }
      }
      const used = await usedBands(ctx.exec, dev);
      let band = 2;
      while (used.includes(band)) band++;
      if (band > 0xfff) throw tcError(`${dev} has no free slot for another experiment`);
      await ctx.step('tc-class', { dev, band }, async () => {
        await ctx.exec.run('tc', ['class', 'add', 'dev', dev, 'parent', ROOT, 'classid', classId(band), 'htb', 'rate', '100gbit', 'burst', '1m', 'cburst', '1m', 'quantum', '200000']);
        await ctx.exec.run('tc', ['qdisc', 'add', 'dev', dev, 'parent', classId(band), 'handle', leafHandle(band), ...leaf]);
      });
      const add = (pref: number, match: string[], flowid: string) =>
        ctx.exec.run('tc', ['filter', 'add', 'dev', dev, 'parent', ROOT, 'protocol', 'ip', 'pref', String(pref), 'u32', ...(match.length ? match : ['match', 'u32', '0', '0']), 'flowid', flowid]);
      if (a.mode === 'exclude') {
        await ctx.step('tc-filter', { dev, pref: 100 + band }, async () => { for (const m of sets) await add(100 + band, m, PASS_CLASS); });
        await ctx.step('tc-filter', { dev, pref: 30000 + band }, async () => { await add(30000 + band, [], classId(band)); });
      } else if (sets.length) {
        await ctx.step('tc-filter', { dev, pref: 1000 + band }, async () => { for (const m of sets) await add(1000 + band, m, classId(band)); });
      } else {
        await ctx.step('tc-filter', { dev, pref: 30000 + band }, async () => { await add(30000 + band, [], classId(band)); });
      }
      placed.push({ dev, band });
    }
  });
  if (!ctx.dryRun) {
    for (const p of placed) {
      const leafOk = (await qdiscs(ctx.exec, p.dev)).some((q) => q.handle === leafHandle(p.band) && q.kind === leaf[0]);
      const prefs = await filterPrefs(ctx.exec, p.dev);
      const filterOk = [1000, 30000].some((base) => prefs.includes(base + p.band));
      if (!leafOk || !filterOk) throw tcError(`after inject, ${p.dev} does not show the ${leaf[0]} qdisc and its filters (tc qdisc/filter show); undone`);
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
    throw tcError(`${dev} has a root qdisc the host set up (${foreign.kind} ${foreign.handle}); chaosmetad leaves it alone. Add --force to replace it (recover then leaves the kernel default)`);
  }
  await ctx.step('tc-root', { dev, replaced: foreign ? `${foreign.kind} ${foreign.handle}` : '' }, async () => {
    if (ours) return;
    if (foreign) await ctx.exec.run('tc', ['qdisc', 'del', 'dev', dev, 'root']);
    await ctx.exec.run('tc', ['qdisc', 'add', 'dev', dev, 'root', 'handle', ROOT, 'htb', 'default', '0']);
    await ctx.exec.run('tc', ['class', 'add', 'dev', dev, 'parent', ROOT, 'classid', PASS_CLASS, 'htb', 'rate', '100gbit', 'burst', '1m', 'cburst', '1m', 'quantum', '200000']);
  });
}

async function ensureIfb(a: NetArgs, ctx: InjectContext): Promise<void> {
  const ifb = ifbName(a.interface);
  const ingress = (await qdiscs(ctx.exec, a.interface)).find((q) => q.kind === 'ingress');
  const ours = !!ingress && (await filterPrefs(ctx.exec, a.interface, 'ffff:')).includes(MIRRED_PREF) && ifaceExists(ifb);
  if (ingress && !ours && !a.force) throw tcError(`${a.interface} already has an ingress qdisc the host set up; add --force to use it anyway`);
  // journaled by every ingress experiment: whichever is recovered last takes the ifb down
  await ctx.step('ifb', { iface: a.interface, ifb, hadIngress: !!ingress && !ours }, async () => {
    if (ours) return;
    if (!ifaceExists(ifb)) await ctx.exec.run('ip', ['link', 'add', ifb, 'type', 'ifb']);
    await ctx.exec.run('ip', ['link', 'set', ifb, 'up']);
    if (!ingress) await ctx.exec.run('tc', ['qdisc', 'add', 'dev', a.interface, 'handle', 'ffff:', 'ingress']);
    await ctx.exec.run('tc', ['filter', 'add', 'dev', a.interface, 'parent', 'ffff:', 'protocol', 'all', 'pref', String(MIRRED_PREF), 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', ifb]);
  });
}

export const netUndo: Record<string, UndoFn> = {
  async 'tc-filter'(d, ctx) {
    await ctx.exec.run('tc', ['filter', 'del', 'dev', d.dev, 'parent', ROOT, 'protocol', 'ip', 'pref', String(d.pref)], { allowFail: true });
  },
  async 'tc-class'(d, ctx) {
    await ctx.exec.run('tc', ['qdisc', 'del', 'dev', d.dev, 'parent', classId(d.band), 'handle', leafHandle(d.band)], { allowFail: true });
    await ctx.exec.run('tc', ['class', 'del', 'dev', d.dev, 'classid', classId(d.band)], { allowFail: true });
  },
  async 'tc-root'(d, ctx) {
    await withLock('tc', async () => {
      if (!ifaceExists(d.dev)) return;
      const others = (await usedBands(ctx.exec, d.dev)).filter((b) => b !== 1);
      if (others.length) return; // another experiment still uses the tree
      if ((await qdiscs(ctx.exec, d.dev)).some((q) => q.root && q.handle === ROOT)) {
        await ctx.exec.run('tc', ['qdisc', 'del', 'dev', d.dev, 'root']);
        if (d.replaced) ctx.note(`${d.dev}: the host's root qdisc (${d.replaced}) was replaced by --force; the kernel default is back`);
      }
    });
  },
  async ifb(d, ctx) {
    await withLock('tc', async () => {
      if (ifaceExists(d.ifb) && (await usedBands(ctx.exec, d.ifb)).filter((b) => b !== 1).length) return;
      await ctx.exec.run('tc', ['filter', 'del', 'dev', d.iface, 'parent', 'ffff:', 'protocol', 'all', 'pref', String(MIRRED_PREF)], { allowFail: true });
      if (!d.hadIngress) await ctx.exec.run('tc', ['qdisc', 'del', 'dev', d.iface, 'ingress'], { allowFail: true });
      if (ifaceExists(d.ifb)) await ctx.exec.run('ip', ['link', 'del', d.ifb], { allowFail: true });
    });
  },
};

/** In place when every leaf qdisc and its filters are in the kernel. */
export async function netCheck(ctx: CheckContext, exec: import('../../host/executor').Executor): Promise<Effect> {
  const classes = ctx.steps.filter((s) => s.kind === 'tc-class');
  if (!classes.length) return 'gone';
  let ok = 0;
  for (const c of classes) {
    if (!ifaceExists(c.data.dev)) continue;
    const leafOk = (await qdiscs(exec, c.data.dev)).some((q) => q.handle === leafHandle(c.data.band));
    const prefs = await filterPrefs(exec, c.data.dev);
    if (leafOk && [1000, 30000].some((b) => prefs.includes(b + c.data.band))) ok++;
  }
  return ok === classes.length ? 'in-place' : ok ? 'partial' : 'gone';
}
