/** Shared fixtures for the evidence tests: a small mixed estate, key files made on the fly, temp directories. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { identityFromPem, signPdf } from '../../src/evidence/pdf-sign.js';
import type { EvidenceSet } from '../../src/model.js';

const SUB = '00000000-0000-0000-0000-000000000000';
export const rg = (name: string) => `/subscriptions/${SUB}/resourceGroups/${name}`;

/** 88 base64 characters ending in '==': the shape of a storage account key. */
export const ACCOUNT_KEY = `${'Q'.repeat(40)}${'k7+/'.repeat(11)}${'Z'.repeat(2)}==`;
export const CONNECTION_STRING = `DefaultEndpointsProtocol=https;AccountName=stprod;AccountKey=${ACCOUNT_KEY};EndpointSuffix=core.windows.net`;

export const ST = `${rg('rg-prod')}/providers/Microsoft.Storage/storageAccounts/stprod`;
export const PG = `${rg('rg-prod')}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-prod-01`;
export const KV = `${rg('rg-prod')}/providers/Microsoft.KeyVault/vaults/kv-prod-01`;

/** A small estate: storage (with children and a secret in a tag), PostgreSQL, Key Vault, a probe, an error. */
export function sampleEvidence(): EvidenceSet {
  return {
    documents: [
      { id: `${PG}/configurations/require_secure_transport`, type: 'Microsoft.DBforPostgreSQL/flexibleServers/configurations', name: 'require_secure_transport', properties: { value: 'on', source: 'user-override' } },
      { id: ST, type: 'Microsoft.Storage/storageAccounts', name: 'stprod', location: 'westeurope', tags: { environment: 'prod', note: CONNECTION_STRING }, properties: { minimumTlsVersion: 'TLS1_2', encryption: { keySource: 'Microsoft.Keyvault' } } },
      { id: `${ST}/blobServices/default`, type: 'Microsoft.Storage/storageAccounts/blobServices', name: 'default', properties: { isVersioningEnabled: true } },
      { id: PG, type: 'Microsoft.DBforPostgreSQL/flexibleServers', name: 'pg-prod-01', properties: { dataEncryption: { type: 'AzureKeyVault', primaryKeyURI: 'https://kv-prod-01.vault.azure.net/keys/cmk' } } },
      { id: KV, type: 'Microsoft.KeyVault/vaults', name: 'kv-prod-01', properties: { enableRbacAuthorization: true } },
      { id: `${KV}/keys/cmk`, type: 'Microsoft.KeyVault/vaults/keys', name: 'cmk', properties: { rotationPolicy: { lifetimeActions: [{ trigger: { timeAfterCreate: 'P90D' }, action: { type: 'rotate' } }] } } },
      { id: `${ST}/probes/tls`, type: 'engram.probe/tls', name: 'tls', properties: { protocol: 'TLSv1.3' } },
      { id: `${KV}/providers/microsoft.insights/diagnosticSettings/audit`, type: 'Microsoft.Insights/diagnosticSettings', name: 'audit', properties: { logs: [{ categoryGroup: 'audit', enabled: true }] } },
    ],
    provenance: [
      { documentId: ST, source: 'replay', method: 'GET', url: `https://management.azure.com${ST}?api-version=2025-08-01`, status: 200, requestId: 'req-1', time: '2026-01-01T00:00:00.000Z' },
      { documentId: PG, source: 'replay', method: 'GET', url: `https://management.azure.com${PG}?api-version=2025-08-01`, status: 200, time: '2026-01-01T00:00:01.000Z' },
    ],
    errors: [{ collector: 'keyvault.keys', scope: KV, resourceId: KV, resourceType: 'microsoft.keyvault/vaults', code: 'Forbidden', message: 'The caller lacks keys/list.' }],
  };
}

/** A temporary directory removed by the returned cleanup function. */
export function tempDir(prefix = 'engram-evidence-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes fresh key files into `dir`: Ed25519 and P-256 (PKCS#8 and SEC1), an encrypted key, public keys, garbage. */
export function writeKeyFiles(dir: string) {
  const ed = generateKeyPairSync('ed25519');
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const secp384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const files = {
    ed25519: join(dir, 'ed25519.pem'),
    ed25519Pub: join(dir, 'ed25519.pub.pem'),
    ecdsa: join(dir, 'ecdsa-p256.pem'),
    ecdsaSec1: join(dir, 'ecdsa-p256-sec1.pem'),
    ecdsaPub: join(dir, 'ecdsa-p256.pub.pem'),
    encrypted: join(dir, 'encrypted.pem'),
    rsa: join(dir, 'rsa.pem'),
    p384: join(dir, 'p384.pem'),
    garbage: join(dir, 'garbage.pem'),
    missing: join(dir, 'does-not-exist.pem'),
  };
  writeFileSync(files.ed25519, ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.ed25519Pub, ed.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(files.ecdsa, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.ecdsaSec1, ec.privateKey.export({ type: 'sec1', format: 'pem' }));
  writeFileSync(files.ecdsaPub, ec.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(files.encrypted, ed.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }));
  writeFileSync(files.rsa, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.p384, secp384.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.garbage, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
  return files;
}

/** A small real PDF with a valid embedded signature (verify checks report.pdf's signature too). */
export async function signedSamplePdf(): Promise<Buffer> {
  const doc = await PDFDocument.create();
  doc.addPage().drawText('engram-audit packet', { x: 50, y: 700, font: await doc.embedFont(StandardFonts.Helvetica) });
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const when = new Date('2026-11-28T09:00:00Z');
  return signPdf(Buffer.from(await doc.save()), identityFromPem(key, { now: when }), { reason: 'test', location: 'test', contactInfo: '', name: 'test', signingTime: when });
}
