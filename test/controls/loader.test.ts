/** Loader: malformed YAML names file:line, schema violations name the field pointer and line, semantic problems, selection. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeControl, loadCatalog, selectControls, validateControlFiles, ajv } from '../../src/controls/index.js';
import { EngramError, InputError, ValidationError } from '../../src/errors.js';
import { repoRoot } from '../support/paths.js';

const good = readFileSync(join(repoRoot, 'controls', 'AI-SEC-01.yaml'), 'utf8');
let dir: string;
const write = (name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'engram-controls-'));
  // AI-SEC-01 includes shared checks (use: keyvault/...), which resolve next to the control file.
  cpSync(join(repoRoot, 'controls', 'checks'), join(dir, 'checks'), { recursive: true });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('validateControlFiles', () => {
  it('accepts the shipped control', async () => {
    assert.deepEqual(await validateControlFiles([join(repoRoot, 'controls', 'AI-SEC-01.yaml')]), []);
  });

  it('reports malformed YAML with file and line', async () => {
    const text = good.replace('title: Data encryption', 'title: Data encryption\n  bad: [unclosed');
    const file = write('AI-SEC-01.yaml', text);
    const problems = await validateControlFiles([file]);
    assert.ok(problems.length >= 1);
    const p = problems[0] as EngramError;
    assert.equal(p.code, 'E_CONTROL_YAML');
    assert.equal(p.details.file?.endsWith('AI-SEC-01.yaml'), true);
    // yaml reports the mapping the stray line breaks (the line above it) or the line itself.
    const at = lineOf(text, 'bad: [unclosed');
    assert.ok(typeof p.details.line === 'number' && Math.abs(p.details.line - at) <= 1, p.format());
    assert.match(p.format(), /AI-SEC-01\.yaml:\d+: malformed YAML/);
  });

  it('reports a schema violation with the field pointer, its line and a hint', async () => {
    const text = good.replace('    severity: high\n    resource_type: microsoft.storage/storageaccounts\n    sp800_53: [SC-28, SC-12]', '    severity: urgent\n    resource_type: microsoft.storage/storageaccounts\n    sp800_53: [SC-28, SC-12]');
    assert.notEqual(text, good);
    const file = write('AI-SEC-01.yaml', text);
    const problems = await validateControlFiles([file]);
    assert.equal(problems.length, 1, problems.map((p) => p.format()).join('\n'));
    const p = problems[0] as EngramError;
    assert.equal(p.details.field, '/checks/0/severity');
    assert.equal(p.details.line, lineOf(text, 'severity: urgent'));
    assert.match(p.message, /must be one of "critical", "high"/);
    assert.ok(p.details.hint);
  });

  it('reports an unknown operator inside a nested condition at its own pointer (not every branch)', async () => {
    const text = good.replace('op: in, value: [TLS1_2, TLS1_3]', 'op: one_of, value: [TLS1_2, TLS1_3]');
    const file = write('AI-SEC-01.yaml', text);
    const problems = await validateControlFiles([file]);
    assert.equal(problems.length, 1, problems.map((p) => p.format()).join('\n'));
    assert.equal(problems[0]?.details.field, '/checks/3/condition/op');
    assert.equal(problems[0]?.details.line, lineOf(text, 'op: one_of'));
  });

  it('collects several problems at once: title starting with Ensure, bad check id, missing field, unknown AI RMF id, undeclared parameter', async () => {
    let text = good
      .replace('title: Storage accounts refuse TLS versions older than 1.2', 'title: Ensure storage accounts refuse old TLS')
      .replace('- id: storage_https_only', '- id: Storage-HTTPS')
      .replace('nist_ai_rmf: ["MEASURE 2.7", "MEASURE 2.10"]\nsp800_53', 'nist_ai_rmf: ["MEASURE 2.7", "MEASURE 9.9"]\nsp800_53');
    const schemaFile = write('AI-SEC-01.yaml', text);
    const schemaProblems = await validateControlFiles([schemaFile]);
    const fields = schemaProblems.map((p) => p.details.field);
    assert.ok(fields.includes('/checks/3/title'), fields.join(','));
    assert.ok(fields.includes('/checks/4/id'), fields.join(','));
    // Semantic problems are found once the schema holds.
    text = good
      .replace('nist_ai_rmf: ["MEASURE 2.7", "MEASURE 2.10"]\nsp800_53', 'nist_ai_rmf: ["MEASURE 2.7", "MEASURE 9.9"]\nsp800_53')
      .replace('value: { param: max_rotation_days }', 'value: { param: max_days }');
    const semFile = write('AI-SEC-01.yaml', text);
    const sem = await validateControlFiles([semFile]);
    const messages = sem.map((p) => p.format()).join('\n');
    assert.match(messages, /"MEASURE 9\.9" is not a NIST AI RMF 1\.0 subcategory/);
    assert.match(messages, /parameter "max_days" is not declared/);
    const rmf = sem.find((p) => /MEASURE 9\.9/.test(p.message));
    assert.equal(rmf?.details.field, '/nist_ai_rmf/1');
    assert.equal(rmf?.details.line, lineOf(text, 'MEASURE 9.9'));
  });

  it('reports a missing required field at the parent line', async () => {
    const text = good.replace(/\n    remediation:\n      cli: az storage account update --name <account> --resource-group <rg> --min-tls-version TLS1_2\n      bicep: "properties: \{ minimumTlsVersion: 'TLS1_2' \}"/, '');
    assert.notEqual(text, good);
    const problems = await validateControlFiles([write('AI-SEC-01.yaml', text)]);
    assert.equal(problems[0]?.details.field, '/checks/3/remediation');
    assert.match(problems[0]?.message ?? '', /missing required field "remediation"/);
  });

  it('rejects a control whose id does not match its file name, and an unreadable file', async () => {
    const problems = await validateControlFiles([write('AI-SEC-02.yaml', good), join(dir, 'nope.yaml')]);
    assert.match(problems.map((p) => p.message).join('\n'), /does not match the file name/);
    assert.match(problems.map((p) => p.message).join('\n'), /cannot read control file/);
  });
});

describe('the later controls\' check fields', () => {
  const gov = readFileSync(join(repoRoot, 'controls', 'AI-GOV-01.yaml'), 'utf8');

  it('accepts every shipped control', async () => {
    const files = ['AI-DATA-01', 'AI-DATA-02', 'AI-RES-01', 'AI-RES-02', 'AI-MON-01', 'AI-CAP-01', 'AI-GOV-01'].map((id) => join(repoRoot, 'controls', `${id}.yaml`));
    assert.deepEqual((await validateControlFiles(files)).map((p) => p.format()), []);
  });

  it('checks placeholders in messages.manual and if_no_target.message, and parameters named by a param leaf', async () => {
    const text = gov
      .replace('manual: "{resource.name} awaits a current, complete attestation: {actual}."', 'manual: "{resource.name} awaits {owner}."')
      .replace('has not been attested: no attestation names key_management_responsibilities_attested', 'has not been attested by {param.nobody}')
      .replace("{ derived: days_until, path: properties.expires, op: gt, value: 0 }", '{ param: undeclared_switch, op: equals, value: on }');
    assert.notEqual(text, gov);
    const problems = await validateControlFiles([write('AI-GOV-01.yaml', text)]);
    const text2 = problems.map((p) => `${p.details.field}: ${p.message}`).join('\n');
    assert.match(text2, /\/checks\/0\/messages\/manual: unknown placeholder \{owner\}/);
    assert.match(text2, /\/checks\/0\/if_no_target\/message: unknown placeholder \{param\.nobody\}/);
    assert.match(text2, /\/checks\/0\/condition\/all\/4\/param: parameter "undeclared_switch" is not declared/);
  });

  it('rejects a re-performance with neither request nor command, and an unknown unsatisfied status', async () => {
    const text = gov
      .replace('      command: "sha256sum <each properties.evidence[*].path>', '      note: "sha256sum <each properties.evidence[*].path>')
      .replace('unsatisfied_status: manual', 'unsatisfied_status: pass');
    const problems = await validateControlFiles([write('AI-GOV-01.yaml', text)]);
    const fields = problems.map((p) => p.details.field);
    assert.ok(fields.includes('/checks/0/reperform/note'), fields.join(', '));
    assert.ok(fields.includes('/checks/0/unsatisfied_status'), fields.join(', '));
  });
});

describe('shared checks (controls/checks/<service>/<id>.yaml)', () => {
  const sharedCheck = (id: string) => `id: ${id}
title: Key vaults have purge protection so keys cannot be destroyed before retention ends
severity: high
resource_type: Microsoft.KeyVault/vaults
condition: { path: properties.enablePurgeProtection, op: equals, value: true, default: false }
messages: { pass: "{resource.name} has purge protection.", fail: "{resource.name} lacks purge protection ({actual})." }
remediation: { cli: az keyvault update --enable-purge-protection true, bicep: "enablePurgeProtection: true" }
reperform: { request: "GET https://management.azure.com{resource.id}?api-version=2026-02-01", json_path: properties.enablePurgeProtection }
fixtures:
  kv: { id: /subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1, name: kv1, type: Microsoft.KeyVault/vaults, properties: { enablePurgeProtection: true } }
examples:
  pass: { documents: [{ fixture: kv }], expect: pass }
  fail: { documents: [{ fixture: kv, set: { properties.enablePurgeProtection: false } }], expect: fail }
  missing_evidence: { documents: [{ fixture: kv, unset: [properties.enablePurgeProtection] }], expect: fail }
  multi_resource: { documents: [{ fixture: kv }, { fixture: kv, name: kv2, set: { properties.enablePurgeProtection: false } }], expect: { kv1: pass, kv2: fail } }
`;
  const controlUsing = (id: string, use: string) => `id: ${id}
title: Test ${id}
objective: A control that reuses a shared check.
nist_ai_rmf: ["MANAGE 2.3"]
sp800_53: [CP-9]
checks:
  - use: ${use}
`;
  it('one shared check serves several controls, with its own fixtures', async () => {
    const root = join(dir, 'shared-ok');
    mkdirSync(join(root, 'checks', 'keyvault'), { recursive: true });
    writeFileSync(join(root, 'checks', 'keyvault', 'kv_purge.yaml'), sharedCheck('kv_purge'));
    writeFileSync(join(root, 'AI-RES-01.yaml'), controlUsing('AI-RES-01', 'keyvault/kv_purge'));
    writeFileSync(join(root, 'AI-SEC-09.yaml'), controlUsing('AI-SEC-09', 'keyvault/kv_purge'));
    const catalog = await loadCatalog(root);
    const check = catalog.get('AI-RES-01')?.checks[0];
    assert.equal(check?.id, 'kv_purge');
    assert.equal(check?.shared, 'keyvault/kv_purge');
    assert.equal(check?.resource_type, 'microsoft.keyvault/vaults');
    assert.match(check?.source?.file ?? '', /checks\/keyvault\/kv_purge\.yaml$/);
    assert.equal(catalog.get('AI-SEC-09')?.checks[0]?.id, 'kv_purge');
  });
  it('a shared check whose id differs from its file name, or that is missing, is reported against its own file', async () => {
    const root = join(dir, 'shared-bad');
    mkdirSync(join(root, 'checks', 'keyvault'), { recursive: true });
    writeFileSync(join(root, 'checks', 'keyvault', 'kv_purge.yaml'), sharedCheck('other_id'));
    writeFileSync(join(root, 'AI-RES-01.yaml'), controlUsing('AI-RES-01', 'keyvault/kv_purge'));
    writeFileSync(join(root, 'AI-RES-02.yaml'), controlUsing('AI-RES-02', 'storage/nope'));
    const problems = await validateControlFiles([join(root, 'AI-RES-01.yaml'), join(root, 'AI-RES-02.yaml')]);
    const text = problems.map((p) => p.format()).join('\n');
    assert.match(text, /kv_purge\.yaml:1: shared check id "other_id" does not match its file name/);
    assert.match(text, /cannot read control file: ENOENT/);
    assert.match(text, /AI-RES-02\.yaml:\d+: shared check "storage\/nope" is invalid/);
  });
});

describe('loadCatalog and selectControls', () => {
  it('loads the default directory', async () => {
    const catalog = await loadCatalog();
    // 21 configuration checks (issue 2) and 3 that judge probe observations (issue 4).
    assert.equal(catalog.get('AI-SEC-01')?.checks.length, 24);
  });

  it('throws ValidationError listing every problem', async () => {
    const sub = join(dir, 'bad');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'AI-SEC-01.yaml'), good.replace('severity: critical', 'severity: severe'));
    await assert.rejects(loadCatalog(sub), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.equal(err.exitCode, 2);
      assert.ok(err.problems.length >= 1);
      assert.match(err.format(), /AI-SEC-01\.yaml:\d+: must be one of/);
      return true;
    });
  });

  it('throws InputError for an empty directory', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    await assert.rejects(loadCatalog(empty), (err: unknown) => err instanceof InputError && err.code === 'E_CONTROLS_EMPTY');
  });

  it('selects by id case-insensitively, all, and names an unknown id with the known ones', async () => {
    const catalog = await loadCatalog();
    assert.deepEqual(selectControls(catalog, ['ai-sec-01']).map((c) => c.id), ['AI-SEC-01']);
    assert.equal(selectControls(catalog, 'all').length, catalog.controls.length);
    assert.throws(
      () => selectControls(catalog, ['AI-SEC-99']),
      (err: unknown) => err instanceof InputError && /unknown control "AI-SEC-99"/.test(err.message) && /AI-SEC-01/.test(err.details.hint ?? ''),
    );
  });

  it('describes a control in plain text with mapping, conditions and re-performance', async () => {
    const text = describeControl((await loadCatalog()).get('AI-SEC-01')!);
    assert.match(text, /^AI-SEC-01  Data encryption/);
    assert.match(text, /MEASURE 2\.7  AI system security and resilience/);
    assert.match(text, /storage_min_tls_version \[high\]/);
    assert.match(text, /properties\.minimumTlsVersion in \[TLS1_2, TLS1_3\] \(absent = Azure default "TLS1_0"\)/);
    assert.match(text, /re-perform: GET https:\/\/management\.azure\.com\{resource\.id\}\?api-version=2025-08-01/);
  });

  it('exports one shared ajv instance that knows the control schema and accepts draft-07 schemas (OSCAL)', async () => {
    await loadCatalog();
    assert.ok(ajv.getSchema('https://engram-audit.dev/schemas/control.schema.json'));
    const validate = ajv.compile({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', required: ['a'], definitions: { x: { type: 'string' } } });
    assert.equal(validate({ a: 1 }), true);
    assert.equal(validate({}), false);
  });
});
