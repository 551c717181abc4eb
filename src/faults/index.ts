/** The fault registry: every fault module, listed explicitly (the single executable bundles what is listed). */
import { badArgs } from '../errors';
import { shown } from '../util/units';
import cpuBurn from './cpu/burn';
import cpuLoad from './cpu/load';
import memFill from './mem/fill';
import memOom from './mem/oom';
import processKill from './process/kill';
import processStop from './process/stop';
import fileAdd from './file/add';
import fileAppend from './file/append';
import fileChmod from './file/chmod';
import fileDel from './file/del';
import fileMv from './file/mv';
import diskFill from './disk/fill';
import diskioBurn from './diskio/burn';
import diskioHang from './diskio/hang';
import diskioLimit from './diskio/limit';
import kernelFdfull from './kernel/fdfull';
import kernelNproc from './kernel/nproc';
import networkLimit from './network/limit';
import networkOccupy from './network/occupy';
import networkPartition from './network/partition';
import dnsRecord from './dns/record';
import dnsServer from './dns/server';
import { corrupt, delay, duplicate, loss, reorder } from './network/netem';
import containerKill from './container/kill';
import containerPause from './container/pause';
import containerRestart from './container/restart';
import containerRm from './container/rm';
import jvmMethodDelay from './jvm/methoddelay';
import jvmMethodException from './jvm/methodexception';
import jvmMethodReturn from './jvm/methodreturn';
import type { FlagSpecs } from './flags';
import type { FaultDef } from './types';

export const FAULTS: FaultDef<FlagSpecs>[] = [
  cpuBurn,
  cpuLoad,
  memFill,
  memOom,
  processKill,
  processStop,
  fileAdd,
  fileAppend,
  fileChmod,
  fileDel,
  fileMv,
  diskFill,
  diskioBurn,
  diskioHang,
  diskioLimit,
  kernelFdfull,
  kernelNproc,
  delay,
  loss,
  corrupt,
  duplicate,
  reorder,
  networkLimit,
  networkOccupy,
  networkPartition,
  dnsRecord,
  dnsServer,
  containerKill,
  containerPause,
  containerRestart,
  containerRm,
  jvmMethodDelay,
  jvmMethodException,
  jvmMethodReturn,
];

export function targets(): string[] {
  return [...new Set(FAULTS.map((f) => f.target))];
}

export function faultsOf(target: string): FaultDef<any>[] {
  return FAULTS.filter((f) => f.target === target);
}

/** Look a fault up by target and fault name (or alias); unknown names list the valid ones. */
export function findFault(target: string, fault: string): FaultDef<any> {
  const ofTarget = faultsOf(target);
  if (!ofTarget.length) throw badArgs(`unknown target ${shown(target)}; valid targets: ${targets().join(', ')}`);
  const def = ofTarget.find((f) => f.fault === fault || f.aliases?.includes(fault));
  if (!def)
    throw badArgs(
      `unknown fault ${shown(fault)} for target ${target}; valid faults: ${ofTarget.map((f) => f.fault).join(', ')}`,
    );
  return def;
}
