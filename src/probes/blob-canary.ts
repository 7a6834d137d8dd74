/**
 * blob-canary probe (writes): uploads a small canary blob to a container, records the server-side encryption headers,
 * reads the blob back, checks that an anonymous read (no credentials at all) is refused, and deletes the canary or
 * records why it could not (immutability is an observation, not an error).
 */
import { randomBytes } from 'node:crypto';
import { request as httpsRequest, type Agent } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import {
  AnonymousCredential,
  ContainerClient,
  StorageSharedKeyCredential,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { UsageError } from '../errors.js';
import { sha256Hex } from '../util/hash.js';
import {
  describeError,
  finishObservation,
  parseFlags,
  readCaFile,
  trustAgent,
  withDeadline,
  type ParsedProbeArgs,
} from './data-plane-support.js';
import type { ProbeContext, ProbeDefinition, ProbeObservation, ProbeStatus } from './types.js';

export const BLOB_CANARY_PROBE = 'blob-canary';

/** Options of the blob-canary probe (a type alias, so it is assignable to `ProbeDefinition<Record<string, unknown>>`). */
export type BlobCanaryOptions = {
  /** Azure resource id of the target (the scan passes it), tying the observation to configuration checks. */
  resourceId?: string;
  /**
   * Name of an environment variable holding a storage connection string (its AccountKey or SharedAccessSignature
   * authorises the calls). Without it the probe uses the Microsoft Entra credential from the context.
   */
  connectionStringEnv?: string;
  /** PEM file of an extra CA to trust. */
  caFile?: string;
  /** PEM text of an extra CA (programmatic use; wins over caFile). */
  ca?: string;
  /** Leave the canary in place (rotation-drill reads it again later and deletes it itself). */
  keepCanary?: boolean;
  /** Source of the canary name's random suffix (tests; default 8 random hex characters). */
  randomSuffix?: () => string;
};

/** How the probe authenticated (never the secret itself). */
export type BlobAuthMode = 'shared-key' | 'sas' | 'entra';

/** A container client for the target URL, authorised from a connection string env var or the Entra credential. */
export interface ContainerAccess {
  client: ContainerClient;
  authMode: BlobAuthMode;
  /** The container URL without any query string. */
  containerUrl: string;
}

const COMMON_STATUSES_REFUSED = new Set([401, 403, 404, 409]);

/** Parses `https://<account>.blob.core.windows.net/<container>` (or Azurite's path style). Throws UsageError. */
export function parseContainerTarget(target: string): { containerUrl: string; containerName: string } {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`not a blob container URL: ${JSON.stringify(target)}`, { hint: 'Give https://<account>.blob.core.windows.net/<container>.' });
  }
  if (url.protocol !== 'https:') throw new UsageError(`blob container URL must use https: ${target}`, { hint: 'The probe never sends credentials over plain HTTP.' });
  if (url.search) throw new UsageError('the container URL must not carry a query string (SAS tokens go in a connection string environment variable)', { hint: 'Use --connection-string-env VAR.' });
  const segs = url.pathname.split('/').filter(Boolean);
  // Account in the host name (Azure) or in the first path segment (IP / localhost style, Azurite).
  const pathStyle = /^\d+\.\d+\.\d+\.\d+$|^\[|^localhost$/i.test(url.hostname);
  const expected = pathStyle ? 2 : 1;
  if (segs.length !== expected) {
    throw new UsageError(`not a blob container URL (expected ${pathStyle ? '/<account>/<container>' : '/<container>'}): ${target}`);
  }
  return { containerUrl: `${url.origin}/${segs.join('/')}`, containerName: segs[segs.length - 1] };
}

function parseConnectionString(cs: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of cs.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  return out;
}

/**
 * Builds the container client. The target URL decides where the probe writes; a connection string only supplies the
 * secret (AccountKey or SharedAccessSignature), so a connection string for another account cannot redirect the writes.
 */
export function containerAccess(
  target: string,
  options: Pick<BlobCanaryOptions, 'connectionStringEnv'>,
  ctx: Pick<ProbeContext, 'env' | 'credential'>,
  agent: Agent | undefined,
): ContainerAccess {
  const { containerUrl } = parseContainerTarget(target);
  // `agent` is a core-rest-pipeline option that storage-blob passes through to its pipeline (not in its typings).
  const pipeline = {
    ...(agent ? { agent } : {}),
    retryOptions: { maxTries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
  } as StoragePipelineOptions;
  if (options.connectionStringEnv) {
    const cs = ctx.env[options.connectionStringEnv];
    if (!cs) throw new UsageError(`environment variable ${options.connectionStringEnv} is not set or empty`, { hint: 'Export the storage connection string in it, or omit --connection-string-env to use Microsoft Entra ID.' });
    const parts = parseConnectionString(cs);
    if (parts.accountkey && parts.accountname) {
      return { client: new ContainerClient(containerUrl, new StorageSharedKeyCredential(parts.accountname, parts.accountkey), pipeline), authMode: 'shared-key', containerUrl };
    }
    if (parts.sharedaccesssignature) {
      const sas = parts.sharedaccesssignature.replace(/^\?/, '');
      return { client: new ContainerClient(`${containerUrl}?${sas}`, new AnonymousCredential(), pipeline), authMode: 'sas', containerUrl };
    }
    throw new UsageError(`the connection string in ${options.connectionStringEnv} has neither AccountName+AccountKey nor SharedAccessSignature`);
  }
  if (!ctx.credential) {
    throw new UsageError('no credential for the storage account', { hint: 'Give --connection-string-env VAR or sign in for Microsoft Entra ID (Storage Blob Data Contributor).' });
  }
  return { client: new ContainerClient(containerUrl, ctx.credential as TokenCredential, pipeline), authMode: 'entra', containerUrl };
}

/** `engram-audit-canary-<yyyymmddThhmmssZ>-<suffix>`: sortable, and obviously ours to anyone listing the container. */
export function canaryBlobName(now: Date, suffix: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `engram-audit-canary-${stamp}-${suffix}`;
}

/** A plain HTTPS GET without any credential; the status code says whether anonymous access is refused. */
export function anonymousGet(url: string, agent: Agent | undefined, signal: AbortSignal): Promise<{ status: number; errorCode: string | null }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', agent: agent ?? undefined, signal, headers: { 'x-ms-version': '2021-12-02' } }, (res) => {
      res.resume();
      res.on('end', () => {
        const code = res.headers['x-ms-error-code'];
        resolve({ status: res.statusCode ?? 0, errorCode: typeof code === 'string' ? code : null });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** True when a delete failed because the blob is immutable (time-based retention or legal hold): an observation. */
export function isImmutabilityRefusal(e: unknown): { immutable: boolean; code: string | null } {
  const err = e as { statusCode?: number; code?: string; details?: { errorCode?: string } };
  const code = err?.details?.errorCode ?? err?.code ?? null;
  const immutable = err?.statusCode === 409 && typeof code === 'string' && /Immutab|LegalHold|Worm/i.test(code);
  return { immutable, code };
}

const header = (h: { get(name: string): string | undefined }, name: string): string | null => h.get(name) ?? null;

/** What one canary write + read-back recorded; reused by rotation-drill. */
export interface CanaryWrite {
  blobName: string;
  blobUrl: string;
  contentSha256: string;
  uploadHeaders: Record<string, string | null>;
}

/** Uploads a canary blob and returns what the service answered (headers only; the content is not secret). */
export async function writeCanary(access: ContainerAccess, name: string, content: Buffer, signal: AbortSignal): Promise<CanaryWrite> {
  const blob = access.client.getBlockBlobClient(name);
  const up = await blob.upload(content, content.length, {
    abortSignal: signal,
    metadata: { engramaudit: 'canary' },
    blobHTTPHeaders: { blobContentType: 'text/plain; charset=utf-8' },
  });
  const h = up._response.headers;
  return {
    blobName: name,
    blobUrl: `${access.containerUrl}/${name}`,
    contentSha256: sha256Hex(content),
    uploadHeaders: {
      'x-ms-request-server-encrypted': header(h, 'x-ms-request-server-encrypted'),
      'x-ms-encryption-key-sha256': header(h, 'x-ms-encryption-key-sha256'),
      'x-ms-encryption-scope': header(h, 'x-ms-encryption-scope'),
      'x-ms-version-id': header(h, 'x-ms-version-id'),
    },
  };
}

/** Reads a blob back and returns its digest and the encryption headers of the read. */
export async function readBack(access: ContainerAccess, name: string, signal: AbortSignal): Promise<{ sha256: string; headers: Record<string, string | null> }> {
  const buf = await access.client.getBlockBlobClient(name).downloadToBuffer(undefined, undefined, { abortSignal: signal });
  // downloadToBuffer drops headers; a HEAD gives the read-side encryption facts.
  const props = await access.client.getBlockBlobClient(name).getProperties({ abortSignal: signal });
  const h = props._response.headers;
  return {
    sha256: sha256Hex(buf),
    headers: {
      'x-ms-server-encrypted': header(h, 'x-ms-server-encrypted'),
      'x-ms-encryption-key-sha256': header(h, 'x-ms-encryption-key-sha256'),
      'x-ms-encryption-scope': header(h, 'x-ms-encryption-scope'),
    },
  };
}

/** Deletes a canary; an immutability refusal is returned as an observation, other failures throw. */
export async function deleteCanary(access: ContainerAccess, name: string, signal: AbortSignal): Promise<{ deleted: boolean; reason: string | null }> {
  try {
    await access.client.getBlockBlobClient(name).delete({ deleteSnapshots: 'include', abortSignal: signal });
    return { deleted: true, reason: null };
  } catch (e) {
    const imm = isImmutabilityRefusal(e);
    if (imm.immutable) return { deleted: false, reason: `immutable: the service refused the delete with ${imm.code}; the canary stays until its retention ends or the hold is cleared` };
    throw e;
  }
}

/** Runs the probe. Never throws for service or network failures: they become an `error` observation. */
export async function runBlobCanary(target: string, options: BlobCanaryOptions, ctx: ProbeContext): Promise<ProbeObservation> {
  const startedAt = ctx.now();
  const attempted: string[] = [];
  const observed: Record<string, unknown> = { attempted };
  const done = (status: ProbeStatus, summary: string, error?: { code: string; message: string }): ProbeObservation =>
    finishObservation(BLOB_CANARY_PROBE, target, startedAt, ctx.now, status, summary, observed, error, options.resourceId);

  let agent: Agent | undefined;
  let access: ContainerAccess;
  try {
    agent = trustAgent(options.ca ?? (options.caFile ? readCaFile(options.caFile) : undefined));
    access = containerAccess(target, options, ctx, agent);
  } catch (e) {
    agent?.destroy();
    return done('error', 'The probe could not be set up, so nothing was written.', { code: 'bad_input', message: (e as Error).message });
  }
  observed.containerUrl = access.containerUrl;
  observed.authMode = access.authMode;
  const name = canaryBlobName(startedAt, options.randomSuffix?.() ?? randomBytes(4).toString('hex'));
  observed.canaryBlob = name;
  let step = `GET ${access.containerUrl}?restype=container (container properties)`;
  let uploaded = false;

  try {
    const outcome = await withDeadline(ctx, async (signal) => {
      attempted.push(step);
      try {
        const props = await access.client.getProperties({ abortSignal: signal });
        observed.container = {
          publicAccess: props.blobPublicAccess ?? 'none',
          hasImmutabilityPolicy: props.hasImmutabilityPolicy ?? null,
          hasLegalHold: props.hasLegalHold ?? null,
          defaultEncryptionScope: props.defaultEncryptionScope ?? null,
          denyEncryptionScopeOverride: props.denyEncryptionScopeOverride ?? null,
        };
      } catch (e) {
        // A service SAS may write blobs yet not read container properties (403); the anonymous read below still
        // observes public access. Anything else (404, network, timeout) means the target is wrong or unreachable.
        if ((e as { statusCode?: number }).statusCode !== 403) throw e;
        observed.container = { publicAccess: null, unavailable: describeError(e, step).message };
      }

      step = `PUT ${access.containerUrl}/${name} (upload canary)`;
      attempted.push(step);
      const content = Buffer.from(`engram-audit canary written ${startedAt.toISOString()} by ${BLOB_CANARY_PROBE}\n`, 'utf8');
      const write = await writeCanary(access, name, content, signal);
      uploaded = true;
      observed.upload = { contentSha256: write.contentSha256, bytes: content.length, headers: write.uploadHeaders };

      step = `GET ${access.containerUrl}/${name} (read back)`;
      attempted.push(step);
      const back = await readBack(access, name, signal);
      observed.readBack = { contentSha256: back.sha256, matches: back.sha256 === write.contentSha256, headers: back.headers };

      step = `GET ${access.containerUrl}/${name} without credentials (anonymous read)`;
      attempted.push(step);
      const anonBlob = await anonymousGet(write.blobUrl, agent, signal);
      step = `GET ${access.containerUrl}?restype=container&comp=list without credentials (anonymous list)`;
      attempted.push(step);
      const anonList = await anonymousGet(`${access.containerUrl}?restype=container&comp=list`, agent, signal);
      const verdict = (s: number): 'refused' | 'allowed' | 'inconclusive' =>
        s >= 200 && s < 300 ? 'allowed' : COMMON_STATUSES_REFUSED.has(s) ? 'refused' : 'inconclusive';
      observed.anonymousRead = {
        blob: { status: anonBlob.status, errorCode: anonBlob.errorCode, result: verdict(anonBlob.status) },
        list: { status: anonList.status, errorCode: anonList.errorCode, result: verdict(anonList.status) },
      };

      if (!options.keepCanary) {
        step = `DELETE ${access.containerUrl}/${name} (remove canary)`;
        attempted.push(step);
        const del = await deleteCanary(access, name, signal);
        observed.cleanup = del;
      } else {
        observed.cleanup = { deleted: false, reason: 'kept on request (keepCanary)' };
      }

      const findings: string[] = [];
      const encrypted = write.uploadHeaders['x-ms-request-server-encrypted'];
      if (encrypted !== 'true') findings.push(`the upload was not reported as server-side encrypted (x-ms-request-server-encrypted: ${encrypted ?? 'absent'})`);
      if (back.sha256 !== write.contentSha256) findings.push('the blob read back differs from what was written');
      if (verdict(anonBlob.status) === 'allowed') findings.push(`an anonymous read of the canary succeeded (HTTP ${anonBlob.status})`);
      if (verdict(anonList.status) === 'allowed') findings.push(`an anonymous listing of the container succeeded (HTTP ${anonList.status})`);
      const publicAccess = (observed.container as { publicAccess: string | null }).publicAccess;
      if (publicAccess !== null && publicAccess !== 'none') findings.push(`the container's public access level is "${publicAccess}"`);
      observed.findings = findings;
      if (findings.length > 0) return { status: 'non_compliant' as const, summary: `Container ${access.containerUrl}: ${findings.join('; ')}.` };
      if (verdict(anonBlob.status) === 'inconclusive') {
        return {
          status: 'error' as const,
          summary: `The anonymous read answered HTTP ${anonBlob.status}, which neither grants nor clearly refuses access.`,
          error: { code: 'inconclusive', message: `${step}: unexpected HTTP ${anonBlob.status}` },
        };
      }
      const cleanup = observed.cleanup as { deleted: boolean; reason: string | null };
      return {
        status: 'compliant' as const,
        summary: `Container ${access.containerUrl}: the canary was stored server-side encrypted${write.uploadHeaders['x-ms-encryption-scope'] ? ` (scope ${write.uploadHeaders['x-ms-encryption-scope']})` : ''}, read back intact, and anonymous access was refused${cleanup.deleted ? '; the canary was deleted' : `; the canary was not deleted (${cleanup.reason})`}.`,
      };
    });
    return done(outcome.status, outcome.summary, 'error' in outcome ? outcome.error : undefined);
  } catch (e) {
    const error = describeError(e, step);
    if (uploaded && observed.cleanup === undefined) {
      observed.cleanup = { deleted: false, reason: `not attempted: the probe stopped at "${step}"; delete ${name} by hand` };
    }
    return done('error', `Could not probe container ${access.containerUrl}: ${error.message}`, error);
  } finally {
    agent?.destroy();
  }
}

/** The probe definition the registry lists (a writing probe: runs only with `--probes all` or by name). */
export const blobCanaryProbe: ProbeDefinition<BlobCanaryOptions> = {
  name: BLOB_CANARY_PROBE,
  writes: true,
  description:
    'Uploads a canary blob, records the server-side encryption headers, reads it back, checks that anonymous reads are refused, then deletes it.',
  run: runBlobCanary,
};

/** argv (after `probe blob-canary`): `<container-url> [--connection-string-env VAR] [--ca-file PEM] [--timeout-ms N] [--json]`. */
export function parseBlobCanaryArgs(argv: string[]): ParsedProbeArgs<BlobCanaryOptions> {
  const { positional, flags, timeoutMs, json } = parseFlags(BLOB_CANARY_PROBE, argv, {
    'connection-string-env': { value: true },
    'ca-file': { value: true },
  });
  if (positional.length !== 1) {
    throw new UsageError(`probe ${BLOB_CANARY_PROBE} takes exactly one target, got ${positional.length}`, {
      hint: 'engram-audit probe blob-canary https://<account>.blob.core.windows.net/<container>',
    });
  }
  parseContainerTarget(positional[0]);
  const options: BlobCanaryOptions = {};
  const env = flags.get('connection-string-env')?.[0];
  if (env !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) throw new UsageError('--connection-string-env takes the NAME of an environment variable, not its value', { hint: 'Never pass the connection string itself on the command line.' });
    options.connectionStringEnv = env;
  }
  const ca = flags.get('ca-file')?.[0];
  if (ca !== undefined) options.caFile = ca;
  return { target: positional[0], options, timeoutMs, json };
}
