/** The fault registry: every fault module, listed explicitly (the single executable bundles what is listed). */
import { badArgs } from '../errors';
import { shown } from '../util/units';
import type { FlagSpecs } from './flags';
import type { FaultDef } from './types';

/**
 * Each fault by name, its module loaded when first asked for: `inject cpu burn` loads cpu/burn and what it imports,
 * not 34 fault modules (a third of the fast inject path's start-up). The names and aliases here must be the
 * modules' own (test/unit/registry.test.ts compares them).
 */
interface Entry {
  target: string;
  fault: string;
  aliases?: string[];
  load: () => FaultDef<FlagSpecs>;
}

/* eslint-disable @typescript-eslint/no-require-imports */
const REGISTRY: Entry[] = [
  { target: 'cpu', fault: 'burn', load: () => (require('./cpu/burn') as typeof import('./cpu/burn')).default },
  { target: 'cpu', fault: 'load', load: () => (require('./cpu/load') as typeof import('./cpu/load')).default },
  { target: 'mem', fault: 'fill', load: () => (require('./mem/fill') as typeof import('./mem/fill')).default },
  { target: 'mem', fault: 'oom', load: () => (require('./mem/oom') as typeof import('./mem/oom')).default },
  {
    target: 'process',
    fault: 'kill',
    load: () => (require('./process/kill') as typeof import('./process/kill')).default,
  },
  {
    target: 'process',
    fault: 'stop',
    load: () => (require('./process/stop') as typeof import('./process/stop')).default,
  },
  { target: 'file', fault: 'add', load: () => (require('./file/add') as typeof import('./file/add')).default },
  { target: 'file', fault: 'append', load: () => (require('./file/append') as typeof import('./file/append')).default },
  { target: 'file', fault: 'chmod', load: () => (require('./file/chmod') as typeof import('./file/chmod')).default },
  {
    target: 'file',
    fault: 'del',
    aliases: ['delete'],
    load: () => (require('./file/del') as typeof import('./file/del')).default,
  },
  { target: 'file', fault: 'mv', load: () => (require('./file/mv') as typeof import('./file/mv')).default },
  { target: 'disk', fault: 'fill', load: () => (require('./disk/fill') as typeof import('./disk/fill')).default },
  { target: 'diskio', fault: 'burn', load: () => (require('./diskio/burn') as typeof import('./diskio/burn')).default },
  { target: 'diskio', fault: 'hang', load: () => (require('./diskio/hang') as typeof import('./diskio/hang')).default },
  {
    target: 'diskio',
    fault: 'limit',
    load: () => (require('./diskio/limit') as typeof import('./diskio/limit')).default,
  },
  {
    target: 'kernel',
    fault: 'fdfull',
    load: () => (require('./kernel/fdfull') as typeof import('./kernel/fdfull')).default,
  },
  {
    target: 'kernel',
    fault: 'nproc',
    load: () => (require('./kernel/nproc') as typeof import('./kernel/nproc')).default,
  },
  {
    target: 'network',
    fault: 'delay',
    load: () => (require('./network/netem') as typeof import('./network/netem')).delay,
  },
  {
    target: 'network',
    fault: 'loss',
    load: () => (require('./network/netem') as typeof import('./network/netem')).loss,
  },
  {
    target: 'network',
    fault: 'corrupt',
    load: () => (require('./network/netem') as typeof import('./network/netem')).corrupt,
  },
  {
    target: 'network',
    fault: 'duplicate',
    load: () => (require('./network/netem') as typeof import('./network/netem')).duplicate,
  },
  {
    target: 'network',
    fault: 'reorder',
    load: () => (require('./network/netem') as typeof import('./network/netem')).reorder,
  },
  {
    target: 'network',
    fault: 'limit',
    load: () => (require('./network/limit') as typeof import('./network/limit')).default,
  },
  {
    target: 'network',
    fault: 'occupy',
    load: () => (require('./network/occupy') as typeof import('./network/occupy')).default,
  },
  {
    target: 'network',
    fault: 'partition',
    load: () => (require('./network/partition') as typeof import('./network/partition')).default,
  },
  { target: 'dns', fault: 'record', load: () => (require('./dns/record') as typeof import('./dns/record')).default },
  { target: 'dns', fault: 'server', load: () => (require('./dns/server') as typeof import('./dns/server')).default },
  {
    target: 'container',
    fault: 'kill',
    load: () => (require('./container/kill') as typeof import('./container/kill')).default,
  },
  {
    target: 'container',
    fault: 'pause',
    load: () => (require('./container/pause') as typeof import('./container/pause')).default,
  },
  {
    target: 'container',
    fault: 'restart',
    load: () => (require('./container/restart') as typeof import('./container/restart')).default,
  },
  {
    target: 'container',
    fault: 'rm',
    load: () => (require('./container/rm') as typeof import('./container/rm')).default,
  },
  {
    target: 'jvm',
    fault: 'methoddelay',
    load: () => (require('./jvm/methoddelay') as typeof import('./jvm/methoddelay')).default,
  },
  {
    target: 'jvm',
    fault: 'methodexception',
    load: () => (require('./jvm/methodexception') as typeof import('./jvm/methodexception')).default,
  },
  {
    target: 'jvm',
    fault: 'methodreturn',
    load: () => (require('./jvm/methodreturn') as typeof import('./jvm/methodreturn')).default,
  },
];
/* eslint-enable @typescript-eslint/no-require-imports */

const loaded = new Map<Entry, FaultDef<FlagSpecs>>();
function load(e: Entry): FaultDef<FlagSpecs> {
  let def = loaded.get(e);
  if (!def) loaded.set(e, (def = e.load()));
  return def;
}

/** Every fault, in registry order (loads them all: the command tree, completion, tests). */
export function allFaults(): FaultDef<FlagSpecs>[] {
  return REGISTRY.map(load);
}

/** The registry's own names (no module loaded): for tests comparing them with the modules. */
export function registryNames(): Array<{ target: string; fault: string; aliases: string[] }> {
  return REGISTRY.map((e) => ({ target: e.target, fault: e.fault, aliases: e.aliases ?? [] }));
}

export function targets(): string[] {
  return [...new Set(REGISTRY.map((f) => f.target))];
}

export function faultsOf(target: string): FaultDef<FlagSpecs>[] {
  return REGISTRY.filter((f) => f.target === target).map(load);
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
  return load(entry);
}
