/** The netem faults (delay, loss, corrupt, duplicate, reorder): one definition each, one shared shape. */
import { badArgs } from '../../errors';
import { parseDuration } from '../../util/units';
import type { FlagSpec, FlagSpecs, ParsedFlags } from '../flags';
import { integer } from '../flags';
import { FaultDef, defineFault } from '../types';
import { NetArgs, applyLeaf, netCheck, netFlags, netSteps, validateNet } from './common';

/** A netem time: bare numbers are microseconds (as the original); tc gets whole microseconds. */
function netemTime<const O extends { char?: string; description: string; required?: boolean }>(
  o: O,
): FlagSpec<number> & Pick<O, Extract<keyof O, 'required'>> {
  return {
    kind: 'duration',
    ...o,
    parse(raw, flag) {
      const ms = parseDuration(raw, flag, 'us');
      if (ms > 3_600_000) throw badArgs(`--${flag} must be at most 1h`);
      return Math.round(ms * 1000);
    },
  };
}
const us = (n: number) => `${n}us`;
const percent = (description: string) => integer({ char: 'p', min: 1, max: 100, required: true, description });

function netemFault<F extends FlagSpecs>(
  fault: string,
  summary: string,
  examples: string[],
  flags: F,
  leaf: (a: ParsedFlags<F>) => string[],
  validate?: (a: ParsedFlags<F>) => void,
): FaultDef<F & typeof netFlags> {
  const all = { ...flags, ...netFlags };
  return defineFault({
    target: 'network',
    fault,
    volatile: true,
    container: 'net',
    summary,
    examples,
    flags: all,
    description: `${summary} with tc netem, on the traffic selected by --src-ip/--dst-ip/--src-port/--dst-port (all traffic when none; everything but those with --mode exclude), egress or ingress (--direction in, through an ifb device). Several experiments can share an interface; each is recovered on its own.`,
    validate(a, target) {
      validateNet(a as unknown as NetArgs, target);
      validate?.(a);
    },
    inject: (a, ctx) => applyLeaf(a as unknown as NetArgs, ['netem', ...leaf(a as ParsedFlags<F>)], ctx),
    steps: netSteps,
    check: (_a, ctx) => netCheck(ctx, ctx.exec),
  });
}

export const delay = netemFault(
  'delay',
  'Delay packets',
  [
    'chaosmetad inject network delay -i eth0 -l 200ms -t 10m',
    'chaosmetad inject network delay -i eth0 -l 100ms -j 20ms --dst-port 443 -t 5m',
  ],
  {
    latency: netemTime({
      char: 'l',
      required: true,
      description: 'added delay: 200ms, 1s, 500us (bare numbers are microseconds)',
    }),
    jitter: netemTime({ char: 'j', description: 'random variation of the delay, same units' }),
  },
  (a) => ['delay', us(a.latency), ...(a.jitter ? [us(a.jitter), 'distribution', 'normal'] : [])],
  (a) => {
    if (a.jitter !== undefined && a.jitter > a.latency) throw badArgs('--jitter must not be larger than --latency');
  },
);

export const loss = netemFault(
  'loss',
  'Drop a percentage of packets',
  ['chaosmetad inject network loss -i eth0 -p 30 --dst-ip 10.0.0.0/8 -t 5m'],
  { percent: percent('share of packets dropped, 1..100') },
  (a) => ['loss', `${a.percent}%`],
);

export const corrupt = netemFault(
  'corrupt',
  'Corrupt a percentage of packets (a random bit flipped)',
  ['chaosmetad inject network corrupt -i eth0 -p 10 -t 5m'],
  { percent: percent('share of packets corrupted, 1..100') },
  (a) => ['corrupt', `${a.percent}%`],
);

export const duplicate = netemFault(
  'duplicate',
  'Duplicate a percentage of packets',
  ['chaosmetad inject network duplicate -i eth0 -p 10 -t 5m'],
  { percent: percent('share of packets sent twice, 1..100') },
  (a) => ['duplicate', `${a.percent}%`],
);

export const reorder = netemFault(
  'reorder',
  'Reorder packets: all but every --gap-th are held back by --latency',
  ['chaosmetad inject network reorder -i eth0 -l 10ms -g 5 -t 5m'],
  {
    latency: netemTime({
      char: 'l',
      required: true,
      description: 'delay of the held-back packets: 10ms (bare numbers are microseconds)',
    }),
    gap: integer({
      char: 'g',
      min: 1,
      max: 1_000_000,
      default: 5,
      description: 'every gap-th packet goes at once, the others wait (default 5)',
    }),
  },
  (a) => ['delay', us(a.latency), 'reorder', '100%', 'gap', String(a.gap)],
);
