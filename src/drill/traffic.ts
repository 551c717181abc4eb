/**
 * A drill's built-in HTTP load (the drill format's `traffic`): autocannon's HTTP/1.1 clients, in this process (no
 * workers, no child), printing nothing, running until stop(). The runner takes a tick every sample interval — the
 * requests that finished since the last one: their rate, the share that succeeded, their p50 and p99 — which become
 * the series traffic.rps, traffic.success, traffic.p50 and traffic.p99.
 *
 * A request succeeds when it is answered with a 2xx or 3xx within `timeout`; one answered otherwise is a non-2xx,
 * one that gets no answer in time a timeout (its latency is the time waited, about `timeout`), one whose connection
 * fails or is closed under it an error. Latency is milliseconds from writing the request to its last byte.
 *
 * Pacing is ours: autocannon's rate limit lets each connection send its share of a second back to back and then
 * pauses it until the next second (at 200 req/s over 10 connections, half-second windows counted 400 and 18 req/s
 * in turn). Here one schedule spaces the whole run's requests 1/rate apart and each free connection takes the next
 * slot, so every window sees the rate; without `rate` each connection sends its next request as soon as it is
 * answered (concurrency-bound load). The schedule hooks into autocannon's client through its `setupClient` option
 * (wrapping the client's _connect and _doRequest: a private API, hence autocannon's exact version in package.json),
 * and counts and times each request itself, with its own timeout, since autocannon's does not say which request an
 * error or a timeout belonged to. A connection that failed is retried at its next slot and no sooner than 10 ms
 * (a service that is down is asked at the rate, not in a busy loop).
 */
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Histogram } from 'hdr-histogram-js';
import { lazy } from '../util/lazy';
import type { Traffic } from './schema';

/** The requests that finished since the previous take(). */
export interface TrafficTick {
  /** requests finished per second (answered, failed or timed out) */
  rps: number;
  /** % of them that got a 2xx or 3xx in time; 0 when none finished (sent says so: no data then) */
  success: number;
  /** how many finished */
  sent: number;
  /** latency percentiles in ms of the answered and the timed-out ones; null when there were none */
  p50: number | null;
  p99: number | null;
}

/** The whole run: `sent` = ok + errors + timeouts + non2xx (requests still in flight at stop() are not counted). */
export interface TrafficSummary {
  sent: number;
  ok: number;
  /** the connection failed or was closed before the answer */
  errors: number;
  timeouts: number;
  /** answered with a status that is not 2xx or 3xx */
  non2xx: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  /** requests finished per second over the run */
  rps: number;
}

export interface TrafficRun {
  take(): TrafficTick;
  stop(): Promise<TrafficSummary>;
}

// ---- the parts of autocannon used here (it ships no types) --------------------------------------------------------

/** autocannon's HTTP client (lib/httpClient.js): one connection, pipelining 1. */
interface AcClient extends EventEmitter {
  destroyed: boolean;
  /** its connection (plain or TLS) */
  conn?: Socket;
  /** opens the connection (again) and sends the first request on it */
  _connect(): void;
  /** sends the next request on the connection */
  _doRequest(): void;
  /** destroys the socket and forgets its pending requests */
  _destroyConnection(): void;
}

interface AcOptions {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  connections: number;
  pipelining: 1;
  /** seconds */
  timeout: number;
  /** seconds */
  duration: number;
  /** ms between autocannon's own samples; stop() takes effect at the next one */
  sampleInt: number;
  setupClient: (client: AcClient) => void;
}

interface AcInstance extends EventEmitter, PromiseLike<unknown> {
  stop(): void;
}

const autocannon = lazy<(opts: AcOptions) => AcInstance>(() => require('autocannon'));
const hdr = lazy<typeof import('hdr-histogram-js')>(() => require('hdr-histogram-js'));

/** autocannon stops at the next of its samples after stop(): this often (ms). */
const SAMPLE_MS = 100;
/** "until stop()": autocannon needs a duration; this one is ~23 days and still a valid setTimeout. */
const FOREVER_S = 2_000_000;
/** autocannon's own timeout (seconds), which our per-request timer always beats: its timer is re-armed per request */
const AC_TIMEOUT_S = FOREVER_S;
/** a connection that failed is opened again no sooner than this (ms) */
const RETRY_MS = 10;
/** how far behind the schedule a slot may still be taken (ms): timers fire late, the rate holds */
const CATCH_UP_MS = 20;

const now = (): number => performance.now();

/** Latencies: microseconds in an HDR histogram (3 significant digits, bounded memory), read back as ms. */
function histogram(): Histogram {
  return hdr().build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}
/** a percentile in ms (HDR gives its bucket's top: never above the largest value recorded) */
const pct = (h: Histogram, p: number): number | null =>
  h.totalCount === 0 ? null : Math.round(Math.min(h.getValueAtPercentile(p), h.maxValue)) / 1000;

class Counts {
  ok = 0;
  errors = 0;
  timeouts = 0;
  non2xx = 0;
  readonly latency = histogram();
  get sent(): number {
    return this.ok + this.errors + this.timeouts + this.non2xx;
  }
  record(outcome: 'ok' | 'errors' | 'timeouts' | 'non2xx', ms: number | null): void {
    this[outcome]++;
    if (ms !== null) this.latency.recordValue(Math.max(1, Math.round(ms * 1000)));
  }
  reset(): void {
    this.ok = this.errors = this.timeouts = this.non2xx = 0;
    this.latency.reset();
  }
}

/**
 * Start the load now. take() gives the requests finished since the previous take() (or the start); stop() ends the
 * load, closes every connection and resolves with the totals once autocannon has finished (within ~SAMPLE_MS).
 */
export function startTraffic(t: Traffic): TrafficRun {
  const load = autocannon(); // loaded before the clock starts: the first tick counts only time with load
  const total = new Counts();
  const interval = new Counts();
  const started = now();
  let lastTake = started;
  const timeoutMs = Math.max(1, t.timeout);
  const connections = t.rate ? Math.min(t.concurrency, t.rate) : t.concurrency;

  // the schedule: slots 1/rate apart for the whole run, each taken by one connection (none without a rate)
  const gap = t.rate ? 1000 / t.rate : 0;
  let nextSlot = started;
  /** the next free slot, no sooner than `delay` ms from now (a slot up to CATCH_UP_MS late is still taken) */
  const reserve = (delay: number): number => {
    const at = now();
    const slot = Math.max(nextSlot, delay > 0 ? at + delay : at - CATCH_UP_MS);
    nextSlot = slot + gap;
    return slot;
  };

  const timers = new Set<NodeJS.Timeout>();
  /** the last connections, closing once autocannon has destroyed their clients */
  const closing: Promise<void>[] = [];
  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const h = setTimeout(() => {
      timers.delete(h);
      fn();
    }, ms);
    timers.add(h);
    return h;
  };
  const cancel = (h: NodeJS.Timeout | undefined): void => {
    if (h) {
      clearTimeout(h);
      timers.delete(h);
    }
  };
  /** set by stop(): no request is sent or counted after it (autocannon ends the clients at its next sample) */
  let stopped = false;
  const record = (outcome: 'ok' | 'errors' | 'timeouts' | 'non2xx', ms: number | null): void => {
    if (stopped) return;
    total.record(outcome, ms);
    interval.record(outcome, ms);
  };

  function setupClient(client: AcClient): void {
    if (typeof client._connect !== 'function' || typeof client._doRequest !== 'function')
      throw new Error("autocannon's client is not the one this code hooks into (see package.json)");
    const connect = client._connect.bind(client);
    const doRequest = client._doRequest.bind(client);
    let inflight = false;
    let sentAt = 0;
    let requestTimer: NodeJS.Timeout | undefined;
    /** the one thing this connection waits for: its next slot */
    let slotTimer: NodeJS.Timeout | undefined;
    let opened = false;
    let mustConnect = false;
    let failed = false;
    /** inside our own call of connect(): its request goes out now, on the slot taken for it */
    let granted = false;

    const finish = (): void => {
      inflight = false;
      cancel(requestTimer);
      requestTimer = undefined;
    };
    const send = (): void => {
      inflight = true;
      sentAt = now();
      requestTimer = later(timeoutMs, () => {
        requestTimer = undefined;
        if (!inflight || client.destroyed) return;
        finish();
        record('timeouts', now() - sentAt);
        client._destroyConnection();
        mustConnect = true;
        schedule(0);
      });
      doRequest();
    };
    const fire = (): void => {
      slotTimer = undefined;
      if (client.destroyed || stopped) return;
      if (mustConnect) {
        mustConnect = false;
        granted = true;
        connect(); // sends its first request through _doRequest below, at once
        granted = false;
      } else send();
    };
    const schedule = (delay: number): void => {
      if (client.destroyed || stopped || inflight || slotTimer) return;
      const wait = reserve(delay) - now();
      if (wait <= 0) fire();
      else slotTimer = later(wait, fire);
    };

    client._doRequest = () => {
      if (granted) {
        granted = false;
        if (!client.destroyed && !stopped && !inflight) send();
      } else schedule(0);
    };
    client._connect = () => {
      if (client.destroyed) return;
      if (!opened) {
        opened = true;
        connect();
        return;
      }
      // again: after an error, or the server closed the connection (with our request unanswered: an error)
      if (inflight) {
        finish();
        record('errors', null);
      }
      client._destroyConnection();
      mustConnect = true;
      const delay = failed ? RETRY_MS : 0;
      failed = false;
      schedule(delay);
    };
    client.on('response', (status: number) => {
      if (!inflight) return;
      finish();
      record(status >= 200 && status < 400 ? 'ok' : 'non2xx', now() - sentAt);
    });
    client.on('connError', () => {
      failed = true;
      if (inflight) {
        finish();
        record('errors', null);
      }
    });
    client.on('done', () => {
      const conn = client.conn;
      if (conn && !conn.closed) closing.push(new Promise((resolve) => conn.once('close', () => resolve())));
      cancel(requestTimer);
      cancel(slotTimer);
      requestTimer = slotTimer = undefined;
    });
  }

  const instance = load({
    url: t.url,
    method: t.method,
    headers: t.headers ?? {},
    ...(t.body !== undefined ? { body: t.body } : {}),
    connections,
    pipelining: 1,
    timeout: AC_TIMEOUT_S,
    duration: FOREVER_S,
    sampleInt: SAMPLE_MS,
    setupClient,
  });
  let failure: unknown;
  const finished = new Promise<void>((resolve) => {
    instance.then(
      () => resolve(),
      (e: unknown) => {
        failure = e;
        resolve();
      },
    );
  });

  let stopping: Promise<TrafficSummary> | undefined;
  return {
    take(): TrafficTick {
      const at = now();
      const secs = (at - lastTake) / 1000;
      lastTake = at;
      const sent = interval.sent;
      const tick: TrafficTick = {
        rps: secs > 0 ? Math.round((sent / secs) * 100) / 100 : 0,
        success: sent > 0 ? Math.round((interval.ok / sent) * 10_000) / 100 : 0,
        sent,
        p50: pct(interval.latency, 50),
        p99: pct(interval.latency, 99),
      };
      interval.reset();
      return tick;
    },
    stop(): Promise<TrafficSummary> {
      stopping ??= (async () => {
        const ended = now();
        stopped = true;
        instance.stop();
        await finished;
        await Promise.all(closing);
        for (const h of timers) clearTimeout(h);
        timers.clear();
        if (failure !== undefined) throw failure instanceof Error ? failure : new Error('autocannon failed');
        const secs = (ended - started) / 1000;
        return {
          sent: total.sent,
          ok: total.ok,
          errors: total.errors,
          timeouts: total.timeouts,
          non2xx: total.non2xx,
          p50: pct(total.latency, 50),
          p90: pct(total.latency, 90),
          p99: pct(total.latency, 99),
          max: pct(total.latency, 100),
          rps: secs > 0 ? Math.round((total.sent / secs) * 100) / 100 : 0,
        };
      })();
      return stopping;
    },
  };
}
