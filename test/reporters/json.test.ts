/** results.json: canonical bytes, the golden file, the JSON Schema (ajv 8 + ajv-formats) and redaction of secrets. */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { renderJson } from '../../src/reporters/json.js';
import { sampleResults } from '../support/sample-results.js';
import { repoRoot } from '../support/paths.js';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'results.schema.json'), 'utf8'));

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

describe('renderJson', () => {
  it('matches the golden file (UPDATE_GOLDEN=1 rewrites it)', () => {
    const golden = join(repoRoot, 'test', 'golden', 'sample.results.json');
    const out = renderJson(sampleResults());
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, out);
    assert.equal(out, readFileSync(golden, 'utf8'));
  });

  it('is canonical: sorted keys, two-space indent, final newline, same bytes for the same input', () => {
    const a = renderJson(sampleResults());
    assert.equal(a, renderJson(sampleResults()));
    assert.ok(a.endsWith('}\n'));
    assert.ok(a.startsWith('{\n  "controls": ['), 'top-level keys sorted, controls first');
    assert.deepEqual(JSON.parse(a), JSON.parse(JSON.stringify(sampleResults())));
  });

  it('validates against schemas/results.schema.json, with and without optional fields', () => {
    const validate = validator();
    const sample = JSON.parse(renderJson(sampleResults({ extraFailures: 3 })));
    assert.ok(validate(sample), JSON.stringify(validate.errors));
    const minimal = JSON.parse(renderJson({ ...sampleResults(), signing: undefined, controls: [], results: [] }));
    assert.ok(validate(minimal), JSON.stringify(validate.errors));
  });

  it('the schema rejects an unknown status, a bad time, missing counts and a missing result field', () => {
    const validate = validator();
    const bad = (mutate: (r: ReturnType<typeof sampleResults>) => void, keyword: string) => {
      const r = sampleResults();
      mutate(r);
      assert.equal(validate(JSON.parse(renderJson(r))), false);
      assert.ok(validate.errors?.some((e) => e.keyword === keyword), `${keyword}: ${JSON.stringify(validate.errors)}`);
    };
    bad((r) => ((r.results[0] as { status: string }).status = 'passed'), 'enum');
    bad((r) => (r.startedAt = 'yesterday'), 'format');
    bad((r) => delete (r.controls[0].counts as Partial<Record<string, number>>).manual, 'required');
    bad((r) => delete (r.results[1] as Partial<typeof r.results[1]>).expected, 'required');
    bad((r) => ((r.signing as { fingerprint: string }).fingerprint = 'AB:CD'), 'pattern');
  });

  it('never writes a secret: a connection string pasted into a tag value is redacted', () => {
    const r = sampleResults();
    const key = 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw==';
    r.scope.tags.conn = `DefaultEndpointsProtocol=https;AccountName=stx;AccountKey=${key};EndpointSuffix=core.windows.net`;
    const out = renderJson(r);
    assert.ok(!out.includes(key));
    assert.match(out, /\[REDACTED\]/);
  });
});
