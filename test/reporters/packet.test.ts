/**
 * The full auditor packet, read back by its consumers: the HTML sections (control definitions with NIST texts, charts,
 * probe observations, waivers, signature page) with hostile text escaped, and the signed PDF (pdfinfo metadata, pdffonts,
 * outline via pdf-lib, pdftotext, pdfsig valid and Digest Mismatch after one byte) for a 300-failure estate.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Handlebars from 'handlebars';
import { PDFDict, PDFDocument, PDFName, PDFString, PDFHexString } from 'pdf-lib';
import { identityFromPem, signPdf } from '../../src/evidence/pdf-sign.js';
import type { AzureDocument } from '../../src/model.js';
import { renderHtml, type PacketOptions } from '../../src/reporters/html.js';
import { renderPdf } from '../../src/reporters/pdf.js';
import { HOSTILE_NAME, sampleResults } from '../support/sample-results.js';

const esc = (s: string): string => Handlebars.escapeExpression(s);
const work = mkdtempSync(join(tmpdir(), 'engram-packet-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const PROBE: AzureDocument = {
  id: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-prod/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-prod-01/probes/tls',
  type: 'engram.probe/tls',
  name: 'tls',
  properties: {
    target: 'pg-prod-01.postgres.database.azure.com:5432',
    status: 'compliant',
    summary: 'TLS 1.0 and 1.1 refused; TLS 1.2 and 1.3 accepted.',
    observed: { accepted: ['TLSv1.2', 'TLSv1.3'], cipher: '<b>TLS_AES_256_GCM_SHA384</b>' },
    startedAt: '2026-11-28T09:00:01Z',
    durationMs: 412,
  },
};

function options(extra: Partial<PacketOptions> = {}): PacketOptions {
  return {
    organisation: 'Contoso <AI> & "Co"',
    evidenceIndex: [{ path: 'evidence/microsoft.storage-storageaccounts-0001.json', sha256: 'ab'.repeat(32) }],
    controls: [
      {
        id: 'AI-SEC-01',
        title: 'Data encryption',
        objective: 'Data of the AI platform is encrypted at rest with customer-managed keys and in transit with TLS 1.2+.',
        nist_ai_rmf: ['MEASURE 2.7', 'MEASURE 2.10'],
        sp800_53: ['SC-8', 'SC-28', 'SC-99'],
        checks: [
          {
            id: 'storage_min_tls',
            title: 'Storage accounts refuse requests below TLS 1.2',
            severity: 'high',
            resource_type: 'microsoft.storage/storageaccounts',
            remediation: { cli: 'az storage account update -n <account> --min-tls-version TLS1_2', bicep: "minimumTlsVersion: 'TLS1_2'" },
            reperform: { request: 'GET https://management.azure.com{resource.id}?api-version=2025-08-01', json_path: 'properties.minimumTlsVersion' },
          },
          { id: 'storage_unused_check', title: 'A check with nothing in scope', severity: 'low' },
        ],
      },
    ],
    documents: [PROBE, { id: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z', type: 'Microsoft.Storage/storageAccounts' }],
    waivers: [{ control: 'AI-SEC-01', check: 'storage_min_tls', resourceId: 'stlegacy', reason: 'Legacy <client> until Q1', approvedBy: 'CISO', expires: '2027-03-31' }],
    attestations: [{ control: 'AI-SEC-01', statement: 'Key custodians are named in the KMS runbook.', owner: 'Head of Platform', signedAt: '2026-11-01', expires: '2027-11-01' }],
    pdfSignature: { commonName: 'engram-audit ephemeral PDF signer (integrity only)', certificateSha256: 'cd'.repeat(32), selfSigned: true, ephemeral: true, publicKeyFingerprint: 'ef'.repeat(32) },
    ...extra,
  };
}

describe('the packet (HTML)', () => {
  it('has contents, charts, a section per control with NIST texts and SP 800-53 titles, checks, probes, waivers and a signature page', () => {
    const html = renderHtml(sampleResults(), options());
    for (const id of ['contents', 'summary', 'control-AI-SEC-01', 'observations', 'waivers', 'coverage', 'evidence-index', 'signature']) {
      assert.ok(html.includes(`id="${id}"`), id);
    }
    assert.ok(html.includes('AI system security and resilience – as identified in the MAP function – are evaluated and documented.'));
    assert.ok(html.includes('Privacy risk of the AI system'));
    assert.ok(html.includes('Transmission Confidentiality and Integrity') && html.includes('Protection of Information at Rest'));
    assert.ok(html.includes('title not in the bundled catalog'), 'an unknown SP 800-53 id is shown as such, not dropped');
    assert.ok(html.includes('Data of the AI platform is encrypted at rest'));
    assert.ok(html.includes('A check with nothing in scope') && html.includes('no resource in scope'));
    for (const chart of ['Results per control, by status', 'Failures by severity', 'Failures by service', 'Failures by environment']) {
      assert.ok(html.includes(`<title>${chart}</title>`), chart);
    }
    assert.ok(html.includes('TLS 1.0 and 1.1 refused; TLS 1.2 and 1.3 accepted.'));
    assert.ok(html.includes('&lt;b&gt;TLS_AES_256_GCM_SHA384&lt;/b&gt;'), 'observed facts escaped');
    assert.ok(html.includes('Legacy &lt;client&gt; until Q1') && html.includes('Key custodians are named in the KMS runbook.'));
    assert.ok(html.includes(esc('Contoso <AI> & "Co"')) && !html.includes('Contoso <AI>'));
    assert.ok(html.includes('EPHEMERAL PDF signing identity'));
    assert.ok(html.includes('openssl pkeyutl -verify -pubin -inkey signing-key.pub.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig'));
  });

  it('prints a remediation identical to the check once, under the check, and points failing rows to it', () => {
    const r = sampleResults();
    for (const x of r.results) if (x.check === 'storage_min_tls') x.remediation = { cli: 'az storage account update -n <account> --min-tls-version TLS1_2', bicep: "minimumTlsVersion: 'TLS1_2'" };
    const html = renderHtml(r, options());
    assert.equal(html.split(esc('az storage account update -n <account> --min-tls-version TLS1_2')).length - 1, 1);
    assert.ok(html.includes('az CLI and Bicep under check <a href="#ctl-AI-SEC-01-storage_min_tls" class="mono">storage_min_tls</a> above.'));
    // Without control definitions each row keeps its own remediation (nothing to point to).
    const bare = renderHtml(sampleResults(), {});
    assert.ok(bare.includes(esc(`az storage account update -n '${HOSTILE_NAME}' --min-tls-version TLS1_2`)));
  });

  it('escapes hostile environment tags and control ids inside the SVG charts', () => {
    const r = sampleResults();
    r.results[1]!.environment = '<svg onload=alert(1)>';
    r.controls[0]!.id = 'AI-<SEC>';
    for (const x of r.results) x.control = 'AI-<SEC>';
    const html = renderHtml(r, {});
    const charts = html.slice(html.indexOf('<div class="charts">'), html.indexOf('<h3>Controls</h3>'));
    assert.ok(!charts.includes('<svg onload'));
    assert.ok(charts.includes('&lt;svg onload=alert'), 'escaped (and clipped to the label width)');
    assert.ok(charts.includes('AI-&lt;SEC&gt;'));
  });

  it('says when no probe ran and when no waiver or attestation was recorded', () => {
    const html = renderHtml(sampleResults(), {});
    assert.ok(html.includes('No probe ran in this assessment'));
    assert.equal(html.split('None recorded for this assessment.').length - 1, 2);
    assert.ok(html.includes('The PDF signature is added when the packet is written into a bundle'));
  });
});

describe('the packet (signed PDF, 300 failures)', () => {
  let file = '';
  let pages = 0;
  let text = '';
  let signed: Buffer;
  before(async () => {
    const html = renderHtml(sampleResults({ extraFailures: 300, demo: true }), options());
    const pdf = await renderPdf(html, {
      title: 'engram-audit AI-SEC-01',
      metadata: { author: 'Contoso AI', subject: 'Compliance evidence packet: AI-SEC-01 Data encryption', keywords: ['engram-audit', 'NIST AI RMF', 'AI-SEC-01'], creator: 'engram-audit 0.1.0', date: new Date('2026-11-28T09:00:05Z') },
    });
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    signed = await signPdf(pdf, identityFromPem(key, { commonName: 'Contoso AI evidence signer' }), { reason: 'test', location: 'engram-audit', contactInfo: '', name: 'Contoso AI evidence signer' });
    file = join(work, 'packet.pdf');
    writeFileSync(file, signed);
    pages = Number(/^Pages:\s+(\d+)/m.exec(execFileSync('pdfinfo', [file], { encoding: 'utf8' }))?.[1]);
    text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
  });

  it('carries title, author, subject, keywords, creator, tagging and embedded fonts', () => {
    const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
    assert.match(info, /^Title:\s+engram-audit AI-SEC-01$/m);
    assert.match(info, /^Author:\s+Contoso AI$/m);
    assert.match(info, /^Subject:\s+Compliance evidence packet: AI-SEC-01 Data encryption$/m);
    assert.match(info, /^Keywords:\s+.*NIST AI RMF.*AI-SEC-01/m);
    assert.match(info, /^Creator:\s+engram-audit 0\.1\.0$/m);
    assert.match(info, /^Tagged:\s+yes$/m);
    assert.match(info, /^CreationDate:\s+Sat Nov 28 09:00:05 2026 UTC$/m);
    const fonts = execFileSync('pdffonts', [file], { encoding: 'utf8' }).trim().split('\n').slice(2);
    assert.ok(fonts.length >= 3, fonts.join('\n'));
    for (const f of fonts) assert.match(f, /\s+yes\s+yes\s+yes\s+\d+\s+\d+$/, `embedded subset with unicode map: ${f}`);
  });

  it('has an outline with the sections, the control and one bookmark per finding group', async () => {
    const doc = await PDFDocument.load(signed, { updateMetadata: false });
    const titles: string[] = [];
    const walk = (item: PDFDict | undefined) => {
      while (item) {
        const t = item.lookup(PDFName.of('Title'));
        titles.push(t instanceof PDFString || t instanceof PDFHexString ? t.decodeText() : String(t));
        walk(item.lookupMaybe(PDFName.of('First'), PDFDict));
        item = item.lookupMaybe(PDFName.of('Next'), PDFDict);
      }
    };
    walk(doc.catalog.lookup(PDFName.of('Outlines'), PDFDict).lookupMaybe(PDFName.of('First'), PDFDict));
    for (const want of ['Contents', 'Executive summary', 'Probe observations', 'Waivers and attestations', 'Methodology and coverage', 'Evidence index', 'Signatures and how to verify this packet']) {
      assert.ok(titles.includes(want), `${want} in ${titles.join(' | ')}`);
    }
    assert.ok(titles.some((t) => t.startsWith('1. Control AI-SEC-01: Data encryption')));
    assert.equal(titles.filter((t) => t === 'Findings: Storage accounts refuse requests below TLS 1.2').length, 1, 'one bookmark, not one per repeated header');
  });

  it('paginates: page X of Y, DEMO DATA on every page, the group title repeated with the header rows', () => {
    assert.ok(pages >= 20, `pages: ${pages}`);
    assert.ok(text.includes(`Page 1 of ${pages}`) && text.includes(`Page ${pages} of ${pages}`));
    assert.equal(text.split('DEMO DATA').length - 1 >= pages, true);
    const groupTitle = text.split('High Storage accounts refuse requests below TLS 1.2').length - 1;
    assert.ok(groupTitle > 10, `group title repeated on continuation pages: ${groupTitle}`);
    for (const i of [0, 150, 299]) assert.ok(text.includes(`stbulk${String(i).padStart(4, '0')} accepts TLS1_1.`));
    assert.ok(text.includes('AI system security and resilience'));
    assert.ok(text.includes('Failures by environment'));
    assert.ok(text.includes('TLS 1.0 and 1.1 refused; TLS 1.2 and 1.3 accepted.'));
    assert.ok(text.includes('Legacy <client> until Q1'));
  });

  it('pdfsig reports the signature valid, and a digest mismatch after a one-byte change anywhere in the signed range', () => {
    const out = execFileSync('pdfsig', [file], { encoding: 'utf8' });
    assert.match(out, /Signature Validation: Signature is Valid\./);
    assert.match(out, /Contoso AI evidence signer/);
    for (const at of [20, Math.floor(signed.length / 2), signed.length - 20]) {
      const t = Buffer.from(signed);
      t[at] = t[at]! ^ 0x01;
      const bad = join(work, `tampered-${at}.pdf`);
      writeFileSync(bad, t);
      // pdfsig exits 0 either way: the verdict is in its output.
      const verdict = spawnSync('pdfsig', [bad], { encoding: 'utf8' }).stdout;
      assert.doesNotMatch(verdict, /Signature is Valid/, `byte ${at}`);
    }
    const mid = Buffer.from(signed);
    const at = mid.indexOf(Buffer.from('/Type /Page'));
    mid[at + 3] = mid[at + 3]! ^ 0x01;
    writeFileSync(join(work, 'tampered-page.pdf'), mid);
    assert.match(execFileSync('pdfsig', [join(work, 'tampered-page.pdf')], { encoding: 'utf8' }), /Digest Mismatch/);
  });
});
