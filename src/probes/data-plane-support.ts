/**
 * Shared plumbing for the data-plane probes (keyvault-crypto, blob-canary, rotation-drill): a hard deadline, TLS trust for
 * private CAs, error descriptions that say what was tried, production-environment detection and a small argv parser.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { InputError, UsageError } from '../errors.js';
import { redactString, redactValue } from '../evidence/redact.js';
import type { ProbeContext, ProbeObservation, ProbeStatus } from './types.js';

/** Thrown (as an abort reason) when a probe's `timeoutMs` runs out. */
export class ProbeTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'ProbeTimeoutError';
  }
}

/**
 * Runs `fn` with an AbortSignal that fires at `ctx.timeoutMs` or when `ctx.signal` aborts, and returns (rejecting with
 * ProbeTimeoutError) at the deadline even if `fn` ignores the signal: no probe outlives its timeout.
 */
export async function withDeadline<T>(ctx: ProbeContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onOuterAbort = (): void => {
    const reason = Object.assign(new Error('probe aborted by caller'), { name: 'AbortError' });
    ac.abort(reason);
  };
  if (ctx.signal?.aborted) onOuterAbort();
  else ctx.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => ac.abort(new ProbeTimeoutError(ctx.timeoutMs)), ctx.timeoutMs);
    const rejectWithReason = (): void => reject(ac.signal.reason);
    if (ac.signal.aborted) rejectWithReason();
    else ac.signal.addEventListener('abort', rejectWithReason, { once: true });
  });
  deadline.catch(() => undefined);
  const work = fn(ac.signal);
  work.catch(() => undefined); // a late failure after the deadline must not become an unhandled rejection
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onOuterAbort);
    if (!ac.signal.aborted) ac.abort(new Error('probe finished'));
  }
}

/** Reads a PEM CA bundle for `--ca-file`. Throws InputError with a hint when it is missing or not PEM. */
export function readCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError('E_CA_FILE', `cannot read the CA file: ${(e as Error).message}`, {
      file: path,
      hint: 'Pass a PEM file with the certificate(s) that issued the server certificate.',
    });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new InputError('E_CA_FILE', 'the CA file holds no PEM certificate', { file: path, hint: 'Pass a PEM (BEGIN CERTIFICATE) file.' });
  }
  return text;
}

/**
 * An https.Agent that trusts the system roots plus `extraCa` (for private CAs and loopback test servers), or undefined
 * when there is nothing extra to trust. The SDK pipelines take it as the `agent` option, which, unlike
 * NODE_EXTRA_CA_CERTS, works after Node has started.
 */
export function trustAgent(extraCa?: string | string[]): Agent | undefined {
  const extra = extraCa === undefined ? [] : Array.isArray(extraCa) ? extraCa : [extraCa];
  if (extra.length === 0) return undefined;
  return new Agent({ ca: [...rootCertificates, ...extra], keepAlive: false });
}

/** A failure as an observation's `error`: a stable code and a redacted message that names what was tried. */
export function describeError(e: unknown, tried: string): { code: string; message: string } {
  if (e instanceof ProbeTimeoutError) {
    return { code: 'timeout', message: redactString(`${tried}: no answer within ${e.timeoutMs} ms`) };
  }
  const err = e as { name?: string; message?: string; statusCode?: number; code?: string; cause?: { code?: string }; details?: { errorCode?: string } };
  const status = typeof err?.statusCode === 'number' ? err.statusCode : undefined;
  const firstLine = String(err?.message ?? e).split('\n')[0].slice(0, 400);
  if (status !== undefined) {
    const svcCode = err.details?.errorCode ?? err.code;
    return { code: `http_${status}`, message: redactString(`${tried}: HTTP ${status}${svcCode ? ` ${svcCode}` : ''}: ${firstLine}`) };
  }
  const sysCode = (err?.cause?.code ?? (err?.code && err.code !== 'REQUEST_SEND_ERROR' ? err.code : undefined)) as string | undefined;
  const fromText = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID)\b/.exec(firstLine)?.[1];
  const code = sysCode ?? fromText ?? (err?.name === 'AbortError' ? 'aborted' : 'error');
  return { code: code.toLowerCase(), message: redactString(`${tried}: ${firstLine}`) };
}

/** True for environment names that mean production (`prod`, `production`, `prd`, `live`; any case). */
export function isProductionName(value: string | undefined): boolean {
  return value !== undefined && /^(prod|production|prd|live)$/i.test(value.trim());
}

/** The tag or metadata entry that marks something as production (`environment`/`env` = prod...), if any. */
export function productionTag(tags: Record<string, string | undefined> | undefined): string | undefined {
  if (!tags) return undefined;
  for (const [k, v] of Object.entries(tags)) {
    if (/^(environment|env)$/i.test(k.trim()) && isProductionName(v)) return `${k}=${v}`;
  }
  return undefined;
}

/** Builds an observation with its duration from the injected clock, redacted as a whole (hostile text inside). */
export function finishObservation(
  probe: string,
  target: string,
  startedAt: Date,
  now: () => Date,
  status: ProbeStatus,
  summary: string,
  observed: Record<string, unknown>,
  error?: { code: string; message: string },
  resourceId?: string,
): ProbeObservation {
  const obs: ProbeObservation = {
    probe,
    target: redactString(target),
    ...(resourceId ? { resourceId } : {}),
    status,
    summary: redactString(summary),
    observed,
    startedAt: startedAt.toISOString(),
    durationMs: Math.max(0, now().getTime() - startedAt.getTime()),
    ...(error ? { error } : {}),
  };
  return redactValue(obs).value;
}

/** What an argv parser returns: the target, the probe options, and the flags every probe shares. */
export interface ParsedProbeArgs<O> {
  target: string;
  options: O;
  timeoutMs?: number;
  json: boolean;
}

/** Flag spec: name (without `--`) to whether it takes a value; `many` flags may repeat. */
export interface FlagSpec {
  [flag: string]: { value: boolean; many?: boolean };
}

/**
 * Parses `[positional...] --flag value --switch` against a spec, accepting `--flag=value` too. Adds the shared
 * `--timeout-ms N` and `--json`. Throws UsageError for unknown flags, missing values and bad numbers.
 */
export function parseFlags(
  probe: string,
  argv: string[],
  spec: FlagSpec,
): { positional: string[]; flags: Map<string, string[]>; timeoutMs?: number; json: boolean } {
  const all: FlagSpec = { ...spec, 'timeout-ms': { value: true }, json: { value: false } };
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const def = all[name];
    if (!def) {
      throw new UsageError(`unknown option --${name} for probe ${probe}`, {
        hint: `Options: ${Object.keys(all).sort().map((f) => `--${f}`).join(', ')}.`,
      });
    }
    let value = 'true';
    if (def.value) {
      if (eq !== -1) value = arg.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value (probe ${probe})`);
        value = next;
        i++;
      }
    } else if (eq !== -1) {
      throw new UsageError(`--${name} takes no value (probe ${probe})`);
    }
    const list = flags.get(name) ?? [];
    if (list.length > 0 && !def.many) throw new UsageError(`--${name} given twice (probe ${probe})`);
    list.push(value);
    flags.set(name, list);
  }
  let timeoutMs: number | undefined;
  const t = flags.get('timeout-ms')?.[0];
  if (t !== undefined) {
    timeoutMs = Number(t);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new UsageError(`--timeout-ms must be a positive whole number of milliseconds, got ${JSON.stringify(t)}`);
    }
  }
  flags.delete('timeout-ms');
  const json = flags.delete('json');
  return { positional, flags, timeoutMs, json };
}
