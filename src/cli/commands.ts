/** oclif's explicit command list (package.json oclif.commands), generated from the fault registry. */
import type { Command } from '@oclif/core';
import { FAULTS } from '../faults/index';
import { injectCommand } from './inject';
import Completion from './completion';
import { Check, Version, Watch } from './misc';
import Query from './query';
import { Renew, ScheduleList, ScheduleRemove } from './lease';
import Recover from './recover';
import Server from './server';

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
};
for (const def of FAULTS) COMMANDS[`inject:${def.target}:${def.fault}`] = injectCommand(def);
