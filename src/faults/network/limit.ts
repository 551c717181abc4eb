import { badArgs } from '../../errors';
import { mtu } from '../../host/tc';
import { shown } from '../../util/units';
import type { FlagSpec } from '../flags';
import { size } from '../flags';
import { defineFault } from '../types';
import { applyLeaf, netCheck, netFlags, netSteps, validateNet } from './common';

const RATE_UNITS: Record<string, number> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  tbit: 1e12,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
};

/** A rate as tc writes it (bit, kbit, mbit, gbit, tbit; bps… are bytes per second), in bits per second. */
const rate: FlagSpec<number> & { required: true } = {
  kind: 'string',
  char: 'r',
  required: true,
  description: 'bandwidth: 1mbit, 500kbit, 10gbit (bit/kbit/mbit/gbit/tbit; bps, kbps… are bytes)',
  parse(raw, flag) {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(typeof raw === 'string' ? raw.trim() : '');
    const unit = m?.[2].toLowerCase();
    if (!m || !unit || !(unit in RATE_UNITS))
      throw badArgs(`--${flag} must be a rate like 1mbit, 500kbit or 10gbit, got ${shown(raw)}`);
    const bits = Math.round(Number(m[1]) * RATE_UNITS[unit]);
    if (bits < 8 || bits > 1e13) throw badArgs(`--${flag} must be between 8bit and 10tbit, got ${shown(raw)}`);
    return bits;
  },
};

export default defineFault({
  target: 'network',
  fault: 'limit',
  container: 'net',
  volatile: true,
  summary: 'Limit bandwidth',
  description:
    'Caps the selected traffic at --rate with a token bucket (tc tbf; no netem needed). The bucket holds --burst ' +
    'bytes (default: a tenth of a second at the rate, at least two MTUs of the interface — 128 KB on lo).',
  examples: ['chaosmetad inject network limit -i eth0 -r 1mbit --dst-port 8080 -t 5m'],
  flags: {
    rate,
    burst: size({
      char: 'b',
      unit: 'B',
      description: 'token bucket size, e.g. 64KB (default: rate/10, at least 2 MTUs)',
    }),
    ...netFlags,
  },
  validate(a, target) {
    validateNet(a, target);
  },
  async inject(a, ctx) {
    const burst = a.burst ?? Math.max(Math.ceil(a.rate / 8 / 10), 2 * mtu(a.interface, ctx.exec), 16 * 1024);
    return applyLeaf(a, ['tbf', 'rate', `${a.rate}bit`, 'burst', String(burst), 'latency', '200ms'], ctx);
  },
  steps: netSteps,
  check: (_a, ctx) => netCheck(ctx, ctx.exec),
});
