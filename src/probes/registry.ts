/**
 * The probe registry and the one place a probe is run: the timeout is enforced here (a probe that ignores it still
 * yields an `error` observation on time), any throw becomes an `error` observation, and every observation is redacted
 * before anyone sees it. To add a probe: export a `ProbeDefinition` from its module and append it to `PROBES`.
 */
import { UsageError } from '../errors.js';
import { redactValue } from '../evidence/redact.js';
import { blobCanaryProbe } from './blob-canary.js';
import { keyvaultCryptoProbe } from './keyvault-crypto.js';
import { postgresSessionProbe } from './postgres-session.js';
import { rotationDrillProbe } from './rotation-drill.js';
import { tlsProbe } from './tls.js';
import type { ProbeContext, ProbeDefinition, ProbeObservation } from './types.js';

/**
 * Every registered probe. Read-only probes have `writes: false`; writing ones (blob-canary, rotation-drill) say
 * `writes: true` and only run with `--probes all`. Names are unique.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const PROBES: readonly ProbeDefinition<any>[] = [tlsProbe, postgresSessionProbe, keyvaultCryptoProbe, blobCanaryProbe, rotationDrillProbe];

/** All registered probes, in registration order. */
export function listProbes(): readonly ProbeDefinition[] {
  return PROBES as readonly ProbeDefinition[];
}

/** The probe called `name`, or undefined. */
export function getProbe(name: string): ProbeDefinition | undefined {
  return PROBES.find((p) => p.name === name) as ProbeDefinition | undefined;
}

function errorObservation(probe: string, target: string, startedAt: Date, t0: number, code: string, message: string): ProbeObservation {
  return {
    probe,
    target,
    status: 'error',
    summary: message,
    observed: {},
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    error: { code, message },
  };
}

/**
 * Runs one probe definition with the hard time limit `ctx.timeoutMs`: the probe gets a signal that aborts at the limit
 * (or when `ctx.signal` aborts), and if it has not answered by then this resolves with an `error` observation anyway.
 * Never rejects.
 */
export async function runProbeDefinition<O>(def: ProbeDefinition<O>, target: string, options: O, ctx: ProbeContext): Promise<ProbeObservation> {
  const startedAt = ctx.now();
  const t0 = performance.now();
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(ctx.signal?.reason);
  if (ctx.signal?.aborted) controller.abort(ctx.signal.reason);
  else ctx.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<ProbeObservation>((resolve) => {
    const expire = (why: string): void =>
      resolve(errorObservation(def.name, target, startedAt, t0, 'E_PROBE_TIMEOUT', `probe ${def.name} on ${target} ${why}`));
    // A small grace period lets a probe that honours the limit report its own, more precise, error first.
    timer = setTimeout(() => {
      controller.abort(new Error('probe timeout'));
      timer = setTimeout(() => expire(`did not finish within its ${ctx.timeoutMs} ms limit`), 250);
    }, ctx.timeoutMs);
    controller.signal.addEventListener('abort', () => {
      if (ctx.signal?.aborted) expire('was cancelled');
    });
  });
  const run = (async (): Promise<ProbeObservation> => {
    try {
      const obs = await def.run(target, options, { ...ctx, signal: controller.signal });
      return obs;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const e = err as { code?: string; message?: string };
      return errorObservation(
        def.name,
        target,
        startedAt,
        t0,
        typeof e?.code === 'string' ? e.code : 'E_PROBE_FAILED',
        `probe ${def.name} on ${target} failed: ${e?.message ?? String(err)}`,
      );
    }
  })();
  try {
    const obs = await Promise.race([run, limit]);
    const safe = redactValue({ ...obs, probe: def.name, target: obs.target ?? target }).value;
    return safe;
  } finally {
    clearTimeout(timer);
    controller.abort();
    ctx.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/**
 * Runs the registered probe `name` on `target`. Throws UsageError for an unknown probe or invalid options (the CLI
 * answers exit 2); everything else, including a throw from inside the probe, is an `error` observation.
 */
export async function runProbe(name: string, target: string, options: Record<string, unknown>, ctx: ProbeContext): Promise<ProbeObservation> {
  const def = getProbe(name);
  if (!def) {
    throw new UsageError(`unknown probe ${JSON.stringify(name)}`, {
      field: 'probe',
      hint: `Known probes: ${PROBES.map((p) => p.name).join(', ')}.`,
    });
  }
  return runProbeDefinition(def, target, options, ctx);
}
