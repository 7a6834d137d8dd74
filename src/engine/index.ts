/** The engine's public surface: evaluate evidence against controls, plus the pieces tests and tools reuse. */
export { evaluate, evaluatePartitioned, partitionEvidence, residentTypes, resolveParameters, typesRead, NOTHING_IN_SCOPE, COLLECTION_INCOMPLETE, MESSAGE_PLACEHOLDERS } from './evaluate.js';
export type { EvaluateOptions, Evaluation, PartitionedEvidence } from './evaluate.js';
export { evaluateCondition, readPath } from './condition.js';
export type { Outcome, Verdict, EvalContext } from './condition.js';
export { DocumentIndex, normId, parentId, partitionKey } from './documents.js';
export { DERIVED, durationDays, keyRotationDays, publicIpv4Addresses } from './derived.js';
