/** oclif's explicit command list (package.json oclif.commands), generated from the fault registry. */
import type { Command } from '@oclif/core';
import { allFaults } from './faults/index';
import { injectCommand } from './cli/inject';
import Completion from './cli/completion';
import { Check, Version, Watch } from './cli/misc';
import Query from './cli/query';
import { Renew } from './cli/renew';
import { ScheduleList, ScheduleRemove } from './cli/schedule';
import Recover from './cli/recover';
import Server from './server/command';
import {
  DrillAbort,
  DrillList,
  DrillReport,
  DrillRun,
  DrillSchedules,
  DrillSchema,
  DrillShow,
  DrillUnschedule,
  DrillValidate,
} from './cli/drill';
import { KubeAgents, KubeQuery, KubeRecover, kubeInjectCommand } from './cli/kube';

export const COMMANDS: Record<string, Command.Class> = {
  query: Query,
  recover: Recover,
  server: Server,
  version: Version,
  check: Check,
  watch: Watch,
  renew: Renew,
  'schedule:list': ScheduleList,
  'schedule:remove': ScheduleRemove,
  completion: Completion,
  'kube:query': KubeQuery,
  'kube:recover': KubeRecover,
  'kube:agents': KubeAgents,
  'drill:run': DrillRun,
  'drill:validate': DrillValidate,
  'drill:list': DrillList,
  'drill:show': DrillShow,
  'drill:report': DrillReport,
  'drill:abort': DrillAbort,
  'drill:schedules': DrillSchedules,
  'drill:unschedule': DrillUnschedule,
  'drill:schema': DrillSchema,
};
for (const def of allFaults()) COMMANDS[`inject:${def.target}:${def.fault}`] = injectCommand(def);
for (const def of allFaults()) COMMANDS[`kube:inject:${def.target}:${def.fault}`] = kubeInjectCommand(def);
