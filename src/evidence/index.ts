/** Evidence: snapshots in, canonical evidence files, signing, the atomic bundle writer and verification out. */
export { loadSnapshot } from './snapshot.js';
export { EvidenceStore, type StoreStats, type StoredDocument } from './store.js';
export { serializeEvidence, serializeStore, type SerializedEvidence, type EvidenceFileDigest, type EvidenceIndex } from './serialize.js';
export { loadSigner, publicKeyFingerprint, type Signer } from './signing.js';
export { writeBundle, type BundleSummary } from './bundle.js';
export { verifyBundle, formatVerifyReport, type VerifyReport } from './verify.js';
export { redactValue, redactString, redactUrl, REDACTED } from './redact.js';
