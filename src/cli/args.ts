/** Argument parsing shared by the commands: node:util parseArgs with errors turned into UsageError that point to --help. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` strictly; an unknown flag or a missing value is a usage error naming the command's --help. */
export function parse<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    const message = err instanceof Error ? err.message.replace(/\. To specify a positional argument.*$/s, '') : String(err);
    throw new UsageError(message, { hint: `Run 'engram-audit ${command} --help' for the options.`.replace('  ', ' ') });
  }
}

/** Parses `key=value` pairs from repeated --tag flags. */
export function parseTags(values: string[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const raw of values ?? []) {
    const eq = raw.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(`--tag '${raw}' is not key=value`, { field: '--tag', hint: 'Example: --tag environment=prod' });
    }
    tags[raw.slice(0, eq)] = raw.slice(eq + 1);
  }
  return tags;
}

/** Parses a positive integer flag. */
export function parsePositiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new UsageError(`${flag} must be a positive whole number, got '${value}'`, { field: flag });
  }
  return n;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Subscription ids must be GUIDs; a typo is caught before any request. */
export function parseSubscriptions(values: string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!GUID.test(part)) {
        throw new UsageError(`--subscription '${part}' is not a subscription id (a GUID)`, {
          field: '--subscription',
          hint: "List yours with 'az account list --query [].id -o tsv'.",
        });
      }
      out.push(part.toLowerCase());
    }
  }
  return [...new Set(out)];
}
