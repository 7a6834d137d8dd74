/** Keeps the catalog honest: ids, titles, mappings, policy ids that exist, four examples per check, messages, remediation. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCatalog, NIST_AI_RMF_SUBCATEGORIES } from '../src/controls/index.js';
import { repoRoot, shared } from './support/paths.js';

const catalog = await loadCatalog(join(repoRoot, 'controls'));

/** Every policy definition name (GUID) in ../shared/azure-policy-reference. */
function policyIds(): Set<string> {
  const ids = new Set<string>();
  const base = shared('azure-policy-reference');
  for (const dir of readdirSync(base, { withFileTypes: true })) {
    if (!dir.isDirectory() || dir.name === 'policySetDefinitions') continue;
    for (const f of readdirSync(join(base, dir.name))) {
      if (!f.endsWith('.json')) continue;
      const def = JSON.parse(readFileSync(join(base, dir.name, f), 'utf8')) as { name: string; id?: string };
      ids.add(def.name.toLowerCase());
    }
  }
  return ids;
}

/** AI RMF subcategory ids from the NIST source file in ../shared. */
function aiRmfIds(): Set<string> {
  const core = JSON.parse(readFileSync(shared('nist-ai-rmf', 'nist-ai-rmf-1.0-core.json'), 'utf8')) as {
    functions: Array<{ categories: Array<{ subcategories: Array<{ id: string }> }> }>;
  };
  return new Set(core.functions.flatMap((f) => f.categories.flatMap((c) => c.subcategories.map((s) => s.id))));
}

describe('catalog', () => {
  it('holds AI-SEC-01 and every control file in controls/', () => {
    const files = readdirSync(join(repoRoot, 'controls')).filter((f) => f.endsWith('.yaml'));
    assert.deepEqual(catalog.controls.map((c) => `${c.id}.yaml`).sort(), files.sort());
    assert.ok(catalog.get('AI-SEC-01'));
    assert.equal(catalog.get('ai-sec-01')?.id, 'AI-SEC-01');
  });

  it('the copied AI RMF id list equals NIST\'s', () => {
    assert.deepEqual(new Set(Object.keys(NIST_AI_RMF_SUBCATEGORIES)), aiRmfIds());
  });

  it('has unique control and check ids, snake_case check ids', () => {
    const controls = catalog.controls.map((c) => c.id);
    assert.equal(new Set(controls).size, controls.length);
    const checks = catalog.controls.flatMap((c) => c.checks.map((k) => k.id));
    assert.equal(new Set(checks).size, checks.length, 'check ids are unique');
    for (const id of checks) assert.match(id, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  });

  it('titles state the secure state in under 150 characters and never start with "Ensure"', () => {
    for (const check of catalog.controls.flatMap((c) => c.checks)) {
      assert.ok(check.title.length < 150, check.id);
      assert.doesNotMatch(check.title, /^ensure/i, check.id);
    }
  });

  it('maps every control and check to AI RMF ids that exist and to SP 800-53', () => {
    const ids = aiRmfIds();
    for (const control of catalog.controls) {
      assert.ok(control.nist_ai_rmf.length > 0 && control.sp800_53.length > 0, control.id);
      for (const id of control.nist_ai_rmf) assert.ok(ids.has(id), `${control.id}: ${id}`);
      for (const check of control.checks) {
        for (const id of check.nist_ai_rmf ?? []) assert.ok(ids.has(id), `${check.id}: ${id}`);
        for (const id of check.sp800_53 ?? []) assert.ok(control.sp800_53.includes(id), `${check.id}: ${id} is also listed on ${control.id}`);
      }
    }
  });

  it('names only Azure Policy definitions that exist in the reference', () => {
    const ids = policyIds();
    let named = 0;
    for (const check of catalog.controls.flatMap((c) => c.checks)) {
      if (!check.policy_definition_id) continue;
      named += 1;
      const guid = check.policy_definition_id.split('/').pop() as string;
      assert.ok(ids.has(guid.toLowerCase()), `${check.id}: ${check.policy_definition_id} is not in azure-policy-reference`);
    }
    assert.ok(named >= 15, `most AI-SEC-01 checks have a built-in policy (${named})`);
  });

  it('gives every check pass, fail, missing-evidence and multi-resource examples, remediation and re-performance', () => {
    for (const check of catalog.controls.flatMap((c) => c.checks)) {
      for (const kind of ['pass', 'fail', 'missing_evidence', 'multi_resource']) assert.ok(check.examples[kind], `${check.id} lacks ${kind}`);
      const multi = check.examples.multi_resource;
      assert.ok(typeof multi?.expect === 'object' && Object.keys(multi.expect).length >= 2, `${check.id}: multi_resource covers several resources`);
      assert.ok(check.remediation.cli.length > 5 && check.remediation.bicep.length > 5, check.id);
      assert.match(check.reperform.request, /^GET https:\/\/management\.azure\.com\{resource\.id\}.*api-version=\d{4}-\d{2}-\d{2}/, check.id);
      for (const m of [check.messages.pass, check.messages.fail]) {
        assert.match(m, /\{resource\.name\}/, check.id);
        assert.match(m, /\.$/, check.id);
      }
    }
  });

  it('covers every AI-SEC-01 concern of issue 2', () => {
    const ids = new Set(catalog.get('AI-SEC-01')?.checks.map((c) => c.id));
    for (const id of [
      'postgres_cmk_encryption', 'storage_cmk_encryption', 'storage_infrastructure_encryption',
      'postgres_require_secure_transport', 'postgres_min_tls_version', 'storage_min_tls_version', 'storage_https_only',
      'storage_key_in_customer_vault', 'postgres_key_in_customer_vault', 'storage_versionless_key', 'postgres_versionless_key',
      'key_rotation_policy', 'keyvault_soft_delete', 'keyvault_purge_protection', 'keyvault_rbac_authorization',
      'storage_network_isolation', 'postgres_network_isolation', 'keyvault_network_isolation',
      'storage_no_anonymous_blob_access', 'postgres_no_public_firewall_rule', 'keyvault_audit_logging',
    ]) assert.ok(ids.has(id), id);
    const types = new Set(catalog.get('AI-SEC-01')?.checks.map((c) => c.resource_type));
    assert.deepEqual([...types].sort(), ['microsoft.dbforpostgresql/flexibleservers', 'microsoft.keyvault/vaults', 'microsoft.keyvault/vaults/keys', 'microsoft.storage/storageaccounts']);
  });
});
