import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  normaliseTlsVersion,
  parseHostPort,
  runTlsProbe,
  SocketJar,
  tryTlsVersion,
  type CertificateFacts,
  type TlsAttempt,
  type TlsProbeOptions,
} from '../../src/probes/tls.js';
import type { ProbeContext, ProbeObservation } from '../../src/probes/types.js';
import { makeCertificates, type TestCertificates } from '../support/certs.js';
import {
  closedPort,
  opensslAccepts,
  startHttpsFloorServer,
  startNoTlsPostgresLike,
  startPlaintextHttpServer,
  startSilentServer,
  startTlsServer,
  type RunningServer,
} from '../support/tls-servers.js';

const NOW = new Date('2026-11-28T00:00:00Z');
const ctx = (timeoutMs = 10_000): ProbeContext => ({ timeoutMs, now: () => NOW, env: {} });

function attempt(obs: ProbeObservation, version: string): TlsAttempt {
  const a = (obs.observed.attempts as TlsAttempt[]).find((x) => x.version === version);
  assert.ok(a, `no attempt for ${version}`);
  return a;
}

describe('tls probe against Node TLS servers', () => {
  let certs: TestCertificates;
  let legacy: RunningServer; // TLSv1 .. TLSv1.3, security level 0
  let modern: RunningServer; // TLSv1.2 floor
  let only13: RunningServer; // TLSv1.3 only
  let httpsFloor: RunningServer;
  let httpsLax: RunningServer;
  let httpsAll400: RunningServer;
  let plaintext: RunningServer;
  let silent: RunningServer;
  let noTls: RunningServer;
  let refusedPort: number;
  const run = (port: number, opts: TlsProbeOptions = {}, timeoutMs?: number): Promise<ProbeObservation> =>
    runTlsProbe(`127.0.0.1:${port}`, { ca: certs.caPem, ...opts }, ctx(timeoutMs));

  before(async () => {
    certs = makeCertificates();
    const tlsOpts = { certPem: certs.certPem, keyPem: certs.keyPem };
    [legacy, modern, only13, httpsFloor, httpsLax, httpsAll400, plaintext, silent, noTls, refusedPort] = await Promise.all([
      startTlsServer({ ...tlsOpts, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
      startTlsServer({ ...tlsOpts, minVersion: 'TLSv1.2' }),
      startTlsServer({ ...tlsOpts, minVersion: 'TLSv1.3' }),
      startHttpsFloorServer(tlsOpts),
      startHttpsFloorServer({ ...tlsOpts, answerOldWith: 200 }),
      startHttpsFloorServer({ ...tlsOpts, answerModernWith: 400 }),
      startPlaintextHttpServer(),
      startSilentServer(),
      startNoTlsPostgresLike(),
      closedPort(),
    ]);
  });
  after(async () => {
    await Promise.all([legacy, modern, only13, httpsFloor, httpsLax, httpsAll400, plaintext, silent, noTls].filter(Boolean).map((s) => s.close()));
    certs?.cleanup();
  });

  it('reads a TLS 1.0 server as non-compliant, with each old version really offered on the wire, and openssl agrees', async () => {
    const obs = await run(legacy.port);
    assert.equal(obs.status, 'non_compliant');
    assert.deepEqual(obs.observed.acceptedVersions, ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.equal(obs.observed.acceptsBelowFloor, true);
    for (const v of ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']) {
      const a = attempt(obs, v);
      assert.equal(a.offeredOnWire, true);
      assert.equal(a.helloMaxVersion, v, 'the ClientHello we sent offered exactly this version');
      assert.equal(a.serverHelloVersion, v);
      assert.ok(a.cipher?.name, `a cipher was negotiated for ${v}`);
    }
    assert.match(obs.summary, /TLSv1, TLSv1\.1, below the TLSv1\.2 floor/);
    const [o10, o11] = await Promise.all([opensslAccepts(legacy.port, 'tls1'), opensslAccepts(legacy.port, 'tls1_1')]);
    assert.equal(o10.accepted, true, o10.output);
    assert.equal(o10.protocol, 'TLSv1');
    assert.equal(o11.protocol, 'TLSv1.1', o11.output);
  });

  it('reads a TLS 1.2-floor server as compliant: old versions refused by the server with alert protocol_version, and openssl agrees', async () => {
    const obs = await run(modern.port);
    assert.equal(obs.status, 'compliant', obs.summary);
    assert.deepEqual(obs.observed.refusedVersions, ['TLSv1', 'TLSv1.1']);
    assert.deepEqual(obs.observed.acceptedVersions, ['TLSv1.2', 'TLSv1.3']);
    for (const v of ['TLSv1', 'TLSv1.1']) {
      const a = attempt(obs, v);
      assert.equal(a.offeredOnWire, true, 'refused only after our hello left');
      assert.equal(a.helloMaxVersion, v);
      assert.equal(a.alert?.name, 'protocol_version');
      assert.equal(a.alert?.description, 70);
    }
    const [o11, o12, o13] = await Promise.all([
      opensslAccepts(modern.port, 'tls1_1'),
      opensslAccepts(modern.port, 'tls1_2'),
      opensslAccepts(modern.port, 'tls1_3'),
    ]);
    assert.equal(o11.accepted, false, o11.output);
    assert.match(o11.output, /alert protocol version|alert number 70/i);
    assert.equal(o12.protocol, 'TLSv1.2');
    assert.equal(o13.protocol, 'TLSv1.3');
    // The cipher the probe recorded for TLS 1.2 is the one openssl negotiates too.
    assert.match(o12.output, new RegExp(`Ciphersuite: ${attempt(obs, 'TLSv1.2').cipher!.name}`));
  });

  it('takes the floor as a parameter: TLS 1.3-only passes a 1.3 floor, a 1.2 server fails it', async () => {
    const strict = await run(only13.port, { floor: 'TLSv1.3' });
    assert.equal(strict.status, 'compliant', strict.summary);
    assert.deepEqual(strict.observed.acceptedVersions, ['TLSv1.3']);
    assert.equal(attempt(strict, 'TLSv1.2').result, 'refused');
    const o12 = await opensslAccepts(only13.port, 'tls1_2');
    assert.equal(o12.accepted, false, o12.output);
    const fails = await run(modern.port, { floor: '1.3' });
    assert.equal(fails.status, 'non_compliant');
    assert.equal(fails.observed.floor, 'TLSv1.3');
    assert.match(fails.summary, /accepts TLSv1\.2, below the TLSv1\.3 floor/);
  });

  it('records the certificate chain digests, subject and expiry of what the server presented', async () => {
    const obs = await run(modern.port);
    const cert = obs.observed.certificate as CertificateFacts;
    const leaf = new X509Certificate(certs.certPem);
    const ca = new X509Certificate(certs.caPem);
    assert.deepEqual(cert.chainSha256, [createHash('sha256').update(leaf.raw).digest('hex'), createHash('sha256').update(ca.raw).digest('hex')]);
    assert.equal(cert.validTo, new Date(leaf.validTo).toISOString());
    assert.match(cert.subject, /CN=localhost/);
    assert.match(cert.issuer, /engram-audit test CA/);
    assert.equal(cert.trusted, true);
    assert.equal(cert.expiresInDays, Math.floor((new Date(leaf.validTo).getTime() - NOW.getTime()) / 86_400_000));
  });

  it('never reads a client that could not offer a version as "the server refused"', async () => {
    // Node 20's default client refuses to build a TLS 1.1 hello: the naive probe of PLATFORM.md. The server here WOULD
    // accept TLS 1.1, so any "refused" would be a lie.
    const jar = new SocketJar();
    const naive = await tryTlsVersion({
      host: '127.0.0.1',
      address: '127.0.0.1',
      port: legacy.port,
      version: 'TLSv1.1',
      timeoutMs: 5000,
      jar,
      clientOverride: { maxVersion: 'TLSv1.1' },
    });
    jar.close();
    assert.equal(naive.attempt.result, 'error');
    assert.equal(naive.attempt.offeredOnWire, false);
    assert.match(naive.attempt.reason, /could not offer TLSv1\.1: no ClientHello left this machine/);
    assert.ok(naive.attempt.localError, 'the local OpenSSL error is kept');
  });

  it('calls a TLS 1.0 hello the server answered with a ServerHello "accepted" even when the client then gives up', async () => {
    // Without @SECLEVEL=0 OpenSSL 3 aborts its own TLS 1.0 handshake after the ServerHello; the server still accepted TLS 1.0.
    const jar = new SocketJar();
    const o = await tryTlsVersion({
      host: '127.0.0.1',
      address: '127.0.0.1',
      port: legacy.port,
      version: 'TLSv1',
      timeoutMs: 5000,
      jar,
      clientOverride: { minVersion: 'TLSv1', maxVersion: 'TLSv1' },
    });
    jar.close();
    assert.equal(o.attempt.result, 'accepted');
    assert.equal(o.attempt.serverHelloVersion, 'TLSv1');
    assert.equal(o.attempt.handshakeCompleted, false);
    assert.equal(o.attempt.localError, 'ERR_SSL_LEGACY_SIGALG_DISALLOWED_OR_UNSUPPORTED');
  });

  it('http mode: a server that completes old handshakes but answers 400 over them is compliant (Azure Storage style)', async () => {
    const obs = await runTlsProbe(`https://127.0.0.1:${httpsFloor.port}/`, { ca: certs.caPem }, ctx());
    assert.equal(obs.status, 'compliant', obs.summary);
    assert.equal(obs.observed.mode, 'http');
    assert.equal(obs.observed.httpPath, '/?comp=list');
    for (const v of ['TLSv1', 'TLSv1.1']) {
      const a = attempt(obs, v);
      assert.equal(a.result, 'refused');
      assert.equal(a.handshakeCompleted, true, 'the handshake itself succeeded: only the HTTP status refuses');
      assert.deepEqual(a.http, { status: 400, errorCode: 'TlsVersionNotPermitted' });
    }
    assert.equal(attempt(obs, 'TLSv1.2').http?.status, 403);
    assert.equal(attempt(obs, 'TLSv1.3').result, 'accepted');
    // The same endpoint probed at the handshake only would look non-compliant: the handshake alone proves nothing here.
    const handshakeOnly = await run(httpsFloor.port);
    assert.equal(handshakeOnly.status, 'non_compliant');
  });

  it('http mode: an endpoint that serves requests over TLS 1.0 is non-compliant', async () => {
    const obs = await run(httpsLax.port, { http: true });
    assert.equal(obs.status, 'non_compliant');
    assert.equal(attempt(obs, 'TLSv1').http?.status, 200);
    assert.equal(attempt(obs, 'TLSv1').result, 'accepted');
  });

  it('http mode: an endpoint that answers 400 over every version proves nothing and is an error, not compliant', async () => {
    const obs = await run(httpsAll400.port, { http: true });
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'E_PROBE_NO_ACCEPTED_VERSION');
    assert.deepEqual(obs.observed.refusedVersions, ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
  });

  it('observes a PostgreSQL-style server that answers N to the SSLRequest as not offering TLS', async () => {
    const obs = await run(noTls.port, { starttls: 'postgres' });
    assert.equal(obs.status, 'non_compliant');
    assert.equal(obs.observed.starttlsReply, 'N');
    assert.equal(obs.observed.tlsOffered, false);
  });

  it('a port that answers in clear text is an error: no refusal was observed', async () => {
    const obs = await run(plaintext.port);
    assert.equal(obs.status, 'error');
    assert.deepEqual(obs.observed.unknownVersions, ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.match(attempt(obs, 'TLSv1').reason, /sent something that is not TLS/);
  });

  it('refused connection: error that says what was tried', async () => {
    const obs = await run(refusedPort);
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'E_PROBE_UNREACHABLE');
    assert.match(obs.error!.message, /ECONNREFUSED/);
    assert.match(obs.error!.message, /tried: TCP 127\.0\.0\.1:\d+, then TLS handshakes pinned to TLSv1, TLSv1\.1, TLSv1\.2, TLSv1\.3/);
  });

  it('a name that does not resolve: error that says what was tried', async () => {
    const obs = await runTlsProbe('no-such-host.invalid:443', {}, ctx(3000));
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'E_PROBE_DNS');
    assert.match(obs.error!.message, /could not resolve no-such-host\.invalid .*tried: DNS lookup before TCP no-such-host\.invalid:443/);
  });

  it('a server that accepts TCP and never answers ends in error within the budget and leaves no socket open', async () => {
    const obs = await run(silent.port, {}, 800);
    assert.equal(obs.status, 'error');
    assert.match(obs.error!.message, /timed out|sent nothing back/);
    const starttls = await run(silent.port, { starttls: 'postgres' }, 400);
    assert.equal(starttls.status, 'error');
    assert.match(starttls.error!.message, /timed out after \d+ ms during postgres SSLRequest/);
    // Wait for the server side to see every client socket close.
    for (let i = 0; i < 200 && silent.openConnections() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(silent.openConnections(), 0);
  });

  it('an untrusted certificate is an error unless --insecure-skip-verify; the versions are still recorded', async () => {
    const obs = await runTlsProbe(`127.0.0.1:${modern.port}`, {}, ctx());
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'E_PROBE_UNTRUSTED_CERT');
    assert.match(obs.error!.message, /--ca FILE/);
    assert.equal((obs.observed.certificate as CertificateFacts).trusted, false);
    assert.deepEqual(obs.observed.acceptedVersions, ['TLSv1.2', 'TLSv1.3']);
    const skipped = await runTlsProbe(`127.0.0.1:${modern.port}`, { insecureSkipVerify: true }, ctx());
    assert.equal(skipped.status, 'compliant');
    assert.equal((skipped.observed.certificate as CertificateFacts).trusted, false);
    // A server accepting old versions is non-compliant whoever signed its certificate.
    const weak = await runTlsProbe(`127.0.0.1:${legacy.port}`, {}, ctx());
    assert.equal(weak.status, 'non_compliant');
  });
});

describe('tls target and version parsing', () => {
  it('parses host:port, [v6]:port and https URLs, and refuses the rest', () => {
    assert.deepEqual(parseHostPort('db.example.com:5432'), { host: 'db.example.com', port: 5432 });
    assert.deepEqual(parseHostPort('[::1]:443'), { host: '::1', port: 443 });
    const u = parseHostPort('https://acct.blob.core.windows.net/');
    assert.equal(u.host, 'acct.blob.core.windows.net');
    assert.equal(u.port, 443);
    assert.deepEqual(parseHostPort('db', 5432), { host: 'db', port: 5432 });
    for (const bad of ['db', 'db:0', 'db:70000', 'http://x/', 'a b:1', '']) assert.throws(() => parseHostPort(bad), /not host:port|https:\/\//);
  });

  it('normalises version spellings', () => {
    assert.equal(normaliseTlsVersion('TLSv1.2'), 'TLSv1.2');
    assert.equal(normaliseTlsVersion('TLS1_2'), 'TLSv1.2');
    assert.equal(normaliseTlsVersion('1.3'), 'TLSv1.3');
    assert.equal(normaliseTlsVersion('TLSv1'), 'TLSv1');
    assert.equal(normaliseTlsVersion('TLSv1.0'), 'TLSv1');
    assert.equal(normaliseTlsVersion('SSLv3'), undefined);
    assert.equal(normaliseTlsVersion('1.4'), undefined);
  });
});
