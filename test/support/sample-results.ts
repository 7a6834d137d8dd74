/**
 * A realistic, deterministic results.json for reporter and output tests: AI-SEC-01 over a small mixed estate, with
 * hostile text in a resource name and a tag, an `error` result, a not-applicable result and a demo scope.
 */
import type { Result, ResultsFile, Status } from '../../src/model.js';
import { emptyCounts } from '../../src/model.js';

const SUB = '00000000-0000-0000-0000-000000000000';
const rg = (name: string) => `/subscriptions/${SUB}/resourceGroups/${name}`;

export const HOSTILE_NAME = 'st<script>alert(1)</script>';

function result(partial: Partial<Result> & Pick<Result, 'check' | 'resourceId' | 'status'>): Result {
  const name = partial.resourceId.split('/').pop() ?? partial.resourceId;
  return {
    control: 'AI-SEC-01',
    checkTitle: partial.check.replace(/_/g, ' '),
    resourceType: 'microsoft.storage/storageaccounts',
    resourceName: name,
    severity: 'high',
    message: `${name}: ${partial.status}.`,
    expected: '',
    actual: '',
    evidence: [partial.resourceId],
    ...partial,
  };
}

/** Builds the sample. `count` extra failing storage accounts can be added to test pagination. */
export function sampleResults(options: { extraFailures?: number; demo?: boolean } = {}): ResultsFile {
  const pg = `${rg('rg-prod')}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-prod-01`;
  const pgDev = `${rg('rg-dev')}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-dev-01`;
  const st = `${rg('rg-prod')}/providers/Microsoft.Storage/storageAccounts/stprodrecords`;
  const stBad = `${rg('rg-dev')}/providers/Microsoft.Storage/storageAccounts/${HOSTILE_NAME}`;
  const kv = `${rg('rg-prod')}/providers/Microsoft.KeyVault/vaults/kv-prod-01`;
  const results: Result[] = [
    result({
      check: 'postgres_cmk_encryption',
      checkTitle: 'PostgreSQL flexible server data is encrypted with a customer-managed key',
      resourceId: pg,
      resourceType: 'microsoft.dbforpostgresql/flexibleservers',
      environment: 'prod',
      status: 'pass',
      message: 'pg-prod-01 encrypts data with the customer-managed key kv-prod-01/keys/pg-cmk.',
      expected: 'properties.dataEncryption.type in [AzureKeyVault]',
      actual: 'properties.dataEncryption.type = "AzureKeyVault"',
      policyDefinitionId: '/providers/Microsoft.Authorization/policyDefinitions/12c74c95-0efd-48da-b8d9-2a7d68470c92',
    }),
    result({
      check: 'postgres_cmk_encryption',
      checkTitle: 'PostgreSQL flexible server data is encrypted with a customer-managed key',
      resourceId: pgDev,
      resourceType: 'microsoft.dbforpostgresql/flexibleservers',
      environment: 'dev',
      status: 'fail',
      severity: 'high',
      message: 'pg-dev-01 encrypts data with service-managed keys (SystemManaged), not a customer-managed key.',
      expected: 'properties.dataEncryption.type in [AzureKeyVault]',
      actual: 'properties.dataEncryption.type = "SystemManaged"',
      remediation: {
        cli: 'az postgres flexible-server update -g rg-dev -n pg-dev-01 --key <key-uri> --identity <uami>',
        bicep: "dataEncryption: { type: 'AzureKeyVault', primaryKeyURI: keyUri }",
      },
      reperform: `GET https://management.azure.com${pgDev}?api-version=2025-08-01 -> $.properties.dataEncryption.type`,
    }),
    result({
      check: 'storage_min_tls',
      checkTitle: 'Storage accounts refuse requests below TLS 1.2',
      resourceId: st,
      environment: 'prod',
      status: 'pass',
      message: 'stprodrecords requires TLS1_2 or newer.',
      expected: 'properties.minimumTlsVersion in [TLS1_2, TLS1_3]',
      actual: 'properties.minimumTlsVersion = "TLS1_2"',
    }),
    result({
      check: 'storage_min_tls',
      checkTitle: 'Storage accounts refuse requests below TLS 1.2',
      resourceId: stBad,
      environment: 'dev',
      status: 'fail',
      severity: 'high',
      message: `${HOSTILE_NAME} accepts TLS1_0.`,
      expected: 'properties.minimumTlsVersion in [TLS1_2, TLS1_3]',
      actual: 'properties.minimumTlsVersion = "TLS1_0"',
      remediation: { cli: `az storage account update -n '${HOSTILE_NAME}' --min-tls-version TLS1_2` },
      reperform: `GET https://management.azure.com${stBad}?api-version=2025-08-01 -> $.properties.minimumTlsVersion`,
    }),
    result({
      check: 'keyvault_audit_logging',
      checkTitle: 'Key Vault sends AuditEvent logs to a destination',
      resourceId: kv,
      resourceType: 'microsoft.keyvault/vaults',
      environment: 'prod',
      status: 'error',
      severity: 'medium',
      message: 'kv-prod-01: could not evaluate: the diagnostic settings could not be collected (403 AuthorizationFailed).',
      expected: 'a diagnostic setting with AuditEvent enabled',
      actual: '(missing evidence)',
      evidence: [],
    }),
    result({
      check: 'postgres_geo_backup_prod',
      checkTitle: 'Production PostgreSQL servers use geo-redundant backup',
      resourceId: pgDev,
      resourceType: 'microsoft.dbforpostgresql/flexibleservers',
      environment: 'dev',
      status: 'not_applicable',
      severity: 'medium',
      message: 'pg-dev-01 is tagged environment=dev; the check applies to prod only.',
    }),
  ];
  for (let i = 0; i < (options.extraFailures ?? 0); i++) {
    const id = `${rg('rg-bulk')}/providers/Microsoft.Storage/storageAccounts/stbulk${String(i).padStart(4, '0')}`;
    results.push(
      result({
        check: 'storage_min_tls',
        checkTitle: 'Storage accounts refuse requests below TLS 1.2',
        resourceId: id,
        environment: 'test',
        status: 'fail',
        message: `stbulk${String(i).padStart(4, '0')} accepts TLS1_1.`,
        expected: 'properties.minimumTlsVersion in [TLS1_2, TLS1_3]',
        actual: 'properties.minimumTlsVersion = "TLS1_1"',
      }),
    );
  }
  const counts = emptyCounts();
  for (const r of results) counts[r.status as Status]++;
  return {
    tool: 'engram-audit',
    version: '0.1.0',
    runId: '2f1c7a52-9d0e-4b8a-a6a1-3c1e5b7d9f00',
    startedAt: '2026-11-28T09:00:00.000Z',
    finishedAt: '2026-11-28T09:00:05.000Z',
    scope: {
      tenantId: '00000000-0000-0000-0000-000000000000',
      subscriptions: [SUB],
      managementGroups: [],
      tags: { 'owner<b>': 'platform & "sre"' },
      source: 'replay',
      demo: options.demo ?? true,
    },
    coverage: {
      subscriptionsRequested: [SUB],
      subscriptionsScanned: [SUB],
      resourcesByType: {
        'microsoft.dbforpostgresql/flexibleservers': 2,
        'microsoft.storage/storageaccounts': 2 + (options.extraFailures ?? 0),
        'microsoft.keyvault/vaults': 1,
      },
      documents: 12,
      errors: [
        {
          collector: 'monitor.diagnosticSettings',
          scope: SUB,
          resourceId: kv,
          code: 'AuthorizationFailed',
          message: '403 AuthorizationFailed: the client does not have authorization to read diagnostic settings.',
        },
      ],
    },
    signing: {
      algorithm: 'ed25519',
      fingerprint: '3b7f0c1e9a2d4b6f8e0a1c3e5f7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b',
      ephemeral: true,
      keySource: 'ephemeral',
    },
    controls: [
      {
        id: 'AI-SEC-01',
        title: 'Data encryption',
        status: 'fail',
        counts,
        nistAiRmf: ['MEASURE 2.7', 'MEASURE 2.10'],
        sp80053: ['SC-8', 'SC-12', 'SC-13', 'SC-28', 'AC-3', 'SC-7', 'AU-2'],
      },
    ],
    results,
  };
}
