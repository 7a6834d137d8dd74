import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORMATS, FORMAT_FILES, formatFileName, isFormat, parseFormats } from '../../src/reporters/formats.js';
import { UsageError } from '../../src/errors.js';

test('parseFormats accepts a comma list, trims, ignores case and duplicates, and keeps the registry order', () => {
  assert.deepEqual(parseFormats('pdf'), ['pdf']);
  assert.deepEqual(parseFormats('sarif, JSON ,junit,sarif'), ['json', 'sarif', 'junit']);
  assert.deepEqual(parseFormats('junit,oscal,pdf,html,sarif,json'), [...FORMATS]);
});

test('an unknown format is a UsageError that names it and lists the valid formats', () => {
  assert.throws(
    () => parseFormats('pdf,xlsx'),
    (e: unknown) =>
      e instanceof UsageError &&
      e.exitCode === 2 &&
      /unknown output format "xlsx"/.test(e.message) &&
      e.details.field === '--format' &&
      /json, html, pdf, oscal, sarif, junit/.test(String(e.details.hint)),
  );
  assert.throws(() => parseFormats('xml,csv'), (e: unknown) => e instanceof UsageError && /formats "xml", "csv"/.test(e.message));
});

test('empty entries are refused rather than silently dropped', () => {
  for (const bad of ['', ' ', 'pdf,', ',sarif', 'pdf,,json']) {
    assert.throws(() => parseFormats(bad), (e: unknown) => e instanceof UsageError && /\(empty\)/.test(e.message), bad);
  }
});

test('every format has its file name', () => {
  assert.deepEqual(FORMAT_FILES, {
    json: 'results.json',
    html: 'report.html',
    pdf: 'report.pdf',
    oscal: 'results.oscal.json',
    sarif: 'results.sarif',
    junit: 'results.junit.xml',
  });
  for (const f of FORMATS) assert.equal(formatFileName(f), FORMAT_FILES[f]);
  assert.equal(new Set(Object.values(FORMAT_FILES)).size, FORMATS.length);
  assert.equal(isFormat('sarif'), true);
  assert.equal(isFormat('SARIF'), false);
  assert.equal(isFormat('toString'), false);
});
