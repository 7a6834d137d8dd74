import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { AzureDocument, EvidenceSet } from '../../src/model.js';
import { probeTargetsFromEvidence, runProbes } from '../../src/probes/run.js';
import { tlsProbe } from '../../src/probes/tls.js';
import type { ProbeContext, ProbeDefinition } from '../../src/probes/types.js';
import { makeCertificates, type TestCertificates } from '../support/certs.js';
import { shared } from '../support/paths.js';
import { closedPort, startHttpsFloorServer, type RunningServer } from '../support/tls-servers.js';

const body = (path: string): AzureDocument => JSON.parse(readFileSync(shared('azure-api-examples', path), 'utf8')).responses['200'].body;
const evidence = (documents: AzureDocument[]): EvidenceSet => ({ documents, provenance: [], errors: [] });
const ctx: ProbeContext = { timeoutMs: 5000, now: () => new Date('2026-11-28T00:00:00Z'), env: {} };

const keyDoc: AzureDocument = {
  id: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1/keys/k1',
  type: 'Microsoft.KeyVault/vaults/keys',
  name: 'k1',
  tags: { environment: 'dev' },
  properties: { keyUri: 'https://v1.vault.azure.net/keys/k1', keyUriWithVersion: 'https://v1.vault.azure.net/keys/k1/abc' },
};

describe('probe targets from evidence', () => {
  it('derives the PostgreSQL, blob, vault and key targets from the wire documents', () => {
    const docs = [
      body('postgresql-flexible/2025-08-01/ServersGet.json'),
      body('storage/2025-08-01/StorageAccountGetProperties.json'),
      body('keyvault-mgmt/2025-05-01/getVault.json'),
      keyDoc,
    ];
    const targets = probeTargetsFromEvidence(evidence(docs));
    assert.deepEqual(
      targets.map((t) => [t.probe, t.target, t.options]),
      [
        ['keyvault-crypto', 'https://v1.vault.azure.net/keys/k1', { tags: { environment: 'dev' } }],
        ['tls', 'exampleserver.postgres.database.azure.com:5432', { starttls: 'postgres' }],
        ['tls', 'https://sample-vault.vault.azure.net', { http: true, path: '/keys?api-version=7.5' }],
        ['tls', 'https://sto8596.blob.core.windows.net/', { http: true }],
      ],
    );
    assert.equal(targets[1].resourceId, docs[0].id);
  });

  it('drills a key only where it is used and a canary container is given: the canary goes to a storage account that encrypts with it, and every user of the key is read back through ARM', () => {
    const account: AzureDocument = {
      id: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1',
      type: 'Microsoft.Storage/storageAccounts',
      name: 'st1',
      tags: { owner: 'data' },
      properties: { primaryEndpoints: { blob: 'https://st1.blob.core.windows.net/' }, encryption: { keySource: 'Microsoft.Keyvault', keyvaultproperties: { keyvaulturi: 'https://V1.vault.azure.net/', keyname: 'K1', keyversion: '' } } },
    };
    const server: AzureDocument = {
      id: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1',
      type: 'Microsoft.DBforPostgreSQL/flexibleServers',
      name: 'pg1',
      properties: { dataEncryption: { type: 'AzureKeyVault', primaryKeyURI: 'https://v1.vault.azure.net/keys/k1/0123' } },
    };
    const drill = (opts?: { blobCanaryContainer: string }) => probeTargetsFromEvidence(evidence([keyDoc, account, server]), opts).filter((t) => t.probe === 'rotation-drill');
    assert.deepEqual(drill(), [], 'no canary container: no drill');
    const [t] = drill({ blobCanaryContainer: 'engram-canary' });
    assert.equal(t.target, 'https://v1.vault.azure.net/keys/k1');
    assert.equal(t.options.container, 'https://st1.blob.core.windows.net/engram-canary');
    assert.deepEqual(t.options.armResources, [account.id, server.id]);
    assert.deepEqual(t.options.tags, { owner: 'data', environment: 'dev' }, 'the key and account tags decide production');
    const unused = probeTargetsFromEvidence(evidence([keyDoc]), { blobCanaryContainer: 'c' }).filter((x) => x.probe === 'rotation-drill');
    assert.deepEqual(unused, [], 'a key no storage account uses is not drilled');
  });

  it('adds postgres-session and blob-canary only when told how to log in and where to write', () => {
    const docs = [body('postgresql-flexible/2025-08-01/ServersGet.json'), body('storage/2025-08-01/StorageAccountGetProperties.json')];
    const targets = probeTargetsFromEvidence(evidence(docs), { postgres: { user: 'auditor', entra: true }, blobCanaryContainer: 'engram-canary' });
    assert.deepEqual(targets.map((t) => t.probe), ['blob-canary', 'postgres-session', 'tls', 'tls']);
    assert.deepEqual(targets[1].options, { user: 'auditor', entra: true });
    assert.equal(targets[0].options.container, 'engram-canary');
  });

  it('one target per server across a subscription list, none for documents without an endpoint', () => {
    const list = JSON.parse(readFileSync(shared('azure-api-examples', 'postgresql-flexible/2025-08-01/ServersListBySubscription.json'), 'utf8')).responses['200'].body.value as AzureDocument[];
    const targets = probeTargetsFromEvidence(evidence([...list, { id: '/x/flexibleServers/nofqdn', type: 'Microsoft.DBforPostgreSQL/flexibleServers', properties: {} }]));
    assert.deepEqual(targets.map((t) => t.target), [1, 2, 3, 4].map((i) => `exampleserver${i}.postgres.database.azure.com:5432`));
    assert.deepEqual(probeTargetsFromEvidence(evidence([])), []);
  });
});

describe('runProbes', () => {
  let certs: TestCertificates;
  let blob: RunningServer;
  let refused: number;
  before(async () => {
    certs = makeCertificates();
    [blob, refused] = await Promise.all([startHttpsFloorServer({ certPem: certs.certPem, keyPem: certs.keyPem }), closedPort()]);
  });
  after(async () => {
    await blob?.close();
    certs?.cleanup();
  });

  const storage = (name: string, blobUrl: string): AzureDocument => ({
    id: `/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${name}`,
    type: 'Microsoft.Storage/storageAccounts',
    name,
    properties: { primaryEndpoints: { blob: blobUrl } },
  });

  it('level none runs nothing', async () => {
    const out = await runProbes({ level: 'none', evidence: evidence([storage('a', `https://127.0.0.1:${blob.port}/`)]), ctx });
    assert.deepEqual(out, { documents: [], provenance: [], errors: [] });
  });

  it('safe: observations become engram.probe documents with provenance; a failure to observe is also a collection error', async () => {
    // The loopback test CA is not in Node's roots, so the run uses a tls definition that trusts it (as --ca would).
    const trusting: ProbeDefinition = { ...tlsProbe, run: (t, o, c) => tlsProbe.run(t, { ...o, ca: certs.caPem }, c) } as ProbeDefinition;
    const ev = evidence([storage('good', `https://127.0.0.1:${blob.port}/`), storage('gone', `https://127.0.0.1:${refused}/`)]);
    const out = await runProbes({ level: 'safe', evidence: ev, ctx, probes: [trusting] });
    assert.deepEqual(
      out.documents.map((d) => [d.id, d.type, (d.properties as { status: string }).status]),
      [
        [`${ev.documents[1].id}/probes/tls`, 'engram.probe/tls', 'error'],
        [`${ev.documents[0].id}/probes/tls`, 'engram.probe/tls', 'compliant'],
      ],
    );
    assert.deepEqual(out.provenance.map((p) => [p.documentId, p.source, p.method]), out.documents.map((d) => [d.id, 'probe', 'PROBE']));
    assert.equal(out.errors.length, 1);
    assert.equal(out.errors[0].collector, 'probe.tls');
    assert.equal(out.errors[0].resourceId, ev.documents[1].id);
    assert.equal(out.errors[0].code, 'E_PROBE_UNREACHABLE');
  });

  it('runs writing probes only with level all, and skips targets whose probe is not registered', async () => {
    const ran: string[] = [];
    const mk = (name: string, writes: boolean): ProbeDefinition => ({
      name,
      writes,
      description: name,
      run: async (target, _o, c) => {
        ran.push(name);
        return { probe: name, target, status: 'compliant', summary: 'ok', observed: {}, startedAt: c.now().toISOString(), durationMs: 0 };
      },
    });
    const probes = [mk('keyvault-crypto', false), mk('rotation-drill', true)];
    const user = storage('s', 'https://s.blob.core.windows.net/');
    user.properties = { ...user.properties, encryption: { keyvaultproperties: { keyvaulturi: 'https://v1.vault.azure.net', keyname: 'k1' } } };
    const ev = evidence([keyDoc, user]);
    const targetOptions = { blobCanaryContainer: 'canary' };
    const safe = await runProbes({ level: 'safe', evidence: ev, ctx, probes, targetOptions });
    assert.deepEqual(ran, ['keyvault-crypto']);
    assert.equal(safe.documents.length, 1);
    ran.length = 0;
    const all = await runProbes({ level: 'all', evidence: ev, ctx, probes, targetOptions });
    assert.deepEqual(ran.sort(), ['keyvault-crypto', 'rotation-drill']);
    assert.deepEqual(all.documents.map((d) => d.id), [`${keyDoc.id}/probes/keyvault-crypto`, `${keyDoc.id}/probes/rotation-drill`]);
    assert.deepEqual(all.errors, []);
  });

  it('a derived target the probe rejects as a usage error is an error observation, not a crashed scan', async () => {
    const ev = evidence([storage('bad', 'https://[zz/')]);
    const targets = [{ probe: 'tls', target: 'not a target', resourceId: ev.documents[0].id, options: {} }];
    const out = await runProbes({ level: 'safe', evidence: ev, ctx, targets });
    assert.equal(out.documents.length, 1);
    assert.equal((out.documents[0].properties as { status: string }).status, 'error');
    assert.equal(out.errors[0].code, 'E_USAGE');
  });
});
