/**
 * Small error classes with a code and data. The library throws these; only the CLI prints them and picks the exit code.
 * A message says what happened, where (file:line, JSON pointer, URL) and what to do next.
 */

export interface ErrorDetails {
  /** File the problem is in. */
  file?: string;
  /** 1-based line, when known. */
  line?: number;
  /** JSON pointer or dotted path of the offending field. */
  field?: string;
  /** What the user should do next. */
  hint?: string;
  [key: string]: unknown;
}

export class EngramError extends Error {
  readonly code: string;
  readonly details: ErrorDetails;
  /** Exit code the CLI uses when this error reaches it. */
  readonly exitCode: number;

  constructor(code: string, message: string, details: ErrorDetails = {}, exitCode = 2) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
    this.exitCode = exitCode;
  }

  /** `file:line: message (field)\n  hint`, the form the CLI prints. */
  format(): string {
    const where = this.details.file ? `${this.details.file}${this.details.line ? `:${this.details.line}` : ''}: ` : '';
    const field = this.details.field ? ` (at ${this.details.field})` : '';
    const hint = this.details.hint ? `\n  ${this.details.hint}` : '';
    return `${where}${this.message}${field}${hint}`;
  }
}

/** Bad command-line usage: unknown flag, unknown format, missing argument. Exit 2. */
export class UsageError extends EngramError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('E_USAGE', message, details, 2);
  }
}

/** Bad input file: malformed control YAML, snapshot not JSON, unreadable key. Exit 2. */
export class InputError extends EngramError {
  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(code, message, details, 2);
  }
}

/** Several input problems found in one pass (validation collects every problem, then reports them all). */
export class ValidationError extends EngramError {
  readonly problems: EngramError[];
  constructor(message: string, problems: EngramError[], details: ErrorDetails = {}) {
    super('E_VALIDATION', message, details, 2);
    this.problems = problems;
  }

  override format(): string {
    return [super.format(), ...this.problems.map((p) => `  - ${p.format().replace(/\n/g, '\n    ')}`)].join('\n');
  }
}

/** Credentials, network or Azure failures that stop a whole run before anything could be evaluated. Exit 3. */
export class CollectionFailure extends EngramError {
  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(code, message, details, 3);
  }
}
