/**
 * The PDF reporter: prints the HTML packet with puppeteer-core driving the system Chromium, with JavaScript disabled and
 * every network request aborted, into a tagged A4 PDF with an outline, a running header and "Page X of Y" footers.
 * The only reporter that touches a browser; it never writes anything but a temporary browser profile, removed afterwards.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { applyPdfMetadata, type PdfMetadata } from './pdf-metadata.js';
import puppeteer, { type Browser } from 'puppeteer-core';
import { InputError } from '../errors.js';
import { DEFAULT_TITLE } from './view-model.js';

/** Document information written into the PDF after Chromium prints it (Chromium sets only Title, Creator, Producer). */
export type { PdfMetadata } from './pdf-metadata.js';

/** Options for {@link renderPdf} and {@link PdfRenderer.render}. */
export interface PdfOptions {
  /** Author, subject, keywords, creator and dates to set in the PDF's document information. */
  metadata?: PdfMetadata;
  /**
   * PDF title (metadata and running header). Replaces the HTML `<title>` when given; defaults to the HTML `<title>`,
   * else "engram-audit compliance evidence packet" (without any, Chromium would title the PDF "about:blank").
   */
  title?: string;
  /** Upper bound for launching the browser and for each render, in milliseconds (default 60000). */
  timeoutMs?: number;
  /**
   * A label printed in every page header (red, bold), e.g. "DEMO DATA". Defaults to the document's
   * `<meta name="engram-audit:page-label">`, which the packet sets for demo data, so the mark is text on every page.
   */
  pageLabel?: string;
  /** Chromium executable; otherwise ENGRAM_AUDIT_CHROMIUM, PUPPETEER_EXECUTABLE_PATH, then /usr/bin/chromium. */
  chromiumPath?: string;
}

/** A launched browser that renders several documents (one launch, many PDFs); always `close()` it. */
export interface PdfRenderer {
  render(html: string, options?: Pick<PdfOptions, 'title' | 'timeoutMs' | 'pageLabel' | 'metadata'>): Promise<Buffer>;
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Flags from PLATFORM.md; puppeteer adds `--headless=new` itself for `headless: true`. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
  // Request interception aborts every request, but Chromium still opens speculative TCP connections (preconnect) to
  // hosts named in the page; resolving every host (IP literals included) to nothing stops those too.
  '--host-resolver-rules=MAP * ~NOTFOUND',
];

/**
 * Finds the Chromium executable: the explicit path, then ENGRAM_AUDIT_CHROMIUM, PUPPETEER_EXECUTABLE_PATH and
 * /usr/bin/chromium (or /usr/bin/chromium-browser). An explicit path (option or variable) that does not exist is an error rather than a silent
 * fallback, so a typo is not hidden by another browser.
 */
export function findChromium(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const candidates: { path: string; from: string }[] = [];
  if (explicit) candidates.push({ path: explicit, from: 'the chromiumPath option' });
  else if (env.ENGRAM_AUDIT_CHROMIUM) candidates.push({ path: env.ENGRAM_AUDIT_CHROMIUM, from: 'ENGRAM_AUDIT_CHROMIUM' });
  else if (env.PUPPETEER_EXECUTABLE_PATH) candidates.push({ path: env.PUPPETEER_EXECUTABLE_PATH, from: 'PUPPETEER_EXECUTABLE_PATH' });
  else for (const path of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) candidates.push({ path, from: 'the default' });
  for (const c of candidates) if (existsSync(c.path)) return c.path;
  const tried = candidates.map((c) => `${c.path} (${c.from})`).join(', ');
  throw new InputError('E_CHROMIUM_NOT_FOUND', `Chromium is needed to render the PDF report but was not found; tried: ${tried}.`, {
    field: 'chromium',
    hint: 'Install it (apt-get install chromium) or set ENGRAM_AUDIT_CHROMIUM to the Chromium executable; or leave pdf out of --format.',
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** The `<title>` text of `html`, entities decoded (it is re-escaped before it reaches the header template). */
export function htmlTitle(html: string): string | undefined {
  const m = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  return m ? decodeEntities(m[1]).trim() : undefined;
}

function decodeEntities(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&#x3D;/g, '=')
    .replace(/&#x60;/g, '`')
    .replace(/&amp;/g, '&');
}

/** The page label the document asks for (`<meta name="engram-audit:page-label" content="...">`), entities decoded. */
export function htmlPageLabel(html: string): string | undefined {
  const m = /<meta\s+name="engram-audit:page-label"\s+content="([^"]*)"/i.exec(html);
  return m ? decodeEntities(m[1]) : undefined;
}

/** `html` with its `<title>` set to `title` (escaped), inserted into `<head>` or at the start when there is none. */
function withTitle(html: string, title: string): string {
  const element = `<title>${escapeHtml(title)}</title>`;
  if (/<title[^>]*>[\s\S]*?<\/title>/i.test(html)) return html.replace(/<title[^>]*>[\s\S]*?<\/title>/i, () => element);
  if (/<head[^>]*>/i.test(html)) return html.replace(/<head[^>]*>/i, (head) => `${head}${element}`);
  return `${element}${html}`;
}

function headerTemplate(title: string, label: string | undefined): string {
  const right = label
    ? `<span style="color:#9b1c1c;font-weight:bold;letter-spacing:0.06em">${escapeHtml(label)}</span>`
    : '<span>engram-audit</span>';
  return (
    '<div style="width:100%;margin:0 16mm;font-family:\'DejaVu Sans\',sans-serif;font-size:7pt;color:#555;' +
    'display:flex;justify-content:space-between;border-bottom:0.4pt solid #bbb;padding-bottom:1mm">' +
    `<span>${escapeHtml(title)}</span>${right}</div>`
  );
}

const FOOTER_TEMPLATE =
  '<div style="width:100%;margin:0 16mm;font-family:\'DejaVu Sans\',sans-serif;font-size:7pt;color:#555;text-align:right">' +
  'Page <span class="pageNumber"></span> of <span class="totalPages"></span></div>';

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`PDF rendering timed out after ${ms} ms while ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Sets the document information of a rendered PDF (one pdf-lib pass; see {@link applyPdfMetadata}). */
export async function setPdfMetadata(pdf: Uint8Array, title: string, metadata: PdfMetadata): Promise<Buffer> {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  applyPdfMetadata(doc, title, metadata);
  return Buffer.from(await doc.save({ useObjectStreams: false, updateFieldAppearances: false }));
}

async function renderWith(browser: Browser, html: string, options: Pick<PdfOptions, 'title' | 'timeoutMs' | 'pageLabel' | 'metadata'>): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const page = await browser.newPage();
  try {
    return await withTimeout(
      (async () => {
        page.setDefaultTimeout(timeoutMs);
        // The packet is self-contained; nothing may run and nothing may be fetched, whatever the HTML says.
        await page.setJavaScriptEnabled(false);
        await page.setRequestInterception(true);
        page.on('request', (request) => {
          if (request.isInterceptResolutionHandled()) return;
          if (request.url().startsWith('data:')) void request.continue();
          else void request.abort('blockedbyclient');
        });
        const title = options.title ?? htmlTitle(html) ?? DEFAULT_TITLE;
        const content = options.title !== undefined || htmlTitle(html) === undefined ? withTitle(html, title) : html;
        await page.setContent(content, { waitUntil: 'load', timeout: timeoutMs });
        const pdf = await page.pdf({
          format: 'A4',
          printBackground: true,
          displayHeaderFooter: true,
          headerTemplate: headerTemplate(title, options.pageLabel ?? htmlPageLabel(html)),
          footerTemplate: FOOTER_TEMPLATE,
          margin: { top: '20mm', bottom: '18mm', left: '16mm', right: '16mm' },
          preferCSSPageSize: false,
          tagged: true,
          outline: true,
          timeout: timeoutMs,
        });
        return options.metadata ? await setPdfMetadata(pdf, title, options.metadata) : Buffer.from(pdf);
      })(),
      timeoutMs,
      'rendering the page',
    );
  } finally {
    await page.close().catch(() => undefined);
  }
}

/**
 * Launches Chromium once for several renders (a benchmark or a multi-packet run). The caller must `close()` it; close
 * also removes the temporary profile directory.
 */
export async function openPdfRenderer(options: Pick<PdfOptions, 'chromiumPath' | 'timeoutMs'> = {}): Promise<PdfRenderer> {
  const executablePath = findChromium(options.chromiumPath);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const userDataDir = await mkdtemp(join(tmpdir(), 'engram-audit-chromium-'));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      userDataDir,
      timeout: timeoutMs,
      protocolTimeout: timeoutMs,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
  let closed = false;
  return {
    render: (html, renderOptions = {}) => renderWith(browser, html, { timeoutMs, ...renderOptions }),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await browser.close();
      } catch {
        // A browser that died or hung: make sure its process is gone before removing its profile.
        browser.process()?.kill('SIGKILL');
      } finally {
        await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
      }
    },
  };
}

/** Renders one HTML document (normally from {@link renderHtml}) to PDF bytes, launching and closing Chromium. */
export async function renderPdf(html: string, options: PdfOptions = {}): Promise<Buffer> {
  const renderer = await openPdfRenderer(options);
  try {
    return await renderer.render(html, options);
  } finally {
    await renderer.close();
  }
}

/** Renders several HTML documents with one browser launch, in order. */
export async function renderPdfs(documents: string[], options: PdfOptions = {}): Promise<Buffer[]> {
  const renderer = await openPdfRenderer(options);
  try {
    const out: Buffer[] = [];
    for (const html of documents) out.push(await renderer.render(html, options));
    return out;
  } finally {
    await renderer.close();
  }
}
