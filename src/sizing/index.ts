/** Sizing calculators: PostgreSQL Flexible Server (vCores, memory, storage, SKU) and Blob Storage (tiers, cost). */
export * from './postgres.js';
export * from './blob.js';
export * from './sku-catalog.js';
export * from './prices.js';
export { parseDataFile, type DataFile } from './data-file.js';
export { readDataFile, loadSkuCatalog, loadBlobPrices } from './files.js';
