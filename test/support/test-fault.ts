/**
 * A fault for in-process engine tests (test/unit/engine.test.ts), and the host it acts on: a FakeHost holds a set of
 * items and records every command the engine's executors run instead of running it. The fault journals one step per
 * item (`testctl add NAME`), undone by `testctl del NAME` (idempotent, as every undo must be); its check lists the
 * items. The host's `hook` decides, per command, whether it runs, fails (throws) or never returns (a crash).
 */
import { Executor, HOST, type ExecOptions, type ExecResult } from '../../src/host/executor';
import type { executorFor } from '../../src/host/scope';
import { integer } from '../../src/faults/flags';
import { defineFault, defineStep, tally, type FaultDef } from '../../src/faults/types';
import { badArgs } from '../../src/errors';

/** What a hook does to a command: run it ('run'), fail it before or after it changed the host, or hang there. */
export type Fate = 'run' | 'fail-before' | 'fail-after' | 'hang-before' | 'hang-after';

export class FakeHost {
  /** what the fault has put in place */
  readonly items = new Set<string>();
  /** every command run, in order (`testctl add a`), reads included; dry runs record into their own `planned` */
  readonly calls: string[] = [];
  hook: (call: string) => Fate = () => 'run';

  /** the commands that change the host (add, del), in order */
  changes(): string[] {
    return this.calls.filter((c) => !c.endsWith(' list'));
  }

  /** An executorFor for Engine's `executor` option: executors that act on this host. */
  readonly executor: typeof executorFor = (_target, _entry, dryRun = false, log) =>
    new RecordingExecutor(this, dryRun, log);

  async run(cmd: string, args: string[]): Promise<ExecResult> {
    const call = [cmd, ...args].join(' ');
    const fate = this.hook(call);
    if (fate === 'fail-before') throw new Error(`${call} failed (test)`);
    if (fate === 'hang-before') return new Promise<never>(() => {});
    this.calls.push(call);
    const [verb, name] = args;
    if (cmd !== 'testctl') throw new Error(`unexpected command ${call}`);
    if (verb === 'add') this.items.add(name);
    else if (verb === 'del') this.items.delete(name);
    if (fate === 'fail-after') throw new Error(`${call} failed after its change (test)`);
    if (fate === 'hang-after') return new Promise<never>(() => {});
    return { stdout: verb === 'list' ? [...this.items].join('\n') : '', stderr: '', exitCode: 0 };
  }
}

class RecordingExecutor extends Executor {
  constructor(
    private readonly host: FakeHost,
    dryRun: boolean,
    log?: (line: string) => void,
  ) {
    super(dryRun, HOST, log);
  }

  override async run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.dryRun) return super.run(cmd, args, opts);
    this.note(`run: ${[cmd, ...args].join(' ')}`); // logged as a real executor logs it
    return this.host.run(cmd, args);
  }

  override async change<T>(what: string): Promise<T | undefined> {
    throw new Error(`the test fault makes no changes from Node (${what})`);
  }
}

/** The test fault's one step kind: an item put on the fake host; its undo takes it away. */
export const itemStep = defineStep('item', async (d: { name: string }, ctx) => {
  await ctx.exec.run('testctl', ['del', d.name]);
});

/** `test steps`: one journaled step per item (`--items a,b,c`); the items' names are `${uid}-${item}`. */
export function testFault(): FaultDef {
  return defineFault({
    target: 'test',
    fault: 'steps',
    summary: 'Put items on a fake host, one journaled step each',
    examples: [],
    flags: { count: integer({ min: 1, max: 9, default: 3, description: 'how many items' }) },
    validate(a) {
      if (a.count === 9) throw badArgs('--count 9 is refused by validate (test)');
    },
    claims: () => ['test:items'],
    async inject(a, ctx) {
      const names = Array.from({ length: a.count }, (_, i) => `${ctx.uid}-${i + 1}`);
      for (const name of names) {
        await ctx.step(itemStep, { name }, async () => {
          await ctx.exec.run('testctl', ['add', name]);
        });
      }
      return { items: names };
    },
    steps: [itemStep],
    async check(_a, ctx) {
      const there = new Set((await ctx.exec.run('testctl', ['list'])).stdout.split('\n'));
      const items = ctx.stepsOf(itemStep);
      return tally(items.filter((s) => there.has(s.data.name)).length, items.length);
    },
  });
}

/** A fault registry holding only the test fault (Engine's `faults` option). */
export function testRegistry(def: FaultDef = testFault()) {
  return (target: string, fault: string): FaultDef => {
    if (target !== def.target || fault !== def.fault) throw badArgs(`unknown fault ${target} ${fault} (test registry)`);
    return def;
  };
}
