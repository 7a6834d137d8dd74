/**
 * The HTML reporter: the auditor packet as one self-contained HTML document, from the handlebars templates in
 * report-templates/ (packet.hbs, partials/*.hbs, print.css). All data goes through `{{ }}` (escaped); the document
 * carries a strict Content-Security-Policy and no script, so it is safe to open in a browser and to print with Chromium.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';
import type { ResultsFile } from '../model.js';
import { packagePath } from '../util/paths.js';
import { type NistReference, type PacketOptions, packetViewModel } from './view-model.js';

export type {
  EvidenceIndexEntry,
  NistReference,
  PacketAttestation,
  PacketControlDefinition,
  PacketOptions,
  PacketPdfSignature,
  PacketWaiver,
} from './view-model.js';

type Template = (context: unknown) => string;

const cache = new Map<string, Template>();

/**
 * Compiles packet.hbs with every partial under partials/ and print.css (registered as the `print-css` partial, so the
 * stylesheet is inlined without a triple-stash). Compiled once per template directory and cached.
 */
function loadPacketTemplate(dir: string): Template {
  const cached = cache.get(dir);
  if (cached) return cached;
  const hbs = Handlebars.create();
  const partialsDir = join(dir, 'partials');
  for (const file of readdirSync(partialsDir).sort()) {
    if (!file.endsWith('.hbs')) continue;
    hbs.registerPartial(basename(file, '.hbs'), readFileSync(join(partialsDir, file), 'utf8'));
  }
  hbs.registerPartial('print-css', readFileSync(join(dir, 'print.css'), 'utf8'));
  const template = hbs.compile(readFileSync(join(dir, 'packet.hbs'), 'utf8'), { preventIndent: true });
  const render: Template = (context) => template(context, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
  cache.set(dir, render);
  return render;
}

let nist: NistReference | undefined;

/** NIST AI RMF subcategory texts and SP 800-53 titles, from report-templates/data/nist.json (copied from NIST). */
export function nistReference(): NistReference {
  if (!nist) {
    const data = JSON.parse(readFileSync(packagePath('report-templates', 'data', 'nist.json'), 'utf8')) as NistReference;
    nist = { aiRmfSubcategories: data.aiRmfSubcategories, sp80053Titles: data.sp80053Titles };
  }
  return nist;
}

/**
 * Renders the auditor packet for `results` as HTML. Same input, same bytes: nothing but the results' own timestamps
 * appears. `options.evidenceIndex` adds an evidence index (path and SHA-256 per file); `options.title` sets the
 * document title.
 */
export function renderHtml(results: ResultsFile, options: PacketOptions = {}): string {
  const template = loadPacketTemplate(packagePath('report-templates'));
  return template(packetViewModel(results, { reference: nistReference(), ...options }));
}
