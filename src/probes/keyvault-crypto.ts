/**
 * keyvault-crypto probe: wraps and unwraps a random 32-byte value with the current version of a Key Vault key, then does
 * the same with the previous version (dual-key support during rotation), recording outcomes, algorithm, key ids,
 * timings and SHA-256 digests only, never the value or the wrapped bytes.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type { Agent } from 'node:https';
import {
  CryptographyClient,
  KeyClient,
  parseKeyVaultKeyIdentifier,
  type CryptographyClientOptions,
  type KeyClientOptions,
  type KeyVaultKey,
  type KeyWrapAlgorithm,
} from '@azure/keyvault-keys';
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

export const KEYVAULT_CRYPTO_PROBE = 'keyvault-crypto';

/** Algorithms the probe may use; both are what Azure Storage and PostgreSQL CMK use to wrap data keys. */
export const WRAP_ALGORITHMS = ['RSA-OAEP', 'RSA-OAEP-256'] as const;
export type WrapAlgorithm = (typeof WRAP_ALGORITHMS)[number];

/** Options of the keyvault-crypto probe (a type alias, so it is assignable to `ProbeDefinition<Record<string, unknown>>`). */
export type KeyvaultCryptoOptions = {
  /** Azure resource id of the target (the scan passes it), tying the observation to configuration checks. */
  resourceId?: string;
  /** Default RSA-OAEP-256. */
  algorithm?: WrapAlgorithm;
  /** PEM file of an extra CA to trust (private CA, TLS-inspecting proxy, loopback test vault). */
  caFile?: string;
  /** PEM text of an extra CA (programmatic use; wins over caFile). */
  ca?: string;
  /**
   * Skip the SDK's check that the challenge resource matches the vault host. Needed only for vault hosts outside
   * `*.vault.azure.net`-style domains (a loopback test vault); never needed for Azure.
   */
  disableChallengeResourceVerification?: boolean;
  /** Key Vault api-version (default: the SDK's, 2025-07-01 for 4.10). */
  serviceVersion?: string;
  /** Source of the random test value (tests inject a fixed one; default node:crypto). */
  randomBytes?: (n: number) => Uint8Array;
};

/** One wrap/unwrap round trip as recorded (digests and outcomes only). */
export interface RoundTrip {
  keyId: string;
  version: string;
  enabled: boolean | null;
  createdOn: string | null;
  expiresOn: string | null;
  wrap: { ok: boolean; ms: number; error?: { code: string; message: string } } | null;
  unwrap: { ok: boolean; ms: number; error?: { code: string; message: string } } | null;
  /** Unwrap returned exactly the value that was wrapped. */
  roundTrip: boolean;
  valueSha256: string | null;
  wrappedSha256: string | null;
}

/** Parsed `https://<vault>/keys/<name>[/<version>]`. */
export interface KeyTarget {
  vaultUrl: string;
  name: string;
  version?: string;
}

/** Parses a Key Vault key URL; throws UsageError for anything else. */
export function parseKeyTarget(target: string): KeyTarget {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`not a Key Vault key URL: ${JSON.stringify(target)}`, { hint: 'Give https://<vault>.vault.azure.net/keys/<name>.' });
  }
  if (url.protocol !== 'https:') {
    throw new UsageError(`Key Vault key URL must use https: ${target}`, { hint: 'Key Vault (and bearer tokens) work over HTTPS only.' });
  }
  let parsed: { vaultUrl: string; name: string; version?: string };
  try {
    parsed = parseKeyVaultKeyIdentifier(url.toString());
  } catch {
    throw new UsageError(`not a Key Vault key URL: ${target}`, { hint: 'Give https://<vault>.vault.azure.net/keys/<name>[/<version>].' });
  }
  if (!/\/keys\//.test(url.pathname)) throw new UsageError(`not a Key Vault key URL (no /keys/): ${target}`);
  return { vaultUrl: parsed.vaultUrl.replace(/\/$/, ''), name: parsed.name, ...(parsed.version ? { version: parsed.version } : {}) };
}

/** KeyClient/CryptographyClient options shared by the Key Vault probes. */
export function keyVaultClientOptions(
  opts: { disableChallengeResourceVerification?: boolean; serviceVersion?: string },
  agent: Agent | undefined,
): KeyClientOptions & CryptographyClientOptions {
  return {
    ...(agent ? { agent } : {}),
    ...(opts.disableChallengeResourceVerification ? { disableChallengeResourceVerification: true } : {}),
    ...(opts.serviceVersion ? { serviceVersion: opts.serviceVersion as KeyClientOptions['serviceVersion'] } : {}),
    retryOptions: { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
  };
}

const iso = (d: Date | undefined): string | null => (d ? d.toISOString() : null);

/** Runs the probe. Never throws for service or network failures: they become an `error` observation. */
export async function runKeyvaultCrypto(target: string, options: KeyvaultCryptoOptions, ctx: ProbeContext): Promise<ProbeObservation> {
  const startedAt = ctx.now();
  const algorithm: WrapAlgorithm = options.algorithm ?? 'RSA-OAEP-256';
  const attempted: string[] = [];
  const observed: Record<string, unknown> = { algorithm, attempted };
  const done = (status: ProbeStatus, summary: string, error?: { code: string; message: string }): ProbeObservation =>
    finishObservation(KEYVAULT_CRYPTO_PROBE, target, startedAt, ctx.now, status, summary, observed, error, options.resourceId);

  let kt: KeyTarget;
  try {
    kt = parseKeyTarget(target);
  } catch (e) {
    return done('error', 'The target is not a Key Vault key URL, so nothing was probed.', { code: 'bad_target', message: (e as Error).message });
  }
  Object.assign(observed, { vaultUrl: kt.vaultUrl, keyName: kt.name, ...(kt.version ? { requestedVersion: kt.version } : {}) });
  if (!WRAP_ALGORITHMS.includes(algorithm)) {
    return done('error', `Unsupported wrap algorithm ${algorithm}.`, { code: 'bad_option', message: `algorithm must be one of ${WRAP_ALGORITHMS.join(', ')}` });
  }
  const credential = ctx.credential;
  if (!credential) {
    return done('error', 'No Azure credential was available, so the vault was not called.', {
      code: 'no_credential',
      message: 'keyvault-crypto needs a Microsoft Entra credential (Key Vault Crypto User on the key).',
    });
  }
  let agent: Agent | undefined;
  try {
    agent = trustAgent(options.ca ?? (options.caFile ? readCaFile(options.caFile) : undefined));
  } catch (e) {
    return done('error', 'The CA file could not be read, so nothing was probed.', { code: 'bad_ca_file', message: (e as Error).message });
  }
  const clientOptions = keyVaultClientOptions(options, agent);
  const random = options.randomBytes ?? ((n: number) => nodeRandomBytes(n));
  let step = `GET ${kt.vaultUrl}/keys/${kt.name} (KeyClient.getKey)`;

  try {
    const outcome = await withDeadline(ctx, async (abortSignal) => {
      const keyClient = new KeyClient(kt.vaultUrl, credential, clientOptions);
      attempted.push(step);
      const current = await keyClient.getKey(kt.name, { abortSignal });
      observed.keyType = current.keyType ?? null;
      observed.keyOps = [...(current.keyOperations ?? [])].sort();

      step = `GET ${kt.vaultUrl}/keys/${kt.name}/versions (KeyClient.listPropertiesOfKeyVersions)`;
      attempted.push(step);
      const versions: Array<{ version: string; enabled: boolean | null; createdOn: Date | undefined; id: string }> = [];
      for await (const p of keyClient.listPropertiesOfKeyVersions(kt.name, { abortSignal })) {
        versions.push({ version: p.version ?? '', enabled: p.enabled ?? null, createdOn: p.createdOn, id: p.id ?? '' });
      }
      // Newest first; the current version is what GET /keys/<name> answers, the previous one is the newest other.
      versions.sort((a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0) || a.version.localeCompare(b.version));
      observed.versions = {
        total: versions.length,
        enabled: versions.filter((v) => v.enabled === true).length,
        // The newest 25 are enough to read the rotation history; a key can hold thousands of versions.
        list: versions.slice(0, 25).map((v) => ({ version: v.version, enabled: v.enabled, createdOn: iso(v.createdOn) })),
      };

      const roundTrip = async (key: KeyVaultKey, label: string): Promise<RoundTrip> => {
        const rt: RoundTrip = {
          keyId: key.id ?? '',
          version: key.properties.version ?? '',
          enabled: key.properties.enabled ?? null,
          createdOn: iso(key.properties.createdOn),
          expiresOn: iso(key.properties.expiresOn),
          wrap: null,
          unwrap: null,
          roundTrip: false,
          valueSha256: null,
          wrappedSha256: null,
        };
        const crypto = new CryptographyClient(key, credential, clientOptions);
        const value = Buffer.from(random(32));
        rt.valueSha256 = sha256Hex(value);
        step = `POST ${key.id}/wrapkey ${algorithm} (${label} version)`;
        attempted.push(step);
        let t0 = ctx.now().getTime();
        const wrapped = await crypto.wrapKey(algorithm as KeyWrapAlgorithm, value, { abortSignal });
        rt.wrap = { ok: true, ms: ctx.now().getTime() - t0 };
        rt.wrappedSha256 = sha256Hex(wrapped.result);
        step = `POST ${key.id}/unwrapkey ${algorithm} (${label} version)`;
        attempted.push(step);
        t0 = ctx.now().getTime();
        try {
          const unwrapped = await crypto.unwrapKey(algorithm as KeyWrapAlgorithm, wrapped.result, { abortSignal });
          rt.unwrap = { ok: true, ms: ctx.now().getTime() - t0 };
          rt.roundTrip = Buffer.from(unwrapped.result).equals(value);
        } catch (e) {
          const status = (e as { statusCode?: number }).statusCode;
          // 400 (bad value for this key) is an answer about the key; 401/403/5xx/network mean "could not observe".
          if (status !== 400) throw e;
          rt.unwrap = { ok: false, ms: ctx.now().getTime() - t0, error: describeError(e, step) };
        }
        return rt;
      };

      const wrapOps = ['wrapKey', 'unwrapKey'].filter((op) => !(current.keyOperations ?? []).includes(op as never));
      if (current.keyType && !/^RSA/.test(current.keyType)) {
        return { status: 'non_compliant' as const, reason: 'unsupported_key_type', summary: `Key ${kt.name} is of type ${current.keyType}; customer-managed keys for Storage and PostgreSQL must be RSA.` };
      }
      if (wrapOps.length > 0) {
        return { status: 'non_compliant' as const, reason: 'key_ops_missing', summary: `Key ${kt.name} does not permit ${wrapOps.join(' and ')}, so services cannot wrap data keys with it.` };
      }
      if (current.properties.enabled === false) {
        return { status: 'non_compliant' as const, reason: 'current_disabled', summary: `The current version of key ${kt.name} is disabled.` };
      }
      const cur = await roundTrip(current, 'current');
      observed.current = cur;
      if (!cur.roundTrip) {
        return { status: 'non_compliant' as const, reason: 'current_round_trip_failed', summary: `Unwrapping with the current version of key ${kt.name} did not return the wrapped value.` };
      }
      const prevProps = versions.find((v) => v.version !== cur.version);
      if (!prevProps) {
        observed.previous = null;
        return {
          status: 'non_compliant' as const,
          reason: 'single_version',
          summary: `Key ${kt.name} has a single version: it has never been rotated, so unwrapping under a previous version could not be shown.`,
        };
      }
      if (prevProps.enabled === false) {
        observed.previous = { keyId: prevProps.id, version: prevProps.version, enabled: false, createdOn: iso(prevProps.createdOn) };
        return {
          status: 'non_compliant' as const,
          reason: 'previous_disabled',
          summary: `The previous version of key ${kt.name} is disabled: data keys wrapped before the last rotation can no longer be unwrapped.`,
        };
      }
      step = `GET ${kt.vaultUrl}/keys/${kt.name}/${prevProps.version} (KeyClient.getKey, previous version)`;
      attempted.push(step);
      const previousKey = await keyClient.getKey(kt.name, { version: prevProps.version, abortSignal });
      const prev = await roundTrip(previousKey, 'previous');
      observed.previous = prev;
      if (!prev.roundTrip) {
        return {
          status: 'non_compliant' as const,
          reason: 'previous_round_trip_failed',
          summary: `A value wrapped under the previous version of key ${kt.name} could not be unwrapped with it.`,
        };
      }
      return {
        status: 'compliant' as const,
        reason: 'dual_key_ok',
        summary: `Key ${kt.name}: ${algorithm} wrap/unwrap round trips succeeded with the current version and the previous enabled version.`,
      };
    });
    observed.reason = outcome.reason;
    return done(outcome.status, outcome.summary);
  } catch (e) {
    const error = describeError(e, step);
    observed.reason = 'could_not_observe';
    return done('error', `Could not probe key ${kt.name}: ${error.message}`, error);
  } finally {
    agent?.destroy();
  }
}

/** The probe definition the registry lists. */
export const keyvaultCryptoProbe: ProbeDefinition<KeyvaultCryptoOptions> = {
  name: KEYVAULT_CRYPTO_PROBE,
  writes: false,
  description:
    'Wraps and unwraps a random value with the current and the previous version of a Key Vault key (dual-key during rotation); records outcomes and digests only.',
  run: runKeyvaultCrypto,
};

/**
 * argv (after `probe keyvault-crypto`) to target and options:
 * `<https://vault/keys/name> [--algorithm RSA-OAEP|RSA-OAEP-256] [--ca-file PEM] [--disable-challenge-resource-verification]
 * [--api-version V] [--timeout-ms N] [--json]`.
 */
export function parseKeyvaultCryptoArgs(argv: string[]): ParsedProbeArgs<KeyvaultCryptoOptions> {
  const { positional, flags, timeoutMs, json } = parseFlags(KEYVAULT_CRYPTO_PROBE, argv, {
    algorithm: { value: true },
    'ca-file': { value: true },
    'disable-challenge-resource-verification': { value: false },
    'api-version': { value: true },
  });
  if (positional.length !== 1) {
    throw new UsageError(`probe ${KEYVAULT_CRYPTO_PROBE} takes exactly one target, got ${positional.length}`, {
      hint: 'engram-audit probe keyvault-crypto https://<vault>.vault.azure.net/keys/<name>',
    });
  }
  parseKeyTarget(positional[0]);
  const options: KeyvaultCryptoOptions = {};
  const alg = flags.get('algorithm')?.[0];
  if (alg !== undefined) {
    if (!WRAP_ALGORITHMS.includes(alg as WrapAlgorithm)) throw new UsageError(`--algorithm must be one of ${WRAP_ALGORITHMS.join(', ')}, got ${alg}`);
    options.algorithm = alg as WrapAlgorithm;
  }
  const ca = flags.get('ca-file')?.[0];
  if (ca !== undefined) options.caFile = ca;
  if (flags.has('disable-challenge-resource-verification')) options.disableChallengeResourceVerification = true;
  const v = flags.get('api-version')?.[0];
  if (v !== undefined) options.serviceVersion = v;
  return { target: positional[0], options, timeoutMs, json };
}

