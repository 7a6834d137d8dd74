import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { familySlug, resourceFamily, serializeEvidence } from '../../src/evidence/serialize.js';
import { validateIndexShape, validateSnapshotShape } from '../../src/evidence/schema.js';
import { unsafePathReason } from '../../src/evidence/manifest.js';
import type { EvidenceSet } from '../../src/model.js';
import { KV, PG, ST, sampleEvidence } from './support.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('documents are grouped by resource family: children, extensions and probes go with their resource', () => {
  assert.equal(resourceFamily(ST), 'microsoft.storage/storageaccounts');
  assert.equal(resourceFamily(`${ST}/blobServices/default`), 'microsoft.storage/storageaccounts');
  assert.equal(resourceFamily(`${ST}/probes/tls`), 'microsoft.storage/storageaccounts');
  assert.equal(resourceFamily(`${KV}/providers/microsoft.insights/diagnosticSettings/audit`), 'microsoft.keyvault/vaults');
  assert.equal(resourceFamily('/subscriptions/0'), 'other');
  assert.equal(resourceFamily('not-an-arm-id'), 'other');
  const ser = serializeEvidence(sampleEvidence());
  assert.deepEqual(
    ser.index.map((f) => [f.path, f.documents]),
    [
      ['evidence/microsoft.dbforpostgresql-flexibleservers-0001.json', 2],
      ['evidence/microsoft.keyvault-vaults-0001.json', 3],
      ['evidence/microsoft.storage-storageaccounts-0001.json', 3],
      ['evidence/index.json', 0],
    ],
  );
  assert.equal(ser.documents, 8);
});

test('every part file is a valid snapshot, the index validates, and the digests are the files\' SHA-256', () => {
  const ser = serializeEvidence(sampleEvidence());
  for (const entry of ser.index) {
    const bytes = ser.files[entry.path]!;
    assert.equal(entry.sha256, sha(bytes));
    assert.equal(entry.size, bytes.length);
    assert.equal(unsafePathReason(entry.path), undefined);
    const json = JSON.parse(bytes.toString('utf8'));
    if (entry.path === 'evidence/index.json') {
      assert.deepEqual(validateIndexShape(json), []);
      assert.equal(json.documents, 8);
      assert.equal(json.errors.length, 1);
      for (const f of json.files) assert.equal(f.sha256, ser.index.find((i) => i.path === `evidence/${f.file}`)!.sha256);
    } else {
      assert.deepEqual(validateSnapshotShape(json), []);
      assert.equal(json.documents.length, entry.documents);
    }
  }
  const st = JSON.parse(ser.files['evidence/microsoft.storage-storageaccounts-0001.json']!.toString('utf8'));
  assert.deepEqual(st.provenance.map((p: { documentId: string }) => p.documentId), [ST]);
  const pg = JSON.parse(ser.files['evidence/microsoft.dbforpostgresql-flexibleservers-0001.json']!.toString('utf8'));
  assert.deepEqual(pg.documents.map((d: { id: string }) => d.id), [PG, `${PG}/configurations/require_secure_transport`]);
});

test('same evidence in any order gives the same bytes', () => {
  const a = sampleEvidence();
  const b: EvidenceSet = {
    documents: [...a.documents].reverse().map((d) => Object.fromEntries(Object.entries(d).reverse()) as typeof d),
    provenance: [...a.provenance].reverse(),
    errors: [...a.errors].reverse(),
  };
  const sa = serializeEvidence(a);
  const sb = serializeEvidence(b);
  assert.deepEqual(sa.index, sb.index);
  for (const p of Object.keys(sa.files)) assert.ok(sa.files[p]!.equals(sb.files[p]!), p);
});

test('a large family is split into parts of at most partSize documents, provenance following its document', () => {
  const docs = Array.from({ length: 5 }, (_, i) => ({ id: `${ST.replace('stprod', `st${i}`)}`, type: 'Microsoft.Storage/storageAccounts' }));
  const ser = serializeEvidence(
    { documents: docs, provenance: [{ documentId: docs[4]!.id, source: 'azure' }], errors: [] },
    { partSize: 2 },
  );
  assert.deepEqual(
    ser.index.map((f) => [f.path.replace('evidence/microsoft.storage-storageaccounts-', ''), f.documents]),
    [['0001.json', 2], ['0002.json', 2], ['0003.json', 1], ['evidence/index.json', 0]],
  );
  const last = JSON.parse(ser.files['evidence/microsoft.storage-storageaccounts-0003.json']!.toString('utf8'));
  assert.equal(last.provenance[0].documentId, docs[4]!.id);
});

test('hostile resource types never reach a file name; empty evidence still writes an index', () => {
  assert.equal(familySlug('../../etc/passwd'), 'etc-passwd');
  assert.equal(familySlug('<script>/x'), 'script-x');
  assert.equal(familySlug('...'), 'other');
  const ser = serializeEvidence({ documents: [{ id: '/x/providers/../..%2F<b>/y/z' }], provenance: [], errors: [] });
  for (const p of Object.keys(ser.files)) assert.equal(unsafePathReason(p), undefined, p);
  const empty = serializeEvidence({ documents: [], provenance: [], errors: [] });
  assert.deepEqual(Object.keys(empty.files), ['evidence/index.json']);
  assert.equal(empty.documents, 0);
});
