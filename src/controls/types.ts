/**
 * The in-memory form of a control file (controls/*.yaml, schemas/control.schema.json): controls, checks, the condition
 * language and the examples each check ships. Field names are the YAML's (snake_case), so a reader can map one to the other.
 */
import type { AzureDocument, CollectionError, Severity, Status } from '../model.js';

/** The environments a check can apply to (values of the `environment` tag, compared lower-case). */
export type Environment = 'dev' | 'test' | 'uat' | 'prod';
export const ENVIRONMENTS: readonly Environment[] = ['dev', 'test', 'uat', 'prod'];

/** A reference to a check parameter, resolved per resource (environment-specific values apply). */
export interface ParamRef {
  param: string;
}

/**
 * A value in a condition: a literal, `{ param: name }`, or a derived value as the expected side:
 * `{ param: name, derived: fn }` (the function applied to the parameter's value, e.g. the vCores of a profile SKU) or
 * `{ derived: fn, path?: p }` (the function applied to a value of the current document).
 */
export type ValueOrParam = unknown;

/** Leaf operators. Strings compare case-insensitively unless `case_sensitive: true`. */
export type Operator =
  | 'equals'
  | 'not_equals'
  | 'in'
  | 'not_in'
  | 'contains'
  | 'exists'
  | 'absent'
  | 'empty'
  | 'not_empty'
  | 'lt'
  | 'lte'
  | 'gt'
  | 'gte'
  | 'duration_lt'
  | 'duration_lte'
  | 'duration_gt'
  | 'duration_gte'
  | 'matches'
  | 'not_matches'
  | 'starts_with'
  | 'prefix_of';

export const OPERATORS: readonly Operator[] = [
  'equals',
  'not_equals',
  'in',
  'not_in',
  'contains',
  'exists',
  'absent',
  'empty',
  'not_empty',
  'lt',
  'lte',
  'gt',
  'gte',
  'duration_lt',
  'duration_lte',
  'duration_gt',
  'duration_gte',
  'matches',
  'not_matches',
  'starts_with',
  'prefix_of',
];

/**
 * A leaf: read `path` (dotted, relative to the current value; `@` is the current value itself, `$root.` the document)
 * or a `derived` value computed by the engine, then apply `op` to it and `value`.
 */
export interface LeafCondition {
  path?: string;
  /** Name of an engine-computed value (see src/engine/derived.ts), instead of `path`. */
  derived?: string;
  /**
   * Name of a declared parameter whose resolved value is the actual value, instead of `path` (selects a branch by
   * configuration, e.g. `{ param: threshold_profile, op: equals, value: tiered }`).
   */
  param?: string;
  op: Operator;
  value?: ValueOrParam;
  /** Azure's documented default for an absent property; the leaf then judges that default (and says so). */
  default?: unknown;
  case_sensitive?: boolean;
}

/** Array quantifier over the array at `path`, with `where` evaluated against each element. */
export interface QuantifierBody {
  path: string;
  where?: Condition;
}
export interface CountBody extends QuantifierBody {
  op: 'equals' | 'lt' | 'lte' | 'gt' | 'gte';
  value: ValueOrParam;
}

/** Related documents: children of the target by resource-id prefix and type, or a document found by a key lookup. */
export interface RelatedBody {
  /** Child document type, lower-cased on load, e.g. `microsoft.dbforpostgresql/flexibleservers/configurations`. */
  type: string;
  /** Only the child whose name (last id segment) equals this, case-insensitively. */
  name?: string;
  /** How the children must satisfy `where` (default `some`). `none` with no `where` means "no such child". */
  match?: 'some' | 'every' | 'none';
  where?: Condition;
}

export interface LookupBody {
  /** Type of the document to find, e.g. `microsoft.keyvault/vaults`. */
  type: string;
  /** Key read from the current document. */
  from: { path: string; transform?: Transform };
  /** Key read from each candidate document of `type`; an array value (e.g. `properties.scopes`) matches on any element. */
  to: { path: string; transform?: Transform };
  where?: Condition;
  /** What an absent `from` value means: `fail` (default: nothing to find, so not satisfied) or `error`. */
  if_no_key?: 'fail' | 'error';
  /**
   * What finding no document means: `error` (default: it was not collected), `fail` (it should exist: a metric alert
   * for this server), or `empty` (evaluate `match` over no documents).
   */
  if_none?: 'error' | 'fail' | 'empty';
  /** How the found documents must satisfy `where` (default `some`). */
  match?: 'some' | 'every' | 'none';
}

/** Key normalisation for lookups (always lower-cased after the transform). */
export type Transform = 'host' | 'lower' | 'none';

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { some: QuantifierBody }
  | { every: QuantifierBody }
  | { none: QuantifierBody }
  | { count: CountBody }
  | { related: RelatedBody }
  | { lookup: LookupBody }
  | LeafCondition;

/** A parameter a condition can reference; `by_environment` overrides the default per environment tag. */
export interface Parameter {
  default: unknown;
  description?: string;
  by_environment?: Partial<Record<Environment | 'untagged', unknown>>;
}

/** A document in an example: a literal Azure document, or a copy of a control-level fixture with changes. */
export type ExampleDocument =
  | AzureDocument
  | {
      fixture: string;
      id?: string;
      name?: string;
      /** Replace id segments (and the name) case-insensitively, e.g. `{ pg-ok: pg-bad }` to move a child under another parent. */
      rename?: Record<string, string>;
      tags?: Record<string, string>;
      set?: Record<string, unknown>;
      unset?: string[];
    };

export interface Example {
  description?: string;
  documents: ExampleDocument[];
  errors?: CollectionError[];
  /** One status for every result of the check, or a status per resource name. */
  expect: Status | Record<string, Status>;
}

export type ExampleKind = 'pass' | 'fail' | 'missing_evidence' | 'multi_resource';
export const EXAMPLE_KINDS: readonly ExampleKind[] = ['pass', 'fail', 'missing_evidence', 'multi_resource'];

export interface Check {
  /** Stable snake_case id, unique in the catalog. */
  id: string;
  /** The secure state, under 150 characters, never starting with "Ensure". */
  title: string;
  severity: Severity;
  /** Target resource type, lower-cased on load (Resource Graph lower-cases types). */
  resource_type: string;
  applicability?: { environments?: Environment[] };
  condition: Condition;
  /**
   * Only documents of `resource_type` that satisfy this condition are targets (e.g. the attestation naming this
   * check, the record-plane containers); the others are not evaluated and produce no result.
   */
  select?: Condition;
  /**
   * Precondition: a target for which it is false gets `not_applicable` (e.g. version-level immutability checked only
   * where the account enables it); missing evidence for it is `error`.
   */
  applies_if?: Condition;
  /**
   * What the check reports when no document is a target: by default nothing (the control's nothing-in-scope rule
   * applies). `manual` (an attestation is awaited), `fail` or `error` add one result for `resource_id`.
   */
  if_no_target?: { status: 'manual' | 'fail' | 'error'; resource_id: string; message: string };
  /** Status of a target whose condition is false: `fail` (default) or `manual` (a human must act, never `pass`). */
  unsatisfied_status?: 'fail' | 'manual';
  messages: { pass: string; fail: string; manual?: string };
  remediation: { cli: string; bicep: string };
  /** `request` (the exact REST call) or `command` (a local command, for evidence that is not an Azure resource). */
  reperform: { request?: string; command?: string; json_path: string; resource_graph?: string };
  /** `/providers/Microsoft.Authorization/policyDefinitions/<guid>` where a built-in exists. */
  policy_definition_id?: string;
  /** Why no Azure Policy built-in is named (none exists for lifecycle rules, immutability, PG backup retention). */
  policy_note?: string;
  nist_ai_rmf?: string[];
  sp800_53?: string[];
  parameters?: Record<string, Parameter>;
  examples: Record<ExampleKind, Example> & Record<string, Example>;
  /** Base documents for this check's examples; merged over the control's (a shared check carries its own). */
  fixtures?: Record<string, AzureDocument>;
  /** Set when the check comes from controls/checks/<use>.yaml and may appear in several controls. */
  shared?: string;
  /** Where the check was defined (file, 1-based line), for messages. */
  source?: { file: string; line?: number };
}

export interface Control {
  id: string;
  title: string;
  objective: string;
  description?: string;
  nist_ai_rmf: string[];
  sp800_53: string[];
  /** Parameters every check of the control can reference (a check's own parameters win). */
  parameters?: Record<string, Parameter>;
  /** Named base documents that examples copy and vary. */
  fixtures?: Record<string, AzureDocument>;
  checks: Check[];
  source?: { file: string; line?: number };
}

/** The loaded, validated controls. */
export interface Catalog {
  controls: Control[];
  /** The control with this id (case-insensitive), or undefined. */
  get(id: string): Control | undefined;
}
