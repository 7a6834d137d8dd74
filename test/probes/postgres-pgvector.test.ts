import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isAllowListed, queryPgvector, querySettings, runPostgresSessionProbe } from '../../src/probes/postgres-session.js';
import { runTlsProbe } from '../../src/probes/tls.js';
import type { ProbeContext } from '../../src/probes/types.js';
import { startPglite, type PgliteServer } from '../support/pglite-server.js';

const ctx: ProbeContext = { timeoutMs: 15_000, now: () => new Date('2026-11-28T00:00:00Z'), env: {} };

describe('pgvector facts from PGlite with pgvector behind pglite-socket', () => {
  let server: PgliteServer;

  before(async () => {
    // Azure-style settings on the one PGlite backend, so the allow-list comparison runs against real server answers.
    server = await startPglite({ settings: { 'azure.extensions': 'PG_TRGM,VECTOR' } });
  });
  after(async () => {
    await server?.stop();
  });

  it('queryPgvector reads the installed version over the wire', async () => {
    assert.match(server.vectorVersion, /^\d+\.\d+\.\d+$/);
    const client = new pg.Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres', ssl: false });
    await client.connect();
    try {
      const facts = await queryPgvector(client);
      assert.deepEqual(facts, { installedVersion: server.vectorVersion, availableVersion: server.vectorVersion });
      const { values } = await querySettings(client, ['azure.extensions', 'no_such.setting']);
      assert.deepEqual(values, { 'azure.extensions': 'PG_TRGM,VECTOR', 'no_such.setting': null });
    } finally {
      await client.end();
    }
  });

  it('postgres-session --no-tls reports pgvector against azure.extensions and flags the missing TLS', async () => {
    const obs = await runPostgresSessionProbe(`${server.host}:${server.port}`, { user: 'postgres', noTls: true }, ctx);
    assert.deepEqual(obs.observed.pgvector, { installedVersion: server.vectorVersion, availableVersion: server.vectorVersion, allowListed: true });
    assert.equal(obs.status, 'non_compliant');
    assert.deepEqual((obs.observed.session as { tls: boolean }).tls, false);
    const problems = obs.observed.problems as string[];
    assert.ok(problems.some((p) => /accepts sessions without TLS/.test(p)));
    assert.equal((obs.observed.settings as Record<string, string | null>).require_secure_transport, null);
  });

  it('without --no-tls the probe observes that PGlite offers no TLS (SSLRequest answered N)', async () => {
    const session = await runPostgresSessionProbe(`${server.host}:${server.port}`, { user: 'postgres' }, ctx);
    assert.equal(session.status, 'non_compliant');
    assert.equal(session.observed.tlsOffered, false);
    const tls = await runTlsProbe(`${server.host}:${server.port}`, { starttls: 'postgres' }, ctx);
    assert.equal(tls.status, 'non_compliant');
    assert.equal(tls.observed.starttlsReply, 'N');
  });

  it('isAllowListed compares the comma-separated list case-insensitively and says null when there is no list', () => {
    assert.equal(isAllowListed('PG_TRGM,VECTOR', 'vector'), true);
    assert.equal(isAllowListed(' vector ', 'vector'), true);
    assert.equal(isAllowListed('PG_TRGM,PGVECTOR_X', 'vector'), false);
    assert.equal(isAllowListed('', 'vector'), false);
    assert.equal(isAllowListed(null, 'vector'), null);
  });
});
