/**
 * The PDF reporter, read back with its real consumers (pdfinfo, pdftotext): title, tagging, outline, page numbers,
 * failing resources, the demo mark on every page, pagination with repeated table headers, JavaScript and network off.
 * One browser serves most cases (each launch costs about a second on a 2-core machine).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InputError } from '../../src/errors.js';
import { renderHtml } from '../../src/reporters/html.js';
import { findChromium, openPdfRenderer, type PdfRenderer, renderPdf, renderPdfs } from '../../src/reporters/pdf.js';
import { HOSTILE_NAME, sampleResults } from '../support/sample-results.js';

const work = mkdtempSync(join(tmpdir(), 'engram-audit-pdf-test-'));
let n = 0;

function save(pdf: Buffer): string {
  const file = join(work, `out-${++n}.pdf`);
  writeFileSync(file, pdf);
  return file;
}
const pdfinfo = (file: string): string => execFileSync('pdfinfo', [file], { encoding: 'utf8' });
const pdftotext = (file: string, page?: number): string =>
  execFileSync('pdftotext', [...(page ? ['-f', String(page), '-l', String(page)] : []), '-layout', file, '-'], { encoding: 'utf8' });
const pages = (file: string): number => Number(/^Pages:\s+(\d+)/m.exec(pdfinfo(file))?.[1]);
const occurrences = (text: string, needle: string): number => text.split(needle).length - 1;

describe('renderPdf', () => {
  let renderer: PdfRenderer;
  before(async () => {
    renderer = await openPdfRenderer({ timeoutMs: 60_000 });
  });
  after(async () => {
    await renderer?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('prints the sample packet: title, tagged, outline, page X of Y, failing resources with expected and actual', async () => {
    const results = sampleResults();
    const file = save(await renderer.render(renderHtml(results, { title: 'AI-SEC-01 packet for ACME' })));
    const info = pdfinfo(file);
    assert.match(info, /^Title:\s+AI-SEC-01 packet for ACME$/m);
    assert.match(info, /^Tagged:\s+yes$/m);
    assert.match(info, /^Page size:.*\(A4\)$/m);
    const total = pages(file);
    assert.ok(total >= 3, `pages: ${total}`);
    const text = pdftotext(file);
    assert.ok(text.includes(`Page 1 of ${total}`) && text.includes(`Page ${total} of ${total}`));
    for (const name of ['pg-dev-01', 'kv-prod-01', `${HOSTILE_NAME} accepts TLS1_0.`]) assert.ok(text.includes(name), name);
    for (const f of results.results.filter((r) => r.status === 'fail' || r.status === 'error')) {
      assert.ok(text.includes(f.actual), `actual: ${f.actual}`);
      assert.ok(text.includes(f.expected), `expected: ${f.expected}`);
    }
    assert.ok(text.includes('EPHEMERAL KEY'));
    // Every page carries the demo mark as text (header label), not only the drawn watermark.
    for (let p = 1; p <= total; p++) assert.ok(pdftotext(file, p).includes('DEMO DATA'), `DEMO DATA on page ${p}`);
    assert.ok(file && (await import('node:fs')).readFileSync(file).includes('/Outlines'), 'document outline present');
  });

  it('has no DEMO DATA mark for real data; the title option sets metadata and header', async () => {
    const file = save(await renderer.render(renderHtml(sampleResults({ demo: false })), { title: 'Q4 <audit> & "review"' }));
    assert.ok(!pdftotext(file).includes('DEMO DATA'));
    assert.match(pdfinfo(file), /^Title:\s+Q4 <audit> & "review"$/m, 'the title option sets the PDF title, escaped on the way in');
    assert.ok(pdftotext(file, 1).includes('Q4 <audit> & "review"'), 'and the running header');
  });

  it('runs no script, even in HTML without a Content-Security-Policy', async () => {
    const html =
      '<!DOCTYPE html><html><head><title>t</title></head><body><p>kept</p>' +
      "<script>document.body.innerHTML='PWNED'</script><img src=x onerror=\"document.body.innerHTML='PWNED'\"></body></html>";
    const text = pdftotext(save(await renderer.render(html)));
    assert.ok(text.includes('kept'));
    assert.ok(!text.includes('PWNED'));
    // The hostile name in the packet stays text, too.
    const packet = pdftotext(save(await renderer.render(renderHtml(sampleResults()))));
    assert.ok(!packet.includes('PWNED') && packet.includes('alert(1)'));
  });

  it('makes no network request, whatever the HTML asks for', async () => {
    const seen: string[] = [];
    let connections = 0;
    const server: Server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('body{}');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const html =
        `<!DOCTYPE html><html><head><title>net</title><link rel="stylesheet" href="${base}/style.css"></head>` +
        `<body><p>offline</p><img src="${base}/pixel.png"><iframe src="${base}/frame"></iframe>` +
        `<div style="background:url(${base}/bg.png)">x</div></body></html>`;
      const text = pdftotext(save(await renderer.render(html)));
      assert.ok(text.includes('offline'));
      assert.deepEqual(seen, [], 'no HTTP request');
      assert.equal(connections, 0, 'not even a speculative TCP connection');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('paginates 300 extra failures with the table header repeated and rows kept whole', async () => {
    const results = sampleResults({ extraFailures: 300 });
    const file = save(await renderer.render(renderHtml(results)));
    const total = pages(file);
    assert.ok(total >= 10, `pages: ${total}`);
    const text = pdftotext(file);
    const header = 'Finding: expected vs actual, remediation, re-performance';
    assert.ok(occurrences(text, header) > 10, `header repeated: ${occurrences(text, header)}`);
    for (const i of [0, 150, 299]) assert.ok(text.includes(`stbulk${String(i).padStart(4, '0')} accepts TLS1_1.`));
    // A row kept whole: a middle page starts with the repeated header and holds complete findings.
    const middle = pdftotext(file, Math.floor(total / 2));
    assert.ok(middle.includes(header));
    assert.equal(occurrences(middle, 'accepts TLS1_1.'), occurrences(middle, 'properties.minimumTlsVersion = "TLS1_1"'));
  });

  it('renderPdf and renderPdfs launch, render and clean up their temporary profile', async () => {
    // A private TMPDIR: /tmp is shared with other test processes that launch Chromium at the same time.
    const privateTmp = join(work, 'tmp');
    mkdirSync(privateTmp);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    try {
      const one = save(await renderPdf(renderHtml(sampleResults({ demo: false })), { timeoutMs: 60_000 }));
      assert.match(pdfinfo(one), /^Title:\s+engram-audit compliance evidence packet$/m);
      const many = await renderPdfs(['<title>a</title><p>first</p>', '<p>second</p>']);
      assert.equal(many.length, 2);
      const [first, second] = many.map(save);
      assert.ok(pdftotext(first).includes('first') && pdftotext(second).includes('second'));
      assert.match(pdfinfo(first), /^Title:\s+a$/m);
      assert.match(pdfinfo(second), /^Title:\s+engram-audit compliance evidence packet$/m, 'never "about:blank"');
      assert.equal(tmpdir(), privateTmp);
      assert.deepEqual(readdirSync(privateTmp).filter((d) => d.startsWith('engram-audit-chromium-')), [], 'no leftover Chromium profile directories');
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('fails clearly when Chromium is missing, naming the paths tried and what to do', async () => {
    const missing = join(work, 'no-such-chromium');
    await assert.rejects(renderPdf('<title>x</title>', { chromiumPath: missing }), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.code, 'E_CHROMIUM_NOT_FOUND');
      assert.ok(err.message.includes(missing));
      assert.ok(err.format().includes('apt-get install chromium') && err.format().includes('ENGRAM_AUDIT_CHROMIUM'));
      return true;
    });
    assert.throws(() => findChromium(undefined, { ENGRAM_AUDIT_CHROMIUM: missing }), /ENGRAM_AUDIT_CHROMIUM/);
    assert.throws(() => findChromium(undefined, { PUPPETEER_EXECUTABLE_PATH: missing }), /PUPPETEER_EXECUTABLE_PATH/);
    assert.equal(findChromium(undefined, { ENGRAM_AUDIT_CHROMIUM: '/usr/bin/chromium', PUPPETEER_EXECUTABLE_PATH: missing }), '/usr/bin/chromium');
  });
});
