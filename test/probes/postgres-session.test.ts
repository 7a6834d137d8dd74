import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { ENTRA_POSTGRES_SCOPE, runPostgresSessionProbe, type PostgresSessionOptions } from '../../src/probes/postgres-session.js';
import { runTlsProbe, type TlsAttempt } from '../../src/probes/tls.js';
import type { ProbeContext, ProbeObservation } from '../../src/probes/types.js';
import { makeCertificates, type TestCertificates } from '../support/certs.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { closedPort, opensslAccepts, startSilentServer, type RunningServer } from '../support/tls-servers.js';

const NOW = new Date('2026-11-28T00:00:00Z');

describe('tls and postgres-session probes against real PostgreSQL 15 (strict and weak)', () => {
  let certs: TestCertificates;
  let strict: PostgresServer;
  let weak: PostgresServer;
  let silent: RunningServer;
  let refused: number;
  const entraToken = `entra-test-token-${process.pid}-${Date.now()}`;
  const env = (): NodeJS.ProcessEnv => ({ STRICT_PW: strict.password, WEAK_PW: weak.password, WRONG_PW: 'not-the-password-123' });
  const ctx = (extra: Partial<ProbeContext> = {}): ProbeContext => ({ timeoutMs: 10_000, now: () => NOW, env: env(), ...extra });
  const session = (server: PostgresServer, opts: Partial<PostgresSessionOptions>, c?: ProbeContext): Promise<ProbeObservation> =>
    runPostgresSessionProbe(`127.0.0.1:${server.port}`, { user: 'postgres', ca: certs.caPem, ...opts }, c ?? ctx());
  const admin = async (fn: (c: pg.Client) => Promise<unknown>): Promise<void> => {
    const c = new pg.Client({ host: '127.0.0.1', port: strict.port, user: 'postgres', password: strict.password, database: 'postgres', ssl: { ca: certs.caPem } });
    await c.connect();
    try {
      await fn(c);
    } finally {
      await c.end();
    }
  };
  const noSecrets = (obs: ProbeObservation): void => {
    const text = JSON.stringify(obs);
    for (const secret of [strict.password, weak.password, 'not-the-password-123', entraToken]) assert.ok(!text.includes(secret), 'no secret in the observation');
  };

  before(async () => {
    certs = makeCertificates();
    [strict, weak, silent, refused] = await Promise.all([
      startPostgres({ mode: 'strict', certPem: certs.certPem, keyPem: certs.keyPem }),
      startPostgres({ mode: 'weak', certPem: certs.certPem, keyPem: certs.keyPem }),
      startSilentServer(),
      closedPort(),
    ]);
    // A role whose password is the fake Entra token, to drive the --entra path end to end.
    await admin((c) => c.query(`create role "auditor@example.com" login password '${entraToken}'`));
  });
  after(async () => {
    await Promise.all([strict?.stop(), weak?.stop(), silent?.close()]);
    certs?.cleanup();
  });

  it('tls --starttls postgres tells strict from weak, and openssl s_client -starttls postgres agrees', async () => {
    const s = await runTlsProbe(`127.0.0.1:${strict.port}`, { starttls: 'postgres', ca: certs.caPem }, ctx());
    assert.equal(s.status, 'compliant', s.summary);
    assert.deepEqual(s.observed.refusedVersions, ['TLSv1', 'TLSv1.1']);
    assert.deepEqual(s.observed.acceptedVersions, ['TLSv1.2', 'TLSv1.3']);
    assert.equal(s.observed.tlsOffered, true);
    const w = await runTlsProbe(`127.0.0.1:${weak.port}`, { starttls: 'postgres', ca: certs.caPem }, ctx());
    assert.equal(w.status, 'non_compliant', w.summary);
    assert.deepEqual(w.observed.acceptedVersions, ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    for (const a of w.observed.attempts as TlsAttempt[]) assert.equal(a.helloMaxVersion, a.version);

    const [s11, w11, s12, w10] = await Promise.all([
      opensslAccepts(strict.port, 'tls1_1', 'postgres'),
      opensslAccepts(weak.port, 'tls1_1', 'postgres'),
      opensslAccepts(strict.port, 'tls1_2', 'postgres'),
      opensslAccepts(weak.port, 'tls1', 'postgres'),
    ]);
    assert.equal(s11.accepted, false, s11.output);
    assert.equal(w11.protocol, 'TLSv1.1', w11.output);
    assert.equal(s12.protocol, 'TLSv1.2', s12.output);
    assert.equal(w10.protocol, 'TLSv1', w10.output);
  });

  it('strict server: compliant session facts from pg_stat_ssl and SHOW, and the non-TLS attempt refused by pg_hba', async () => {
    const obs = await session(strict, { passwordEnv: 'STRICT_PW' });
    assert.equal(obs.status, 'compliant', obs.summary);
    const ssl = (obs.observed.session as { pgStatSsl: { ssl: boolean; version: string; cipher: string; bits: number } }).pgStatSsl;
    assert.equal(ssl.ssl, true);
    assert.equal(ssl.version, 'TLSv1.3');
    assert.match(ssl.cipher, /^TLS_/);
    assert.ok(ssl.bits >= 128);
    const settings = obs.observed.settings as Record<string, string | null>;
    assert.equal(settings.ssl_min_protocol_version, 'TLSv1.2');
    assert.equal(settings.require_secure_transport, null, 'not an Azure server');
    const nonTls = obs.observed.nonTls as { result: string; reason: string; sqlstate?: string };
    assert.equal(nonTls.result, 'refused');
    assert.equal(nonTls.sqlstate, '28000');
    assert.match(nonTls.reason, /no encryption/);
    assert.deepEqual(obs.observed.pgvector, { installedVersion: null, availableVersion: null, allowListed: null });
    noSecrets(obs);
  });

  it('weak server: non-compliant because a non-TLS login is accepted (no credential sent) and the TLS minimum is TLSv1', async () => {
    const obs = await session(weak, { passwordEnv: 'WEAK_PW' });
    assert.equal(obs.status, 'non_compliant');
    const nonTls = obs.observed.nonTls as { result: string; reason: string };
    assert.equal(nonTls.result, 'accepted');
    assert.match(nonTls.reason, /asked for a password on a connection without TLS \(nothing was sent\)/);
    assert.equal((obs.observed.settings as Record<string, string>).ssl_min_protocol_version, 'TLSv1');
    assert.deepEqual(obs.observed.problems, [
      `accepts sessions without TLS (${nonTls.reason})`,
      'ssl_min_protocol_version is TLSv1, below TLSv1.2',
    ]);
    noSecrets(obs);
  });

  it('the floor is a parameter: the strict server fails a TLSv1.3 floor on its ssl_min_protocol_version', async () => {
    const obs = await session(strict, { passwordEnv: 'STRICT_PW', floor: 'TLSv1.3' });
    assert.equal(obs.status, 'non_compliant');
    assert.deepEqual(obs.observed.problems, ['ssl_min_protocol_version is TLSv1.2, below TLSv1.3']);
  });

  it('--entra: the token from the credential chain is the password, asked for with the PostgreSQL scope', async () => {
    const scopes: string[] = [];
    const credential: TokenCredential = {
      async getToken(scope: string | string[], _o?: GetTokenOptions): Promise<AccessToken> {
        scopes.push(...(Array.isArray(scope) ? scope : [scope]));
        return { token: entraToken, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: 'Bearer' };
      },
    };
    // A role without pg_read_all_settings cannot read ssl_min_protocol_version: that is an incomplete observation.
    const limited = await session(strict, { user: 'auditor@example.com', entra: true }, ctx({ credential }));
    assert.equal(limited.status, 'error');
    assert.equal(limited.error?.code, 'E_PROBE_INCOMPLETE');
    assert.match(limited.error!.message, /grant it pg_read_all_settings/);
    assert.deepEqual(limited.observed.unreadableSettings, ['ssl_min_protocol_version', 'ssl_max_protocol_version']);
    await admin((c) => c.query('grant pg_read_all_settings to "auditor@example.com"'));
    const obs = await session(strict, { user: 'auditor@example.com', entra: true }, ctx({ credential }));
    assert.equal(obs.status, 'compliant', obs.summary);
    assert.deepEqual(scopes, [ENTRA_POSTGRES_SCOPE, ENTRA_POSTGRES_SCOPE]);
    assert.equal(obs.observed.auth, 'Microsoft Entra token');
    noSecrets(obs);
    const failing: TokenCredential = { getToken: async () => Promise.reject(new Error('no credential in this environment')) };
    const err = await session(strict, { user: 'auditor@example.com', entra: true }, ctx({ credential: failing }));
    assert.equal(err.status, 'error');
    assert.equal(err.error?.code, 'E_PROBE_CREDENTIAL');
    assert.match(err.error!.message, /no credential in this environment/);
    const stuck: TokenCredential = { getToken: () => new Promise<AccessToken>(() => undefined) };
    const late = await session(strict, { user: 'auditor@example.com', entra: true }, ctx({ credential: stuck, timeoutMs: 300 }));
    assert.equal(late.status, 'error');
    assert.equal(late.error?.code, 'E_PROBE_CREDENTIAL');
    assert.match(late.error!.message, /timed out before a token arrived/);
  });

  it('wrong password: error naming what was tried, without the password', async () => {
    const obs = await session(strict, { passwordEnv: 'WRONG_PW' });
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'E_PROBE_AUTH');
    assert.match(obs.error!.message, /password authentication failed for user postgres; tried: TLS session to 127\.0\.0\.1:\d+ as postgres \(password from \$WRONG_PW\)/);
    noSecrets(obs);
  });

  it('missing password variable: error before any connection', async () => {
    const obs = await session(strict, { passwordEnv: 'NOT_SET_ANYWHERE' });
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'E_PROBE_PASSWORD_ENV');
    assert.match(obs.error!.message, /NOT_SET_ANYWHERE is not set/);
  });

  it('untrusted certificate without --sslrootcert: error that says to pass the CA', async () => {
    const obs = await runPostgresSessionProbe(`127.0.0.1:${strict.port}`, { user: 'postgres', passwordEnv: 'STRICT_PW' }, ctx());
    assert.equal(obs.status, 'error');
    assert.equal(obs.error?.code, 'E_PROBE_UNTRUSTED_CERT');
    assert.match(obs.error!.message, /--sslrootcert/);
    noSecrets(obs);
  });

  it('refused connection and a silent server: errors, never a pass', async () => {
    const r = await runPostgresSessionProbe(`127.0.0.1:${refused}`, { user: 'postgres', passwordEnv: 'STRICT_PW' }, ctx());
    assert.equal(r.status, 'error');
    assert.equal(r.error?.code, 'E_PROBE_UNREACHABLE');
    assert.match(r.error!.message, /connection refused .*tried: TLS session/);
    const t = await runPostgresSessionProbe(`127.0.0.1:${silent.port}`, { user: 'postgres', passwordEnv: 'STRICT_PW' }, ctx({ timeoutMs: 500 }));
    assert.equal(t.status, 'error');
    assert.equal(t.error?.code, 'E_PROBE_TIMEOUT');
    for (let i = 0; i < 200 && silent.openConnections() > 0; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(silent.openConnections(), 0);
  });
});
