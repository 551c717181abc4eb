/**
 * What the JVM faults share: the flags (--pid / --key, --method class@method@value,…), choosing the JVMs, and the
 * journaled rule in each one — added by chaosmetad's Java agent (host/jvm.ts attaches it), removed at recover, asked
 * at check. The rule carries the experiment's deadline: the JVM restores itself even when chaosmetad is gone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badArgs, injectError } from '../../errors';
import { hostPathOf } from '../../host/mounts';
import { withParent } from '../../host/safefs';
import { lstatOrNone } from '../workfiles';
import {
  type Jvm,
  AttachError,
  agentCommand,
  existsInJvm,
  jarComplete,
  jvmOf,
  newJarPath,
  notAttachable,
  jvmTmp,
  placeJar,
  removeInJvm,
  sweepCommands,
} from '../../host/jvm';
import { hostPidIn, identify, matchKey, sameProcess } from '../../host/procs';
import { type Scope, isContainer } from '../../host/scope';
import { shown } from '../../util/units';
import { type FlagSpec, integer, string } from '../flags';
import type { CheckContext, InjectContext } from '../types';
import { defineStep, tally } from '../types';

export type Kind = 'delay' | 'exception' | 'return';

export interface MethodSpec {
  cls: string;
  method: string;
  value: string;
}

const CLASS = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
const METHOD = /^[A-Za-z_$][\w$]*(\([\w$/;[]*\)[\w$/;[]+)?$/;

function parseMethods(raw: unknown, flag: string): MethodSpec[] {
  if (typeof raw !== 'string' || !raw.trim())
    throw badArgs(`--${flag} must be class@method@value (comma separated), got ${shown(raw)}`);
  if (raw.length > 4096) throw badArgs(`--${flag} is too long (at most 4096 characters)`);
  if (/[\0\n\r]/.test(raw)) throw badArgs(`--${flag} must not contain NUL or newline characters`);
  return raw.split(',').map((item) => {
    const [cls, method, ...rest] = item.trim().split('@');
    const value = rest.join('@');
    if (!cls || !method || rest.length === 0)
      throw badArgs(`--${flag}: ${shown(item.trim())} is not class@method@value (e.g. com.shop.Cart@total@100)`);
    if (!CLASS.test(cls)) throw badArgs(`--${flag}: ${shown(cls)} is not a class name (e.g. com.shop.Cart)`);
    if (!METHOD.test(method))
      throw badArgs(`--${flag}: ${shown(method)} is not a method name (a name, or name(descriptor) e.g. total(I)J)`);
    return { cls, method, value };
  });
}

export const jvmFlags = {
  pid: integer({
    char: 'p',
    min: 1,
    max: 4_194_304,
    description: 'the JVM (as seen in the container with --container-id)',
  }),
  key: string({
    char: 'k',
    maxLength: 256,
    description: 'every JVM whose command line contains this',
  }),
  method: {
    kind: 'string',
    char: 'm',
    required: true,
    description:
      'class@method@value, comma separated; every overload of the name, or one: class@name(descriptor)@value',
    parse: parseMethods,
  } as FlagSpec<MethodSpec[]> & { required: true },
};

type Args = { pid?: number; key?: string; method: MethodSpec[] };

/** The JVMs chosen (as this host sees them): --pid, or every JVM --key matches; in a container only its own. */
export function jvms(a: Args, where: Scope): number[] {
  if (a.pid !== undefined) {
    const pid = isContainer(where) ? hostPidIn(where.pid, a.pid) : a.pid;
    if (pid === undefined) throw badArgs(`--pid ${a.pid}: no such process in the container's pid namespace`);
    return [pid];
  }
  const init = isContainer(where) ? where.pid : undefined;
  return matchKey(a.key!, { nsOf: init })
    .map((p) => p.pid)
    .filter((pid) => !notAttachable(pid));
}

export function validate(a: Args, where: Scope, check: (m: MethodSpec) => void): void {
  if (a.pid === undefined && a.key === undefined) throw badArgs('one of --pid or --key is required');
  if (a.pid !== undefined && a.key !== undefined) throw badArgs('--pid and --key cannot be used together; choose one');
  for (const m of a.method) check(m);
  const pids = jvms(a, where);
  if (!pids.length) throw badArgs(`--key ${shown(a.key)} matches no JVM chaosmetad can attach to`);
  for (const pid of pids) {
    const why = notAttachable(pid);
    if (why) throw badArgs(`--pid ${a.pid ?? pid}: ${why}`);
  }
}

/** One JVM method is one experiment's at a time (the agent refuses a second rule on it too). */
export const claims = (a: Args, where: Scope): string[] => {
  let pids: number[] = [];
  try {
    pids = jvms(a, where);
  } catch {
    /* validate says why */
  }
  return pids.flatMap((pid) => a.method.map((m) => `jvm ${pid} ${m.cls}.${m.method.split('(')[0]}`));
};

/** Add the rule in every chosen JVM; the step is journaled before the agent is asked. */
export async function inject(kind: Kind, a: Args, ctx: InjectContext) {
  const methods = a.method.map((m) => `${m.cls}@${m.method}@${m.value}`).join(',');
  const changed: Array<{ pid: number; methods: unknown }> = [];
  for (const t of identify(jvms(a, ctx.scope))) {
    const j = jvmOf(t.pid);
    const rule = { op: 'add', uid: ctx.uid, kind, methods, deadline: ctx.deadline ?? 0 };
    // the jar's name is journaled before it is put in the JVM's /tmp: an inject killed at any point leaves a step
    // whose undo finds the jar (then asks the agent to remove the rule) or finds nothing to do
    const jar = newJarPath();
    let where: { jar_host?: string; jar_ino?: number } = {};
    await ctx.step(jvmRuleStep, { ...j, start: t.start, jar }, async () => {
      await ctx.exec.change(
        `attach to JVM ${t.pid} (uid ${j.uid}) and load chaosmetad's agent from ${jar}: ${kind} ${methods}`,
        async () => {
          placeJar(j, jar);
          // where the jar is on the host too: removed from there should the JVM be gone at recover
          const host = hostPathOf(j.pid, jar);
          const ino = lstatOrNone(`/proc/${j.pid}/root${jar}`)?.ino;
          if (host && ino !== undefined && lstatOrNone(host)?.ino === ino) where = { jar_host: host, jar_ino: ino };
          let reply;
          try {
            reply = await agentCommand(j, jar, rule);
          } catch (e) {
            throw injectError((e as Error).message);
          }
          if (!reply.ok) {
            const err = `JVM ${t.pid}: ${reply.error ?? 'the agent failed'}`;
            throw reply.bad_args ? badArgs(err) : injectError(err);
          }
          changed.push({ pid: t.pid, methods: reply.methods });
        },
      );
      return where;
    });
  }
  return { jvms: changed };
}

/**
 * The rule in one JVM (the process, with its start time), loaded by the agent jar `jar` in its /tmp; `jar_host`,
 * `jar_ino`: that jar as the host sees it, when it has a path there.
 */
type JvmRule = Jvm & { start?: number; jar: string; jar_host?: string; jar_ino?: number };

export const jvmRuleStep = defineStep('jvm-rule', async (j: JvmRule, ctx) => {
  if (!sameProcess(j.pid, j.start)) {
    // its changes went with it; the agent jar may still be in its /tmp (the host's, or a stopped container's layer)
    const st = j.jar_host ? lstatOrNone(j.jar_host) : undefined;
    if (j.jar_host && st?.isFile() && st.ino === j.jar_ino) {
      const hp = j.jar_host;
      await ctx.exec.change(`remove ${hp} (the agent jar of the JVM that is gone)`, () =>
        withParent(hp, (dir, name) => fs.unlinkSync(dir.at(name))),
      );
    }
    if (j.jar_host) sweepCommands(path.dirname(j.jar_host), ctx.uid, j.uid);
    ctx.note(`JVM ${j.pid} is gone: nothing to undo in it`);
    return;
  }
  sweepCommands(jvmTmp(j), ctx.uid, j.uid); // left by a chaosmetad killed mid-attach
  if (!existsInJvm(j, j.jar)) return; // the jar was never put there: no attach happened
  if (!jarComplete(j, j.jar)) {
    // cut short by a kill while it was written: the attach comes after, so none happened with it
    removeInJvm(j, j.jar);
    return;
  }
  await ctx.exec.change(`remove the rule of ${ctx.uid} from JVM ${j.pid} (its original bytecode back)`, async () => {
    const reply = await agentCommand(j, j.jar, { op: 'remove', uid: ctx.uid });
    if (!reply.ok) throw new Error(`JVM ${j.pid}: ${reply.error}`);
    if (reply.removed === false)
      ctx.note(`JVM ${j.pid} had no rule ${ctx.uid} left (its deadline passed, or it restarted)`);
    removeInJvm(j, j.jar);
    sweepCommands(jvmTmp(j), ctx.uid, j.uid);
  });
});

export async function check(ctx: CheckContext): Promise<'in-place' | 'partial' | 'gone' | 'unknown'> {
  const rules = ctx.stepsOf(jvmRuleStep);
  if (!rules.length) return 'unknown';
  let held = 0;
  for (const s of rules) {
    const j = s.data;
    if (!sameProcess(j.pid, j.start) || !existsInJvm(j, j.jar)) continue;
    try {
      const r = await agentCommand(j, j.jar, { op: 'status', uid: ctx.uid });
      if (r.active) held++;
    } catch (e) {
      if (!(e instanceof AttachError)) throw e;
    }
  }
  return tally(held, rules.length);
}
