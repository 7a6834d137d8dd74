import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROBE_HELP, runProbeCommand } from '../../src/cli/probe.js';
import type { ProbeObservation } from '../../src/probes/types.js';
import { makeCertificates, type TestCertificates } from '../support/certs.js';
import { closedPort, startTlsServer, type RunningServer } from '../support/tls-servers.js';
import { fakeCredential, startKeyVaultServer, type KeyVaultTestServer } from '../support/keyvault-server.js';

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Captured> {
  let out = '';
  let err = '';
  const code = await runProbeCommand(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), env }, { now: () => new Date('2026-11-28T00:00:00Z') });
  return { code, out, err };
}

describe('engram-audit probe (CLI module)', () => {
  let certs: TestCertificates;
  let good: RunningServer;
  let weak: RunningServer;
  let refused: number;
  before(async () => {
    certs = makeCertificates();
    [good, weak, refused] = await Promise.all([
      startTlsServer({ certPem: certs.certPem, keyPem: certs.keyPem, minVersion: 'TLSv1.2' }),
      startTlsServer({ certPem: certs.certPem, keyPem: certs.keyPem, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
      closedPort(),
    ]);
  });
  after(async () => {
    await Promise.all([good?.close(), weak?.close()]);
    certs?.cleanup();
  });

  it('--help teaches: what each probe proves, its options and an example command', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.equal(r.out, PROBE_HELP);
    for (const text of ['tls <host:port', 'postgres-session <host:port>', '--starttls postgres', '--password-env VAR', 'Example:', 'engram-audit probe tls myserver.postgres.database.azure.com:5432 --starttls postgres', 'Exit status: 0 compliant, 1 non-compliant, 3 could not observe']) {
      assert.ok(r.out.includes(text), text);
    }
    assert.equal((await cli(['tls', '-h'])).code, 0);
  });

  it('exit 0 and a table for a compliant server', async () => {
    const r = await cli(['tls', `127.0.0.1:${good.port}`, '--ca', certs.caFile]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /^tls 127\.0\.0\.1:\d+: COMPLIANT/);
    assert.match(r.out, /TLSv1\s+refused\s+-\s+the server answered our TLSv1 ClientHello with alert protocol_version \(70\)/);
    assert.match(r.out, /TLSv1\.3\s+accepted\s+TLS_/);
    assert.match(r.out, /chain\[0\] sha256: [0-9a-f]{64}/);
  });

  it('exit 1 for a server that accepts TLS 1.0; --json prints the observation', async () => {
    const r = await cli(['tls', `127.0.0.1:${weak.port}`, '--ca', certs.caFile, '--json']);
    assert.equal(r.code, 1);
    const obs = JSON.parse(r.out) as ProbeObservation;
    assert.equal(obs.probe, 'tls');
    assert.equal(obs.status, 'non_compliant');
    assert.equal(obs.startedAt, '2026-11-28T00:00:00.000Z');
    assert.deepEqual(obs.observed.acceptedVersions, ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
  });

  it('the floor flag changes the verdict', async () => {
    const r = await cli(['tls', `127.0.0.1:${weak.port}`, '--ca', certs.caFile, '--floor', 'TLSv1']);
    assert.equal(r.code, 0, r.out);
  });

  it('exit 3 when it could not observe: refused port, untrusted certificate, missing password variable', async () => {
    const r = await cli(['tls', `127.0.0.1:${refused}`, '--timeout-ms', '3000']);
    assert.equal(r.code, 3);
    assert.match(r.out, /ERROR/);
    assert.match(r.out, /E_PROBE_UNREACHABLE/);
    const u = await cli(['tls', `127.0.0.1:${good.port}`]);
    assert.equal(u.code, 3);
    assert.match(u.out, /E_PROBE_UNTRUSTED_CERT/);
    assert.equal((await cli(['tls', `127.0.0.1:${good.port}`, '--insecure-skip-verify'])).code, 0);
    const p = await cli(['postgres-session', `127.0.0.1:${refused}`, '--user', 'u', '--password-env', 'NOPE'], {});
    assert.equal(p.code, 3);
    assert.match(p.out, /NOPE is not set/);
  });

  it('exit 2 for usage errors, with a message on stderr', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /which probe\?/],
      [['warp-drive', 'x:1'], /unknown probe "warp-drive"[\s\S]*Known probes: tls, postgres-session/],
      [['tls'], /needs a target/],
      [['tls', 'no-port-here'], /is not host:port/],
      [['tls', 'x:1', 'y:2'], /unexpected argument/],
      [['tls', 'x:1', '--floor', 'SSLv3'], /not a TLS version/],
      [['tls', 'x:1', '--starttls', 'smtp'], /only STARTTLS dialect is postgres/],
      [['tls', 'x:1', '--user', 'u'], /--user does not apply to the tls probe/],
      [['tls', 'x:1', '--ca', '/nonexistent/ca.pem'], /cannot read --ca/],
      [['tls', 'x:1', '--timeout-ms', 'soon'], /--timeout-ms "soon"/],
      [['tls', 'x:1', '--bogus'], /Unknown option '--bogus'/],
      [['postgres-session', 'x:1'], /needs --user/],
      [['postgres-session', 'x:1', '--user', 'u', '--entra', '--password-env', 'P'], /cannot be combined/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      assert.match(r.err, re, argv.join(' '));
      assert.equal(r.out, '');
    }
  });
});

describe('probe keyvault-crypto through the CLI, against the loopback Key Vault', () => {
  let kv: KeyVaultTestServer;
  before(async () => {
    kv = await startKeyVaultServer();
    kv.createKey('cmk', { created: 1_700_000_000 });
    kv.rotate('cmk', 1_700_000_100);
    kv.createKey('fresh');
  });
  after(async () => kv.close());

  const run = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runProbeCommand(
      ['keyvault-crypto', ...args, '--ca-file', kv.certFile, '--disable-challenge-resource-verification', '--json'],
      { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {} },
      { credential: fakeCredential(), now: () => new Date('2026-11-28T00:00:00Z') },
    );
    return { code, stdout, stderr };
  };

  it('exits 0 when the current and previous versions both round-trip', async () => {
    const r = await run([`${kv.vaultUrl}/keys/cmk`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout).status, 'compliant');
  });

  it('exits 1 for a key with a single version (dual-key support cannot be shown)', async () => {
    const r = await run([`${kv.vaultUrl}/keys/fresh`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout).status, 'non_compliant');
  });

  it('exits 3 when the key does not exist, and 2 for a target that is not a key URL', async () => {
    assert.equal((await run([`${kv.vaultUrl}/keys/nope`])).code, 3);
    assert.equal((await run(['not-a-url'])).code, 2);
  });
});
