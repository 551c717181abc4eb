import { badArgs } from '../../errors';
import { defineFault } from '../types';
import { check, claims, inject, jvmFlags, jvmRuleStep, validate } from './common';

export default defineFault({
  target: 'jvm',
  fault: 'methodexception',
  container: 'pid',
  undoWhenGone: [jvmRuleStep],
  volatile: true,
  summary: 'Make Java methods throw (value = the message; ExceptionClass:message for another class)',
  description:
    "Loads chaosmetad's Java agent into the JVM and changes each named method so that it throws before its body: " +
    'a java.lang.RuntimeException with value as its message, or the named class when value is ' +
    "ExceptionClass:message (e.g. java.io.IOException:disk gone; found by the class loader of the method's class, " +
    'built with its (String) constructor). All overloads of a name, or name(descriptor). Recover puts the original ' +
    'bytecode back; the deadline travels with the rule.',
  examples: [
    'chaosmetad inject jvm methodexception -p 4242 -m com.shop.Cart@total@boom -t 1m',
    'chaosmetad inject jvm methodexception -k shop.jar -m "com.shop.Db@query@java.sql.SQLException:db down" -t 1m',
  ],
  flags: { ...jvmFlags },
  validate: (a, target) =>
    validate(a, target, (m) => {
      if (!m.value.trim()) throw badArgs(`--method ${m.cls}@${m.method}@: give the exception's message`);
    }),
  claims,
  inject: (a, ctx) => inject('exception', a, ctx),
  steps: [jvmRuleStep],
  check: (_a, ctx) => check(ctx),
});
