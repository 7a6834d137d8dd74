/**
 * The probe contract. A probe actively observes a live service (TLS handshake, PostgreSQL session, blob canary, Key Vault
 * crypto round trip, rotation drill) and returns an observation: what was seen, never secrets or key material. A probe
 * that could not observe returns status `error`, never `compliant`.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { AzureDocument, Provenance } from '../model.js';

export type ProbeStatus = 'compliant' | 'non_compliant' | 'error';

export interface ProbeContext {
  /** Hard limit for the whole probe; no probe outlives it. */
  timeoutMs: number;
  credential?: TokenCredential;
  now: () => Date;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface ProbeObservation {
  probe: string;
  /** What was probed: `host:port`, a URL, a key id. */
  target: string;
  /** The Azure resource the target belongs to, when known (ties the observation to checks). */
  resourceId?: string;
  status: ProbeStatus;
  /** One sentence a person can read. */
  summary: string;
  /** Structured facts (protocols accepted, cipher, certificate digest, versions, timings). No secrets. */
  observed: Record<string, unknown>;
  startedAt: string;
  durationMs: number;
  error?: { code: string; message: string };
}

export interface ProbeDefinition<Options = Record<string, unknown>> {
  name: string;
  /** True for probes that change state (blob-canary, rotation-drill): they run only with `--probes all`. */
  writes: boolean;
  description: string;
  run(target: string, options: Options, ctx: ProbeContext): Promise<ProbeObservation>;
}

/** Probe observations enter the evidence as documents of type `engram.probe/<name>`. */
export function observationToDocument(obs: ProbeObservation): { document: AzureDocument; provenance: Provenance } {
  const base = obs.resourceId ?? `probe://${obs.target}`;
  const id = `${base}/probes/${obs.probe}`;
  return {
    document: {
      id,
      type: `engram.probe/${obs.probe}`,
      name: obs.probe,
      properties: {
        target: obs.target,
        status: obs.status,
        summary: obs.summary,
        observed: obs.observed,
        startedAt: obs.startedAt,
        durationMs: obs.durationMs,
        ...(obs.error ? { error: obs.error } : {}),
      },
    },
    provenance: { documentId: id, source: 'probe', time: obs.startedAt, method: 'PROBE', url: obs.target },
  };
}
