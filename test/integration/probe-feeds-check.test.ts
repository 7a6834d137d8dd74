/**
 * Issue 4's central claim, end to end with real servers: probe observations are evidence that feed AI-SEC-01, so a
 * probe can fail a check that the configuration passed. The configuration documents say TLSv1.2 (the compliant
 * AI-SEC-01 snapshot); the real PostgreSQL 15 behind it is the weak one, which still completes TLS 1.0 handshakes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { loadCatalog, selectControls } from '../../src/controls/index.js';
import { evaluate } from '../../src/engine/index.js';
import type { AzureDocument, EvidenceSet } from '../../src/model.js';
import { runProbes } from '../../src/probes/run.js';
import { makeCertificates, type TestCertificates } from '../support/certs.js';
import { fixture } from '../support/paths.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';

const NOW = new Date('2026-11-28T00:00:00Z');

function compliantEvidence(): EvidenceSet {
  const snap = JSON.parse(readFileSync(fixture('snapshots', 'ai-sec-01', 'compliant.json'), 'utf8')) as { documents: AzureDocument[] };
  // Keep the configuration only: the observations come from the real server in this test.
  return { documents: snap.documents.filter((d) => !String(d.type).startsWith('engram.probe/')), provenance: [], errors: [] };
}

describe('a probe fails a check the configuration passed', () => {
  let certs: TestCertificates;
  let weak: PostgresServer;
  let strict: PostgresServer;
  before(async () => {
    certs = makeCertificates();
    [weak, strict] = await Promise.all([
      startPostgres({ mode: 'weak', certPem: certs.certPem, keyPem: certs.keyPem }),
      startPostgres({ mode: 'strict', certPem: certs.certPem, keyPem: certs.keyPem }),
    ]);
  });
  after(async () => {
    await Promise.all([weak?.stop(), strict?.stop()]);
    certs?.cleanup();
  });

  async function judge(server: PostgresServer) {
    const evidence = compliantEvidence();
    const pg = evidence.documents.find((d) => String(d.type).toLowerCase() === 'microsoft.dbforpostgresql/flexibleservers');
    assert.ok(pg, 'the compliant snapshot has a PostgreSQL server');
    // The target is the real local server standing in for the Azure endpoint the document names.
    const probed = await runProbes({
      level: 'safe',
      evidence,
      targets: [{ probe: 'tls', target: `127.0.0.1:${server.port}`, resourceId: pg.id, options: { starttls: 'postgres', ca: certs.caPem } }],
      ctx: { timeoutMs: 10_000, now: () => NOW, env: {} },
    });
    evidence.documents.push(...probed.documents);
    evidence.provenance.push(...probed.provenance);
    evidence.errors.push(...probed.errors);
    const catalog = await loadCatalog();
    const { results } = evaluate(evidence, selectControls(catalog, ['AI-SEC-01']), { now: NOW });
    const config = results.find((r) => r.check === 'postgres_min_tls_version' && r.resourceId === pg.id);
    const observed = results.find((r) => r.check === 'endpoint_tls_floor_observed');
    return { config, observed, probe: probed.documents[0], provenance: probed.provenance[0] };
  }

  it('the weak server: the setting passes, the observation fails, and both are in the results', async () => {
    const { config, observed, probe, provenance } = await judge(weak);
    assert.equal(config?.status, 'pass', config?.message);
    assert.equal(observed?.status, 'fail', observed?.message);
    assert.match(observed!.message, /non_compliant/);
    assert.ok(observed!.evidence.some((id) => id.endsWith('/probes/tls')), 'the result cites the observation document');
    assert.equal((probe.properties as { status: string }).status, 'non_compliant');
    assert.equal(provenance.source, 'probe');
  });

  it('the strict server: both the setting and the observation pass', async () => {
    const { config, observed } = await judge(strict);
    assert.equal(config?.status, 'pass');
    assert.equal(observed?.status, 'pass', observed?.message);
  });
});
