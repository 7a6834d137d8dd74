/** `scan --shard i/n` over the demo replay: disjoint shares, recorded in scope, an empty shard never scans everything. */
import { strict as assert } from 'node:assert';
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ResultsFile } from '../../src/model.js';
import { repoRoot } from '../support/paths.js';
import { tempDir, runCliAt } from '../support/cli.js';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;
const PROD = '00000000-0000-0000-0000-000000000001';
const NONPROD = '00000000-0000-0000-0000-000000000002';
const NOW = new Date('2026-11-28T09:00:00.000Z');

const cli = runCliAt(NOW);

const read = (dir: string): ResultsFile => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
const scan = (out: string, ...extra: string[]) => cli(['scan', '--control', 'AI-SEC-01', '--replay', 'fixtures/demo/replay', '--format', 'json', '--out', out, ...extra]);

describe('scan --shard', () => {
  const tmp = tempDir('engram-shard-');
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'results.schema.json'), 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  ajv.addSchema(schema);
  // The scope block is what --shard adds; validate it against the schema's scope definition.
  const validateScope = ajv.getSchema(`${schema.$id}#/definitions/scope`)!;

  /** A copy of the estate whose cassettes cannot answer the unscoped subscription listing: any discovery fails. */
  let noListing: string | undefined;
  function noListingReplay(): string {
    if (noListing) return noListing;
    const replay = join(tmp, 'replay-no-listing');
    cpSync(join(repoRoot, 'fixtures', 'demo', 'replay'), replay, { recursive: true });
    let removed = 0;
    for (const f of readdirSync(replay)) {
      const entry = JSON.parse(readFileSync(join(replay, f), 'utf8'));
      const body = entry.request.body as { query?: string; subscriptions?: unknown } | undefined;
      if (body?.query?.startsWith('ResourceContainers') && body.subscriptions === undefined) {
        rmSync(join(replay, f));
        removed++;
      }
    }
    assert.equal(removed, 1);
    noListing = replay;
    return replay;
  }

  it('splits the subscriptions Resource Graph lists into disjoint shares that together are the unsharded scan', async () => {
    const whole = await scan(join(tmp, 'whole'));
    const one = await scan(join(tmp, 's1'), '--shard', '1/2');
    const two = await scan(join(tmp, 's2'), '--shard', '2/2');
    assert.equal(whole.code, 1);
    assert.match(one.stderr, new RegExp(`shard 1/2: 1 of 2 subscriptions \\(${NONPROD}\\)`));
    assert.match(two.stderr, new RegExp(`shard 2/2: 1 of 2 subscriptions \\(${PROD}\\)`));
    const [w, a, b] = [read(join(tmp, 'whole')), read(join(tmp, 's1')), read(join(tmp, 's2'))];
    assert.deepEqual(a.scope.shard, { index: 1, count: 2 });
    assert.deepEqual(b.scope.shard, { index: 2, count: 2 });
    assert.equal(w.scope.shard, undefined);
    assert.deepEqual(a.coverage.subscriptionsScanned, [NONPROD]);
    assert.deepEqual(b.coverage.subscriptionsScanned, [PROD]);
    // The user named no subscription: the parts say so too, as the unsharded scan does.
    assert.deepEqual(a.coverage.subscriptionsRequested, []);
    assert.deepEqual(w.coverage.subscriptionsScanned, [PROD, NONPROD]);
    assert.equal(a.coverage.documents + b.coverage.documents, w.coverage.documents);
    const ids = (r: ResultsFile) => r.results.filter((x) => x.resourceId.startsWith('/subscriptions/')).map((x) => x.resourceId.toLowerCase());
    assert.ok(ids(a).every((id) => id.includes(NONPROD)) && ids(a).length > 0);
    assert.ok(ids(b).every((id) => id.includes(PROD)) && ids(b).length > 0);
    for (const r of [a, b]) assert.ok(validateScope(r.scope), JSON.stringify(validateScope.errors));
  });

  it('shards an explicit --subscription list without asking Resource Graph for the subscriptions', async () => {
    const replay = noListingReplay();
    const r = await cli(['scan', '--control', 'AI-SEC-01', '--replay', replay, '--format', 'json', '--out', join(tmp, 'list2'), '--subscription', `${PROD},${NONPROD}`, '--shard', '2/2']);
    assert.equal(r.code, 1, r.stderr);
    const res = read(join(tmp, 'list2'));
    assert.deepEqual(res.scope.subscriptions, [PROD, NONPROD]);
    assert.deepEqual(res.coverage.subscriptionsRequested, [PROD]);
    assert.deepEqual(res.coverage.subscriptionsScanned, [PROD]);
  });

  it('fails closed (exit 3, no bundle) when the subscriptions to shard cannot be listed', async () => {
    const replay = noListingReplay();
    const r = await cli(['scan', '--control', 'AI-SEC-01', '--replay', replay, '--format', 'json', '--out', join(tmp, 'nolist'), '--shard', '1/2']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /cannot list the subscriptions to shard/);
    assert.throws(() => readFileSync(join(tmp, 'nolist', 'results.json')));
  });

  it('writes an empty part for a shard with no subscription, never a scan of everything (exit 3: nothing in scope)', async () => {
    const r = await scan(join(tmp, 'empty'), '--subscription', PROD, '--shard', '1/2');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /shard 1\/2: 0 of 1 subscriptions; nothing to scan, writing an empty part/);
    const res = read(join(tmp, 'empty'));
    assert.equal(res.coverage.documents, 0);
    assert.deepEqual(res.coverage.subscriptionsScanned, []);
    assert.ok(res.results.every((x) => x.status === 'error' && x.check === 'nothing_in_scope'));
  });

  it('refuses a malformed --shard before collecting anything', async () => {
    for (const bad of ['3/2', '0/2', 'two', '1-2']) {
      const r = await scan(join(tmp, `bad-${bad.replace(/\W/g, '_')}`), '--shard', bad);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /--shard '.*' is not i\/n/);
    }
  });
});
