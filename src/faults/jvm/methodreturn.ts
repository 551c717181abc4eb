import { defineFault } from '../types';
import { check, claims, inject, jvmFlags, jvmRuleStep, validate } from './common';

export default defineFault({
  target: 'jvm',
  fault: 'methodreturn',
  container: 'pid',
  undoWhenGone: [jvmRuleStep],
  volatile: true,
  summary: 'Make Java methods return a value at once (value converted to the return type)',
  description:
    "Loads chaosmetad's Java agent into the JVM and changes each named method to return value before its body: " +
    'converted to the return type — int, long, short, byte, double, float, boolean, char, their boxes, String, or ' +
    'null for any object type. A value that does not convert, or a void method, is refused (exit 1) before ' +
    'anything changes. All overloads of a name, or name(descriptor). Recover puts the original bytecode back.',
  examples: [
    'chaosmetad inject jvm methodreturn -k shop.jar -m com.shop.Cart@total@0,com.shop.Cart@currency@EUR -t 1m',
  ],
  flags: { ...jvmFlags },
  validate: (a, target) => validate(a, target, () => {}),
  claims,
  inject: (a, ctx) => inject('return', a, ctx),
  steps: [jvmRuleStep],
  check: (_a, ctx) => check(ctx),
});
