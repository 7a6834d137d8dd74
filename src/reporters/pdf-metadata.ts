/**
 * The document information engram-audit gives a PDF (title, author, subject, keywords, creator, dates, language), set
 * on a pdf-lib document. Shared by the renderer (src/reporters/pdf.ts) and the PDF signer (src/evidence/pdf-sign.ts),
 * which sets it in the same pass that adds the signature placeholder, so a large packet is parsed once, not twice.
 */
import type { PDFDocument } from 'pdf-lib';

export interface PdfMetadata {
  author?: string;
  subject?: string;
  keywords?: string[];
  /** Default "engram-audit". */
  creator?: string;
  producer?: string;
  /** Creation and modification date (default: Chromium's; pass results.finishedAt for stable metadata). */
  date?: Date;
  /** Document language (BCP 47) for the catalog's /Lang, which screen readers use. Default "en". */
  language?: string;
}

/**
 * Sets the document information, keeping everything else (tagging, outline, fonts) as Chromium wrote it. The title is
 * set again too, so it survives viewers that read XMP-less info only.
 */
export function applyPdfMetadata(doc: PDFDocument, title: string, metadata: PdfMetadata): void {
  doc.setTitle(title, { showInWindowTitleBar: true });
  if (metadata.author) doc.setAuthor(metadata.author);
  if (metadata.subject) doc.setSubject(metadata.subject);
  if (metadata.keywords?.length) doc.setKeywords(metadata.keywords);
  doc.setCreator(metadata.creator ?? 'engram-audit');
  if (metadata.producer) doc.setProducer(metadata.producer);
  if (metadata.date) {
    doc.setCreationDate(metadata.date);
    doc.setModificationDate(metadata.date);
  }
  doc.setLanguage(metadata.language ?? 'en');
}
