/**
 * `engram-audit size postgres|blob`: the sizing calculators on the command line. People get aligned tables with every
 * term of the formula; `--json` gives machines canonical JSON. Exit 0 on an answer, 2 on a usage or input error.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EngramError, UsageError } from '../errors.js';
import { redactString } from '../evidence/redact.js';
import { canonicalJson } from '../util/canonical-json.js';
import {
  ACCESS_PATTERNS,
  DEFAULT_BLOB_PRICES,
  DEFAULT_SKU_CATALOG,
  ENVIRONMENTS,
  SKU_TIERS,
  loadBlobPrices,
  loadSkuCatalog,
  sizeBlob,
  sizePostgres,
  type AccessPattern,
  type BlobSizing,
  type Environment,
  type PostgresSizing,
  type SizingTerm,
  type SkuChoice,
} from '../sizing/index.js';

/** Where the command writes: results to stdout, errors to stderr. */
export interface SizeIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Directory that relative --prices/--catalog paths resolve against (the CLI's CliIo.cwd); default process.cwd(). */
  cwd?: string;
}

const POSTGRES_HELP = `Usage: engram-audit size postgres --sessions N --facts N --connections N
         [--growth F] [--environment dev|test|uat|prod] [--catalog FILE] [--json]

Sizes an Azure Database for PostgreSQL Flexible Server with the strategy's formulas, printed term by term:
  vCores    = ceil((2 + ceil(facts / 500K) + ceil(connections / 100) x 0.5) x growth)
  memory GB = ceil((4 + 2 x facts / 1M + 0.1 x connections / 10) x growth)
  storage   = engram-audit's own estimate (the seed's storage formula was not available; see docs/sizing.md)
then picks the cheapest SKU (Burstable, General Purpose, Memory Optimized) that meets vCores and memory, and shows
the strategy's environment preset (dev B1ms, test B2s, uat D2s_v3, prod D4s_v3) beside it.

Options:
  --sessions N        conversation sessions stored (storage estimate only)
  --facts N           facts (memories), one embedding each
  --connections N     peak concurrent connections
  --growth F          headroom multiplier, >= 1 (default 2.0)
  --environment ENV   also compare with this environment's preset SKU
  --catalog FILE      SKU catalog with prices (JSON or YAML) instead of the built-in one
  --json              print JSON: { required, sku, terms, cheapestByTier, presets, ... }

Example (the strategy's production load, 1M vectors and 200 connections):
  engram-audit size postgres --sessions 10000 --facts 1000000 --connections 200 --environment prod
  -> 10 vCores, 16 GB, 33 GiB storage; cheapest SKU Standard_B12ms (General Purpose: Standard_D16ds_v5)
`;

const BLOB_HELP = `Usage: engram-audit size blob --docs-per-month N --avg-mb X --retention-days N
         --access frequent|moderate|rare [--prices FILE] [--json]

Costs Blob Storage at steady state: stored GB = docs per month x avg MB x (retention days / 30) / 1024, split
across hot/cool/archive by the access pattern (frequent .7/.2/.1, moderate .3/.5/.2, rare .1/.3/.6), priced at the
strategy's rates (0.018/0.01/0.002 $ per GB-month; 0.05/0.10/5.00 $ per 10K operations), with the weighted $/GB
checked against the < $0.015 target.

Options:
  --docs-per-month N  documents ingested per month
  --avg-mb X          average document size in MB
  --retention-days N  days a document is kept
  --access PATTERN    frequent | moderate | rare
  --prices FILE       price file (JSON or YAML) overriding any price, split or operation assumption
  --json              print JSON

Example:
  engram-audit size blob --docs-per-month 30720 --avg-mb 1 --retention-days 30 --access moderate
  -> 30 GB: hot 9, cool 15, archive 6; weighted $0.0108/GB-month (meets < $0.015)
`;

const SIZE_HELP = `Usage: engram-audit size postgres|blob [options]

  size postgres   vCores, memory, storage and the cheapest Flexible Server SKU for a load
  size blob       Blob Storage volume, tier split and monthly cost for an ingest rate and retention

Run "engram-audit size postgres --help" or "engram-audit size blob --help" for options and an example.
`;

/**
 * Runs `size ...` (argv starts after `size`). Returns the exit code: 0 on an answer (also when no SKU fits, which the
 * output says), 2 on a usage or input error. Never calls process.exit.
 */
export async function runSizeCommand(argv: string[], io: SizeIo): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw new UsageError('missing subcommand: postgres or blob', { hint: 'Run "engram-audit size --help".' });
    if (sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout(SIZE_HELP);
      return 0;
    }
    if (sub === 'postgres') return runPostgres(rest, io);
    if (sub === 'blob') return runBlob(rest, io);
    throw new UsageError(`unknown subcommand "${sub}": expected postgres or blob`, { hint: 'Run "engram-audit size --help".' });
  } catch (err) {
    if (err instanceof EngramError) {
      // File paths and echoed values are user text: redact in case a secret was pasted into a price file.
      io.stderr(`engram-audit size: ${redactString(err.format())}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

type Spec = Record<string, { type: 'string' | 'boolean' }>;

/** parseArgs refuses `--facts -5` as ambiguous; join it so the value check below can name the flag and the value. */
function joinNegativeValues(args: string[], spec: Spec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.startsWith('--') ? a.slice(2) : '';
    if (spec[name]?.type === 'string' && i + 1 < args.length && /^-\d|^-\.\d/.test(args[i + 1])) {
      out.push(`${a}=${args[i + 1]}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function parse(args: string[], spec: Spec, name: string): Record<string, string | boolean | undefined> | undefined {
  const options = { ...spec, json: { type: 'boolean' as const }, help: { type: 'boolean' as const, short: 'h' } };
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({ args: joinNegativeValues(args, spec), options, strict: true, allowPositionals: false });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0], { hint: `Run "engram-audit size ${name} --help".` });
  }
  if (values.help) return undefined;
  return values;
}

function requireFlag(values: Record<string, unknown>, flag: string, usage: string): string {
  const v = values[flag];
  if (typeof v !== 'string') throw new UsageError(`missing required flag --${flag}`, { hint: usage });
  return v;
}

function wholeNumber(text: string, flag: string): number {
  const t = text.replace(/_/g, '');
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
    throw new UsageError(`--${flag} must be a whole number >= 0, got "${text}"`, { hint: `e.g. --${flag} 1000000` });
  }
  return Number(t);
}

function decimal(text: string, flag: string, min: number, minText: string): number {
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text) || Number(text) < min) {
    throw new UsageError(`--${flag} must be a number ${minText}, got "${text}"`, { hint: `e.g. --${flag} 2.0` });
  }
  return Number(text);
}

function oneOf<T extends string>(text: string, flag: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got "${text}"`, { hint: `e.g. --${flag} ${allowed[0]}` });
  }
  return text as T;
}

function runPostgres(args: string[], io: SizeIo): number {
  const spec: Spec = {
    sessions: { type: 'string' },
    facts: { type: 'string' },
    connections: { type: 'string' },
    growth: { type: 'string' },
    environment: { type: 'string' },
    catalog: { type: 'string' },
  };
  const values = parse(args, spec, 'postgres');
  if (!values) {
    io.stdout(POSTGRES_HELP);
    return 0;
  }
  const usage = 'Usage: engram-audit size postgres --sessions N --facts N --connections N [--growth F] [--environment ENV]';
  const sessions = wholeNumber(requireFlag(values, 'sessions', usage), 'sessions');
  const facts = wholeNumber(requireFlag(values, 'facts', usage), 'facts');
  const connections = wholeNumber(requireFlag(values, 'connections', usage), 'connections');
  const growth = values.growth === undefined ? undefined : decimal(values.growth as string, 'growth', 1, '>= 1');
  const environment = values.environment === undefined ? undefined : oneOf(values.environment as string, 'environment', ENVIRONMENTS);
  const catalog = typeof values.catalog === 'string' ? loadSkuCatalog(resolve(io.cwd ?? process.cwd(), values.catalog)) : DEFAULT_SKU_CATALOG;
  const result = sizePostgres({ sessions, facts, connections, growth, environment }, { catalog });
  io.stdout(values.json ? canonicalJson(result) : renderPostgres(result));
  return 0;
}

function runBlob(args: string[], io: SizeIo): number {
  const spec: Spec = {
    'docs-per-month': { type: 'string' },
    'avg-mb': { type: 'string' },
    'retention-days': { type: 'string' },
    access: { type: 'string' },
    prices: { type: 'string' },
  };
  const values = parse(args, spec, 'blob');
  if (!values) {
    io.stdout(BLOB_HELP);
    return 0;
  }
  const usage = 'Usage: engram-audit size blob --docs-per-month N --avg-mb X --retention-days N --access frequent|moderate|rare';
  const docsPerMonth = wholeNumber(requireFlag(values, 'docs-per-month', usage), 'docs-per-month');
  const avgMb = decimal(requireFlag(values, 'avg-mb', usage), 'avg-mb', 0, '>= 0');
  const retentionDays = wholeNumber(requireFlag(values, 'retention-days', usage), 'retention-days');
  const access = oneOf<AccessPattern>(requireFlag(values, 'access', usage), 'access', ACCESS_PATTERNS);
  const prices = typeof values.prices === 'string' ? loadBlobPrices(resolve(io.cwd ?? process.cwd(), values.prices)) : DEFAULT_BLOB_PRICES;
  const result = sizeBlob({ docsPerMonth, avgMb, retentionDays, access }, prices);
  io.stdout(values.json ? canonicalJson(result) : renderBlob(result));
  return 0;
}

/** Thousands separators without locale data, so output is the same on every machine. */
function fmt(n: number): string {
  const [int, frac] = String(n).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return frac ? `${grouped}.${frac}` : grouped;
}

/** Left-aligns every column but the last numeric one, which is right-aligned. */
function table(rows: string[][], indent = '  ', rightAlign: number[] = []): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => indent + r.map((c, i) => (rightAlign.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

function termRows(terms: SizingTerm[]): string[][] {
  return terms.map((t) => [t.name, t.expression, fmt(t.value), t.unit ?? '']);
}

function skuCells(s: SkuChoice, currency: string): string[] {
  return [s.name, s.tier, `${s.vcores} vCores`, `${s.memoryGb} GiB`, `${currency} ${s.pricePerHour}/h`];
}

function renderPostgres(r: PostgresSizing): string {
  const out: string[] = ['PostgreSQL Flexible Server sizing', '', 'Inputs'];
  out.push(
    table(
      [
        ['sessions', fmt(r.inputs.sessions)],
        ['facts', fmt(r.inputs.facts)],
        ['connections', fmt(r.inputs.connections)],
        ['growth', String(r.inputs.growth)],
        ...(r.inputs.environment ? [['environment', r.inputs.environment]] : []),
      ],
      '  ',
      [1],
    ),
  );
  out.push('', 'vCores = ceil((2 + ceil(facts / 500K) + ceil(connections / 100) x 0.5) x growth)', table(termRows(r.terms.vcores), '  ', [2]));
  out.push('', 'Memory GB = ceil((4 + 2 x facts / 1M + 0.1 x connections / 10) x growth)', table(termRows(r.terms.memoryGb), '  ', [2]));
  out.push(
    '',
    "Storage GiB (engram-audit's estimate; the seed strategy's storage formula was not available)",
    table(termRows(r.terms.storageGb), '  ', [2]),
  );
  const prov = r.storageProvisionGb === null ? 'above the 32 TiB maximum' : `provision ${fmt(r.storageProvisionGb)} GiB`;
  out.push('', 'Result');
  const cur = r.catalog.currency;
  out.push(`  required  ${r.required.vcores} vCores, ${r.required.memoryGb} GB memory, ${fmt(r.required.storageGb)} GiB storage (${prov})`);
  out.push(
    table([
      ['chosen SKU', ...(r.sku ? skuCells(r.sku, cur) : ['none: no single SKU in the catalog meets the requirement'])],
      ...SKU_TIERS.map((t) => {
        const s = r.cheapestByTier[t];
        return [`cheapest ${t}`, ...(s ? skuCells(s, cur) : ['none meets the requirement'])];
      }),
    ]),
  );
  out.push('', `Environment preset (the strategy's table, not the formula)${r.preset ? `: ${r.preset.environment} is ${r.preset.sku.name}` : ''}`);
  out.push(
    table(
      r.presets.map((p) => [
        p.environment === r.inputs.environment ? `* ${p.environment}` : `  ${p.environment}`,
        ...skuCells(p.sku, cur),
        p.meetsRequired ? 'meets the formula' : 'below the formula',
      ]),
    ),
  );
  out.push('', `SKU catalog: ${r.catalog.source}; region ${r.catalog.region}; recorded ${r.catalog.recordedOn}; ${r.catalog.verified ? 'verified' : 'unverified'}`);
  out.push('', 'Notes', ...r.notes.map((n) => `  - ${n}`), '');
  return out.join('\n');
}

function renderBlob(r: BlobSizing): string {
  const cur = r.currency;
  const out: string[] = ['Blob Storage sizing', '', 'Inputs'];
  out.push(
    table(
      [
        ['docs per month', fmt(r.inputs.docsPerMonth)],
        ['avg MB', String(r.inputs.avgMb)],
        ['retention days', fmt(r.inputs.retentionDays)],
        ['access', r.inputs.access],
      ],
      '  ',
      [1],
    ),
  );
  out.push('', 'Terms', table(termRows(r.terms), '  ', [2]));
  out.push('', 'Tiers');
  out.push(
    table(
      [
        ['tier', 'share', 'GB', `storage ${cur}/month`, 'operations', `access ${cur}/month`],
        ...r.tiers.map((t) => [t.tier, String(t.share), fmt(t.gb), fmt(t.storageCost), fmt(t.operations), fmt(t.accessCost)]),
      ],
      '  ',
      [1, 2, 3, 4, 5],
    ),
  );
  out.push('', 'Result');
  out.push(
    table([
      ['total GB', fmt(r.totalGb)],
      ['monthly storage', `${cur} ${fmt(r.monthly.storage)}`],
      ['monthly access', `${cur} ${fmt(r.monthly.access)}`],
      ['monthly total', `${cur} ${fmt(r.monthly.total)}`],
      ['weighted $/GB-month', `${cur} ${r.weightedPerGbMonth} (target < ${r.targetPerGbMonth}: ${r.meetsTarget ? 'meets' : 'MISSES'})`],
      ['all-in $/GB-month', r.allInPerGbMonth === null ? 'n/a (nothing stored)' : `${cur} ${r.allInPerGbMonth} (storage + access, for information)`],
    ]),
  );
  out.push('', `Prices: ${r.pricesSource}`, '', 'Notes', ...r.notes.map((n) => `  - ${n}`), '');
  return out.join('\n');
}
