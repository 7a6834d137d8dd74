/** The printed packet of a large estate counts passing results per check; failing results are always listed in full. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderHtml } from '../../src/reporters/html.js';
import { HTML_FULL_DETAIL_LIMIT, PRINT_FULL_DETAIL_LIMIT, PRINT_FULL_FINDINGS_LIMIT, htmlDetail, printDetail, printFindingDetail } from '../../src/reporters/view-model.js';
import type { ResultsFile } from '../../src/model.js';
import { sampleResults } from '../support/sample-results.js';

function withPassing(n: number): ResultsFile {
  const results = sampleResults({ extraFailures: 3 });
  const template = results.results.find((r) => r.status === 'pass')!;
  for (let i = 0; i < n; i++) {
    const name = `stpass${String(i).padStart(5, '0')}`;
    results.results.push({ ...template, resourceId: template.resourceId.replace(/[^/]+$/, name), resourceName: name });
  }
  results.controls[0].counts.pass += n;
  return results;
}

test('a small estate prints every passing row; a large one counts them per check', () => {
  assert.equal(printDetail(withPassing(10)), 'full');
  assert.equal(printDetail(withPassing(PRINT_FULL_DETAIL_LIMIT + 1)), 'summary');
});

test('the summarised packet keeps every failing row, counts the passing ones and says where they are listed', () => {
  const results = withPassing(PRINT_FULL_DETAIL_LIMIT + 1);
  const full = renderHtml(results);
  const summary = renderHtml(results, { passingDetail: 'summary' });
  assert.ok(full.includes('stpass01500'), 'the HTML lists every passing resource');
  assert.ok(!summary.includes('stpass01500'), 'the print form does not');
  assert.match(summary, /counted per check for print/);
  assert.match(summary, /report\.html/);
  assert.ok(summary.length < full.length / 3, `print form is much smaller (${summary.length} vs ${full.length})`);
  for (const r of results.results.filter((x) => x.status === 'fail')) {
    assert.ok(summary.includes(r.resourceId.replace(/</g, '&lt;').replace(/>/g, '&gt;')), `failing ${r.resourceName} is listed`);
  }
  // The added rows copy the sample's first pass (postgres_cmk_encryption): its count is theirs plus the original.
  assert.match(summary, new RegExp(`postgres_cmk_encryption</td><td class="num">${PRINT_FULL_DETAIL_LIMIT + 2}<`));
  assert.match(summary, /storage_min_tls<\/td><td class="num">1</);
});

test('report.html of a very large estate counts passing rows too, and then names results.json alone', () => {
  assert.equal(htmlDetail(withPassing(PRINT_FULL_DETAIL_LIMIT + 1)), 'full', 'report.html keeps every row well past the print limit');
  const results = withPassing(HTML_FULL_DETAIL_LIMIT + 1);
  assert.equal(htmlDetail(results), 'summary');
  const html = renderHtml(results, { passingDetail: 'summary', htmlListsEvery: false });
  assert.ok(!html.includes(`stpass${String(HTML_FULL_DETAIL_LIMIT).padStart(5, '0')}`));
  assert.match(html, /listed with its resource, actual value and evidence in\s+<span class="mono">results\.json<\/span>/);
  assert.doesNotMatch(html, /evidence in <span class="mono">report\.html<\/span>/);
  assert.ok(html.length < 2_000_000, `bounded by the failing rows, not the passing ones (${html.length} bytes)`);
  for (const r of results.results.filter((x) => x.status === 'fail')) assert.ok(html.includes(r.resourceId.replace(/</g, '&lt;').replace(/>/g, '&gt;')));
});

test('a packet with many findings prints one compact row per finding, every failing resource still named', () => {
  const results = sampleResults({ extraFailures: PRINT_FULL_FINDINGS_LIMIT + 10 });
  assert.equal(printFindingDetail(sampleResults({ extraFailures: 3 })), 'full');
  assert.equal(printFindingDetail(results), 'compact');
  const full = renderHtml(results, { passingDetail: 'summary' });
  const compact = renderHtml(results, { passingDetail: 'summary', findingDetail: 'compact' });
  assert.match(compact, /So many are printed one row each/);
  assert.doesNotMatch(full, /So many are printed one row each/);
  assert.ok(compact.length < full.length * 0.85, `compact rows are smaller (${compact.length} vs ${full.length})`);
  const failing = results.results.filter((r) => r.status === 'fail' || r.status === 'error');
  assert.ok(failing.length > PRINT_FULL_FINDINGS_LIMIT);
  for (const r of failing) {
    const id = r.resourceId.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    assert.ok(compact.includes(id), `failing ${r.resourceName} is listed`);
  }
  // Expected and actual stay on every row; the per-row fix and evidence lists do not.
  assert.equal(compact.match(/class="finding finding-(fail|error) finding-compact"/g)?.length, failing.length);
  assert.equal((compact.match(/<span class="label">Actual<\/span>/g) ?? []).length, failing.length);
  assert.doesNotMatch(compact, /<th scope="row">Evidence<\/th>/);
  assert.match(compact, /Expected of every row<\/span>/, 'an expected state all rows share is printed once, in the header');
});
