/**
 * DSSE envelopes over in-toto Statement v1 attestations of an evidence bundle: subjects are the bundle files with their
 * SHA-256, signed over DSSE's pre-authentication encoding so @sigstore/verify, cosign and in-toto tools can check them
 * offline with the public key. See docs/outputs.md ("DSSE envelope").
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';
import { sortKeys } from '../util/canonical-json.js';
import { sha256Hex } from '../util/hash.js';

/** The envelope's file name in a bundle (listed in SHA256SUMS; its subjects are every other listed file). */
export const DSSE_FILE = 'bundle.dsse.json';
/** in-toto Statement v1 `_type`. */
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** DSSE payloadType of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Our predicate type: "these files are one engram-audit evidence bundle" (predicate: tool, run, optional extras). */
export const ENGRAM_PREDICATE_TYPE = 'urn:engram-audit:predicate:evidence-bundle:v1';

/** One in-toto ResourceDescriptor as a subject: a bundle-relative path and its digest. */
export interface InTotoSubject {
  name: string;
  digest: { sha256: string };
}

/** An in-toto Statement v1. */
export interface InTotoStatement {
  _type: typeof IN_TOTO_STATEMENT_V1;
  subject: InTotoSubject[];
  predicateType: string;
  predicate: Record<string, unknown>;
}

/** A DSSE envelope (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md), base64 standard encoding. */
export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/** The result of verifying an envelope: never throws for a bad signature, so `verify` can report every problem. */
export interface DsseVerification {
  valid: boolean;
  /** The keyid of the signature that verified. */
  keyid?: string;
  /** The decoded statement when the payload parsed (also when the signature did not verify, for diagnostics). */
  statement?: InTotoStatement;
  /** Why verification failed. */
  error?: string;
}

/**
 * DSSE v1 pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII
 * decimal byte counts. The signature covers exactly these bytes, never the base64 payload.
 */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${payload.length} `, 'ascii'),
    payload,
  ]);
}

/**
 * Builds an in-toto Statement v1 whose subjects are the bundle files (sorted by path, digests lower-case).
 * Throws InputError for an empty list, a duplicate path or a digest that is not 64 hex characters.
 */
export function buildStatement(
  files: { path: string; sha256: string }[],
  predicate: Record<string, unknown> = {},
  predicateType: string = ENGRAM_PREDICATE_TYPE,
): InTotoStatement {
  const problems: string[] = [];
  if (files.length === 0) problems.push('no files');
  const seen = new Set<string>();
  files.forEach((f, i) => {
    if (typeof f.path !== 'string' || f.path === '') problems.push(`files[${i}].path is empty`);
    else if (seen.has(f.path)) problems.push(`files[${i}].path ${JSON.stringify(f.path)} is listed twice`);
    seen.add(f.path);
    if (!/^[0-9a-f]{64}$/i.test(f.sha256 ?? '')) problems.push(`files[${i}].sha256 is not a hex SHA-256`);
  });
  if (problems.length) {
    throw new InputError('E_DSSE_SUBJECTS', `cannot build the in-toto statement: ${problems.join('; ')}`, {
      field: 'files',
      hint: 'pass every bundle file once, with the SHA-256 from SHA256SUMS',
    });
  }
  const subject = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => ({ name: f.path, digest: { sha256: f.sha256.toLowerCase() } }));
  return { _type: IN_TOTO_STATEMENT_V1, subject, predicateType, predicate };
}

/** The statement's payload bytes: compact JSON with sorted keys, so the same statement always signs the same bytes. */
export function statementPayload(statement: InTotoStatement): Buffer {
  return Buffer.from(JSON.stringify(sortKeys(statement)), 'utf8');
}

/**
 * Signs `statement` as a DSSE envelope and returns its JSON (sorted keys, final newline). `sign` receives the PAE bytes
 * and returns the raw signature: Ed25519 (64 bytes), ECDSA as DER (what OpenSSL, Node and sigstore produce; convert
 * Key Vault's r||s first) or RSA PKCS#1 v1.5 with SHA-256. `keyid` is recorded as is (we use the SPKI SHA-256).
 */
export async function signDsse(
  statement: InTotoStatement,
  sign: (data: Buffer) => Promise<Buffer>,
  keyid: string,
): Promise<string> {
  const payload = statementPayload(statement);
  const sig = await sign(preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload));
  const envelope: DsseEnvelope = {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid, sig: Buffer.from(sig).toString('base64') }],
  };
  return `${JSON.stringify(envelope, null, 2)}\n`;
}

/** The keyid engram-audit uses: SHA-256 (hex) of the DER SubjectPublicKeyInfo, as SigningInfo.fingerprint. */
export function keyIdFor(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return sha256Hex(key.export({ type: 'spki', format: 'der' }));
}

function decodeBase64(value: string): Buffer | undefined {
  // DSSE accepts standard and URL-safe base64; reject anything else rather than decode it leniently.
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return undefined;
  return Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function verifyOne(pae: Buffer, sig: Buffer, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  try {
    if (type === 'ed25519' || type === 'ed448') return cryptoVerify(null, pae, key, sig);
    if (type === 'ec') {
      return (
        cryptoVerify('sha256', pae, key, sig) ||
        // Key Vault and WebCrypto return r||s (IEEE P1363) rather than DER.
        cryptoVerify('sha256', pae, { key, dsaEncoding: 'ieee-p1363' }, sig)
      );
    }
    if (type === 'rsa') return cryptoVerify('sha256', pae, key, sig);
  } catch {
    return false;
  }
  return false;
}

/**
 * Verifies a DSSE envelope (JSON text or parsed) against a public key (PEM, or a KeyObject): the payload type must be
 * in-toto, the payload an in-toto Statement v1, and at least one signature must verify over the PAE.
 */
export function verifyDsse(envelope: string | DsseEnvelope, publicKeyPem: string | KeyObject): DsseVerification {
  let env: DsseEnvelope;
  try {
    env = typeof envelope === 'string' ? (JSON.parse(envelope) as DsseEnvelope) : envelope;
  } catch (e) {
    return { valid: false, error: `the envelope is not JSON: ${(e as Error).message}` };
  }
  if (!env || typeof env !== 'object' || typeof env.payload !== 'string' || !Array.isArray(env.signatures)) {
    return { valid: false, error: 'the envelope lacks payload, payloadType or signatures' };
  }
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return { valid: false, error: `payloadType is ${JSON.stringify(env.payloadType)}, expected ${IN_TOTO_PAYLOAD_TYPE}` };
  }
  const payload = decodeBase64(env.payload);
  if (!payload) return { valid: false, error: 'the payload is not base64' };
  let statement: InTotoStatement | undefined;
  try {
    statement = JSON.parse(payload.toString('utf8')) as InTotoStatement;
  } catch {
    return { valid: false, error: 'the payload is not JSON' };
  }
  let key: KeyObject;
  try {
    key = typeof publicKeyPem === 'string' ? createPublicKey(publicKeyPem) : publicKeyPem;
  } catch (e) {
    return { valid: false, statement, error: `the public key cannot be read: ${(e as Error).message}` };
  }
  const pae = preAuthEncoding(env.payloadType, payload);
  const match = env.signatures.find((s) => {
    const sig = decodeBase64(s?.sig);
    return sig !== undefined && sig.length > 0 && verifyOne(pae, sig, key);
  });
  if (!match) return { valid: false, statement, error: 'no signature verifies with the given public key' };
  if (statement?._type !== IN_TOTO_STATEMENT_V1 || !Array.isArray(statement.subject)) {
    return { valid: false, keyid: match.keyid, statement, error: `the payload is not an in-toto Statement v1` };
  }
  return { valid: true, keyid: match.keyid, statement };
}

/**
 * Compares a verified statement's subjects with the files on disk: returns one line per missing, extra or changed file
 * (empty when they match exactly).
 */
export function compareSubjects(statement: InTotoStatement, files: { path: string; sha256: string }[]): string[] {
  const want = new Map(statement.subject.map((s) => [s.name, s.digest?.sha256?.toLowerCase()]));
  const have = new Map(files.map((f) => [f.path, f.sha256.toLowerCase()]));
  const problems: string[] = [];
  for (const [name, digest] of [...want].sort()) {
    if (!have.has(name)) problems.push(`${name}: signed but missing`);
    else if (have.get(name) !== digest) problems.push(`${name}: sha256 ${have.get(name)} differs from the signed ${digest}`);
  }
  for (const name of [...have.keys()].sort()) if (!want.has(name)) problems.push(`${name}: present but not signed`);
  return problems;
}
