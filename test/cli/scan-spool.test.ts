/**
 * A scan streams its evidence through a spool beside the output (src/evidence/store.ts): the bundle it writes is the
 * same as ever, and the spool is gone when the run ends, whether the run succeeds or fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCli, tempDir } from '../support/cli.js';
import { fixture } from '../support/paths.js';
import { loadSnapshot } from '../../src/evidence/snapshot.js';

const hidden = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.'));

test('a scan leaves its bundle and no spool; the bundle holds every collected document', async () => {
  const root = tempDir();
  try {
    const out = join(root, 'out');
    const run = await runCli(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', out, '--format', 'json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(hidden(root), [], 'no spool or temporary directory is left beside the bundle');
    const verify = await runCli(['verify', out]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const evidence = await loadSnapshot(join(out, 'evidence'));
    const demo = await loadSnapshot(fixture('demo', 'snapshot.json'));
    assert.deepEqual(evidence.documents.map((d) => d.id).sort(), demo.documents.map((d) => d.id).sort());
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.equal(results.coverage.documents, demo.documents.length);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a scan that cannot write its bundle removes its spool and leaves the output directory as it was', async () => {
  const root = tempDir();
  try {
    const out = join(root, 'taken');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const run = await runCli(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', out, '--format', 'json']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /refusing to replace the output directory/);
    assert.deepEqual(hidden(root), [], 'the spool is removed on failure too');
    assert.deepEqual(readdirSync(out), ['notes.txt']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a scan whose output parent cannot be created says so, with exit code 2', async () => {
  const root = tempDir();
  try {
    writeFileSync(join(root, 'file'), 'x');
    const run = await runCli(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', join(root, 'file', 'out'), '--format', 'json']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /cannot create the evidence spool beside .*file\/out/);
    assert.match(run.stderr, /--out/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a scan's PDF carries its document information and a valid signature, both set in one pass after rendering", async () => {
  const root = tempDir();
  try {
    const out = join(root, 'out');
    const run = await runCli(['--control', 'AI-SEC-01', '--replay', fixture('demo', 'replay'), '--out', out, '--format', 'pdf', '--org', 'Contoso AI']);
    assert.equal(run.code, 1, run.stderr);
    const pdf = join(out, 'report.pdf');
    const info = execFileSync('pdfinfo', [pdf], { encoding: 'utf8' });
    assert.match(info, /^Title:\s+engram-audit AI-SEC-01$/m);
    assert.match(info, /^Author:\s+Contoso AI$/m);
    assert.match(info, /^Subject:\s+Compliance evidence packet: AI-SEC-01 .*\(DEMO DATA\)$/m);
    assert.match(info, /^Keywords:\s+.*NIST AI RMF.*AI-SEC-01/m);
    assert.match(info, /^Creator:\s+engram-audit /m);
    assert.match(info, /^Tagged:\s+yes$/m);
    const sig = execFileSync('pdfsig', [pdf], { encoding: 'utf8' });
    assert.match(sig, /Signature Validation: Signature is Valid/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
