/**
 * The one shared HTTP layer under every Azure SDK client: a concurrency cap, retries on 429/5xx honouring Retry-After,
 * and capture of every final response (raw wire body + provenance facts) for the collector that issued it.
 *
 * Each SDK client gets the same `HttpClient` through its `httpClient` option, with the SDK's own retry switched off
 * (`retryOptions: { maxRetries: 0 }`), so retry and the cap live here once. Later layers (token buckets per throttled
 * scope, an overall deadline) slot in as further wrappers around `inner` without touching collectors.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { HttpClient, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { RestError } from '@azure/core-rest-pipeline';

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
}

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
} {
  const semaphore = new Semaphore(options.concurrency ?? 8);
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

  async function once(request: PipelineRequest): Promise<PipelineResponse> {
    await semaphore.acquire();
    try {
      const response = await inner.sendRequest(request);
      // Read the body while holding the slot so capture sees exactly what arrived.
      if (response.bodyAsText === undefined && response.readableStreamBody === undefined && response.blobBody === undefined) {
        response.bodyAsText = '';
      }
      return response;
    } finally {
      semaphore.release();
    }
  }

  return {
    semaphore,
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      let attempt = 0;
      for (;;) {
        let response: PipelineResponse | undefined;
        try {
          response = await once(request);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (attempt >= maxRetries || (code !== undefined && NON_RETRYABLE_CODES.has(code)) || request.abortSignal?.aborted) {
            throw err;
          }
          await sleep(backoff(attempt));
          attempt++;
          continue;
        }
        if (isRetryableStatus(response.status) && attempt < maxRetries) {
          const hinted = retryAfterMs(response.headers, now());
          const wait = hinted !== undefined ? Math.min(maxDelay, hinted) + Math.round(random() * 250) : backoff(attempt);
          await sleep(wait);
          attempt++;
          continue;
        }
        const store = captureStorage.getStore();
        if (store) {
          store.responses.push({
            method: request.method,
            url: request.url,
            status: response.status,
            requestId: response.headers.get('x-ms-request-id') ?? undefined,
            time: now().toISOString(),
            bodyText: response.bodyAsText ?? '',
            attempts: attempt + 1,
          });
        }
        return response;
      }
    },
  };
}

/** True when an error thrown by an SDK call is a replay miss (see replay.ts). */
export function isReplayMiss(err: unknown): boolean {
  return err instanceof RestError ? err.code === 'REPLAY_UNMATCHED' : (err as { code?: string })?.code === 'REPLAY_UNMATCHED';
}
