/**
 * End to end through the CLI: the demo scan over the recorded estate with the real SDK clients, evaluate on a snapshot,
 * verify with tamper detection, controls commands, and the bad-input paths (exit 2, nothing written).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultsFile } from '../../src/model.js';
import { runCli, tempDir } from '../support/cli.js';
import { fixture, repoRoot } from '../support/paths.js';
import { ajv } from '../../src/controls/ajv.js';

const work = tempDir();
after(() => rmSync(work, { recursive: true, force: true }));

function readResults(dir: string): ResultsFile {
  return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsFile;
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

describe('the demo scan over the recorded estate', () => {
  const out = join(work, 'demo');
  let run: Awaited<ReturnType<typeof runCli>>;
  before(async () => {
    run = await runCli(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', out]);
  });

  test('exits 1 (findings) and says where the bundle is and what it found', () => {
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /AI-SEC-01/);
    assert.match(run.stdout, /FAIL/);
    assert.ok(run.stdout.includes(out), 'prints the bundle path');
    assert.match(run.stdout, /DEMO DATA/);
  });

  test('leaves a complete bundle', () => {
    for (const f of ['results.json', 'report.html', 'report.pdf', 'SHA256SUMS', 'SHA256SUMS.sig']) {
      assert.ok(existsSync(join(out, f)), `${f} exists`);
    }
    assert.ok(existsSync(join(out, 'evidence')), 'evidence/ exists');
    const results = readResults(out);
    assert.equal(results.scope.source, 'replay');
    assert.equal(results.scope.demo, true);
    assert.ok(results.results.some((r) => r.status === 'pass'), 'some checks pass');
    assert.ok(results.results.some((r) => r.status === 'fail'), 'some checks fail');
    assert.ok(results.signing?.ephemeral, 'ephemeral key labelled');
  });

  test('results.json validates against schemas/results.schema.json', () => {
    const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'results.schema.json'), 'utf8'));
    const check = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
    const ok = check(readResults(out));
    assert.ok(ok, JSON.stringify(check.errors?.slice(0, 3)));
  });

  test('the PDF names every failing resource and is watermarked as demo data', () => {
    const text = execFileSync('pdftotext', ['-layout', join(out, 'report.pdf'), '-'], { encoding: 'utf8' });
    assert.match(text, /DEMO DATA/);
    const results = readResults(out);
    for (const r of results.results.filter((x) => x.status === 'fail')) {
      assert.ok(text.replace(/\s+/g, ' ').includes(r.resourceName), `PDF mentions ${r.resourceName}`);
    }
    const info = execFileSync('pdfinfo', [join(out, 'report.pdf')], { encoding: 'utf8' });
    assert.match(info, /Title:\s+\S/);
  });

  test('no secret from the estate reaches any output file', () => {
    for (const file of allFiles(out)) {
      const text = readFileSync(file).toString('latin1');
      assert.ok(!/AccountKey=(?!\[REDACTED\])[A-Za-z0-9+/]{20,}/.test(text), `${file} has no account key`);
      assert.ok(!/sig=(?!\[REDACTED\])[A-Za-z0-9%+/=]{10,}/.test(text), `${file} has no SAS signature`);
    }
  });

  test('verify passes on the untouched bundle and the same checks pass with sha256sum and openssl', async () => {
    const v = await runCli(['verify', out]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: out });
  });

  test('verify names a changed, an added and a removed file and exits 1', async () => {
    const copy = join(work, 'tampered');
    execFileSync('cp', ['-r', out, copy]);
    appendFileSync(join(copy, 'report.html'), ' ');
    writeFileSync(join(copy, 'extra.txt'), 'added');
    rmSync(join(copy, 'results.json'));
    const v = await runCli(['verify', copy]);
    assert.equal(v.code, 1);
    assert.match(v.stdout, /report\.html/);
    assert.match(v.stdout, /extra\.txt/);
    assert.match(v.stdout, /results\.json/);
  });
});

describe('evaluate on a snapshot, with no network', () => {
  test('writes a bundle from the demo snapshot and exits 1 for its findings', async () => {
    const out = join(work, 'eval');
    const run = await runCli([
      'evaluate', '--evidence', fixture('demo', 'snapshot.json'), '--control', 'AI-SEC-01', '--out', out, '--format', 'json,html',
    ]);
    assert.equal(run.code, 1, run.stderr);
    const results = readResults(out);
    assert.equal(results.scope.source, 'snapshot');
    assert.ok(!existsSync(join(out, 'report.pdf')), 'no pdf when not asked');
    assert.ok(existsSync(join(out, 'report.html')));
    assert.equal((await runCli(['verify', out])).code, 0);
  });

  test('a snapshot that is not JSON is an input error naming the file and line, and nothing is written', async () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{\n  "documents": [\n    { "id": "/x" },,\n  ]\n}\n');
    const out = join(work, 'never');
    const run = await runCli(['evaluate', '--evidence', bad, '--control', 'AI-SEC-01', '--out', out]);
    assert.equal(run.code, 2);
    assert.ok(run.stderr.includes('bad.json'), run.stderr);
    assert.match(run.stderr, /:3\b|line 3/);
    assert.ok(!existsSync(out), 'no output directory');
  });

  test('a document without an id is named by its position', async () => {
    const bad = join(work, 'noid.json');
    writeFileSync(bad, JSON.stringify({ documents: [{ id: '/subscriptions/x' }, { type: 'Microsoft.Storage/storageAccounts' }] }));
    const run = await runCli(['evaluate', '--evidence', bad, '--control', 'AI-SEC-01', '--out', join(work, 'never2')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /documents\/1/);
  });

  test('an empty snapshot is never a pass: the control is an error and the exit code 3', async () => {
    const empty = join(work, 'empty.json');
    writeFileSync(empty, JSON.stringify({ documents: [] }));
    const out = join(work, 'empty-out');
    const run = await runCli(['evaluate', '--evidence', empty, '--control', 'AI-SEC-01', '--out', out, '--format', 'json']);
    assert.equal(run.code, 3, run.stdout + run.stderr);
    const results = readResults(out);
    assert.equal(results.controls[0].status, 'error');
  });
});

describe('usage errors exit 2 with a message that says what to do', () => {
  test('unknown control id lists the known ones', async () => {
    const run = await runCli(['--control', 'AI-NOPE-99', '--replay', fixture('demo', 'replay'), '--out', join(work, 'x')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /AI-NOPE-99/);
    assert.match(run.stderr, /AI-SEC-01/);
  });

  test('unknown format', async () => {
    const run = await runCli(['--control', 'AI-SEC-01', '--format', 'json,docx', '--replay', fixture('demo', 'replay')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /docx/);
  });

  test('no control selected', async () => {
    const run = await runCli(['--replay', fixture('demo', 'replay')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--control/);
  });

  test('unknown flag points to --help', async () => {
    const run = await runCli(['--control', 'AI-SEC-01', '--colour']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--help/);
  });

  test('an unreadable signing key names the file', async () => {
    const run = await runCli([
      'evaluate', '--evidence', fixture('demo', 'snapshot.json'), '--control', 'AI-SEC-01', '--sign-key', join(work, 'missing.pem'), '--out', join(work, 'y'),
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /missing\.pem/);
    assert.ok(!existsSync(join(work, 'y')));
  });

  test('a subscription that is not a GUID', async () => {
    const run = await runCli(['--control', 'AI-SEC-01', '--subscription', 'prod-sub']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /GUID/);
  });
});

describe('help and the catalog', () => {
  test('--help teaches the main commands', async () => {
    const run = await runCli(['--help']);
    assert.equal(run.code, 0);
    for (const word of ['scan', 'evaluate', 'verify', 'controls', '--replay']) assert.ok(run.stdout.includes(word), word);
  });

  test('controls list and show', async () => {
    const list = await runCli(['controls', 'list']);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /AI-SEC-01/);
    const show = await runCli(['controls', 'show', 'AI-SEC-01']);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /MEASURE 2\.7/);
  });

  test('controls validate reports a malformed file with its line', async () => {
    const bad = join(work, 'bad-control.yaml');
    writeFileSync(bad, 'id: AI-BAD-01\ntitle: Bad\nchecks:\n  - id: x\n    severity: [unclosed\n');
    const run = await runCli(['controls', 'validate', bad]);
    assert.equal(run.code, 2);
    assert.ok(run.stderr.includes('bad-control.yaml'), run.stderr);
    assert.match(run.stderr, /:\d+/);
  });
});

describe('manual checks awaiting an attestation', () => {
  test('are never a pass: the control shows manual and the run exits 3 (incomplete), not 0', async () => {
    const out = join(work, 'gov');
    const run = await runCli([
      'evaluate', '--evidence', fixture('snapshots', 'ai-gov-01', 'non-compliant.json'), '--control', 'AI-GOV-01', '--out', out, '--format', 'json',
    ]);
    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.match(run.stdout, /AI-GOV-01 .*MANUAL/);
    const results = readResults(out);
    assert.equal(results.controls[0].status, 'manual');
    assert.ok(results.results.every((r) => r.status !== 'pass'));
  });
});

describe('progress', () => {
  test('a terminal sees resources found, reads, API calls and time on stderr; CI (no terminal) sees none', async () => {
    const tty = await runCli(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', join(work, 'tty'), '--format', 'json'], { isTTY: true });
    assert.equal(tty.code, 1, tty.stderr);
    assert.match(tty.stderr, /collecting: \d+ resources found, \d+ read, \d+ API calls/);
    const ci = await runCli(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', join(work, 'ci'), '--format', 'json']);
    assert.doesNotMatch(ci.stderr, /collecting:/);
  });
});
