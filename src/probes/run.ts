/**
 * Runs probes for a scan: derives probe targets from the collected evidence (PostgreSQL host names, blob endpoints,
 * vault and key URIs), runs the ones the `--probes` level allows, and turns observations into evidence documents with
 * provenance. A probe that could not observe adds a CollectionError as well, so the run fails closed.
 */
import { EngramError } from '../errors.js';
import type { AzureDocument, CollectionError, EvidenceSet, Provenance } from '../model.js';
import { PROBES, runProbeDefinition } from './registry.js';
import { observationToDocument, type ProbeContext, type ProbeDefinition, type ProbeObservation } from './types.js';

/** `none`: no probes; `safe`: read-only probes; `all`: also the probes that write (blob-canary, rotation-drill). */
export type ProbeLevel = 'none' | 'safe' | 'all';

/** One probe to run on one target, tied to the resource it came from. */
export interface ProbeTarget {
  probe: string;
  target: string;
  resourceId: string;
  options: Record<string, unknown>;
}

/** Settings that cannot be read from evidence (who to log in as, where a canary may be written). */
export interface ProbeTargetOptions {
  /** Adds a postgres-session probe per PostgreSQL server when given. */
  postgres?: { user: string; database?: string; passwordEnv?: string; entra?: boolean };
  /** Adds a blob-canary probe per storage account, writing into this container. */
  blobCanaryContainer?: string;
}

function lower(v: unknown): string {
  return typeof v === 'string' ? v.toLowerCase() : '';
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

function hostOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' ? u.host : undefined;
  } catch {
    return undefined;
  }
}

/** `<vault host>/<key name>` (lower-case) of a key URI, versioned or not. */
function keyRef(uri: string): string {
  try {
    const u = new URL(uri);
    const [, keys, name] = u.pathname.split('/');
    return keys?.toLowerCase() === 'keys' && name ? `${u.host.toLowerCase()}/${name.toLowerCase()}` : '';
  } catch {
    return '';
  }
}

interface KeyConsumer {
  id: string;
  tags: Record<string, string>;
  blobEndpoint?: string;
}

/** Which storage accounts and PostgreSQL servers encrypt with which key, from their customer-managed key settings. */
function keyConsumers(evidence: EvidenceSet): Map<string, KeyConsumer[]> {
  const map = new Map<string, KeyConsumer[]>();
  const add = (ref: string, c: KeyConsumer): void => {
    if (ref) map.set(ref, [...(map.get(ref) ?? []), c]);
  };
  for (const doc of evidence.documents) {
    const type = lower(doc.type);
    const props = (doc.properties ?? {}) as Record<string, any>;
    if (type === 'microsoft.storage/storageaccounts') {
      const kv = props.encryption?.keyvaultproperties ?? {};
      if (typeof kv.keyvaulturi === 'string' && typeof kv.keyname === 'string') {
        const blob = str(props.primaryEndpoints?.blob);
        add(keyRef(`${kv.keyvaulturi.replace(/\/+$/, '')}/keys/${kv.keyname}`), { id: doc.id, tags: doc.tags ?? {}, ...(blob ? { blobEndpoint: blob } : {}) });
      }
    } else if (type === 'microsoft.dbforpostgresql/flexibleservers') {
      const uri = str(props.dataEncryption?.primaryKeyURI);
      if (uri) add(keyRef(uri), { id: doc.id, tags: doc.tags ?? {} });
    }
  }
  return map;
}

/**
 * Derives probe targets from collected documents:
 * - PostgreSQL flexible servers: `tls` on `properties.fullyQualifiedDomainName:5432` with `starttls: postgres`
 *   (and `postgres-session` when `options.postgres` says how to log in);
 * - storage accounts: `tls` in http mode on `properties.primaryEndpoints.blob` (and `blob-canary` when a container is
 *   configured);
 * - vaults: `tls` in http mode on `properties.vaultUri` (an anonymous list-keys request per version);
 * - keys (`Microsoft.KeyVault/vaults/keys`): `keyvault-crypto` and `rotation-drill` on `properties.keyUri`, with the
 *   key's tags so the drill can refuse production.
 * Sorted by probe, then target, so runs are reproducible.
 */
/** The document types probe targets are derived from (a scan reads only these back from its evidence store). */
export const PROBE_SOURCE_TYPES: ReadonlySet<string> = new Set([
  'microsoft.dbforpostgresql/flexibleservers',
  'microsoft.storage/storageaccounts',
  'microsoft.keyvault/vaults',
  'microsoft.keyvault/vaults/keys',
]);

export function probeTargetsFromEvidence(evidence: EvidenceSet, options: ProbeTargetOptions = {}): ProbeTarget[] {
  const out: ProbeTarget[] = [];
  const consumers = keyConsumers(evidence);
  for (const doc of evidence.documents) {
    const type = lower(doc.type);
    const props = (doc.properties ?? {}) as Record<string, unknown>;
    const tags = doc.tags ?? {};
    if (type === 'microsoft.dbforpostgresql/flexibleservers') {
      const fqdn = str(props.fullyQualifiedDomainName);
      if (!fqdn) continue;
      out.push({ probe: 'tls', target: `${fqdn}:5432`, resourceId: doc.id, options: { starttls: 'postgres' } });
      if (options.postgres) out.push({ probe: 'postgres-session', target: `${fqdn}:5432`, resourceId: doc.id, options: { ...options.postgres } });
    } else if (type === 'microsoft.storage/storageaccounts') {
      const endpoints = (props.primaryEndpoints ?? {}) as Record<string, unknown>;
      const blob = str(endpoints.blob);
      if (!blob || !hostOf(blob)) continue;
      out.push({ probe: 'tls', target: blob, resourceId: doc.id, options: { http: true } });
      if (options.blobCanaryContainer) {
        out.push({ probe: 'blob-canary', target: blob, resourceId: doc.id, options: { container: options.blobCanaryContainer, tags } });
      }
    } else if (type === 'microsoft.keyvault/vaults') {
      const vaultUri = str(props.vaultUri);
      if (!vaultUri || !hostOf(vaultUri)) continue;
      // http mode: whether the vault refuses old TLS in the handshake or at the HTTP layer, both read as refused. An
      // anonymous list-keys call is answered 401 (the bearer challenge) when the request is served.
      out.push({ probe: 'tls', target: vaultUri, resourceId: doc.id, options: { http: true, path: '/keys?api-version=7.5' } });
    } else if (type === 'microsoft.keyvault/vaults/keys') {
      const keyUri = str(props.keyUri);
      if (!keyUri) continue;
      out.push({ probe: 'keyvault-crypto', target: keyUri, resourceId: doc.id, options: { tags } });
      // The drill writes a canary where the key is used: into the configured container of a storage account that
      // encrypts with this key, then reads back which key version every service using the key reports (ARM).
      const users = consumers.get(keyRef(keyUri)) ?? [];
      const account = users.find((u) => u.blobEndpoint);
      if (options.blobCanaryContainer && account?.blobEndpoint) {
        out.push({
          probe: 'rotation-drill',
          target: keyUri,
          resourceId: doc.id,
          options: {
            tags: { ...account.tags, ...tags },
            container: `${account.blobEndpoint.replace(/\/+$/, '')}/${options.blobCanaryContainer}`,
            armResources: users.map((u) => u.id),
          },
        });
      }
    }
  }
  return out.sort((a, b) => (a.probe === b.probe ? (a.target < b.target ? -1 : a.target > b.target ? 1 : 0) : a.probe < b.probe ? -1 : 1));
}

/** What `runProbes` adds to the evidence. */
export interface ProbeRunOutput {
  documents: AzureDocument[];
  provenance: Provenance[];
  errors: CollectionError[];
}

export interface RunProbesParams {
  level: ProbeLevel;
  evidence: EvidenceSet;
  ctx: ProbeContext;
  /** Overrides derivation from evidence (tests, or a caller with its own target list). */
  targets?: ProbeTarget[];
  /** Passed to `probeTargetsFromEvidence`. */
  targetOptions?: ProbeTargetOptions;
  /** How many probes run at once (default 4). */
  concurrency?: number;
  /** The probe definitions to use (default: the registry's `PROBES`). */
  probes?: readonly ProbeDefinition[];
}

/**
 * Runs every derived target the level allows (`safe`: probes with `writes: false`; `all`: every probe) and returns the
 * observations as `engram.probe/<name>` documents with provenance, sorted by document id. Targets whose probe is not
 * registered are skipped (the writing probes arrive in other modules); an observation with status `error` also yields
 * a CollectionError. Each probe gets `ctx.timeoutMs`.
 */
export async function runProbes(params: RunProbesParams): Promise<ProbeRunOutput> {
  const { level, ctx } = params;
  const out: ProbeRunOutput = { documents: [], provenance: [], errors: [] };
  if (level === 'none') return out;
  const registry = (params.probes ?? PROBES) as readonly ProbeDefinition[];
  const getProbe = (name: string): ProbeDefinition | undefined => registry.find((p) => p.name === name);
  const targets = (params.targets ?? probeTargetsFromEvidence(params.evidence, params.targetOptions)).filter((t) => {
    const def = getProbe(t.probe);
    return def !== undefined && (level === 'all' || !def.writes);
  });
  const observations: ProbeObservation[] = new Array(targets.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      const t = targets[i];
      const def = getProbe(t.probe)!;
      let obs: ProbeObservation;
      try {
        obs = await runProbeDefinition(def, t.target, t.options, ctx);
      } catch (err) {
        // A UsageError from a derived target is still a failure to observe this resource, not a reason to stop the scan.
        const e = err as EngramError;
        const message = `probe ${t.probe} on ${t.target} could not start: ${e.message}`;
        obs = {
          probe: t.probe,
          target: t.target,
          status: 'error',
          summary: message,
          observed: {},
          startedAt: ctx.now().toISOString(),
          durationMs: 0,
          error: { code: e.code ?? 'E_PROBE_FAILED', message },
        };
      }
      observations[i] = { ...obs, resourceId: t.resourceId };
    }
  };
  const n = Math.max(1, Math.min(params.concurrency ?? 4, targets.length));
  await Promise.all(Array.from({ length: n }, worker));

  const items = observations.map((obs) => ({ obs, ...observationToDocument(obs) }));
  items.sort((a, b) => (a.document.id < b.document.id ? -1 : a.document.id > b.document.id ? 1 : 0));
  for (const { obs, document, provenance } of items) {
    out.documents.push(document);
    out.provenance.push(provenance);
    if (obs.status === 'error') {
      out.errors.push({
        collector: `probe.${obs.probe}`,
        scope: obs.target,
        resourceId: obs.resourceId,
        resourceType: document.type?.toLowerCase(),
        code: obs.error?.code ?? 'E_PROBE_FAILED',
        message: obs.error?.message ?? obs.summary,
      });
    }
  }
  return out;
}
