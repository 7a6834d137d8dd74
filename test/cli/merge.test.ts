/**
 * `engram-audit merge`: the shards of the demo estate, merged, equal one unsharded scan (results.json and evidence
 * documents); parts are verified against the keys the caller trusts; a tampered or untrusted part is refused.
 */
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSnapshot } from '../../src/evidence/index.js';
import { publicKeyFingerprint } from '../../src/evidence/signing.js';
import type { EvidenceSet, ResultsFile } from '../../src/model.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { repoRoot } from '../support/paths.js';
import { tempDir, runCliAt } from '../support/cli.js';

const PROD = '00000000-0000-0000-0000-000000000001';
const NONPROD = '00000000-0000-0000-0000-000000000002';
const NOW = new Date('2026-11-28T09:00:00.000Z');

const cli = runCliAt(NOW);

const read = (dir: string): ResultsFile => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));

/** results.json without what legitimately differs between two runs: run id, times, signing key, shard bookkeeping. */
function comparable(r: ResultsFile): unknown {
  const { runId: _r, startedAt: _s, finishedAt: _f, signing: _k, ...rest } = r;
  const { shard: _sh, parts: _p, ...scope } = rest.scope;
  return { ...rest, scope };
}

/** The evidence a bundle judged on: documents, list records and collection errors, in canonical order. */
function evidenceFacts(e: EvidenceSet) {
  const sorted = (xs: unknown[]) => xs.map((x) => canonicalJson(x)).sort();
  return { documents: sorted(e.documents), lists: sorted(e.lists ?? []), errors: sorted(e.errors) };
}

describe('merge', () => {
  const tmp = tempDir('engram-merge-');
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const partKey = join(tmp, 'part-key.pem');
  const partPub = join(tmp, 'part-key.pub.pem');
  let partFingerprint = '';
  const scan = (out: string, ...extra: string[]) =>
    cli(['scan', '--control', 'AI-SEC-01', '--replay', 'fixtures/demo/replay', '--format', 'json', '--sign-key', partKey, '--out', join(tmp, out), ...extra]);

  before(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(partKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(partPub, publicKey.export({ type: 'spki', format: 'pem' }));
    partFingerprint = publicKeyFingerprint(publicKey);
    for (const [out, extra] of [
      ['whole', []],
      ['s1', ['--shard', '1/2']],
      ['s2', ['--shard', '2/2']],
      ['list-whole', ['--subscription', `${PROD},${NONPROD}`]],
      ['list-s1', ['--subscription', `${PROD},${NONPROD}`, '--shard', '1/2']],
      ['list-s2', ['--subscription', `${PROD},${NONPROD}`, '--shard', '2/2']],
    ] as const) {
      const r = await scan(out, ...extra);
      assert.ok(r.code === 0 || r.code === 1, `${out}: ${r.stderr}`);
    }
  });

  it('sharded-then-merged equals an unsharded scan of the same estate: results.json and evidence documents', async () => {
    for (const [whole, a, b, merged] of [
      ['whole', 's1', 's2', 'merged'],
      ['list-whole', 'list-s1', 'list-s2', 'list-merged'],
    ]) {
      const r = await cli(['merge', join(tmp, a), join(tmp, b), '--key', partPub, '--format', 'json,html', '--out', join(tmp, merged)]);
      assert.equal(r.code, 1, r.stderr); // the demo estate has findings, in both runs
      const m = read(join(tmp, merged));
      const w = read(join(tmp, whole));
      assert.deepEqual(comparable(m), comparable(w), `${merged} vs ${whole}`);
      assert.ok(m.results.length > 40 && m.results.some((x) => x.status === 'fail'), 'a real comparison, not two empty runs');
      assert.deepEqual(evidenceFacts(await loadSnapshot(join(tmp, merged))), evidenceFacts(await loadSnapshot(join(tmp, whole))));
      // The shards judged apart miss cross-subscription references; the merge re-evaluates the union.
      const partsTotal = read(join(tmp, a)).results.length + read(join(tmp, b)).results.length;
      assert.ok(partsTotal >= m.results.length);
      // Scope lists the parts, in shard order, with the key each was verified under.
      assert.deepEqual(
        m.scope.parts?.map((p) => [p.shard, p.subscriptions, p.fingerprint, p.trust]),
        [
          [{ index: 1, count: 2 }, [NONPROD], partFingerprint, 'given-key'],
          [{ index: 2, count: 2 }, [PROD], partFingerprint, 'given-key'],
        ],
      );
      assert.equal(m.scope.shard, undefined);
      assert.equal(m.startedAt, NOW.toISOString());
    }
    assert.equal((await cli(['verify', join(tmp, 'merged')])).code, 0);
    assert.match(readFileSync(join(tmp, 'merged', 'report.html'), 'utf8'), /staidevlegacy/);
  });

  it('merges evaluate bundles of disjoint snapshots into what evaluating the whole snapshot gives', async () => {
    const { documents } = JSON.parse(readFileSync(join(repoRoot, 'fixtures', 'demo', 'snapshot.json'), 'utf8')) as { documents: { id: string }[] };
    const write = (name: string, docs: unknown[]) => writeFileSync(join(tmp, name), JSON.stringify({ documents: docs }));
    write('snap-whole.json', documents);
    write('snap-prod.json', documents.filter((d) => d.id.includes(PROD)));
    write('snap-nonprod.json', documents.filter((d) => d.id.includes(NONPROD)));
    for (const n of ['whole', 'prod', 'nonprod']) {
      const r = await cli(['evaluate', '--evidence', join(tmp, `snap-${n}.json`), '--control', 'AI-SEC-01', '--format', 'json', '--out', join(tmp, `ev-${n}`)]);
      assert.ok(r.code === 1 || r.code === 3, r.stderr);
    }
    const r = await cli(['merge', join(tmp, 'ev-prod'), join(tmp, 'ev-nonprod'), '--format', 'json', '--out', join(tmp, 'ev-merged')]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(comparable(read(join(tmp, 'ev-merged'))), comparable(read(join(tmp, 'ev-whole'))));
    assert.equal(read(join(tmp, 'ev-merged')).scope.source, 'snapshot');
  });

  it('accepts parts signed by a trusted fingerprint, and refuses them under another', async () => {
    const ok = await cli(['merge', join(tmp, 's1'), join(tmp, 's2'), '--fingerprint', partFingerprint.replace(/(..)/g, '$1:').slice(0, -1), '--format', 'json', '--out', join(tmp, 'fp')]);
    assert.equal(ok.code, 1, ok.stderr);
    assert.deepEqual(read(join(tmp, 'fp')).scope.parts?.map((p) => p.trust), ['trusted-fingerprint', 'trusted-fingerprint']);
    const bad = await cli(['merge', join(tmp, 's1'), join(tmp, 's2'), '--fingerprint', 'ab'.repeat(32), '--format', 'json', '--out', join(tmp, 'fp-bad')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /s1: part does not verify under any trusted key: the signing key \(fingerprint [0-9a-f]{64}\) is not one of the trusted fingerprints/);
    assert.throws(() => readFileSync(join(tmp, 'fp-bad', 'results.json')), 'nothing written');
  });

  it('refuses a part whose key is not the one given with --key', async () => {
    const other = join(tmp, 'other.pub.pem');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const r = await cli(['merge', join(tmp, 's1'), join(tmp, 's2'), '--key', other, '--format', 'json', '--out', join(tmp, 'key-bad')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /part does not verify under any trusted key: the signature in SHA256SUMS.sig is not valid for the given key/);
  });

  it('refuses a part changed after signing, naming it and the changed file', async () => {
    const r0 = await scan('tampered', '--shard', '2/2');
    assert.equal(r0.code, 1);
    const evidence = join(tmp, 'tampered', 'evidence');
    const part = readdirSync(evidence).find((f) => f.startsWith('microsoft.storage'))!;
    appendFileSync(join(evidence, part), ' ');
    const r = await cli(['merge', join(tmp, 's1'), join(tmp, 'tampered'), '--format', 'json', '--out', join(tmp, 'tampered-merged')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`tampered: part does not verify: evidence/${part.replace(/\./g, '\\.')} changed`));
  });

  it('turns a missing shard into error results for the whole scope, never a silent smaller merge', async () => {
    const r = await cli(['merge', join(tmp, 's2'), '--format', 'json', '--out', join(tmp, 'half')]);
    assert.equal(r.code, 1, r.stderr); // the prod half has failures
    assert.match(r.stderr, /note: shard 1\/2 is missing/);
    const m = read(join(tmp, 'half'));
    assert.ok(m.coverage.errors.some((e) => e.collector === 'merge' && e.code === 'SHARD_MISSING' && e.scope === 'shard 1/2'));
    const incomplete = m.results.filter((x) => x.check === 'collection_incomplete');
    assert.equal(incomplete.length, 1);
    assert.equal(incomplete[0]!.status, 'error');
    assert.equal(m.controls[0]!.counts.error, 1);
  });

  it('refuses parts that cannot belong to one run', async () => {
    const twice = await cli(['merge', join(tmp, 's1'), join(tmp, 'list-s1'), '--format', 'json', '--out', join(tmp, 'x1')]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /shard 1\/2 was given twice/);
    const mixed = await cli(['merge', join(tmp, 's1'), join(tmp, 'whole'), '--format', 'json', '--out', join(tmp, 'x2')]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /cannot merge sharded and unsharded parts/);
    const same = await cli(['merge', join(tmp, 's1'), join(tmp, 's1'), '--format', 'json', '--out', join(tmp, 'x3')]);
    assert.equal(same.code, 2);
    assert.match(same.stderr, /was given twice/);
    const none = await cli(['merge', '--out', join(tmp, 'x4')]);
    assert.equal(none.code, 2);
    const noOut = await cli(['merge', join(tmp, 's1')]);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /merge needs --out DIR/);
    const notBundle = await cli(['merge', join(tmp, 'nope'), '--out', join(tmp, 'x5')]);
    assert.equal(notBundle.code, 2);
    assert.match(notBundle.stderr, /nope/);
  });
});
