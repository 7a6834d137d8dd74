/** The HTML packet: golden file, escaping of hostile text, demo watermark, ephemeral key label, findings, coverage. */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Handlebars from 'handlebars';
import { renderHtml } from '../../src/reporters/html.js';
import { HOSTILE_NAME, sampleResults } from '../support/sample-results.js';
import { repoRoot } from '../support/paths.js';

const esc = (s: string): string => Handlebars.escapeExpression(s);

/** The `<tr id="finding-N">` row that names `resourceId`, or undefined. */
function findingRow(html: string, resourceId: string): string | undefined {
  const rows = html.split('<tr id="finding-').slice(1).map((r) => r.slice(0, r.indexOf('</td>\n</tr>')));
  return rows.find((r) => r.includes(`>${esc(resourceId)}</div>`));
}

describe('renderHtml', () => {
  it('matches the golden file for the sample (UPDATE_GOLDEN=1 rewrites it)', () => {
    const golden = join(repoRoot, 'test', 'golden', 'sample.html');
    const results = { ...sampleResults(), version: '[version]' };
    const out = renderHtml(results, { evidenceIndex: [{ path: 'evidence/documents.json', sha256: 'ab'.repeat(32) }] });
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, out);
    assert.equal(out, readFileSync(golden, 'utf8'));
  });

  it('gives the same bytes for the same input and contains no script at all', () => {
    const a = renderHtml(sampleResults());
    assert.equal(a, renderHtml(sampleResults()));
    assert.ok(!/<script/i.test(a), 'no script element, not even the hostile one');
    assert.ok(!/\son[a-z]+=/i.test(a), 'no inline event handlers');
  });

  it('carries a strict Content-Security-Policy and a title', () => {
    const html = renderHtml(sampleResults(), { title: 'Packet <for> "ACME"' });
    assert.ok(
      html.includes(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`),
    );
    assert.ok(html.includes('<title>Packet &lt;for&gt; &quot;ACME&quot;</title>'));
    assert.ok(renderHtml(sampleResults()).includes('<title>engram-audit compliance evidence packet</title>'));
  });

  it('escapes hostile resource names, messages, commands and tags', () => {
    const html = renderHtml(sampleResults());
    assert.ok(!html.includes('<script>alert'), 'raw script tag must not appear');
    assert.ok(html.includes(esc(HOSTILE_NAME)), 'escaped hostile name present');
    assert.ok(html.includes('st&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(html.includes('owner&lt;b&gt; = platform &amp; &quot;sre&quot;'), 'tag key and value escaped');
    assert.ok(!html.includes('owner<b>') && !html.includes('"sre"'));
    assert.ok(html.includes('&#x27;st&lt;script&gt;'), 'quotes in the remediation command escaped');
  });

  it('marks demo data on the cover and with a watermark, and only for demo data', () => {
    const demo = renderHtml(sampleResults({ demo: true }));
    assert.ok(demo.includes('<div class="watermark" aria-hidden="true">DEMO DATA</div>'));
    assert.ok(demo.includes('<meta name="engram-audit:page-label" content="DEMO DATA">'));
    assert.ok(demo.includes('<strong>DEMO DATA.</strong>'));
    const real = renderHtml(sampleResults({ demo: false }));
    assert.ok(!real.includes('DEMO DATA'));
    assert.ok(!real.includes('class="watermark"'));
  });

  it('labels an ephemeral signing key as EPHEMERAL, a supplied key not, and a missing key as UNSIGNED', () => {
    const eph = renderHtml(sampleResults());
    assert.ok(eph.includes('EPHEMERAL KEY'));
    assert.ok(eph.includes('<strong>EPHEMERAL signing key.</strong>'));
    assert.ok(eph.includes('3b7f0c1e9a2d4b6f8e0a1c3e5f7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b'));
    assert.ok(eph.includes('Ed25519'));
    const r = sampleResults();
    r.signing = { algorithm: 'ecdsa-p256', fingerprint: 'f'.repeat(64), ephemeral: false, keySource: 'file:keys/audit.pem' };
    const managed = renderHtml(r);
    assert.ok(!managed.includes('EPHEMERAL'));
    assert.ok(managed.includes('ECDSA P-256 (SHA-256)') && managed.includes('file:keys/audit.pem'));
    const unsigned = renderHtml({ ...sampleResults(), signing: undefined });
    assert.ok(unsigned.includes('UNSIGNED'));
  });

  it('shows the cover scope: tenant, subscriptions, management groups, tag filters, times and source', () => {
    const r = sampleResults();
    r.scope.managementGroups = ['mg-<platform>'];
    const html = renderHtml(r);
    for (const text of [
      r.scope.tenantId as string,
      r.scope.subscriptions[0],
      'mg-&lt;platform&gt;',
      r.startedAt,
      r.finishedAt,
      'Recorded Azure responses (replay)',
      'engram-audit 0.1.0',
      r.runId,
    ]) {
      assert.ok(html.includes(text), text);
    }
  });

  it('lists every failing and error result with resource name, id, environment, expected and actual', () => {
    const r = sampleResults();
    const html = renderHtml(r);
    const findings = r.results.filter((x) => x.status === 'fail' || x.status === 'error');
    assert.equal(findings.length, 3);
    for (const f of findings) {
      const row = findingRow(html, f.resourceId);
      assert.ok(row, `finding row for ${f.resourceId}`);
      assert.ok(row.includes(esc(f.resourceName)), 'name');
      assert.ok(row.includes(`<td class="mono break">${esc(f.expected)}</td>`), `expected ${f.expected}`);
      assert.ok(row.includes(`<td class="mono break actual">${esc(f.actual)}</td>`), `actual ${f.actual}`);
      assert.ok(row.includes(`Environment: <span class="mono">${esc(f.environment ?? '')}</span>`), 'environment');
      assert.ok(row.includes(esc(f.message)), 'message');
      if (f.remediation?.cli) assert.ok(row.includes(esc(f.remediation.cli)), 'az CLI remediation');
      if (f.remediation?.bicep) assert.ok(row.includes(esc(f.remediation.bicep)), 'Bicep remediation');
      if (f.reperform) assert.ok(row.includes(esc(f.reperform)), 're-performance');
    }
    assert.ok(html.includes('none collected'), 'the error result shows that no evidence was collected');
    const passing = html.slice(html.indexOf('<table class="grid compact passing">'));
    for (const p of r.results.filter((x) => x.status === 'pass')) assert.ok(passing.includes(esc(p.resourceId)));
    const other = html.slice(html.indexOf('<table class="grid compact other-results">'));
    assert.ok(other.includes(esc('pg-dev-01 is tagged environment=dev; the check applies to prod only.')));
  });

  it('summarises each control with its status, counts and NIST AI RMF and SP 800-53 ids', () => {
    const html = renderHtml(sampleResults());
    const summary = html.slice(html.indexOf('id="summary"'), html.indexOf('id="control-AI-SEC-01"'));
    assert.ok(summary.includes('AI-SEC-01') && summary.includes('Data encryption'));
    assert.ok(summary.includes('<span class="status status-fail">Fail</span>'));
    for (const id of ['MEASURE 2.7', 'MEASURE 2.10', 'SC-8', 'SC-28', 'AU-2']) assert.ok(summary.includes(`<span class="ref">${id}</span>`));
  });

  it('reports coverage: requested vs scanned subscriptions, resources per type, collection errors', () => {
    const r = sampleResults();
    const missing = '11111111-1111-1111-1111-111111111111';
    r.coverage.subscriptionsRequested.push(missing);
    const html = renderHtml(r);
    const coverage = html.slice(html.indexOf('id="coverage"'), html.indexOf('id="signature"'));
    assert.ok(coverage.includes('2 requested, 1 scanned, 1 NOT SCANNED'));
    assert.ok(coverage.includes(`<td class="mono">${missing}</td><td>yes</td><td class="hl-fail">NOT SCANNED</td>`));
    assert.ok(coverage.includes('microsoft.storage/storageaccounts</td><td class="num">2</td>'));
    assert.ok(coverage.includes('AuthorizationFailed') && coverage.includes('monitor.diagnosticSettings'));
    const clean = renderHtml({ ...sampleResults(), coverage: { ...sampleResults().coverage, errors: [] } });
    assert.ok(clean.includes('None. Every collector completed.'));
  });

  it('adds an evidence index only when one is given', () => {
    const withIndex = renderHtml(sampleResults(), { evidenceIndex: [{ path: 'evidence/<x>.json', sha256: 'cd'.repeat(32) }] });
    assert.ok(withIndex.includes('id="evidence-index"') && withIndex.includes('evidence/&lt;x&gt;.json') && withIndex.includes('cd'.repeat(32)));
    assert.ok(!renderHtml(sampleResults()).includes('id="evidence-index"'));
  });

  it('renders an empty run without failing and says so', () => {
    const html = renderHtml({ ...sampleResults(), controls: [], results: [] });
    assert.ok(html.includes('No controls were evaluated.'));
    assert.ok(html.includes('No result failed and every check could be evaluated.'));
    assert.ok(html.includes('No results.'), 'the status chart says it has nothing to draw');
  });

  it('redacts a secret that reached a tag value', () => {
    const r = sampleResults();
    const sig = 'sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2BabcdEF%3D';
    r.scope.tags.link = `https://stx.blob.core.windows.net/c/b?sv=2022-11-02&se=2030-01-01&sp=r&${sig}`;
    const html = renderHtml(r);
    assert.ok(!html.includes('AbCdEfGhIjKlMnOpQrStUvWxYz0123456789'));
    assert.ok(html.includes('[REDACTED]'));
  });
});
