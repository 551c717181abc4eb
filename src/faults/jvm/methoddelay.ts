import { badArgs } from '../../errors';
import { defineFault } from '../types';
import { check, claims, inject, jvmFlags, jvmRuleStep, validate } from './common';

export default defineFault({
  target: 'jvm',
  fault: 'methoddelay',
  container: 'pid',
  undoWhenGone: [jvmRuleStep],
  volatile: true,
  summary: 'Delay Java methods in a running JVM (value = milliseconds slept before the body)',
  description:
    "Loads chaosmetad's Java agent into the JVM (HotSpot's attach; no JDK needed here, none in the container) and " +
    'changes each named method so that it first sleeps value ms. All overloads of a name, or one given as ' +
    'name(descriptor). The class must be loaded. Recover puts the original bytecode back; the rule carries the ' +
    "experiment's deadline, so the JVM restores itself even without chaosmetad.",
  examples: ['chaosmetad inject jvm methoddelay --key shop.jar --method com.shop.Cart@total@200 --timeout 5m'],
  flags: { ...jvmFlags },
  validate: (a, target) =>
    validate(a, target, (m) => {
      if (!/^\d{1,7}$/.test(m.value.trim()) || Number(m.value) > 3_600_000)
        throw badArgs(`--method ${m.cls}@${m.method}@${m.value}: the delay must be whole milliseconds, 0..3600000`);
    }),
  claims,
  inject: (a, ctx) => inject('delay', a, ctx),
  steps: [jvmRuleStep],
  check: (_a, ctx) => check(ctx),
});
