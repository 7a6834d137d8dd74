/** The printed packet of a large estate counts passing results per check; failing results are always listed in full. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderHtml } from '../../src/reporters/html.js';
import { HTML_FULL_DETAIL_LIMIT, PRINT_FULL_DETAIL_LIMIT, htmlDetail, printDetail } from '../../src/reporters/view-model.js';
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
