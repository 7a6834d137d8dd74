import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ATTESTATION_TYPE,
  attestationBundleFiles,
  attestationDocument,
  attestationSummaries,
  loadAttestations,
} from '../../src/policy/attestations.js';
import { EngramError, ValidationError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'engram-attest-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const write = (rel: string, text: string) => {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

const KEY_MGMT = `check: key_management_responsibilities_attested
statement: >-
  The platform team owns the customer-managed keys of PostgreSQL and Blob Storage; the security team approves
  rotation policy changes; both are named in the RACI attached.
owner: Priya Raman (Head of Platform)
date: 2026-09-01
expires: 2027-08-31
evidence:
  - files/raci.csv
  - ../shared/encryption-policy.md
`;

test('an attestation becomes the engram.attestation document AI-GOV-01 reads, with the attached files digested', () => {
  write('set1/files/raci.csv', 'role,owner\nkeys,platform\n');
  write('shared/encryption-policy.md', '# Encryption policy\n');
  write('set1/key-management.yaml', KEY_MGMT);
  write('set1/data-classification.yml', 'check: data_classification_attested\nstatement: Record-plane documents are classified Confidential.\nowner: Lee Chen (DPO)\ndate: 2025-06-01\nexpires: 2026-05-31\n');
  write('set1/README.txt', 'not an attestation');
  const atts = loadAttestations([join(dir, 'set1')]);
  assert.deepEqual(atts.map((a) => a.stem), ['data-classification', 'key-management']);
  const doc = attestationDocument(atts[1]!);
  assert.deepEqual(doc, {
    id: 'attestation://key-management',
    type: ATTESTATION_TYPE,
    name: 'key-management',
    properties: {
      check: 'key_management_responsibilities_attested',
      statement:
        'The platform team owns the customer-managed keys of PostgreSQL and Blob Storage; the security team approves rotation policy changes; both are named in the RACI attached.',
      owner: 'Priya Raman (Head of Platform)',
      date: '2026-09-01',
      expires: '2027-08-31',
      evidence: [
        { path: 'attestations/key-management/raci.csv', sha256: sha('role,owner\nkeys,platform\n') },
        { path: 'attestations/key-management/encryption-policy.md', sha256: sha('# Encryption policy\n') },
      ],
    },
  });
  assert.deepEqual(attestationDocument(atts[0]!).properties!.evidence, []);
  // Copies for the bundle: the YAML and each attached file, byte for byte.
  const files = attestationBundleFiles(atts);
  assert.deepEqual(Object.keys(files).sort(), [
    'attestations/data-classification.yaml',
    'attestations/key-management.yaml',
    'attestations/key-management/encryption-policy.md',
    'attestations/key-management/raci.csv',
  ]);
  assert.equal(files['attestations/key-management.yaml']!.toString('utf8'), KEY_MGMT);
  // Expiry on the injected clock: the classification ran out on 2026-05-31.
  const s = attestationSummaries(atts, new Date('2026-11-28T00:00:00Z'));
  assert.deepEqual(s.map((x) => [x.id, x.expired]), [['attestation://data-classification', true], ['attestation://key-management', false]]);
});

test('a missing attached file is exit 2 naming the file, the YAML and its line', () => {
  const f = write('set2/broken-evidence.yaml', KEY_MGMT.replace('files/raci.csv', 'files/missing-raci.csv'));
  write('shared/encryption-policy.md', '# Encryption policy\n');
  assert.throws(
    () => loadAttestations([f]),
    (e: EngramError) => e.exitCode === 2 && /broken-evidence\.yaml:9: attached evidence file not found: files\/missing-raci\.csv/.test(e.format()) && /\(at \/evidence\/0\)/.test(e.format()),
  );
});

test('schema problems are reported with file, line and field; a bad check id, date and missing owner together', () => {
  const f = write('set3/bad.yaml', 'check: Key Management\nstatement: Keys are managed by the platform team.\ndate: 2026-13-01\nexpires: 2027-01-01\nsigned: yes\n');
  let err: unknown;
  try {
    loadAttestations([f]);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ValidationError, String(err));
  const text = err.format();
  assert.match(text, /bad\.yaml:1: does not have the required form .* \(at \/check\)/);
  assert.match(text, /bad\.yaml:3: must be a date \(YYYY-MM-DD\) \(at \/date\)/);
  assert.match(text, /bad\.yaml:1: missing required field "owner" \(at \/owner\)/);
  assert.match(text, /bad\.yaml:5: unknown field "signed" \(at \/signed\)/);
  assert.match(text, /docs\/attestations\.md/);
});

test('a path that does not exist, and two files with the same stem, are input errors', () => {
  assert.throws(() => loadAttestations([join(dir, 'no-such-dir')]), (e: EngramError) => e.exitCode === 2 && /attestation file or directory not found/.test(e.message));
  const a = write('set4/a/policy.yaml', 'check: encryption_policy_attested\nstatement: The encryption policy is approved.\nowner: A B\ndate: 2026-01-01\nexpires: 2027-01-01\n');
  const b = write('set4/b/policy.yaml', 'check: encryption_policy_attested\nstatement: The encryption policy is approved.\nowner: A B\ndate: 2026-01-01\nexpires: 2027-01-01\n');
  assert.throws(() => loadAttestations([a, b]), (e: EngramError) => e.exitCode === 2 && /two attestations are named "policy"/.test(e.format()));
});
