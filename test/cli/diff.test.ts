/**
 * `engram-audit diff`: two evaluations of the demo snapshot, the second with one new failure, one fix, one pass that
 * turned into an error, one new and one removed resource; exit codes, JSON, the packet section, refusals.
 */
import { strict as assert } from 'node:assert';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BundleDiff } from '../../src/bundle-ops/diff.js';
import type { AzureDocument, ListRecord } from '../../src/model.js';
import { repoRoot } from '../support/paths.js';
import { tempDir, runCliAt } from '../support/cli.js';

const NOW = new Date('2026-11-28T09:00:00.000Z');
const PROD_RG = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ai-prod/providers';

const cli = runCliAt(NOW);

/** The demo snapshot with known drift applied. */
function drifted(): { documents: AzureDocument[]; lists: ListRecord[] } {
  const { documents, lists = [] } = JSON.parse(readFileSync(join(repoRoot, 'fixtures', 'demo', 'snapshot.json'), 'utf8')) as { documents: AzureDocument[]; lists?: ListRecord[] };
  const out: AzureDocument[] = [];
  for (const original of documents) {
    const d = structuredClone(original);
    if (d.id.includes('/flexibleServers/psql-ai-uat')) continue; // removed resource (and its children)
    if (d.id.endsWith('psql-ai-prod/configurations/ssl_min_protocol_version')) continue; // pass -> error (evidence gone)
    if (d.id.endsWith('storageAccounts/staiprod01')) {
      (d.properties as Record<string, unknown>).minimumTlsVersion = 'TLS1_0'; // pass -> fail
      out.push({ ...structuredClone(original), id: original.id.replace('staiprod01', 'staiprodnew'), name: 'staiprodnew' }); // new resource
    }
    if (d.id.endsWith('storageAccounts/staiprodpinned')) {
      const kv = ((d.properties as { encryption: { keyvaultproperties: Record<string, unknown> } }).encryption.keyvaultproperties);
      delete kv.keyversion; // fail -> pass
    }
    out.push(d);
  }
  // The list records travel with the documents ("read and empty" stays a fail, not an error), except the removed server's.
  return { documents: out, lists: lists.filter((l) => !l.parentId.includes('/flexibleServers/psql-ai-uat')) };
}

describe('diff', () => {
  const tmp = tempDir('engram-diff-');
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const oldDir = join(tmp, 'old');
  const newDir = join(tmp, 'new');

  before(async () => {
    writeFileSync(join(tmp, 'new.json'), JSON.stringify(drifted()));
    const a = await cli(['evaluate', '--evidence', 'fixtures/demo/snapshot.json', '--control', 'AI-SEC-01', '--format', 'json', '--out', oldDir]);
    const b = await cli(['evaluate', '--evidence', join(tmp, 'new.json'), '--control', 'AI-SEC-01', '--format', 'json', '--out', newDir]);
    assert.equal(a.code, 1, a.stderr);
    assert.equal(b.code, 1, b.stderr);
  });

  it('lists new failures, fixed, other changes, new and removed resources and changed evidence; exit 1 for the new failure', async () => {
    const r = await cli(['diff', oldDir, newDir, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const d = JSON.parse(r.stdout) as BundleDiff;
    assert.deepEqual(d.newFailures.map((x) => [x.check, x.resourceName, x.oldStatus, x.newStatus, x.severity]), [['storage_min_tls_version', 'staiprod01', 'pass', 'fail', 'high']]);
    assert.deepEqual(d.fixed.map((x) => [x.check, x.resourceName, x.oldStatus, x.newStatus]), [['storage_versionless_key', 'staiprodpinned', 'fail', 'pass']]);
    assert.deepEqual(d.statusChanged.map((x) => [x.check, x.resourceName, x.oldStatus, x.newStatus]), [['postgres_min_tls_version', 'psql-ai-prod', 'pass', 'error']]);
    assert.deepEqual(d.newResources.map((x) => x.resourceName), ['staiprodnew']);
    assert.deepEqual(d.removedResources.map((x) => [x.resourceName, x.resourceType]), [['psql-ai-uat', 'microsoft.dbforpostgresql/flexibleservers']]);
    assert.equal(d.evidence.compared, true);
    assert.deepEqual(d.evidence.changed.map((x) => x.id), [`${PROD_RG}/Microsoft.Storage/storageAccounts/staiprod01`, `${PROD_RG}/Microsoft.Storage/storageAccounts/staiprodpinned`]);
    for (const c of d.evidence.changed) assert.match(c.oldSha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(d.evidence.added, [`${PROD_RG}/Microsoft.Storage/storageAccounts/staiprodnew`]);
    assert.equal(d.evidence.removed.length, 8, 'psql-ai-uat, its 6 children (4 configurations, a firewall rule, a diagnostic setting) and one configuration');
    assert.deepEqual(d.controls, { added: [], removed: [] });
    assert.equal(d.old.verification, 'verified');
  });

  it('evaluate --diff-against puts the changes into the new signed packet itself', async () => {
    const out = join(tmp, 'with-diff');
    const r = await cli(['evaluate', '--evidence', join(tmp, 'new.json'), '--control', 'AI-SEC-01', '--format', 'json,html', '--out', out, '--diff-against', oldDir]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /Changes since .*old:/);
    assert.match(r.stdout, /New failures \(1\)/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /Changes since the previous run/);
    assert.match(html, /staiprodnew/);
    assert.equal((await cli(['verify', out])).code, 0, 'the section is inside the signed bundle');
  });

  it('--diff-against a path that is not a bundle is an input error before anything is evaluated', async () => {
    const out = join(tmp, 'never');
    const r = await cli(['evaluate', '--evidence', join(tmp, 'new.json'), '--control', 'AI-SEC-01', '--format', 'json', '--out', out, '--diff-against', join(tmp, 'nope')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope/);
  });

  it('prints a text summary by default and writes JSON, text or the packet section with --out', async () => {
    const r = await cli(['diff', oldDir, newDir, '--out', join(tmp, 'out', 'changes.html')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /New failures \(1\):\n  \[high\] storage_min_tls_version staiprod01 \(was pass\): /);
    assert.match(r.stdout, /Fixed \(1\):\n  \[medium\] storage_versionless_key staiprodpinned: fail -> pass/);
    assert.match(r.stdout, /Result: 1 new failure, 1 fixed, 1 other change, 1 new and 1 removed resource, 2 changed evidence documents/);
    const html = readFileSync(join(tmp, 'out', 'changes.html'), 'utf8');
    assert.match(html, /<section class="section" id="changes">/);
    assert.match(html, /Changes since the previous run/);
    assert.match(html, /New failures: 1/);
    assert.match(html, /staiprodnew/);
    assert.match(html, /psql-ai-uat/);
    assert.match(html, /Content-Security-Policy/);
    // The evidence index shows the digests NEW's SHA256SUMS lists.
    const sums = readFileSync(join(newDir, 'SHA256SUMS'), 'utf8').split('\n').filter((l) => l.includes('  evidence/'));
    assert.ok(sums.length >= 4);
    for (const line of sums) assert.ok(html.includes(line.slice(0, 64)), line);
    const j = await cli(['diff', oldDir, newDir, '--json', '--out', join(tmp, 'changes.json')]);
    assert.deepEqual(JSON.parse(readFileSync(join(tmp, 'changes.json'), 'utf8')), JSON.parse(j.stdout));
    await cli(['diff', oldDir, newDir, '--out', join(tmp, 'changes.txt')]);
    assert.equal(readFileSync(join(tmp, 'changes.txt'), 'utf8'), r.stdout);
  });

  it('exits 0 when nothing new fails: the same run twice, the reverse direction, or new failures below --fail-on', async () => {
    const same = await cli(['diff', oldDir, oldDir, '--json']);
    assert.equal(same.code, 0);
    const d = JSON.parse(same.stdout) as BundleDiff;
    assert.deepEqual([d.newFailures, d.fixed, d.statusChanged, d.newResources, d.removedResources, d.evidence.changed], [[], [], [], [], [], []]);
    const reverse = await cli(['diff', newDir, oldDir, '--json']);
    const rd = JSON.parse(reverse.stdout) as BundleDiff;
    // Reversed, the pinned key version fails again, and the returning psql-ai-uat brings its failure as a new one.
    assert.deepEqual(rd.newFailures.map((x) => [x.check, x.resourceName, x.oldStatus ?? 'new']), [
      ['postgres_network_isolation', 'psql-ai-uat', 'new'],
      ['storage_versionless_key', 'staiprodpinned', 'pass'],
    ]);
    assert.equal(reverse.code, 1);
    assert.equal((await cli(['diff', oldDir, newDir, '--fail-on', 'critical'])).code, 0);
    assert.equal((await cli(['diff', oldDir, newDir, '--fail-on', 'high'])).code, 1);
  });

  it('refuses a bundle that does not verify unless --no-verify, naming it', async () => {
    const tampered = join(tmp, 'tampered');
    mkdirSync(tampered);
    for (const f of ['results.json', 'SHA256SUMS', 'SHA256SUMS.sig', 'signing-key.pub.pem', 'bundle.dsse.json']) copyFileSync(join(newDir, f), join(tampered, f));
    mkdirSync(join(tampered, 'evidence'));
    for (const f of readdirSync(join(newDir, 'evidence'))) {
      copyFileSync(join(newDir, 'evidence', f), join(tampered, 'evidence', f));
    }
    appendFileSync(join(tampered, 'results.json'), '\n');
    const r = await cli(['diff', oldDir, tampered]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tampered: bundle does not verify, refusing to compare it: results\.json changed/);
    assert.match(r.stderr, /--no-verify/);
    const forced = await cli(['diff', oldDir, tampered, '--no-verify']);
    assert.equal(forced.code, 1);
    assert.match(forced.stderr, /tampered was not verified \(--no-verify\)/);
    assert.match(forced.stdout, /New: .*tampered .*NOT VERIFIED/);
  });

  it('with --fingerprint, refuses a bundle signed by another key', async () => {
    const fp = (JSON.parse(readFileSync(join(newDir, 'results.json'), 'utf8')) as { signing: { fingerprint: string } }).signing.fingerprint;
    const r = await cli(['diff', oldDir, newDir, '--fingerprint', fp]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /old: bundle does not verify, refusing to compare it: the signing key \(fingerprint [0-9a-f]{64}\) is not one of the trusted fingerprints/);
    assert.equal((await cli(['diff', newDir, newDir, '--fingerprint', fp])).code, 0);
  });

  it('compares a bare results.json without evidence, and says so', async () => {
    const bare = join(tmp, 'bare');
    mkdirSync(bare);
    copyFileSync(join(oldDir, 'results.json'), join(bare, 'results.json'));
    const r = await cli(['diff', join(bare, 'results.json'), join(newDir, 'results.json'), '--json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /results\.json outside a bundle: not verified, evidence not compared/);
    const d = JSON.parse(r.stdout) as BundleDiff;
    assert.equal(d.evidence.compared, false);
    assert.equal(d.old.verification, 'unbundled');
    assert.equal(d.new.verification, 'verified', 'a results.json inside a bundle is the bundle');
    assert.equal(d.newFailures.length, 1);
  });

  it('exits 2 naming the path for input that is not a run', async () => {
    const missing = await cli(['diff', join(tmp, 'nope'), newDir]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope: not found/);
    const empty = join(tmp, 'empty-dir');
    mkdirSync(empty);
    const notBundle = await cli(['diff', empty, newDir]);
    assert.equal(notBundle.code, 2);
    assert.match(notBundle.stderr, /empty-dir: not an engram-audit bundle/);
    writeFileSync(join(tmp, 'other.json'), '{"hello": 1}');
    const notResults = await cli(['diff', join(tmp, 'other.json'), newDir]);
    assert.equal(notResults.code, 2);
    assert.match(notResults.stderr, /other\.json: not engram-audit results/);
    const one = await cli(['diff', newDir]);
    assert.equal(one.code, 2);
    assert.match(one.stderr, /diff takes two runs/);
  });
});
