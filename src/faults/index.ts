/** The fault registry: every fault module, listed explicitly (the single executable bundles what is listed). */
import { badArgs } from '../errors';
import { shown } from '../util/units';
import type { FlagSpecs } from './flags';
import type { FaultDef } from './types';
import { lazy } from '../util/lazy';

/**
 * Each fault by name, its module loaded when first asked for: `inject cpu burn` loads cpu/burn and what it imports,
 * not 34 fault modules (a third of the fast inject path's start-up). A fault is its module's default export, or the
 * export named after it (network/netem). The names and aliases here must be the modules' own (checked on loading;
 * test/unit/registry.test.ts compares them all).
 */
interface Entry {
  target: string;
  fault: string;
  aliases?: string[];
  load: () => FaultDef<FlagSpecs>;
}

function fault(target: string, name: string, module: () => unknown, aliases?: string[]): Entry {
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

const REGISTRY: Entry[] = [
  fault(
    'cpu',
    'burn',
    lazy(() => require('./cpu/burn')),
  ),
  fault(
    'cpu',
    'load',
    lazy(() => require('./cpu/load')),
  ),
  fault(
    'mem',
    'fill',
    lazy(() => require('./mem/fill')),
  ),
  fault(
    'mem',
    'oom',
    lazy(() => require('./mem/oom')),
  ),
  fault(
    'process',
    'kill',
    lazy(() => require('./process/kill')),
  ),
  fault(
    'process',
    'stop',
    lazy(() => require('./process/stop')),
  ),
  fault(
    'file',
    'add',
    lazy(() => require('./file/add')),
  ),
  fault(
    'file',
    'append',
    lazy(() => require('./file/append')),
  ),
  fault(
    'file',
    'chmod',
    lazy(() => require('./file/chmod')),
  ),
  fault(
    'file',
    'del',
    lazy(() => require('./file/del')),
    ['delete'],
  ),
  fault(
    'file',
    'mv',
    lazy(() => require('./file/mv')),
  ),
  fault(
    'disk',
    'fill',
    lazy(() => require('./disk/fill')),
  ),
  fault(
    'diskio',
    'burn',
    lazy(() => require('./diskio/burn')),
  ),
  fault(
    'diskio',
    'hang',
    lazy(() => require('./diskio/hang')),
  ),
  fault(
    'diskio',
    'limit',
    lazy(() => require('./diskio/limit')),
  ),
  fault(
    'kernel',
    'fdfull',
    lazy(() => require('./kernel/fdfull')),
  ),
  fault(
    'kernel',
    'nproc',
    lazy(() => require('./kernel/nproc')),
  ),
  fault(
    'network',
    'delay',
    lazy(() => require('./network/netem')),
  ),
  fault(
    'network',
    'loss',
    lazy(() => require('./network/netem')),
  ),
  fault(
    'network',
    'corrupt',
    lazy(() => require('./network/netem')),
  ),
  fault(
    'network',
    'duplicate',
    lazy(() => require('./network/netem')),
  ),
  fault(
    'network',
    'reorder',
    lazy(() => require('./network/netem')),
  ),
  fault(
    'network',
    'limit',
    lazy(() => require('./network/limit')),
  ),
  fault(
    'network',
    'occupy',
    lazy(() => require('./network/occupy')),
  ),
  fault(
    'network',
    'partition',
    lazy(() => require('./network/partition')),
  ),
  fault(
    'dns',
    'record',
    lazy(() => require('./dns/record')),
  ),
  fault(
    'dns',
    'server',
    lazy(() => require('./dns/server')),
  ),
  fault(
    'container',
    'kill',
    lazy(() => require('./container/kill')),
  ),
  fault(
    'container',
    'pause',
    lazy(() => require('./container/pause')),
  ),
  fault(
    'container',
    'restart',
    lazy(() => require('./container/restart')),
  ),
  fault(
    'container',
    'rm',
    lazy(() => require('./container/rm')),
  ),
  fault(
    'jvm',
    'methoddelay',
    lazy(() => require('./jvm/methoddelay')),
  ),
  fault(
    'jvm',
    'methodexception',
    lazy(() => require('./jvm/methodexception')),
  ),
  fault(
    'jvm',
    'methodreturn',
    lazy(() => require('./jvm/methodreturn')),
  ),
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
