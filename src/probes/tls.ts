/**
 * tls probe: which TLS versions (1.0, 1.1, 1.2, 1.3) a server really accepts, the cipher negotiated for each, and the
 * certificate chain it presents. Old versions are really put on the wire (Node 20's client minimum is TLS 1.2, so each
 * attempt pins minVersion = maxVersion and lowers the security level for <= 1.1), and every attempt is judged from the
 * bytes on the wire: our ClientHello (what we offered), then the server's first record (ServerHello = accepted, alert =
 * refused). An attempt whose ClientHello never left this machine is `error`, never "refused" (PLATFORM.md explains how
 * a naive probe reads its own client's refusal as a compliant server). `--starttls postgres` sends PostgreSQL's
 * SSLRequest first; `http` mode (Azure Storage, which enforces its TLS minimum at the HTTP layer) sends a real HTTPS
 * request over each accepted handshake and reads the status: 400 = refused at the HTTP layer.
 */
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { redactString } from '../evidence/redact.js';
import type { ProbeContext, ProbeDefinition, ProbeObservation, ProbeStatus } from './types.js';

/** The TLS versions the probe tries, oldest first (Node's names for them). */
export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/** Options of the tls probe (the CLI flags map one to one). The time budget is `ctx.timeoutMs`. */
export interface TlsProbeOptions {
  /** `postgres`: send PostgreSQL's SSLRequest and expect `S` before the handshake. */
  starttls?: 'postgres';
  /** Lowest acceptable version (default TLSv1.2); anything below it that is accepted makes the target non-compliant. */
  floor?: TlsVersion | string;
  /** SNI and certificate host name; defaults to the target host unless it is an IP address. */
  servername?: string;
  /** PEM CA certificate(s) to trust instead of Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Accept an untrusted certificate (the observation still records it as untrusted). */
  insecureSkipVerify?: boolean;
  /** Make a real HTTPS request over each accepted handshake and read the status (implied by an https:// target). */
  http?: boolean;
  /** HTTP path for `http` mode; defaults to the URL's path, or `/?comp=list` when that is `/`. */
  path?: string;
  /** Versions to try (default all four). */
  versions?: TlsVersion[];
}

/** What one attempt at one version found. */
export interface TlsAttempt {
  version: TlsVersion;
  /** accepted: the server chose this version; refused: it answered with a refusal; error: nothing could be concluded. */
  result: 'accepted' | 'refused' | 'error';
  /** Why, in words. */
  reason: string;
  /** True when our ClientHello left this machine; a false here means the client could not offer the version. */
  offeredOnWire: boolean;
  /** Highest version our ClientHello offered, read back from the bytes we sent. */
  helloMaxVersion?: string;
  /** Version the server chose in its ServerHello. */
  serverHelloVersion?: string;
  handshakeCompleted: boolean;
  cipher?: { name: string; standardName?: string };
  alert?: { level: number; description: number; name: string };
  /** Error code reported by the local TLS stack or socket, when any. */
  localError?: string;
  /** http mode: what the HTTP layer answered over this version. */
  http?: { status?: number; errorCode?: string };
  stage?: string;
}

export interface CertificateFacts {
  subject: string;
  issuer: string;
  subjectAltName?: string;
  serialNumber?: string;
  validFrom: string;
  validTo: string;
  /** Whole days from the probe's clock to `validTo` (negative once expired). */
  expiresInDays: number;
  /** SHA-256 of each DER certificate, leaf first. */
  chainSha256: string[];
  /** Chain and host name verified against the trust store (`ca` or Node's roots). */
  trusted: boolean;
  verifyError?: string;
}

const VERSION_CODES: Record<number, TlsVersion> = { 0x0301: 'TLSv1', 0x0302: 'TLSv1.1', 0x0303: 'TLSv1.2', 0x0304: 'TLSv1.3' };

const ALERTS: Record<number, string> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  22: 'record_overflow',
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  120: 'no_application_protocol',
};

/** Alerts that mean "I will not speak this version with you" (RFC 8446 6.2, RFC 5246 7.2.2). */
const REFUSAL_ALERTS = new Set([40, 70, 71]);

/** Accepts `TLSv1.2`, `TLS1_2`, `1.2`, `tls1.2`, `TLSv1.0` and returns Node's name, or undefined. */
export function normaliseTlsVersion(text: string): TlsVersion | undefined {
  const m = /^(?:tls)?v?\s*1(?:[._](\d))?$/i.exec(text.trim());
  if (!m) return undefined;
  const minor = m[1] ?? '0';
  return ({ '0': 'TLSv1', '1': 'TLSv1.1', '2': 'TLSv1.2', '3': 'TLSv1.3' } as Record<string, TlsVersion>)[minor];
}

function versionIndex(v: TlsVersion): number {
  return TLS_VERSIONS.indexOf(v);
}

/** A parsed probe target. */
export interface HostPort {
  host: string;
  port: number;
  /** Set when the target was an https:// URL. */
  url?: URL;
}

/**
 * Parses `host:port`, `[v6]:port` or an `https://` URL (port 443 by default). Throws UsageError for anything else, so the
 * CLI can answer with exit 2.
 */
export function parseHostPort(target: string, defaultPort?: number): HostPort {
  const text = target.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new UsageError(`target ${JSON.stringify(target)} is not a valid URL`, { field: 'target', hint: 'Use host:port or https://host/.' });
    }
    if (url.protocol !== 'https:') {
      throw new UsageError(`target ${JSON.stringify(target)} must be an https:// URL or host:port`, { field: 'target', hint: 'Use host:port or https://host/.' });
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return { host, port: url.port ? Number(url.port) : 443, url };
  }
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:\s/[\]]+))(?::(\d{1,5}))?$/i.exec(text);
  const host = m ? (m[1] ?? m[2]) : undefined;
  const port = m?.[3] !== undefined ? Number(m[3]) : defaultPort;
  if (!host || port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`target ${JSON.stringify(target)} is not host:port`, {
      field: 'target',
      hint: 'Give the endpoint as host:port (for example myserver.postgres.database.azure.com:5432) or an https:// URL.',
    });
  }
  return { host, port };
}

/** SSLRequest: length 8, code 80877103 (PostgreSQL protocol, "SSL Session Encryption"). */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Destroys every socket it was given when `close()` runs or the signal aborts: no socket outlives the probe. */
export class SocketJar {
  private readonly sockets = new Set<{ destroy: () => void }>();
  closed = false;
  add<T extends { destroy: () => void }>(s: T): T {
    if (this.closed) s.destroy();
    else this.sockets.add(s);
    return s;
  }
  close(): void {
    this.closed = true;
    for (const s of this.sockets) {
      try {
        s.destroy();
      } catch {
        // already gone
      }
    }
    this.sockets.clear();
  }
}

interface WireRecord {
  sent: Buffer;
  received: Buffer;
  sentBytes: number;
  receivedBytes: number;
}

const WIRE_CAP = 64 * 1024;

/** A Duplex over the raw socket that keeps the first bytes each way, so the attempt is judged from the wire. */
function tap(raw: net.Socket, wire: WireRecord): Duplex {
  const sent: Buffer[] = [];
  const received: Buffer[] = [];
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (wire.sentBytes < WIRE_CAP) {
        sent.push(chunk);
        wire.sent = Buffer.concat(sent);
      }
      wire.sentBytes += chunk.length;
      if (raw.destroyed) return cb(new Error('socket closed'));
      raw.write(chunk, (err) => cb(err ?? null));
    },
    read() {
      raw.resume();
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  // The TLS socket reports the failure; a second error event must not go unhandled and take the process down.
  duplex.on('error', () => undefined);
  raw.on('data', (d: Buffer) => {
    if (wire.receivedBytes < WIRE_CAP) {
      received.push(d);
      wire.received = Buffer.concat(received);
    }
    wire.receivedBytes += d.length;
    if (!duplex.push(d)) raw.pause();
  });
  raw.on('end', () => duplex.push(null));
  raw.on('error', (e) => duplex.destroy(e));
  raw.on('close', () => {
    if (!duplex.destroyed) duplex.push(null);
  });
  return duplex;
}

/** Reads the highest version a ClientHello offered (supported_versions, else legacy_version). */
export function parseClientHelloMaxVersion(buf: Buffer): string | undefined {
  try {
    if (buf.length < 11 || buf[0] !== 0x16 || buf[5] !== 0x01) return undefined;
    const legacy = buf.readUInt16BE(9);
    let p = 9 + 2 + 32;
    p += 1 + buf[p]; // session id
    p += 2 + buf.readUInt16BE(p); // cipher suites
    p += 1 + buf[p]; // compression
    if (p + 2 > buf.length) return VERSION_CODES[legacy];
    const extEnd = p + 2 + buf.readUInt16BE(p);
    p += 2;
    while (p + 4 <= extEnd && p + 4 <= buf.length) {
      const type = buf.readUInt16BE(p);
      const len = buf.readUInt16BE(p + 2);
      if (type === 43) {
        let best = 0;
        const n = buf[p + 4];
        for (let i = 0; i + 1 < n; i += 2) {
          const v = buf.readUInt16BE(p + 5 + i);
          if (VERSION_CODES[v] && v > best) best = v;
        }
        if (best) return VERSION_CODES[best];
      }
      p += 4 + len;
    }
    return VERSION_CODES[legacy] ?? `0x${legacy.toString(16)}`;
  } catch {
    return undefined;
  }
}

/** Reads the server's first record: a ServerHello (and the version it chose) or an alert. */
export function parseServerFirstRecord(
  buf: Buffer,
): { kind: 'server_hello'; version?: string } | { kind: 'alert'; level: number; description: number } | { kind: 'other' } | undefined {
  if (buf.length < 5) return undefined;
  const type = buf[0];
  if (type === 0x15 && buf.length >= 7) return { kind: 'alert', level: buf[5], description: buf[6] };
  if (type !== 0x16) return { kind: 'other' };
  if (buf.length < 11 || buf[5] !== 0x02) return buf.length < 6 ? undefined : { kind: 'other' };
  try {
    const legacy = buf.readUInt16BE(9);
    let p = 9 + 2 + 32;
    p += 1 + buf[p];
    p += 2 + 1; // cipher suite, compression
    if (p + 2 <= buf.length) {
      const extEnd = p + 2 + buf.readUInt16BE(p);
      p += 2;
      while (p + 4 <= extEnd && p + 4 <= buf.length) {
        const t = buf.readUInt16BE(p);
        const len = buf.readUInt16BE(p + 2);
        if (t === 43 && len === 2 && p + 6 <= buf.length) return { kind: 'server_hello', version: VERSION_CODES[buf.readUInt16BE(p + 4)] };
        p += 4 + len;
      }
    }
    return { kind: 'server_hello', version: VERSION_CODES[legacy] ?? `0x${legacy.toString(16)}` };
  } catch {
    return { kind: 'server_hello' };
  }
}

function errCode(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code ?? (e?.message ? e.message.slice(0, 120) : 'unknown');
}

function errText(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined;
  const msg = e?.message ?? String(err);
  return redactString(e?.code && !msg.includes(e.code) ? `${msg} (${e.code})` : msg);
}

/** Client settings for one version: pinned to exactly that version, legacy versions at security level 0. */
export function clientSettingsFor(version: TlsVersion): tls.ConnectionOptions {
  const legacy = versionIndex(version) <= versionIndex('TLSv1.1');
  return {
    minVersion: version,
    maxVersion: version,
    // Without @SECLEVEL=0 OpenSSL 3 refuses its own TLS 1.0/1.1 handshake (SHA-1 signatures) and the attempt would read
    // as a refusal that the server never made.
    ...(legacy ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}),
  };
}

/** Everything one attempt needs. */
export interface AttemptSettings {
  host: string;
  address: string;
  port: number;
  version: TlsVersion;
  starttls?: 'postgres';
  servername?: string;
  ca?: TlsProbeOptions['ca'];
  timeoutMs: number;
  jar: SocketJar;
  /** http mode: request path and Host header. */
  http?: { path: string; hostHeader: string };
  /** Tests only: replaces the per-version client settings to show a client that cannot offer a version. */
  clientOverride?: tls.ConnectionOptions;
}

interface AttemptOutcome {
  attempt: TlsAttempt;
  /** Set when the server answered the SSLRequest with something other than `S`. */
  starttlsReply?: string;
  peer?: tls.PeerCertificate & { issuerCertificate?: tls.PeerCertificate };
  authorized?: boolean;
  authorizationError?: string;
  /** Connection-level failure before any TLS: refused, unreachable, timeout before the hello. */
  unreachable?: string;
}

/**
 * Tries one TLS version against one endpoint and judges the result from the bytes on the wire. Never throws; every
 * socket it opens is destroyed before it resolves.
 */
export function tryTlsVersion(s: AttemptSettings): Promise<AttemptOutcome> {
  return new Promise<AttemptOutcome>((resolve) => {
    const wire: WireRecord = { sent: Buffer.alloc(0), received: Buffer.alloc(0), sentBytes: 0, receivedBytes: 0 };
    let stage = 'tcp connect';
    let done = false;
    let raw: net.Socket | undefined;
    let sock: tls.TLSSocket | undefined;
    let handshakeCompleted = false;
    let cipher: TlsAttempt['cipher'];
    let peer: AttemptOutcome['peer'];
    let authorized: boolean | undefined;
    let authorizationError: string | undefined;
    let httpFacts: TlsAttempt['http'];

    const finish = (o: AttemptOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock?.destroy();
      raw?.destroy();
      resolve(o);
    };

    const judge = (err: unknown): void => {
      const base = { version: s.version, handshakeCompleted, stage } as const;
      const helloMax = parseClientHelloMaxVersion(wire.sent);
      const first = parseServerFirstRecord(wire.received);
      const offered = wire.sentBytes > 0 && helloMax !== undefined;
      const localError = err ? errCode(err) : undefined;
      const common = { ...base, offeredOnWire: offered, helloMaxVersion: helloMax, localError };
      if (!offered) {
        finish({
          attempt: {
            ...common,
            result: 'error',
            reason: `the client could not offer ${s.version}: no ClientHello left this machine (${err ? errText(err) : 'no error'}); this says nothing about the server`,
          },
        });
        return;
      }
      if (helloMax !== s.version) {
        finish({ attempt: { ...common, result: 'error', reason: `the ClientHello offered ${helloMax} instead of ${s.version}; the attempt proves nothing about ${s.version}` } });
        return;
      }
      if (first?.kind === 'server_hello') {
        const accepted = first.version === s.version;
        finish({
          peer,
          authorized,
          authorizationError,
          attempt: {
            ...common,
            serverHelloVersion: first.version,
            cipher,
            http: httpFacts,
            result: accepted ? 'accepted' : 'error',
            reason: accepted
              ? `the server chose ${s.version} in its ServerHello${handshakeCompleted ? '' : ` (the handshake then failed locally: ${err ? errText(err) : 'unknown'})`}`
              : `the server answered a ${s.version}-only ClientHello with ${first.version ?? 'an unknown version'}`,
          },
        });
        return;
      }
      if (first?.kind === 'alert') {
        const name = ALERTS[first.description] ?? `alert_${first.description}`;
        const alert = { level: first.level, description: first.description, name };
        if (REFUSAL_ALERTS.has(first.description)) {
          finish({ attempt: { ...common, alert, result: 'refused', reason: `the server answered our ${s.version} ClientHello with alert ${name} (${first.description})` } });
        } else {
          finish({ attempt: { ...common, alert, result: 'error', reason: `the server answered our ${s.version} ClientHello with alert ${name} (${first.description}), which is not a version refusal` } });
        }
        return;
      }
      const what = wire.receivedBytes === 0 ? 'sent nothing back' : 'sent something that is not TLS';
      finish({
        attempt: {
          ...common,
          result: 'error',
          reason: `after our ${s.version} ClientHello the server ${what} (${err ? errText(err) : 'connection closed'}) during ${stage}; no refusal was observed`,
        },
      });
    };

    const timer = setTimeout(() => {
      if (!offeredYet()) {
        finish({
          unreachable: `timed out after ${s.timeoutMs} ms during ${stage}`,
          attempt: { version: s.version, result: 'error', reason: `timed out after ${s.timeoutMs} ms during ${stage}`, offeredOnWire: wire.sentBytes > 0, handshakeCompleted, stage },
        });
      } else if (handshakeCompleted && s.http) {
        finish({
          peer,
          authorized,
          authorizationError,
          attempt: {
            version: s.version,
            result: 'error',
            reason: `the TLS handshake succeeded but the HTTP request timed out after ${s.timeoutMs} ms`,
            offeredOnWire: true,
            helloMaxVersion: parseClientHelloMaxVersion(wire.sent),
            handshakeCompleted,
            cipher,
            stage,
          },
        });
      } else {
        judge(Object.assign(new Error(`timed out after ${s.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }
    }, s.timeoutMs);
    const offeredYet = (): boolean => wire.sentBytes > 0;

    raw = s.jar.add(net.connect({ host: s.address, port: s.port }));
    raw.on('error', () => undefined);
    raw.once('error', (err) => {
      if (stage === 'tcp connect' || stage === 'postgres SSLRequest') {
        finish({
          unreachable: `${stage} to ${s.host}:${s.port} failed: ${errText(err)}`,
          attempt: { version: s.version, result: 'error', reason: `${stage} failed: ${errText(err)}`, offeredOnWire: false, handshakeCompleted: false, stage, localError: errCode(err) },
        });
      }
    });
    const startTls = (): void => {
      if (!raw || done) return;
      stage = 'tls handshake';
      const settings = s.clientOverride ?? clientSettingsFor(s.version);
      const servername = s.servername ?? (net.isIP(s.host) ? undefined : s.host);
      try {
        sock = s.jar.add(
          tls.connect({
            ...settings,
            socket: tap(raw, wire),
            host: s.host,
            ...(servername ? { servername } : {}),
            ...(s.ca ? { ca: s.ca } : {}),
            // Trust is recorded, not enforced here: a version is accepted or refused whoever signed the certificate.
            rejectUnauthorized: false,
          }),
        );
      } catch (err) {
        judge(err);
        return;
      }
      sock.once('secureConnect', () => {
        handshakeCompleted = true;
        const c = sock!.getCipher();
        cipher = { name: c.name, ...(c.standardName ? { standardName: c.standardName } : {}) };
        peer = sock!.getPeerCertificate(true) as AttemptOutcome['peer'];
        authorized = sock!.authorized;
        authorizationError = sock!.authorizationError ? String(sock!.authorizationError) : undefined;
        if (!s.http) {
          judge(undefined);
          return;
        }
        stage = 'http request';
        const req = http.request({
          createConnection: () => sock!,
          method: 'GET',
          path: s.http.path,
          headers: { host: s.http.hostHeader, 'user-agent': 'engram-audit-probe', 'x-ms-version': '2021-08-06', connection: 'close' },
        });
        req.on('response', (res) => {
          const code = res.headers['x-ms-error-code'];
          httpFacts = { status: res.statusCode, ...(typeof code === 'string' ? { errorCode: code.slice(0, 100) } : {}) };
          res.resume();
          const status = res.statusCode ?? 0;
          const refused = status === 400;
          finish({
            peer,
            authorized,
            authorizationError,
            attempt: {
              version: s.version,
              result: refused ? 'refused' : 'accepted',
              reason: refused
                ? `the TLS handshake at ${s.version} succeeded but the HTTP layer answered 400${httpFacts.errorCode ? ` (${httpFacts.errorCode})` : ''}: refused at the HTTP layer`
                : `an HTTPS request over ${s.version} was served (HTTP ${status})`,
              offeredOnWire: true,
              helloMaxVersion: parseClientHelloMaxVersion(wire.sent),
              serverHelloVersion: parseServerFirstRecord(wire.received)?.kind === 'server_hello' ? s.version : undefined,
              handshakeCompleted: true,
              cipher,
              http: httpFacts,
              stage,
            },
          });
        });
        req.on('error', (err) => {
          finish({
            peer,
            authorized,
            authorizationError,
            attempt: {
              version: s.version,
              result: 'error',
              reason: `the TLS handshake at ${s.version} succeeded but the HTTP request failed: ${errText(err)}`,
              offeredOnWire: true,
              helloMaxVersion: parseClientHelloMaxVersion(wire.sent),
              handshakeCompleted: true,
              cipher,
              localError: errCode(err),
              stage,
            },
          });
        });
        req.end();
      });
      sock.on('error', () => undefined);
      sock.once('error', (err) => judge(err));
      sock.once('close', () => judge(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' })));
    };
    raw.once('connect', () => {
      if (s.starttls !== 'postgres') {
        startTls();
        return;
      }
      stage = 'postgres SSLRequest';
      raw!.write(SSL_REQUEST);
      raw!.once('data', (d: Buffer) => {
        const reply = String.fromCharCode(d[0]);
        if (reply === 'S' && d.length === 1) {
          raw!.pause();
          startTls();
          return;
        }
        const stageNow = stage;
        finish({
          starttlsReply: reply,
          attempt: {
            version: s.version,
            result: 'error',
            reason:
              reply === 'N'
                ? 'the server answered the SSLRequest with N: it does not offer TLS at all'
                : `the server answered the SSLRequest with ${JSON.stringify(reply)}${d.length > 1 ? ' followed by unexpected bytes' : ''}, not S`,
            offeredOnWire: false,
            handshakeCompleted: false,
            stage: stageNow,
          },
        });
      });
      raw!.once('close', () => {
        if (stage === 'postgres SSLRequest') {
          finish({
            unreachable: 'the server closed the connection after the SSLRequest',
            attempt: { version: s.version, result: 'error', reason: 'the server closed the connection after the SSLRequest', offeredOnWire: false, handshakeCompleted: false, stage },
          });
        }
      });
    });
  });
}

function certificateFacts(
  peer: NonNullable<AttemptOutcome['peer']>,
  authorized: boolean | undefined,
  authorizationError: string | undefined,
  now: Date,
): CertificateFacts {
  const chain: string[] = [];
  const seen = new Set<string>();
  let cur: (tls.PeerCertificate & { issuerCertificate?: tls.PeerCertificate }) | undefined = peer;
  while (cur && cur.raw && chain.length < 10) {
    const digest = createHash('sha256').update(cur.raw).digest('hex');
    if (seen.has(digest)) break;
    seen.add(digest);
    chain.push(digest);
    cur = cur.issuerCertificate as typeof cur;
  }
  const dn = (o: unknown): string => {
    if (!o || typeof o !== 'object') return '';
    return Object.entries(o as Record<string, string | string[]>)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
      .join(', ');
  };
  const validTo = new Date(peer.valid_to);
  return {
    subject: redactString(dn(peer.subject)),
    issuer: redactString(dn(peer.issuer)),
    ...(peer.subjectaltname ? { subjectAltName: redactString(peer.subjectaltname) } : {}),
    ...(peer.serialNumber ? { serialNumber: peer.serialNumber } : {}),
    validFrom: new Date(peer.valid_from).toISOString(),
    validTo: validTo.toISOString(),
    expiresInDays: Math.floor((validTo.getTime() - now.getTime()) / 86_400_000),
    chainSha256: chain,
    trusted: authorized === true,
    ...(authorizationError ? { verifyError: authorizationError } : {}),
  };
}

/** Resolves `host` once for all attempts; gives up at `timeoutMs` (getaddrinfo itself cannot be cancelled). */
async function resolveAddress(host: string, timeoutMs: number): Promise<string> {
  if (net.isIP(host)) return host;
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`DNS lookup timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      }),
    ]);
    return r.address;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the tls probe. Never throws for network conditions: they become `error` observations. */
export async function runTlsProbe(target: string, options: TlsProbeOptions, ctx: ProbeContext): Promise<ProbeObservation> {
  const startedAt = ctx.now();
  const t0 = performance.now();
  const hp = parseHostPort(target);
  const floor = normaliseTlsVersion(String(options.floor ?? 'TLSv1.2'));
  if (!floor) throw new UsageError(`--floor ${JSON.stringify(options.floor)} is not a TLS version`, { field: 'floor', hint: 'Use TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3.' });
  const httpMode = options.http === true || hp.url !== undefined;
  if (httpMode && options.starttls) throw new UsageError('--starttls and --http cannot be combined', { field: 'starttls' });
  const versions = options.versions ?? [...TLS_VERSIONS];
  const deadline = Date.now() + ctx.timeoutMs;
  const jar = new SocketJar();
  const onAbort = (): void => jar.close();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const overall = setTimeout(onAbort, ctx.timeoutMs);

  const mode = httpMode ? 'http' : 'handshake';
  const what = [
    `TCP ${hp.host}:${hp.port}`,
    ...(options.starttls ? ['PostgreSQL SSLRequest'] : []),
    `TLS handshakes pinned to ${versions.join(', ')}`,
    ...(httpMode ? ['an HTTPS GET over each'] : []),
  ].join(', then ');
  const observed: Record<string, unknown> = {
    host: hp.host,
    port: hp.port,
    mode,
    floor,
    ...(options.starttls ? { starttls: options.starttls } : {}),
    ...(options.servername ? { servername: options.servername } : {}),
    ...(options.ca ? { customCa: true } : {}),
    insecureSkipVerify: options.insecureSkipVerify === true,
  };
  const base = { probe: 'tls', target, startedAt: startedAt.toISOString() };
  const finish = (status: ProbeStatus, summary: string, error?: { code: string; message: string }): ProbeObservation => ({
    ...base,
    status,
    summary,
    observed,
    durationMs: Math.round(performance.now() - t0),
    ...(error ? { error } : {}),
  });

  try {
    let address: string;
    try {
      address = await resolveAddress(hp.host, ctx.timeoutMs);
    } catch (err) {
      const msg = `could not resolve ${hp.host} (${errText(err)}); tried: DNS lookup before ${what}`;
      return finish('error', msg, { code: 'E_PROBE_DNS', message: msg });
    }
    observed.address = address;
    const path = options.path ?? (hp.url ? (hp.url.pathname === '/' && !hp.url.search ? '/?comp=list' : `${hp.url.pathname}${hp.url.search}`) : '/?comp=list');
    const hostHeader = hp.port === 443 ? hp.host : `${hp.host}:${hp.port}`;
    if (httpMode) observed.httpPath = path;

    const attempts: TlsAttempt[] = [];
    const outcomes: AttemptOutcome[] = [];
    for (let i = 0; i < versions.length; i++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || jar.closed) {
        attempts.push({ version: versions[i], result: 'error', reason: `not tried: the probe's ${ctx.timeoutMs} ms budget ran out`, offeredOnWire: false, handshakeCompleted: false });
        continue;
      }
      const o = await tryTlsVersion({
        host: hp.host,
        address,
        port: hp.port,
        version: versions[i],
        starttls: options.starttls,
        servername: options.servername,
        ca: options.ca,
        timeoutMs: Math.max(1, Math.floor(remaining / (versions.length - i))),
        jar,
        ...(httpMode ? { http: { path, hostHeader } } : {}),
      });
      outcomes.push(o);
      attempts.push(o.attempt);
      if (o.starttlsReply !== undefined) {
        observed.starttlsReply = o.starttlsReply;
        break;
      }
    }
    observed.attempts = attempts;
    const by = (r: TlsAttempt['result']): TlsVersion[] => attempts.filter((a) => a.result === r).map((a) => a.version);
    const accepted = by('accepted');
    observed.acceptedVersions = accepted;
    observed.refusedVersions = by('refused');
    observed.unknownVersions = by('error');
    const belowFloor = attempts.filter((a) => versionIndex(a.version) < versionIndex(floor));
    const atOrAbove = attempts.filter((a) => versionIndex(a.version) >= versionIndex(floor));
    const acceptsBelowFloor = belowFloor.some((a) => a.result === 'accepted');
    observed.acceptsBelowFloor = acceptsBelowFloor;
    if (accepted.length) observed.lowestAccepted = accepted[0];
    const ciphers: Record<string, string> = {};
    for (const a of attempts) if (a.result === 'accepted' && a.cipher) ciphers[a.version] = a.cipher.name;

    // Certificate from the highest version that completed a handshake.
    const withCert = [...outcomes].reverse().find((o) => o.peer && o.peer.raw);
    if (withCert?.peer) observed.certificate = certificateFacts(withCert.peer, withCert.authorized, withCert.authorizationError, ctx.now());
    const cert = observed.certificate as CertificateFacts | undefined;

    if (observed.starttlsReply === 'N') {
      observed.tlsOffered = false;
      return finish('non_compliant', `${target} answered the PostgreSQL SSLRequest with N: the server does not offer TLS, so sessions are unencrypted.`);
    }
    if (observed.starttlsReply !== undefined) {
      const msg = `${target} answered the PostgreSQL SSLRequest with ${JSON.stringify(observed.starttlsReply)} instead of S; tried: ${what}`;
      return finish('error', msg, { code: 'E_PROBE_STARTTLS', message: msg });
    }
    if (options.starttls) observed.tlsOffered = true;
    const unreachable = outcomes.filter((o) => o.unreachable);
    if (outcomes.length > 0 && unreachable.length === outcomes.length) {
      const msg = `could not observe ${target}: ${unreachable[0].unreachable}; tried: ${what}`;
      return finish('error', msg, { code: 'E_PROBE_UNREACHABLE', message: msg });
    }
    const list = (vs: string[]): string => (vs.length ? vs.join(', ') : 'none');
    if (acceptsBelowFloor) {
      const low = belowFloor.filter((a) => a.result === 'accepted').map((a) => a.version);
      return finish(
        'non_compliant',
        `${target} accepts ${list(low)}, below the ${floor} floor${httpMode ? ' (an HTTPS request over it was served)' : ''}; accepted: ${list(accepted)}.`,
      );
    }
    if (cert && !cert.trusted && !options.insecureSkipVerify) {
      const msg = `the certificate of ${target} is not trusted (${cert.verifyError ?? 'unverified'}), so the observations cannot be tied to the real server; pass --ca FILE with the issuing CA, or --insecure-skip-verify to record them anyway`;
      return finish('error', msg, { code: 'E_PROBE_UNTRUSTED_CERT', message: msg });
    }
    const unknownBelow = belowFloor.filter((a) => a.result === 'error');
    if (unknownBelow.length) {
      const msg = `could not tell whether ${target} refuses ${list(unknownBelow.map((a) => a.version))}: ${unknownBelow[0].reason}; tried: ${what}`;
      return finish('error', msg, { code: 'E_PROBE_INCONCLUSIVE', message: msg });
    }
    if (!atOrAbove.some((a) => a.result === 'accepted')) {
      const why = atOrAbove.map((a) => `${a.version}: ${a.reason}`).join('; ');
      const msg = `${target} accepted no TLS version at or above the ${floor} floor (${why || 'none tried'}); tried: ${what}`;
      return finish('error', msg, { code: 'E_PROBE_NO_ACCEPTED_VERSION', message: msg });
    }
    const cipherText = Object.entries(ciphers)
      .map(([v, c]) => `${v} ${c}`)
      .join(', ');
    const refusedText = belowFloor.length ? `refuses ${list(belowFloor.map((a) => a.version))} and ` : '';
    return finish('compliant', `${target} ${refusedText}accepts ${list(accepted)}${cipherText ? ` (${cipherText})` : ''}.`);
  } finally {
    clearTimeout(overall);
    ctx.signal?.removeEventListener('abort', onAbort);
    jar.close();
  }
}

/** The tls probe definition (read-only: runs with `--probes safe`). */
export const tlsProbe: ProbeDefinition<TlsProbeOptions> = {
  name: 'tls',
  writes: false,
  description:
    'Which TLS versions (1.0-1.3) the endpoint really accepts, the cipher per version and the certificate chain digest; PostgreSQL via SSLRequest, Azure Storage via an HTTPS request per version.',
  run: runTlsProbe,
};
