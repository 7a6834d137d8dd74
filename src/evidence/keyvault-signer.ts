/**
 * The Azure Key Vault signer: `--sign-key azurekeyvault://<vault>/keys/<name>[/<version>]` signs SHA256SUMS (and the DSSE
 * PAE) with CryptographyClient.sign, so the private key never leaves the vault. The public key is fetched once (getKey),
 * pinned to its version, and written to the bundle as PEM; signatures come out in the same encodings as local keys
 * (RS256 = RSASSA-PKCS1-v1_5/SHA-256; ES256's raw r||s converted to DER), so the same openssl commands verify them.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { Agent } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import { InputError } from '../errors.js';
import type { Signer } from './signing.js';
import { MIN_RSA_BITS, publicKeyFingerprint } from './signing.js';

/** Options for {@link createKeyVaultSigner}. */
export interface KeyVaultSignerOptions {
  /** Credential for Key Vault (default: DefaultAzureCredential). */
  credential?: TokenCredential;
  /** Vault URL to use instead of `https://<vault>.vault.azure.net` (a sovereign cloud, or a loopback test server). */
  vaultUrl?: string;
  /** HTTPS agent (e.g. one that trusts a test server's certificate). */
  agent?: Agent;
  /** Skip the check that the challenge's resource matches the vault's domain (needed for loopback servers only). */
  disableChallengeResourceVerification?: boolean;
}

/** The parts of an `azurekeyvault://` key reference. */
export interface KeyVaultKeyRef {
  /** Vault name (`contoso-kv`) or host (`contoso-kv.vault.azure.net`). */
  vault: string;
  name: string;
  version?: string;
  /** The vault URL the SDK is pointed at. */
  vaultUrl: string;
}

const HINT =
  'Write the key as azurekeyvault://<vault-name>/keys/<key-name>[/<version>], e.g. azurekeyvault://contoso-kv/keys/audit-signing.';

/** Parses `azurekeyvault://<vault>/keys/<name>[/<version>]`; a bare vault name becomes `https://<name>.vault.azure.net`. */
export function parseKeyVaultUri(uri: string, vaultUrl?: string): KeyVaultKeyRef {
  const m = /^azurekeyvault:\/\/([^/?#]+)\/keys\/([^/?#]+)(?:\/([^/?#]+))?\/?$/i.exec(uri.trim());
  if (!m) {
    throw new InputError('E_SIGN_KEYVAULT_URI', `not a Key Vault key reference: ${uri}`, { field: '--sign-key', hint: HINT });
  }
  const [, vault, name, version] = m as unknown as [string, string, string, string | undefined];
  if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(vault) || !/^[A-Za-z0-9-]{1,127}$/.test(name) || (version !== undefined && !/^[A-Za-z0-9]{1,64}$/.test(version))) {
    throw new InputError('E_SIGN_KEYVAULT_URI', `the Key Vault key reference has an invalid vault, key name or version: ${uri}`, { field: '--sign-key', hint: HINT });
  }
  const url = vaultUrl ?? (vault.includes('.') ? `https://${vault}` : `https://${vault}.vault.azure.net`);
  return { vault, name, version, vaultUrl: url.replace(/\/+$/, '') };
}

/** Converts an IEEE P1363 ECDSA signature (r||s, what Key Vault and WebCrypto return) to a DER ECDSA-Sig-Value. */
export function p1363ToDer(signature: Uint8Array): Buffer {
  if (signature.length === 0 || signature.length % 2 !== 0) throw new Error(`an r||s signature has an even, non-zero length, not ${signature.length}`);
  const half = signature.length / 2;
  const integer = (bytes: Uint8Array): Buffer => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = Buffer.from(bytes.subarray(i));
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([integer(signature.subarray(0, half)), integer(signature.subarray(half))]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}

interface JsonWebKeyLike {
  kty?: string;
  n?: Uint8Array;
  e?: Uint8Array;
  crv?: string;
  x?: Uint8Array;
  y?: Uint8Array;
}

/** The public key of a Key Vault JWK as a KeyObject (RSA, RSA-HSM, EC/EC-HSM on P-256). */
export function publicKeyFromJwk(jwk: JsonWebKeyLike): KeyObject {
  const b64u = (v: Uint8Array | undefined) => Buffer.from(v ?? new Uint8Array()).toString('base64url');
  const kty = (jwk.kty ?? '').toUpperCase();
  if (kty.startsWith('RSA')) return createPublicKey({ key: { kty: 'RSA', n: b64u(jwk.n), e: b64u(jwk.e) }, format: 'jwk' });
  if (kty.startsWith('EC')) {
    if (jwk.crv !== 'P-256') throw new Error(`EC curve ${jwk.crv ?? '(none)'} is not supported; use P-256`);
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(jwk.x), y: b64u(jwk.y) }, format: 'jwk' });
  }
  throw new Error(`key type ${jwk.kty ?? '(none)'} cannot sign; use an RSA or EC P-256 key`);
}

function keyVaultError(ref: KeyVaultKeyRef, what: string, err: unknown): InputError {
  const e = err as { statusCode?: number; code?: string; message?: string };
  const status = e.statusCode ? ` (HTTP ${e.statusCode}${e.code ? ` ${e.code}` : ''})` : e.code ? ` (${e.code})` : '';
  const hint =
    e.statusCode === 403
      ? 'The identity needs the keys/get and keys/sign permissions on this key (RBAC role "Key Vault Crypto User", or an access policy with Get and Sign).'
      : e.statusCode === 404
        ? 'Check the vault and key names (az keyvault key show --vault-name VAULT --name KEY).'
        : 'Check the vault URL, network access to the vault and the credential (az login, managed identity or AZURE_CLIENT_ID/...).';
  // The SDK's message can quote the request; keep only its first line.
  const detail = (e.message ?? String(err)).split('\n')[0]!.slice(0, 300);
  return new InputError('E_SIGN_KEYVAULT', `Key Vault ${what} failed for ${ref.vaultUrl}/keys/${ref.name}${status}: ${detail}`, { field: '--sign-key', hint });
}

/**
 * Creates a signer backed by a Key Vault key. Fetches the key once (getKey), pins its version, and checks that it is an
 * RSA (>= 2048 bits) or EC P-256 key that allows `sign`. Every signature is checked against the fetched public key
 * before it is returned, so a wrong answer from the vault fails the run instead of producing a bundle that cannot verify.
 *
 * @throws InputError (exit 2) for a malformed reference, an unreachable vault, a missing key or permission, or a key
 *   that cannot sign.
 */
export async function createKeyVaultSigner(uri: string, options: KeyVaultSignerOptions = {}): Promise<Signer> {
  const ref = parseKeyVaultUri(uri, options.vaultUrl);
  const { KeyClient, CryptographyClient } = await import('@azure/keyvault-keys');
  const credential = options.credential ?? new (await import('@azure/identity')).DefaultAzureCredential();
  const clientOptions = {
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.disableChallengeResourceVerification ? { disableChallengeResourceVerification: true } : {}),
  };
  let key;
  try {
    key = await new KeyClient(ref.vaultUrl, credential, clientOptions).getKey(ref.name, ref.version ? { version: ref.version } : {});
  } catch (err) {
    throw keyVaultError(ref, 'getKey', err);
  }
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromJwk((key.key ?? {}) as JsonWebKeyLike);
  } catch (err) {
    throw new InputError('E_SIGN_KEYVAULT_KEY', `Key Vault key ${ref.name} cannot be used: ${(err as Error).message}`, {
      field: '--sign-key',
      hint: 'Create one: az keyvault key create --vault-name VAULT --name audit-signing --kty RSA --size 3072 --ops sign verify',
    });
  }
  const rsa = publicKey.asymmetricKeyType === 'rsa';
  if (rsa && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new InputError('E_SIGN_KEYVAULT_KEY', `Key Vault key ${ref.name} is RSA ${publicKey.asymmetricKeyDetails?.modulusLength} bits; at least ${MIN_RSA_BITS} are needed`, { field: '--sign-key' });
  }
  const ops = key.keyOperations;
  if (ops && ops.length > 0 && !ops.map((o) => String(o).toLowerCase()).includes('sign')) {
    throw new InputError('E_SIGN_KEYVAULT_KEY', `Key Vault key ${ref.name} does not allow the sign operation (allowed: ${ops.join(', ')})`, {
      field: '--sign-key',
      hint: 'az keyvault key set-attributes --vault-name VAULT --name KEY --ops sign verify',
    });
  }
  if (key.properties.enabled === false) {
    throw new InputError('E_SIGN_KEYVAULT_KEY', `Key Vault key ${ref.name} (version ${key.properties.version}) is disabled`, { field: '--sign-key' });
  }
  // Pin the version we fetched: a rotation during the run must not produce signatures under a key we did not publish.
  const versionedId = key.id ?? `${ref.vaultUrl}/keys/${ref.name}/${key.properties.version}`;
  const crypto = new CryptographyClient(versionedId, credential, clientOptions);
  const algorithm = rsa ? 'RS256' : 'ES256';
  const fingerprint = publicKeyFingerprint(publicKey);
  return {
    info: {
      algorithm: rsa ? 'rsa' : 'ecdsa-p256',
      fingerprint,
      ephemeral: false,
      keySource: `azurekeyvault://${ref.vault}/keys/${ref.name}/${key.properties.version ?? ''}`.replace(/\/$/, ''),
    },
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    async sign(data: Buffer): Promise<Buffer> {
      const digest = createHash('sha256').update(data).digest();
      let raw: Uint8Array;
      try {
        raw = (await crypto.sign(algorithm, digest)).result;
      } catch (err) {
        throw keyVaultError(ref, 'sign', err);
      }
      const signature = rsa ? Buffer.from(raw) : p1363ToDer(raw);
      const ok = rsa ? cryptoVerify('sha256', data, publicKey, signature) : cryptoVerify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, signature);
      if (!ok) {
        throw new InputError('E_SIGN_KEYVAULT', `Key Vault returned a signature that does not verify under key ${versionedId}`, {
          field: '--sign-key',
          hint: 'The vault answered with another key or a corrupted signature; nothing was written. Retry, and check the key version.',
        });
      }
      return signature;
    },
  };
}
