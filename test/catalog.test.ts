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
    // A shared check (controls/checks/<service>/<id>.yaml) appears once per control that uses it; any other id once.
    const checks = [...new Map(catalog.controls.flatMap((c) => c.checks.map((k) => [k.shared ? `shared:${k.shared}` : `${c.id}:${k.id}`, k.id] as const))).values()];
    assert.equal(new Set(checks).size, checks.length, 'check ids are unique');
    const shared = catalog.controls.flatMap((c) => c.checks.filter((k) => k.shared).map((k) => k.id));
    assert.ok(shared.includes('keyvault_purge_protection') && shared.filter((id) => id === 'keyvault_purge_protection').length === 2, 'purge protection is shared by AI-SEC-01 and AI-RES-01');
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
      if (check.resource_type.startsWith('engram.')) assert.ok((check.reperform.command ?? '').length > 10, `${check.id}: evidence that is not an Azure resource is re-performed by a command`);
      else assert.match(check.reperform.request ?? '', /^(GET https:\/\/management\.azure\.com\{resource\.id\}.*api-version=\d{4}-\d{2}-\d{2}|POST https:\/\/management\.azure\.com\/providers\/Microsoft\.ResourceGraph\/resources\?api-version=\d{4}-\d{2}-\d{2})/, check.id);
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
      // issue 4: probe observations feed AI-SEC-01, so a probe can fail a check that the configuration passed
      'endpoint_tls_floor_observed', 'key_dual_version_observed', 'blob_canary_encrypted_observed',
    ]) assert.ok(ids.has(id), id);
    const types = new Set(catalog.get('AI-SEC-01')?.checks.map((c) => c.resource_type));
    assert.deepEqual([...types].sort(), [
      'engram.probe/blob-canary', 'engram.probe/keyvault-crypto', 'engram.probe/tls',
      'microsoft.dbforpostgresql/flexibleservers', 'microsoft.keyvault/vaults', 'microsoft.keyvault/vaults/keys', 'microsoft.storage/storageaccounts',
    ]);
  });

  it('holds every control of DESIGN.md with its AI RMF and SP 800-53 mapping', () => {
    const design: Record<string, [string[], string[]]> = {
      'AI-SEC-01': [['MEASURE 2.7', 'MEASURE 2.10'], ['SC-8', 'SC-12', 'SC-13', 'SC-28', 'AC-3', 'SC-7', 'AU-2']],
      'AI-DATA-01': [['GOVERN 1.7'], ['SI-12', 'AU-11']],
      'AI-DATA-02': [['MEASURE 2.8'], ['AU-9', 'SI-12']],
      'AI-RES-01': [['MANAGE 2.3', 'GOVERN 6.2'], ['CP-9', 'CP-10', 'CP-6']],
      'AI-RES-02': [['MEASURE 2.7'], ['CP-7', 'SC-36']],
      'AI-MON-01': [['MEASURE 2.4', 'MANAGE 4.1'], ['SI-4', 'AU-6', 'AU-12']],
      'AI-CAP-01': [['MEASURE 2.3', 'MANAGE 2.2'], ['CP-2(2)', 'CM-6']],
      // DESIGN.md gives AI-GOV-01 no SP 800-53 ids; ours: policy and procedures (SC-1), key management (SC-12), categorization (RA-2).
      'AI-GOV-01': [['GOVERN 1.1', 'GOVERN 1.5', 'GOVERN 2.1', 'MAP 4.2'], ['SC-1', 'SC-12', 'RA-2']],
    };
    assert.deepEqual(catalog.controls.map((c) => c.id).sort(), Object.keys(design).sort());
    for (const [id, [rmf, sp]] of Object.entries(design)) {
      const c = catalog.get(id);
      assert.deepEqual(c?.nist_ai_rmf, rmf, id);
      assert.deepEqual(c?.sp800_53, sp, id);
    }
  });

  it('covers every concern of issue 3, control by control', () => {
    const want: Record<string, string[]> = {
      'AI-DATA-01': ['record_plane_lifecycle_rule', 'blob_versioning_enabled', 'blob_soft_delete_enabled', 'container_soft_delete_enabled'],
      'AI-DATA-02': ['record_plane_container_immutability', 'account_version_level_immutability'],
      'AI-RES-01': ['postgres_backup_retention', 'postgres_geo_redundant_backup', 'storage_geo_redundancy', 'blob_point_in_time_restore', 'keyvault_soft_delete', 'keyvault_purge_protection'],
      'AI-RES-02': ['postgres_zone_redundant_ha', 'storage_zone_redundancy'],
      'AI-MON-01': ['postgres_cpu_alert', 'postgres_memory_alert', 'postgres_connections_alert', 'postgres_storage_alert', 'postgres_diagnostics_to_log_analytics', 'blob_diagnostics_to_log_analytics', 'keyvault_diagnostics_to_log_analytics'],
      'AI-CAP-01': ['postgres_sku_environment_profile', 'postgres_sku_declared_load', 'postgres_storage_autogrow', 'postgres_vector_allowlisted', 'postgres_vector_installed', 'postgres_custom_maintenance_window'],
      'AI-GOV-01': ['key_management_responsibilities_attested', 'data_classification_attested', 'encryption_policy_attested'],
    };
    for (const [id, checks] of Object.entries(want)) assert.deepEqual(catalog.get(id)?.checks.map((c) => c.id), checks, id);
    // Prod-only (and uat+prod) rules say nothing about dev.
    const envs = (control: string, check: string) => catalog.get(control)?.checks.find((c) => c.id === check)?.applicability?.environments;
    assert.deepEqual(envs('AI-RES-01', 'postgres_geo_redundant_backup'), ['prod']);
    assert.deepEqual(envs('AI-RES-01', 'storage_geo_redundancy'), ['prod']);
    assert.deepEqual(envs('AI-RES-02', 'postgres_zone_redundant_ha'), ['uat', 'prod']);
    assert.deepEqual(envs('AI-RES-02', 'storage_zone_redundancy'), ['prod']);
    assert.deepEqual(envs('AI-CAP-01', 'postgres_custom_maintenance_window'), ['prod']);
    // Every AI-GOV-01 check is manual until attested: never pass by absence.
    for (const c of catalog.get('AI-GOV-01')?.checks ?? []) {
      assert.equal(c.unsatisfied_status, 'manual', c.id);
      assert.equal(c.if_no_target?.status, 'manual', c.id);
    }
  });

  it('names a built-in policy or says why there is none, and never invents one where the reference has none', () => {
    for (const check of catalog.controls.flatMap((c) => c.checks)) {
      assert.ok(check.policy_definition_id || (check.policy_note ?? '').length > 20, `${check.id}: policy_definition_id or policy_note`);
      assert.ok(!(check.policy_definition_id && check.policy_note), `${check.id}: not both`);
    }
    // The reference's quick map: no built-in for lifecycle policies, immutability, PG backup retention.
    for (const id of ['record_plane_lifecycle_rule', 'record_plane_container_immutability', 'account_version_level_immutability', 'postgres_backup_retention']) {
      const check = catalog.controls.flatMap((c) => c.checks).find((c) => c.id === id);
      assert.equal(check?.policy_definition_id, undefined, id);
      assert.match(check?.policy_note ?? '', /No Azure Policy built-in/, id);
    }
  });

  it('uses thresholds and sets, not bare equality, for every numeric and enumerated rule of the new controls', () => {
    const leaves: Array<{ op: string; value?: unknown }> = [];
    const walk = (c: unknown): void => {
      if (!c || typeof c !== 'object') return;
      if (Array.isArray(c)) return c.forEach(walk);
      const o = c as Record<string, unknown>;
      if (typeof o.op === 'string' && (typeof o.path === 'string' || typeof o.derived === 'string')) leaves.push(o as { op: string; value?: unknown });
      for (const v of Object.values(o)) walk(v);
    };
    for (const c of catalog.controls.filter((x) => x.id !== 'AI-SEC-01')) for (const k of c.checks) walk(k.condition);
    // equals is kept for booleans and single documented switch values (Enabled, Lifecycle, a metric name); numbers use lt/lte/gt/gte.
    for (const l of leaves) if (l.op === 'equals') assert.ok(typeof l.value !== 'number', `numeric equality: ${JSON.stringify(l)}`);
    assert.ok(leaves.filter((l) => ['lte', 'gte', 'lt', 'gt'].includes(l.op)).length >= 20);
  });

  it('docs/controls.md names every control, check, parameter and default', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'controls.md'), 'utf8');
    const show = (v: unknown): string => (Array.isArray(v) ? v.join(', ') : String(v));
    for (const control of catalog.controls) {
      assert.ok(doc.includes(`## ${control.id} ${control.title}`), control.id);
      const params = [...Object.entries(control.parameters ?? {}), ...control.checks.flatMap((k) => Object.entries(k.parameters ?? {}))];
      for (const [name, p] of params) assert.ok(doc.includes(`\`${name}\` = ${show(p.default)}`), `${control.id}: ${name} = ${show(p.default)}`);
      for (const check of control.checks) {
        assert.ok(doc.includes(`\`${check.id}\``), check.id);
        if (check.policy_definition_id) assert.ok(doc.includes(check.policy_definition_id.split('/').pop() as string), check.id);
      }
    }
  });
});

