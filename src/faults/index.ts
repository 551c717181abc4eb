/** The fault registry: every fault module, listed explicitly (the single executable bundles what is listed). */
import { badArgs } from '../errors';
import { shown } from '../util/units';
import type { FlagSpecs } from './flags';
import type { FaultDef } from './types';

/**
 * Each fault by name, its module loaded when first asked for: `inject cpu burn` loads cpu/burn and what it imports,
 * not 34 fault modules (a third of the fast inject path's start-up). A fault is its module's default export, or the
 * export named after it (network/netem). The names and aliases here must be the modules' own (checked on loading;
 * test/unit/registry.test.ts compares them all).
 */
interface RegistryEntry {
  target: string;
  fault: string;
  aliases?: string[];
  load: () => FaultDef<FlagSpecs>;
}

/** A registry line: the fault's names and its module, required on first use (see util/lazy.ts). */
function lazyFault(target: string, name: string, module: () => unknown, aliases?: string[]): RegistryEntry {
  let def: FaultDef<FlagSpecs> | undefined;
  const load = () => {
    if (def) return def;
    const m = module() as Record<string, FaultDef<FlagSpecs> | undefined>;
    const d = m.default ?? m[name];
    if (d?.target !== target || d.fault !== name)
      throw new Error(`fault registry: ${target} ${name} is not its module's`);
    return (def = d);
  };
  return { target, fault: name, aliases, load };
}

const REGISTRY: RegistryEntry[] = [
  lazyFault('cpu', 'burn', () => require('./cpu/burn')),
  lazyFault('cpu', 'load', () => require('./cpu/load')),
  lazyFault('mem', 'fill', () => require('./mem/fill')),
  lazyFault('mem', 'oom', () => require('./mem/oom')),
  lazyFault('process', 'kill', () => require('./process/kill')),
  lazyFault('process', 'stop', () => require('./process/stop')),
  lazyFault('file', 'add', () => require('./file/add')),
  lazyFault('file', 'append', () => require('./file/append')),
  lazyFault('file', 'chmod', () => require('./file/chmod')),
  lazyFault('file', 'del', () => require('./file/del'), ['delete']),
  lazyFault('file', 'mv', () => require('./file/mv')),
  lazyFault('disk', 'fill', () => require('./disk/fill')),
  lazyFault('diskio', 'burn', () => require('./diskio/burn')),
  lazyFault('diskio', 'hang', () => require('./diskio/hang')),
  lazyFault('diskio', 'limit', () => require('./diskio/limit')),
  lazyFault('kernel', 'fdfull', () => require('./kernel/fdfull')),
  lazyFault('kernel', 'nproc', () => require('./kernel/nproc')),
  lazyFault('network', 'delay', () => require('./network/netem')),
  lazyFault('network', 'loss', () => require('./network/netem')),
  lazyFault('network', 'corrupt', () => require('./network/netem')),
  lazyFault('network', 'duplicate', () => require('./network/netem')),
  lazyFault('network', 'reorder', () => require('./network/netem')),
  lazyFault('network', 'limit', () => require('./network/limit')),
  lazyFault('network', 'occupy', () => require('./network/occupy')),
  lazyFault('network', 'partition', () => require('./network/partition')),
  lazyFault('dns', 'record', () => require('./dns/record')),
  lazyFault('dns', 'server', () => require('./dns/server')),
  lazyFault('container', 'kill', () => require('./container/kill')),
  lazyFault('container', 'pause', () => require('./container/pause')),
  lazyFault('container', 'restart', () => require('./container/restart')),
  lazyFault('container', 'rm', () => require('./container/rm')),
  lazyFault('jvm', 'methoddelay', () => require('./jvm/methoddelay')),
  lazyFault('jvm', 'methodexception', () => require('./jvm/methodexception')),
  lazyFault('jvm', 'methodreturn', () => require('./jvm/methodreturn')),
];

/** Every fault, in registry order (loads them all: the command tree, completion, tests). */
export function allFaults(): FaultDef<FlagSpecs>[] {
  return REGISTRY.map((e) => e.load());
}

/** The registry's own names (no module loaded): for tests comparing them with the modules. */
export function registryNames(): Array<{ target: string; fault: string; aliases: string[] }> {
  return REGISTRY.map((e) => ({ target: e.target, fault: e.fault, aliases: e.aliases ?? [] }));
}

export function targets(): string[] {
  return [...new Set(REGISTRY.map((f) => f.target))];
}

export function faultsOf(target: string): FaultDef<FlagSpecs>[] {
  return REGISTRY.filter((f) => f.target === target).map((e) => e.load());
}

/** Look a fault up by target and fault name (or alias); unknown names list the valid ones. */
export function findFault(target: string, fault: string): FaultDef<FlagSpecs> {
  const ofTarget = REGISTRY.filter((f) => f.target === target);
  if (!ofTarget.length) throw badArgs(`unknown target ${shown(target)}; valid targets: ${targets().join(', ')}`);
  const entry = ofTarget.find((f) => f.fault === fault || f.aliases?.includes(fault));
  if (!entry)
    throw badArgs(
      `unknown fault ${shown(fault)} for target ${target}; valid faults: ${ofTarget.map((f) => f.fault).join(', ')}`,
    );
  return entry.load();
}
