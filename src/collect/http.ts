/**
 * The one shared HTTP layer under every Azure SDK client: a concurrency cap, retries on 429/5xx honouring Retry-After,
 * and capture of every final response (raw wire body + provenance facts) for the collector that issued it.
 *
 * Each SDK client gets the same `HttpClient` through its `httpClient` option, with the SDK's own retry switched off
 * (`retryOptions: { maxRetries: 0 }`), so retry and the cap live here once. Later layers (token buckets per throttled
 * scope, an overall deadline) slot in as further wrappers around `inner` without touching collectors.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent as HttpsAgent } from 'node:https';
import type { HttpClient, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { RestError } from '@azure/core-rest-pipeline';
import { AZURE_LIMITS, Throttle, type ThrottleLimits } from './throttle.js';

/** One response as received on the wire, before any redaction. */
export interface CapturedResponse {
  method: string;
  url: string;
  status: number;
  requestId?: string;
  /** ISO-8601 time the final response was received. */
  time: string;
  /** Body text exactly as received. */
  bodyText: string;
  /** Attempts made (1 = no retry). */
  attempts: number;
}

/** Collects the responses of everything awaited inside `run`. */
interface CaptureStore {
  responses: CapturedResponse[];
}

const captureStorage = new AsyncLocalStorage<CaptureStore>();

/**
 * Runs `fn` and returns its value plus every final HTTP response the shared pipeline received while running it.
 * Works through SDK paging iterators because the SDK calls `sendRequest` in the caller's async context.
 */
export async function withCapture<T>(fn: () => Promise<T>): Promise<{ value: T; responses: CapturedResponse[] }> {
  const store: CaptureStore = { responses: [] };
  const value = await captureStorage.run(store, fn);
  return { value, responses: store.responses };
}

/** Options of the shared pipeline client. */
export interface SharedHttpOptions {
  /** Maximum requests in flight across every client that shares this instance. Default 8. */
  concurrency?: number;
  /** Retries after the first attempt on 429, 5xx and transport errors. Default 4. */
  maxRetries?: number;
  /** Injected for tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected clock for provenance times. */
  now?: () => Date;
  /** Jitter source in [0,1); default Math.random (only delays depend on it, never outputs). */
  random?: () => number;
  /** Base back-off when the service gives no Retry-After. Default 1000 ms. */
  baseDelayMs?: number;
  /** Upper bound for one wait. Default 60 s. */
  maxDelayMs?: number;
  /**
   * Token buckets per throttled scope (see throttle.ts): limits (each capacity less `concurrency`, see
   * {@link withHeadroom}), a ready {@link Throttle} (used as is), or `false` for none. Default {@link AZURE_LIMITS}.
   */
  throttle?: ThrottleLimits | Throttle | false;
  /** Monotonic milliseconds for pacing and the deadline; default `performance.now()`. Not used for provenance. */
  clock?: () => number;
  /**
   * Milliseconds (from creation, on `clock`) after which no request starts, waits or retries: each fails with a
   * `RestError` of code `DEADLINE_EXCEEDED`. With the default clock, requests in flight at that moment are aborted.
   */
  deadlineMs?: number;
  /** Called once per finished request (final response or final failure), for progress and call counts. */
  onCall?: (event: CallEvent) => void;
}

/** One finished request, as reported to {@link SharedHttpOptions.onCall}. */
export interface CallEvent {
  method: string;
  url: string;
  /** Final HTTP status; 0 when the request failed without a response (transport error, deadline). */
  status: number;
  attempts: number;
  /** Milliseconds spent waiting for a token bucket before the attempts. */
  throttledMs: number;
}

/** Error code of a request refused or aborted because the run's deadline passed. */
export const DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED';

/** A counting semaphore shared by every client: the concurrency cap. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
  }
  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/**
 * Limits with `inFlight` tokens kept in reserve: a request in flight has left our bucket but not yet reached Azure's,
 * and while Azure's bucket sits full it discards refill that ours still counts; keeping one token per possible
 * request in flight means arrivals never outrun Azure's bucket.
 */
export function withHeadroom(limits: ThrottleLimits, inFlight: number): ThrottleLimits {
  const shrink = (l: ThrottleLimits[keyof ThrottleLimits]) => (l ? { ...l, capacity: Math.max(1, l.capacity - inFlight) } : l);
  return {
    armReadsPerSubscription: shrink(limits.armReadsPerSubscription),
    resourceGraphPerUser: shrink(limits.resourceGraphPerUser),
    keyVaultPerVault: shrink(limits.keyVaultPerVault),
  };
}

/** Error codes that mean "do not retry": replay misses are deterministic. */
const NON_RETRYABLE_CODES = new Set(['REPLAY_UNMATCHED']);

/**
 * Parses `x-ms-retry-after-ms`, `retry-after-ms` or `Retry-After` (delta-seconds or an HTTP date) into milliseconds.
 * Returns undefined when none is present or parseable.
 */
export function retryAfterMs(headers: { get(name: string): string | undefined }, now: Date): number | undefined {
  for (const name of ['x-ms-retry-after-ms', 'retry-after-ms']) {
    const v = headers.get(name);
    if (v !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.max(0, Math.round(Number(v)));
  }
  const ra = headers.get('retry-after');
  if (ra === undefined) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Math.max(0, Math.round(Number(ra) * 1000));
  const at = Date.parse(ra);
  if (!Number.isNaN(at)) return Math.max(0, at - now.getTime());
  return undefined;
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * Wraps `inner` (the real transport, a replay client, or a recorder) with the concurrency cap, retries and capture.
 * Share one instance across all SDK clients of a run.
 */
export function createSharedHttpClient(inner: HttpClient, options: SharedHttpOptions = {}): HttpClient & {
  /** The semaphore, exposed so tests can see the cap. */
  readonly semaphore: Semaphore;
  /** The token buckets, or undefined when pacing is off. */
  readonly throttle: Throttle | undefined;
  /** Stops the deadline timer (call when the run is over). */
  dispose(): void;
} {
  const semaphore = new Semaphore(options.concurrency ?? 8);
  const clock = options.clock ?? (() => performance.now());
  const throttle =
    options.throttle === false
      ? undefined
      : options.throttle instanceof Throttle
        ? options.throttle
        : new Throttle(withHeadroom(options.throttle ?? AZURE_LIMITS, semaphore.limit), clock);
  const deadlineAt = options.deadlineMs !== undefined ? clock() + options.deadlineMs : undefined;
  // One run-wide abort: with the real clock a timer tears down whatever is in flight when the deadline passes.
  const deadlineAbort = new AbortController();
  const deadlineTimer =
    deadlineAt !== undefined && options.clock === undefined
      ? setTimeout(() => deadlineAbort.abort(), Math.max(0, options.deadlineMs!))
      : undefined;
  deadlineTimer?.unref();
  const deadlineError = (request: PipelineRequest): RestError =>
    new RestError(`collection deadline of ${options.deadlineMs} ms passed before ${request.method} ${new URL(request.url).pathname} completed`, {
      code: DEADLINE_EXCEEDED,
      request,
    });
  const pastDeadline = (afterMs = 0): boolean => deadlineAt !== undefined && (deadlineAbort.signal.aborted || clock() + afterMs >= deadlineAt);
  const maxRetries = options.maxRetries ?? 4;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const baseDelay = options.baseDelayMs ?? 1000;
  const maxDelay = options.maxDelayMs ?? 60_000;

  const backoff = (attempt: number): number => {
    const exp = Math.min(maxDelay, baseDelay * 2 ** attempt);
    // Full jitter on top of half the exponential step spreads a 429 storm without ever waiting zero.
    return Math.round(exp / 2 + random() * (exp / 2));
  };

  /**
   * Takes a concurrency slot and, for a paced scope, a token at the moment of sending. While the scope has no token
   * the slot is given back during the wait, so a throttled subscription never holds up the others. Returns the
   * milliseconds spent waiting for tokens.
   */
  async function acquire(request: PipelineRequest, ignorePause: boolean): Promise<number> {
    let waited = 0;
    for (;;) {
      await semaphore.acquire();
      const ms = throttle ? throttle.take(request.url, ignorePause) : 0;
      if (ms === 0) return waited;
      semaphore.release();
      waited += ms;
      await wait(request, ms);
    }
  }

  async function once(request: PipelineRequest, ignorePause: boolean, onWaited: (ms: number) => void): Promise<PipelineResponse> {
    onWaited(await acquire(request, ignorePause));
    const original = request.abortSignal;
    try {
      if (pastDeadline()) throw deadlineError(request);
      if (deadlineAt !== undefined) {
        request.abortSignal = original ? AbortSignal.any([original as AbortSignal, deadlineAbort.signal]) : deadlineAbort.signal;
      }
      let response: PipelineResponse;
      try {
        response = await inner.sendRequest(request);
      } catch (err) {
        if (deadlineAbort.signal.aborted && !(original as AbortSignal | undefined)?.aborted) throw deadlineError(request);
        throw err;
      }
      // Read the body while holding the slot so capture sees exactly what arrived.
      if (response.bodyAsText === undefined && response.readableStreamBody === undefined && response.blobBody === undefined) {
        response.bodyAsText = '';
      }
      return response;
    } finally {
      request.abortSignal = original;
      semaphore.release();
    }
  }

  /** Waits `ms` unless that would cross the deadline, in which case the request fails now. */
  async function wait(request: PipelineRequest, ms: number): Promise<void> {
    if (ms <= 0) return;
    if (pastDeadline(ms)) throw deadlineError(request);
    await sleep(ms);
  }

  /** The retry loop; reports the outcome to `onCall` exactly once. */
  async function send(request: PipelineRequest): Promise<{ response: PipelineResponse; attempts: number }> {
    let attempt = 0;
    let throttledMs = 0;
    let waitedRetryAfter = false;
    const finish = (status: number): void =>
      options.onCall?.({ method: request.method, url: request.url, status, attempts: attempt + 1, throttledMs });
    try {
      for (;;) {
        let response: PipelineResponse;
        try {
          response = await once(request, waitedRetryAfter, (ms) => void (throttledMs += ms));
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (
            attempt >= maxRetries ||
            (code !== undefined && (NON_RETRYABLE_CODES.has(code) || code === DEADLINE_EXCEEDED)) ||
            request.abortSignal?.aborted
          ) {
            throw err;
          }
          await wait(request, backoff(attempt));
          waitedRetryAfter = false;
          attempt++;
          continue;
        }
        const hinted = isRetryableStatus(response.status) ? retryAfterMs(response.headers, now()) : undefined;
        throttle?.observe(request.url, response.status, response.headers, hinted);
        if (isRetryableStatus(response.status) && attempt < maxRetries) {
          await wait(request, hinted !== undefined ? Math.min(maxDelay, hinted) + Math.round(random() * 250) : backoff(attempt));
          waitedRetryAfter = hinted !== undefined;
          attempt++;
          continue;
        }
        finish(response.status);
        return { response, attempts: attempt + 1 };
      }
    } catch (err) {
      finish(0);
      throw err;
    }
  }

  return {
    semaphore,
    throttle,
    dispose() {
      if (deadlineTimer) clearTimeout(deadlineTimer);
    },
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const { response, attempts } = await send(request);
      const store = captureStorage.getStore();
      if (store) {
        store.responses.push({
          method: request.method,
          url: request.url,
          status: response.status,
          requestId: response.headers.get('x-ms-request-id') ?? undefined,
          time: now().toISOString(),
          bodyText: response.bodyAsText ?? '',
          attempts,
        });
      }
      return response;
    },
  };
}

/**
 * Wraps `inner` so requests to the given origins (e.g. a loopback fake Azure with a self-signed certificate) use a
 * keep-alive HTTPS agent that trusts `ca`, instead of needing NODE_EXTRA_CA_CERTS set before node starts. Requests to
 * any other origin are untouched, so the CA is never trusted for Azure itself.
 */
export function withTrustedCa(inner: HttpClient, origins: readonly string[], ca: string | Buffer): HttpClient & { destroy(): void } {
  const agent = new HttpsAgent({ ca, keepAlive: true });
  const trusted = new Set(origins.map((o) => new URL(o).origin));
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      if (trusted.has(new URL(request.url).origin)) request.agent = agent;
      return inner.sendRequest(request);
    },
    destroy() {
      agent.destroy();
    },
  };
}

/** True when an error thrown by an SDK call is a replay miss (see replay.ts). */
export function isReplayMiss(err: unknown): boolean {
  return err instanceof RestError ? err.code === 'REPLAY_UNMATCHED' : (err as { code?: string })?.code === 'REPLAY_UNMATCHED';
}
