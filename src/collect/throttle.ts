/**
 * Client-side pacing per throttled scope: token buckets modelled on Azure's published limits (ARM reads per
 * subscription, Resource Graph per user, Key Vault per vault), corrected by what the service says in its headers
 * (`x-ms-ratelimit-remaining-subscription-reads`, `x-ms-user-quota-remaining` / `-resets-after`, Retry-After), so a large
 * scan slows itself down before Azure answers 429 instead of after.
 */

/** A token bucket's shape: at most `capacity` requests at once, refilled at `refillPerSecond`. */
export interface BucketLimit {
  capacity: number;
  refillPerSecond: number;
}

/** The limits a run paces itself by; `false` turns one family off. */
export interface ThrottleLimits {
  /** ARM reads per subscription (and per principal). */
  armReadsPerSubscription: BucketLimit | false;
  /** Resource Graph queries per user; replaced by the quota headers once the service has sent them. */
  resourceGraphPerUser: BucketLimit | false;
  /** Key Vault data-plane transactions per vault. */
  keyVaultPerVault: BucketLimit | false;
}

/**
 * Azure's published limits (checked 2026-11):
 * - ARM, "Understand how Azure Resource Manager throttles requests", regional token bucket: subscription reads, bucket
 *   250, refill 25 per second, per subscription and service principal.
 * - Resource Graph, "Guidance for throttled requests": 15 queries per 5-second window per user
 *   (`x-ms-user-quota-remaining`, `x-ms-user-quota-resets-after`).
 * - Key Vault, "Azure Key Vault service limits": 4,000 transactions per 10 seconds per vault per region (software
 *   RSA-2048 keys, "all other transactions"); modelled as a bucket of 4,000 refilled at 400 per second.
 */
export const AZURE_LIMITS: Readonly<ThrottleLimits> = Object.freeze({
  armReadsPerSubscription: { capacity: 250, refillPerSecond: 25 },
  resourceGraphPerUser: { capacity: 15, refillPerSecond: 3 },
  keyVaultPerVault: { capacity: 4000, refillPerSecond: 400 },
});

/**
 * A token bucket with an injected millisecond clock. `reserve()` takes a token now and returns how long the caller must
 * wait before using it (0 when one was available); tokens may go negative, so waiting callers queue in order and the
 * long-run rate never exceeds the refill rate.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private blockedUntil = 0;

  constructor(
    readonly limit: BucketLimit,
    private readonly clock: () => number,
  ) {
    if (!(limit.capacity >= 1) || !(limit.refillPerSecond > 0)) {
      throw new RangeError(`a token bucket needs capacity >= 1 and refillPerSecond > 0, got ${JSON.stringify(limit)}`);
    }
    this.tokens = limit.capacity;
    this.last = clock();
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.limit.capacity, this.tokens + ((now - this.last) / 1000) * this.limit.refillPerSecond);
      this.last = now;
    }
  }

  /** Tokens available now (may be negative while callers are queued). */
  available(): number {
    this.refill(this.clock());
    return this.tokens;
  }

  /**
   * Takes one token; returns the milliseconds to wait before sending (0 = send now). `ignorePause` is for the retry
   * of the request that received the Retry-After: it has already waited it out.
   */
  reserve(ignorePause = false): number {
    const now = this.clock();
    this.refill(now);
    this.tokens -= 1;
    const deficitWait = this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.limit.refillPerSecond) * 1000);
    return Math.max(deficitWait, ignorePause ? 0 : this.blockedUntil - now, 0);
  }

  /**
   * Takes a token only if one is available now: returns 0 when taken, else the milliseconds until one will be (nothing
   * taken). Taking at the moment of sending, rather than queueing a reservation, keeps arrivals at the service within
   * the bucket even when requests then wait for a concurrency slot.
   */
  take(ignorePause = false): number {
    const now = this.clock();
    this.refill(now);
    const blocked = ignorePause ? 0 : this.blockedUntil - now;
    if (blocked > 0) return Math.ceil(blocked);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.limit.refillPerSecond) * 1000));
  }

  /** The service said "wait `ms`" (429 Retry-After): nothing else goes out of this scope before then. */
  pause(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.clock() + ms);
  }

  /**
   * The service reported what is left (`remaining`) and, when known, when the quota resets: the bucket never believes
   * it has more than the service says, and an exhausted quota blocks until the reset.
   */
  observe(remaining: number, resetsInMs?: number): void {
    const now = this.clock();
    this.refill(now);
    if (remaining < this.tokens) this.tokens = remaining;
    if (remaining <= 0 && resetsInMs !== undefined) this.blockedUntil = Math.max(this.blockedUntil, now + resetsInMs);
  }
}

/** Which throttled scope a request belongs to, from its URL. */
export interface ThrottleScope {
  family: keyof ThrottleLimits;
  /** e.g. `arm:/subscriptions/<id>`, `resource-graph`, `keyvault:<host or base>`. */
  key: string;
}

const GRAPH_PATH = /^\/providers\/microsoft\.resourcegraph\/resources$/i;
const SUBSCRIPTION_PATH = /^\/subscriptions\/([^/]+)/i;

/**
 * Classifies a request URL: Resource Graph queries are paced per user (one credential per run), subscription-scoped
 * ARM reads per subscription, Key Vault data-plane calls (`*.vault.azure.net`, or a `/keys/` path on another host) per
 * vault. Anything else is not paced.
 */
export function throttleScopeOf(url: string): ThrottleScope | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const path = decodeURIComponent(u.pathname).replace(/\/+/g, '/');
  if (GRAPH_PATH.test(path)) return { family: 'resourceGraphPerUser', key: 'resource-graph' };
  if (/\.vault\.azure\.net$/i.test(u.hostname)) return { family: 'keyVaultPerVault', key: `keyvault:${u.hostname.toLowerCase()}` };
  const sub = SUBSCRIPTION_PATH.exec(path);
  if (sub) return { family: 'armReadsPerSubscription', key: `arm:/subscriptions/${sub[1]!.toLowerCase()}` };
  // A loopback or sovereign data-plane endpoint: the vault is whatever precedes /keys/ (e.g. https://host/kv/<name>).
  const kv = /^(.*?)\/(keys|secrets|certificates)(\/|$)/i.exec(path);
  if (kv) return { family: 'keyVaultPerVault', key: `keyvault:${u.host.toLowerCase()}${kv[1]!.toLowerCase()}` };
  return undefined;
}

/**
 * Parses `x-ms-user-quota-resets-after` (`hh:mm:ss`, optionally with fractional seconds) into milliseconds; undefined
 * when absent or malformed.
 */
export function parseQuotaResetsAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*$/.exec(value);
  if (!m) return undefined;
  return Math.round((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000);
}

/** Headers the throttle learns from. */
interface HeaderSource {
  get(name: string): string | undefined;
}

/** One bucket per throttled scope, created on first use. */
export class Throttle {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    readonly limits: ThrottleLimits = AZURE_LIMITS,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  private bucket(scope: ThrottleScope): TokenBucket | undefined {
    const limit = this.limits[scope.family];
    if (!limit) return undefined;
    let b = this.buckets.get(scope.key);
    if (!b) this.buckets.set(scope.key, (b = new TokenBucket(limit, this.clock)));
    return b;
  }

  /** Takes a token for `url`'s scope; returns the milliseconds to wait first (0 when unpaced or available). */
  reserve(url: string, ignorePause = false): number {
    const scope = throttleScopeOf(url);
    return scope ? (this.bucket(scope)?.reserve(ignorePause) ?? 0) : 0;
  }

  /** {@link TokenBucket.take} for `url`'s scope: 0 when taken (or unpaced), else the milliseconds to wait first. */
  take(url: string, ignorePause = false): number {
    const scope = throttleScopeOf(url);
    return scope ? (this.bucket(scope)?.take(ignorePause) ?? 0) : 0;
  }

  /** Feeds a response's throttling facts back into its scope's bucket. */
  observe(url: string, status: number, headers: HeaderSource, retryAfter: number | undefined): void {
    const scope = throttleScopeOf(url);
    if (!scope) return;
    const b = this.bucket(scope);
    if (!b) return;
    if (status === 429 && retryAfter !== undefined) b.pause(retryAfter);
    if (scope.family === 'resourceGraphPerUser') {
      const remaining = Number(headers.get('x-ms-user-quota-remaining'));
      const resets = parseQuotaResetsAfter(headers.get('x-ms-user-quota-resets-after'));
      if (headers.get('x-ms-user-quota-remaining') !== undefined && Number.isFinite(remaining)) b.observe(remaining, resets);
    } else if (scope.family === 'armReadsPerSubscription') {
      const v = headers.get('x-ms-ratelimit-remaining-subscription-reads');
      if (v !== undefined && Number.isFinite(Number(v))) b.observe(Number(v));
    }
  }

  /** Scopes seen so far (for tests and the benchmark). */
  scopes(): string[] {
    return [...this.buckets.keys()].sort();
  }
}
