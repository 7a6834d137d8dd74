/**
 * A loopback Azure Key Vault data-plane server for tests: HTTPS on 127.0.0.1 with a throw-away self-signed certificate,
 * real RSA keys (node:crypto), real RSA-OAEP / RSA-OAEP-256 wrap and unwrap, RS256/384/512 sign and verify, versioned keys
 * (rotate adds a version, old versions stay enabled), rotation policies, the 401 bearer challenge and api-version checks,
 * in the wire shapes of ../shared/azure-api-examples/keyvault-data. The real `KeyClient` / `CryptographyClient` reach it
 * with `vaultUrl: server.vaultUrl`, `disableChallengeResourceVerification: true`, `agent: server.agent()` and any
 * credential whose `getToken` returns a token (see `fakeCredential`).
 */
import {
  constants,
  createHash,
  generateKeyPairSync,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { Agent, createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { makeTestCert, type TestCert } from './https-cert.js';

/** api-versions the real service accepts for the keys API (the SDK 4.10 sends 2025-07-01 by default). */
export const DEFAULT_API_VERSIONS = [
  '7.0', '7.1', '7.2', '7.3', '7.4', '7.4-preview.1', '7.5', '7.6', '7.6-preview.2', '2025-06-01-preview', '2025-07-01',
];

/** The operation a request maps to, as Key Vault's REST reference names them. */
export type KeyVaultOperation =
  | 'GetKeys'
  | 'GetKey'
  | 'GetKeyVersions'
  | 'CreateKey'
  | 'UpdateKey'
  | 'RotateKey'
  | 'GetKeyRotationPolicy'
  | 'UpdateKeyRotationPolicy'
  | 'wrapKey'
  | 'unwrapKey'
  | 'encrypt'
  | 'decrypt'
  | 'sign'
  | 'verify'
  | 'unknown';

/** One request as the server saw it (no bodies, no tokens). */
export interface KeyVaultRequestLog {
  method: string;
  path: string;
  op: KeyVaultOperation;
  apiVersion: string | null;
  /** Whether an `Authorization: Bearer` header came with it. */
  hadToken: boolean;
  status: number;
}

/** What `intercept` may answer instead of the normal handler: a canned response, or `'hang'` (never answer). */
export type InterceptResult = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

export interface InterceptContext {
  op: KeyVaultOperation;
  method: string;
  keyName?: string;
  version?: string;
}

export interface KeyVaultServerOptions {
  /** Tenant put into the challenge's `authorization` URL. */
  tenantId?: string;
  /** Only this bearer token is accepted (default: any non-empty token). A wrong one gets 401 Unauthorized. */
  requiredToken?: string;
  apiVersions?: string[];
  /** Reuse a certificate (default: a fresh one, removed on close). */
  cert?: TestCert;
}

interface StoredVersion {
  version: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyOps: string[];
  enabled: boolean;
  created: number;
  updated: number;
  exp?: number;
  nbf?: number;
}

interface StoredKey {
  name: string;
  versions: StoredVersion[];
  tags: Record<string, string>;
  rotationPolicy?: Record<string, unknown>;
  keySize: number;
}

export interface CreateKeyOptions {
  tags?: Record<string, string>;
  keyOps?: string[];
  keySize?: number;
  /** Unix seconds for `created` (default: the server clock). */
  created?: number;
}

/** The running server plus direct (out-of-band) access to its state for test setup and assertions. */
export interface KeyVaultTestServer {
  /** `https://127.0.0.1:<port>`: the vaultUrl for KeyClient. */
  vaultUrl: string;
  port: number;
  tenantId: string;
  /** PEM of the server certificate, to trust in clients (`ca`) or via NODE_EXTRA_CA_CERTS=`certFile`. */
  ca: string;
  certFile: string;
  /** Every request, in order. */
  requests: KeyVaultRequestLog[];
  /** Bearer tokens seen (tests assert the challenge happened: a 401 first, then a token). */
  tokensSeen: string[];
  /** Inputs and outputs of every crypto operation, so leak tests can search probe output for the real bytes. */
  cryptoLog: Array<{ op: KeyVaultOperation; input: Buffer; output: Buffer }>;
  /** Set to inject faults (403, 429, 500, hang) per request; `undefined` restores normal handling. */
  intercept?: (ctx: InterceptContext) => InterceptResult | undefined;
  /** Creates a key (RSA 2048 by default) and returns its first version id. */
  createKey(name: string, options?: CreateKeyOptions): string;
  /** Adds a version (as RotateKey does) and returns it; earlier versions keep their state. */
  rotate(name: string, created?: number): string;
  setEnabled(name: string, version: string, enabled: boolean): void;
  /** Version ids, oldest first. */
  versions(name: string): string[];
  /** `https://127.0.0.1:<port>/keys/<name>[/<version>]`. */
  keyId(name: string, version?: string): string;
  /** A public key of one version, for tests that verify signatures independently. */
  publicKeyPem(name: string, version?: string): string;
  /** An https.Agent that trusts this server (system roots kept). Pass as the SDK pipeline option `agent`. */
  agent(): Agent;
  close(): Promise<void>;
}

/** A TokenCredential that hands out a fixed token and counts calls (Key Vault asks only after the 401 challenge). */
export function fakeCredential(token = 'fake-kv-token'): TokenCredential & { calls: Array<{ scopes: string[]; tenantId?: string }> } {
  const calls: Array<{ scopes: string[]; tenantId?: string }> = [];
  return {
    calls,
    async getToken(scopes: string | string[], options?: { tenantId?: string }): Promise<AccessToken> {
      calls.push({ scopes: Array.isArray(scopes) ? scopes : [scopes], tenantId: options?.tenantId });
      return { token, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: 'Bearer' } as AccessToken;
    },
  };
}

const b64u = (buf: Buffer): string => buf.toString('base64url');
const fromB64u = (s: string): Buffer => Buffer.from(s, 'base64url');
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** DER prefixes of DigestInfo for PKCS#1 v1.5 signatures over a precomputed digest (RFC 8017, section 9.2 note 1). */
const DIGEST_INFO: Record<string, { prefix: Buffer; hash: string; len: number }> = {
  RS256: { prefix: Buffer.from('3031300d060960864801650304020105000420', 'hex'), hash: 'sha256', len: 32 },
  RS384: { prefix: Buffer.from('3041300d060960864801650304020205000430', 'hex'), hash: 'sha384', len: 48 },
  RS512: { prefix: Buffer.from('3051300d060960864801650304020305000440', 'hex'), hash: 'sha512', len: 64 },
};

const OAEP_HASH: Record<string, string> = { 'RSA-OAEP': 'sha1', 'RSA-OAEP-256': 'sha256' };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly inner?: string,
  ) {
    super(message);
  }
}

/** Starts the server on 127.0.0.1 and a free port. Stop it with `close()` in `after()`. */
export async function startKeyVaultServer(options: KeyVaultServerOptions = {}): Promise<KeyVaultTestServer> {
  const tenantId = options.tenantId ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const apiVersions = new Set(options.apiVersions ?? DEFAULT_API_VERSIONS);
  const ownCert = !options.cert;
  const cert = options.cert ?? makeTestCert();
  const keys = new Map<string, StoredKey>();
  const requests: KeyVaultRequestLog[] = [];
  const tokensSeen: string[] = [];
  const cryptoLog: Array<{ op: KeyVaultOperation; input: Buffer; output: Buffer }> = [];
  const agents: Agent[] = [];
  let vaultUrl = '';

  const newVersion = (size: number, keyOps: string[], created: number): StoredVersion => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: size });
    return { version: randomBytes(16).toString('hex'), privateKey, publicKey, keyOps, enabled: true, created, updated: created };
  };
  const getKeyOrThrow = (name: string): StoredKey => {
    const k = keys.get(name);
    if (!k) throw new HttpError(404, 'KeyNotFound', `A key with (name/id) ${name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command.`);
    return k;
  };
  const versionOrThrow = (k: StoredKey, version?: string): StoredVersion => {
    const v = version ? k.versions.find((x) => x.version === version) : k.versions[k.versions.length - 1];
    if (!v) throw new HttpError(404, 'KeyNotFound', `A key with (name/id) ${k.name}/${version} was not found in this key vault.`);
    return v;
  };
  const kid = (name: string, version?: string): string => `${vaultUrl}/keys/${name}${version ? `/${version}` : ''}`;
  const attributes = (v: StoredVersion): Record<string, unknown> => ({
    enabled: v.enabled,
    created: v.created,
    updated: v.updated,
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    recoveryLevel: 'Recoverable+Purgeable',
    recoverableDays: 90,
  });
  const bundle = (k: StoredKey, v: StoredVersion): Record<string, unknown> => {
    const jwk = v.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return {
      key: { kid: kid(k.name, v.version), kty: 'RSA', key_ops: v.keyOps, n: jwk.n, e: jwk.e },
      attributes: attributes(v),
      tags: k.tags,
    };
  };
  const addKey = (name: string, o: CreateKeyOptions = {}): string => {
    if (keys.has(name)) throw new Error(`test key ${name} exists`);
    const size = o.keySize ?? 2048;
    const v = newVersion(size, o.keyOps ?? ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'], o.created ?? nowSeconds());
    keys.set(name, { name, versions: [v], tags: { ...(o.tags ?? {}) }, keySize: size });
    return v.version;
  };
  const rotate = (name: string, created?: number): string => {
    const k = getKeyOrThrow(name);
    const cur = k.versions[k.versions.length - 1];
    const stamp = Math.max(created ?? nowSeconds(), cur.created + 1); // versions are ordered by creation time
    const v = newVersion(k.keySize, cur.keyOps, stamp);
    k.versions.push(v);
    return v.version;
  };

  const requireEnabled = (v: StoredVersion, op: string): void => {
    if (!v.enabled) throw new HttpError(403, 'Forbidden', `Operation ${op} is not allowed on a disabled key.`, 'KeyDisabled');
  };
  const requireOp = (v: StoredVersion, op: string): void => {
    if (!v.keyOps.includes(op)) throw new HttpError(403, 'Forbidden', `Operation ${op} is not permitted for this key.`, 'KeyOperationForbidden');
  };

  const cryptoOp = (op: KeyVaultOperation, v: StoredVersion, body: Record<string, unknown>): Record<string, unknown> => {
    const alg = String(body.alg ?? '');
    const value = typeof body.value === 'string' ? fromB64u(body.value) : undefined;
    if (!value) throw new HttpError(400, 'BadParameter', 'Property value is required.');
    if (op === 'wrapKey' || op === 'unwrapKey' || op === 'encrypt' || op === 'decrypt') {
      const oaepHash = OAEP_HASH[alg];
      // RSA1_5 decryption is disabled in Node 20 (Marvin attack mitigation), so this server supports OAEP only.
      if (!oaepHash) throw new HttpError(400, 'BadParameter', `Invalid algorithm ${alg}: this test server implements RSA-OAEP and RSA-OAEP-256.`);
      const padding = constants.RSA_PKCS1_OAEP_PADDING;
      if (op === 'wrapKey' || op === 'encrypt') return { kid: '', value: b64u(publicEncrypt({ key: v.publicKey, padding, oaepHash }, value)) };
      try {
        return { kid: '', value: b64u(privateDecrypt({ key: v.privateKey, padding, oaepHash }, value)) };
      } catch {
        throw new HttpError(400, 'BadParameter', 'Unable to unwrap: the value was not produced by this key version and algorithm.');
      }
    }
    const info = DIGEST_INFO[alg];
    if (!info) throw new HttpError(400, 'BadParameter', `Invalid algorithm ${alg}: this test server implements RS256, RS384 and RS512.`);
    if (value.length !== info.len && op === 'sign') throw new HttpError(400, 'BadParameter', `Digest length ${value.length} does not match ${alg}.`);
    if (op === 'sign') {
      const sig = privateEncrypt({ key: v.privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([info.prefix, value]));
      return { kid: '', value: b64u(sig) };
    }
    const digest = typeof body.digest === 'string' ? fromB64u(body.digest) : Buffer.alloc(0);
    let ok = false;
    try {
      const recovered = publicDecrypt({ key: v.publicKey, padding: constants.RSA_PKCS1_PADDING }, value);
      ok = recovered.equals(Buffer.concat([info.prefix, digest]));
    } catch {
      ok = false;
    }
    return { value: ok };
  };

  const route = (method: string, segs: string[]): { op: KeyVaultOperation; name?: string; version?: string } => {
    if (segs[0] !== 'keys') return { op: 'unknown' };
    const [, name, third, fourth] = segs;
    if (!name) return { op: method === 'GET' ? 'GetKeys' : 'unknown' };
    if (third === undefined) return { op: method === 'GET' ? 'GetKey' : 'unknown', name };
    if (third === 'create' && method === 'POST') return { op: 'CreateKey', name };
    if (third === 'rotate' && method === 'POST') return { op: 'RotateKey', name };
    if (third === 'versions' && method === 'GET') return { op: 'GetKeyVersions', name };
    if (third === 'rotationpolicy') return { op: method === 'PUT' ? 'UpdateKeyRotationPolicy' : 'GetKeyRotationPolicy', name };
    if (fourth === undefined) return { op: method === 'PATCH' ? 'UpdateKey' : method === 'GET' ? 'GetKey' : 'unknown', name, version: third };
    const ops: Record<string, KeyVaultOperation> = {
      wrapkey: 'wrapKey', unwrapkey: 'unwrapKey', encrypt: 'encrypt', decrypt: 'decrypt', sign: 'sign', verify: 'verify',
    };
    const op = method === 'POST' ? ops[fourth.toLowerCase()] : undefined;
    return { op: op ?? 'unknown', name, version: third };
  };

  const handle = (req: IncomingMessage, bodyText: string, url: URL): { status: number; body?: unknown; headers?: Record<string, string> } | 'hang' => {
    const method = req.method ?? 'GET';
    const segs = url.pathname.split('/').filter(Boolean);
    const r = route(method, segs);
    const apiVersion = url.searchParams.get('api-version');
    const auth = req.headers.authorization ?? '';
    const hadToken = /^Bearer\s+\S+/i.test(auth);
    const log: KeyVaultRequestLog = { method, path: url.pathname, op: r.op, apiVersion, hadToken, status: 0 };
    requests.push(log);
    const finish = (res: { status: number; body?: unknown; headers?: Record<string, string> }) => {
      log.status = res.status;
      return res;
    };
    const err = (e: HttpError) =>
      finish({ status: e.status, body: { error: { code: e.code, message: e.message, ...(e.inner ? { innererror: { code: e.inner } } : {}) } } });

    if (!hadToken) {
      // Key Vault's challenge: the SDK's first request carries no token (and no body for POST/PUT).
      return finish({
        status: 401,
        headers: { 'www-authenticate': `Bearer authorization="https://login.windows.net/${tenantId}", resource="https://vault.azure.net"` },
        body: { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
      });
    }
    const token = auth.replace(/^Bearer\s+/i, '');
    tokensSeen.push(token);
    if (options.requiredToken !== undefined && token !== options.requiredToken) {
      return finish({
        status: 401,
        headers: { 'www-authenticate': `Bearer authorization="https://login.windows.net/${tenantId}", resource="https://vault.azure.net"` },
        body: { error: { code: 'Unauthorized', message: 'AKV10032: Invalid issuer.' } },
      });
    }
    if (!apiVersion) return err(new HttpError(400, 'BadParameter', 'The request URI contains an invalid or missing api-version.'));
    if (!apiVersions.has(apiVersion)) {
      return err(new HttpError(400, 'BadParameter', `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (2025-07-01).`));
    }
    const injected = server.intercept?.({ op: r.op, method, keyName: r.name, version: r.version });
    if (injected === 'hang') return 'hang';
    if (injected) return finish(injected);

    let body: Record<string, unknown> = {};
    if (bodyText) {
      try {
        body = JSON.parse(bodyText) as Record<string, unknown>;
      } catch {
        return err(new HttpError(400, 'BadParameter', 'The request body is not valid JSON.'));
      }
    }
    try {
      switch (r.op) {
        case 'GetKeys':
          return finish({
            status: 200,
            body: {
              value: [...keys.values()].map((k) => {
                const v = k.versions[k.versions.length - 1];
                return { kid: kid(k.name), attributes: attributes(v), tags: k.tags };
              }),
              nextLink: null,
            },
          });
        case 'GetKey': {
          const k = getKeyOrThrow(r.name!);
          return finish({ status: 200, body: bundle(k, versionOrThrow(k, r.version)) });
        }
        case 'GetKeyVersions': {
          const k = getKeyOrThrow(r.name!);
          const max = Number(url.searchParams.get('maxresults') ?? '25') || 25;
          const skip = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
          const page = k.versions.slice(skip, skip + max);
          const next = skip + max < k.versions.length
            ? `${vaultUrl}/keys/${k.name}/versions?api-version=${apiVersion}&$skiptoken=${skip + max}&maxresults=${max}`
            : null;
          return finish({
            status: 200,
            body: { value: page.map((v) => ({ kid: kid(k.name, v.version), attributes: attributes(v), tags: k.tags })), nextLink: next },
          });
        }
        case 'CreateKey': {
          if (body.kty !== undefined && body.kty !== 'RSA') throw new HttpError(400, 'BadParameter', 'This test server creates RSA keys only.');
          if (keys.has(r.name!)) rotate(r.name!);
          else addKey(r.name!, { tags: body.tags as Record<string, string>, keyOps: body.key_ops as string[], keySize: body.key_size as number });
          const k = getKeyOrThrow(r.name!);
          return finish({ status: 200, body: bundle(k, versionOrThrow(k)) });
        }
        case 'UpdateKey': {
          const k = getKeyOrThrow(r.name!);
          const v = versionOrThrow(k, r.version || undefined);
          const attrs = (body.attributes ?? {}) as Record<string, unknown>;
          if (typeof attrs.enabled === 'boolean') v.enabled = attrs.enabled;
          if (typeof attrs.exp === 'number') v.exp = attrs.exp;
          if (typeof attrs.nbf === 'number') v.nbf = attrs.nbf;
          if (Array.isArray(body.key_ops)) v.keyOps = body.key_ops as string[];
          if (body.tags && typeof body.tags === 'object') k.tags = body.tags as Record<string, string>;
          v.updated = nowSeconds();
          return finish({ status: 200, body: bundle(k, v) });
        }
        case 'RotateKey': {
          const k = getKeyOrThrow(r.name!);
          rotate(k.name);
          return finish({ status: 200, body: bundle(k, versionOrThrow(k)) });
        }
        case 'GetKeyRotationPolicy': {
          const k = getKeyOrThrow(r.name!);
          // The service answers a default Notify-only policy when none was set.
          const policy = k.rotationPolicy ?? {
            lifetimeActions: [{ trigger: { timeBeforeExpiry: 'P30D' }, action: { type: 'Notify' } }],
            attributes: {},
          };
          return finish({ status: 200, body: { id: `${kid(k.name)}/rotationpolicy`, ...policy } });
        }
        case 'UpdateKeyRotationPolicy': {
          const k = getKeyOrThrow(r.name!);
          const t = nowSeconds();
          const attrs = { ...((body.attributes ?? {}) as Record<string, unknown>), created: t, updated: t };
          k.rotationPolicy = { lifetimeActions: body.lifetimeActions ?? [], attributes: attrs };
          return finish({ status: 200, body: { id: `${kid(k.name)}/rotationpolicy`, ...k.rotationPolicy } });
        }
        case 'wrapKey':
        case 'unwrapKey':
        case 'encrypt':
        case 'decrypt':
        case 'sign':
        case 'verify': {
          const k = getKeyOrThrow(r.name!);
          const v = versionOrThrow(k, r.version || undefined);
          requireEnabled(v, r.op);
          requireOp(v, r.op);
          const out = cryptoOp(r.op, v, body);
          if (typeof body.value === 'string' && typeof out.value === 'string') {
            cryptoLog.push({ op: r.op, input: fromB64u(body.value), output: fromB64u(out.value) });
          }
          if ('kid' in out) out.kid = kid(k.name, v.version);
          return finish({ status: 200, body: out });
        }
        default:
          return err(new HttpError(400, 'BadParameter', `Unsupported ${method} ${url.pathname} on this test server.`));
      }
    } catch (e) {
      if (e instanceof HttpError) return err(e);
      return err(new HttpError(500, 'InternalError', String(e)));
    }
  };

  const httpServer: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', vaultUrl);
      const out = handle(req, Buffer.concat(chunks).toString('utf8'), url);
      if (out === 'hang') return; // closed by close()
      const text = out.body === undefined ? '' : JSON.stringify(out.body);
      res.writeHead(out.status, {
        'content-type': 'application/json; charset=utf-8',
        'x-ms-keyvault-service-version': '1.9.0.0',
        'x-ms-request-id': randomBytes(16).toString('hex'),
        ...(out.headers ?? {}),
      });
      res.end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  vaultUrl = `https://127.0.0.1:${port}`;

  const server: KeyVaultTestServer = {
    vaultUrl,
    port,
    tenantId,
    ca: cert.certPem,
    certFile: cert.certFile,
    requests,
    tokensSeen,
    cryptoLog,
    intercept: undefined,
    createKey: addKey,
    rotate,
    setEnabled(name, version, enabled) {
      const v = versionOrThrow(getKeyOrThrow(name), version);
      v.enabled = enabled;
      v.updated = nowSeconds();
    },
    versions: (name) => getKeyOrThrow(name).versions.map((v) => v.version),
    keyId: kid,
    publicKeyPem(name, version) {
      return versionOrThrow(getKeyOrThrow(name), version).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    },
    agent() {
      const a = new Agent({ ca: [...rootCertificates, cert.certPem], keepAlive: false });
      agents.push(a);
      return a;
    },
    async close() {
      for (const a of agents) a.destroy();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      if (ownCert) cert.cleanup();
    },
  };
  return server;
}

/** SHA-256 of bytes as hex; tests use it to compare with what probes record. */
export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * The spellings a byte string could take in JSON output (base64, base64url without padding, hex in both cases), for
 * leak tests that search a serialized observation for real plaintext, wrapped bytes or keys.
 */
export function encodingsOf(buf: Uint8Array): string[] {
  const b = Buffer.from(buf);
  const hex = b.toString('hex');
  return [b.toString('base64'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url'), hex, hex.toUpperCase()];
}
