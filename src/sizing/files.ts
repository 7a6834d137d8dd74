/**
 * The sizing calculators' only file access: reading a price or SKU catalog file given on the command line. Kept apart
 * so that the calculators (and the engine, which uses the SKU catalog) stay free of the file system.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { type DataFile, parseDataFile } from './data-file.js';
import { DEFAULT_BLOB_PRICES, pricesFromData, type BlobPrices } from './prices.js';
import { catalogFromData, type SkuCatalog } from './sku-catalog.js';

/** Reads and parses a data file; an unreadable file is an InputError naming it. */
export function readDataFile(file: string): DataFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new InputError('E_SIZING_FILE_READ', `cannot read file (${code})`, {
      file,
      hint: 'Check the path given to the flag.',
    });
  }
  return parseDataFile(text, file);
}

/** Reads and validates a catalog file (JSON or YAML). */
export function loadSkuCatalog(file: string): SkuCatalog {
  return catalogFromData(readDataFile(file));
}

/** Reads a price file (JSON or YAML) and merges it over the strategy's defaults. */
export function loadBlobPrices(file: string, base: Readonly<BlobPrices> = DEFAULT_BLOB_PRICES): BlobPrices {
  return pricesFromData(readDataFile(file), base);
}
