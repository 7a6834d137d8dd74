/** The controls module's public surface: load, validate, select and describe controls. */
export { loadCatalog, selectControls, validateControlFiles } from './loader.js';
export { describeControl, describeCondition } from './describe.js';
export { exampleEvidence, materialise } from './examples.js';
export { ajv, validateControlSchema } from './ajv.js';
export { NIST_AI_RMF_SUBCATEGORIES } from './nist-ai-rmf.js';
export * from './types.js';
