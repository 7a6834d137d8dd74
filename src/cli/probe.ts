/**
 * `engram-audit probe <name> <target> [options]`: runs one probe and prints what it observed. Exit 0 compliant,
 * 1 non-compliant, 3 could not observe, 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { TokenCredential } from '@azure/core-auth';
import { EngramError, UsageError } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { getProbe, listProbes, runProbeDefinition } from '../probes/registry.js';
import { DefaultAzureCredential } from '@azure/identity';
import { parseBlobCanaryArgs } from '../probes/blob-canary.js';
import type { ParsedProbeArgs } from '../probes/data-plane-support.js';
import { parseKeyvaultCryptoArgs } from '../probes/keyvault-crypto.js';
import { parseRotationDrillArgs } from '../probes/rotation-drill.js';
import { normaliseTlsVersion, parseHostPort, type CertificateFacts, type TlsAttempt } from '../probes/tls.js';
import type { ProbeDefinition, ProbeObservation } from '../probes/types.js';

/** Where the command writes and which environment it reads (the password comes from here, by name). */
export interface ProbeCommandIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

/** Optional injections for tests and for the main CLI. */
export interface ProbeCommandDeps {
  now?: () => Date;
  credential?: TokenCredential;
}

export const PROBE_HELP = `Usage: engram-audit probe <name> <target> [options]

Runs one active probe against a live endpoint and prints what it observed.
Exit status: 0 compliant, 1 non-compliant, 3 could not observe (refused, timeout, bad
certificate, wrong password...), 2 usage error.

Probes:
  tls <host:port | https://url>
      Proves which TLS versions (1.0, 1.1, 1.2, 1.3) the server really accepts: each version is
      offered alone on the wire and judged from the server's answer (ServerHello or alert), so a
      client that cannot offer an old version is never read as "the server refused". Records the
      cipher per accepted version and the certificate chain (SHA-256 per certificate, leaf subject
      and expiry). Non-compliant when a version below --floor is accepted.
      --starttls postgres        send PostgreSQL's SSLRequest first (port 5432 endpoints)
      --http                     Azure Storage style: make a real HTTPS request over each version and
                                 read the status (400 = refused at the HTTP layer); implied by https://
      --path P                   HTTP path for --http (default /?comp=list)
      --floor TLSv1.2            lowest acceptable version (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)
      --servername S             SNI / certificate host name
      --ca FILE                  trust this PEM CA instead of the bundled roots
      --insecure-skip-verify     record an untrusted certificate instead of failing with exit 3
    Example:
      engram-audit probe tls myserver.postgres.database.azure.com:5432 --starttls postgres
      engram-audit probe tls https://myaccount.blob.core.windows.net/

  postgres-session <host:port> --user U
      Opens a PostgreSQL session over TLS and records pg_stat_ssl (version, cipher, bits) for its own
      backend, ssl_min_protocol_version, require_secure_transport and azure.extensions (Azure), the
      installed pgvector version, and whether a connection WITHOUT TLS is refused (that attempt never
      sends a credential). Non-compliant when non-TLS sessions are accepted or TLS is below --floor.
      --user U                   login role (required)
      --database D               database (default postgres)
      --password-env VAR         read the password from environment variable VAR (never a flag)
      --entra                    use a Microsoft Entra token (DefaultAzureCredential) as the password
      --sslrootcert FILE         PEM CA that issued the server certificate
      --floor TLSv1.2            lowest acceptable TLS version
      --no-tls                   session without TLS (test servers only; the password travels in clear)
    Example:
      PGPASSWORD_AUDIT=... engram-audit probe postgres-session myserver.postgres.database.azure.com:5432 \\
        --user auditor --password-env PGPASSWORD_AUDIT

  keyvault-crypto https://<vault>.vault.azure.net/keys/<name>
      Wraps and unwraps a random value with the current key version, and unwraps under the previous enabled version
      (dual-key during rotation). Records outcomes and SHA-256 hashes only. Needs Key Vault Crypto User.
      --algorithm RSA-OAEP-256   --ca-file FILE   --api-version V
      Example: engram-audit probe keyvault-crypto https://kv-ai-prod.vault.azure.net/keys/cmk-records

  blob-canary https://<account>.blob.core.windows.net/<container>          (writes: uploads and deletes one blob)
      Uploads a canary, records x-ms-request-server-encrypted and the key headers, reads it back, checks that an
      anonymous read is refused, deletes it. Needs Storage Blob Data Contributor (or --connection-string-env VAR).
      --connection-string-env VAR   --ca-file FILE
      Example: engram-audit probe blob-canary https://staiprod01.blob.core.windows.net/audit-canary

  rotation-drill --key <key url> --container <blob container url> [--postgres host:port ...]   (writes; never prod)
      Writes a canary blob (and a PostgreSQL row), rotates the key, proves the earlier data is still readable and
      records the key version each service reports, as a timeline. Refuses anything tagged environment=prod.
      --postgres-user U --postgres-password-env VAR --postgres-database D --postgres-sslmode MODE
      --connection-string-env VAR   --environment ENV   --ca-file FILE
      --arm-resource ID (repeatable)  after rotating, read which key version that storage account or PostgreSQL
                                      server reports through ARM   --arm-endpoint URL (sovereign clouds)
      Needs Key Vault Crypto Officer (rotate), Storage Blob Data Contributor, and Reader for --arm-resource.

Other registered probes take their options as --set key=value (repeatable).

Common options:
  --timeout-ms N               hard limit for the whole probe (default 10000)
  --json                       print the observation as JSON instead of a table
  -h, --help                   this text
`;

const TLS_FLAGS = ['starttls', 'floor', 'servername', 'ca', 'insecure-skip-verify', 'http', 'path'];
const PG_FLAGS = ['user', 'database', 'password-env', 'entra', 'sslrootcert', 'floor', 'no-tls'];
const COMMON = ['json', 'help', 'timeout-ms'];

function readPem(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(err as Error).message}`, { file: path, field: flag, hint: `Give ${flag} a readable PEM file.` });
  }
}

type Values = Record<string, string | boolean | string[] | undefined>;

function buildOptions(name: string, values: Values): Record<string, unknown> {
  const given = Object.keys(values).filter((k) => values[k] !== undefined && !COMMON.includes(k));
  const allowed = name === 'tls' ? TLS_FLAGS : name === 'postgres-session' ? PG_FLAGS : ['set'];
  const stray = given.filter((k) => !allowed.includes(k));
  if (stray.length) {
    throw new UsageError(`option --${stray[0]} does not apply to the ${name} probe`, { field: stray[0], hint: 'Run engram-audit probe --help for each probe\'s options.' });
  }
  const floor = values.floor as string | undefined;
  if (floor !== undefined && !normaliseTlsVersion(floor)) {
    throw new UsageError(`--floor ${JSON.stringify(floor)} is not a TLS version`, { field: 'floor', hint: 'Use TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3.' });
  }
  if (name === 'tls') {
    const starttls = values.starttls as string | undefined;
    if (starttls !== undefined && starttls !== 'postgres') {
      throw new UsageError(`--starttls ${JSON.stringify(starttls)} is not supported`, { field: 'starttls', hint: 'The only STARTTLS dialect is postgres.' });
    }
    return {
      ...(starttls ? { starttls } : {}),
      ...(floor ? { floor: normaliseTlsVersion(floor) } : {}),
      ...(values.servername ? { servername: values.servername } : {}),
      ...(values.ca ? { ca: readPem(values.ca as string, '--ca') } : {}),
      ...(values['insecure-skip-verify'] ? { insecureSkipVerify: true } : {}),
      ...(values.http ? { http: true } : {}),
      ...(values.path ? { path: values.path } : {}),
    };
  }
  if (name === 'postgres-session') {
    if (!values.user) throw new UsageError('the postgres-session probe needs --user', { field: 'user', hint: 'Pass --user NAME (and --password-env VAR or --entra).' });
    if (values['password-env'] && values.entra) throw new UsageError('--password-env and --entra cannot be combined', { field: 'password-env' });
    return {
      user: values.user,
      ...(values.database ? { database: values.database } : {}),
      ...(values['password-env'] ? { passwordEnv: values['password-env'] } : {}),
      ...(values.entra ? { entra: true } : {}),
      ...(values.sslrootcert ? { ca: readPem(values.sslrootcert as string, '--sslrootcert') } : {}),
      ...(floor ? { floor: normaliseTlsVersion(floor) } : {}),
      ...(values['no-tls'] ? { noTls: true } : {}),
    };
  }
  const out: Record<string, unknown> = {};
  for (const kv of (values.set as string[] | undefined) ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--set ${JSON.stringify(kv)} is not key=value`, { field: 'set' });
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function pad(s: string, n: number): string {
  return s.length >= n ? `${s} ` : s + ' '.repeat(n - s.length);
}

/** The human form: a status line, then the facts the probe recorded. */
export function formatObservation(obs: ProbeObservation): string {
  const lines = [`${obs.probe} ${obs.target}: ${obs.status.toUpperCase()}`, `  ${obs.summary}`];
  const o = obs.observed;
  if (obs.probe === 'tls' && Array.isArray(o.attempts)) {
    lines.push('', `  ${pad('version', 9)}${pad('result', 10)}${pad('cipher', 32)}why`);
    for (const a of o.attempts as TlsAttempt[]) {
      lines.push(`  ${pad(a.version, 9)}${pad(a.result, 10)}${pad(a.cipher?.name ?? '-', 32)}${a.reason}`);
    }
    const c = o.certificate as CertificateFacts | undefined;
    if (c) {
      lines.push(
        '',
        `  certificate: ${c.subject} (issuer ${c.issuer})`,
        `  expires: ${c.validTo} (${c.expiresInDays} days)`,
        `  trusted: ${c.trusted ? 'yes' : `no (${c.verifyError ?? 'unverified'})`}`,
        ...c.chainSha256.map((d, i) => `  chain[${i}] sha256: ${d}`),
      );
    }
  } else if (obs.probe === 'postgres-session') {
    const s = o.session as { pgStatSsl?: { version?: string; cipher?: string; bits?: number } | null } | undefined;
    const settings = (o.settings ?? {}) as Record<string, string | null>;
    const v = o.pgvector as { installedVersion?: string | null; availableVersion?: string | null; allowListed?: boolean | null } | undefined;
    const p = o.nonTls as { result?: string; reason?: string } | undefined;
    if (s) {
      lines.push('', `  session: ${s.pgStatSsl?.version ?? 'no TLS'} ${s.pgStatSsl?.cipher ?? ''} ${s.pgStatSsl?.bits ? `${s.pgStatSsl.bits} bits` : ''}`.trimEnd());
      for (const k of Object.keys(settings).sort()) lines.push(`  ${k}: ${settings[k] === null ? '(not set on this server)' : settings[k] === '' ? '(empty: server default)' : settings[k]}`);
    }
    if (p) lines.push(`  non-TLS connection: ${p.result} (${p.reason})`);
    if (v) {
      const allow = v.allowListed === null || v.allowListed === undefined ? 'no azure.extensions setting' : v.allowListed ? 'allow-listed in azure.extensions' : 'NOT in azure.extensions';
      lines.push(`  pgvector: ${v.installedVersion ?? 'not installed'} (available ${v.availableVersion ?? 'none'}; ${allow})`);
    }
  } else {
    lines.push('', ...JSON.stringify(o, null, 2).split('\n').map((l) => `  ${l}`));
  }
  if (obs.error) lines.push('', `  error ${obs.error.code}: ${obs.error.message}`);
  lines.push(`  took ${obs.durationMs} ms`);
  return `${lines.join('\n')}\n`;
}

/**
 * Runs `probe ...` (argv without the leading `probe`). Returns the exit code: 0 compliant, 1 non-compliant, 3 could
 * not observe, 2 usage error. Never throws for usage or network problems.
 */
export async function runProbeCommand(argv: string[], io: ProbeCommandIo, deps: ProbeCommandDeps = {}): Promise<number> {
  const dataPlane = argv[0] !== undefined ? DATA_PLANE_PARSERS[argv[0]] : undefined;
  if (dataPlane && !argv.includes('--help') && !argv.includes('-h')) return runDataPlaneProbe(argv[0], dataPlane, argv.slice(1), io, deps);
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'timeout-ms': { type: 'string' },
        starttls: { type: 'string' },
        floor: { type: 'string' },
        servername: { type: 'string' },
        ca: { type: 'string' },
        'insecure-skip-verify': { type: 'boolean' },
        http: { type: 'boolean' },
        path: { type: 'string' },
        user: { type: 'string' },
        database: { type: 'string' },
        'password-env': { type: 'string' },
        entra: { type: 'boolean' },
        sslrootcert: { type: 'string' },
        'no-tls': { type: 'boolean' },
        set: { type: 'string', multiple: true },
      },
    });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (err) {
    io.stderr(`engram-audit probe: ${(err as Error).message}\n  Run engram-audit probe --help.\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(PROBE_HELP);
    return 0;
  }
  try {
    const [name, target, ...rest] = positionals;
    if (!name) throw new UsageError('which probe?', { field: 'probe', hint: `Known probes: ${listProbes().map((p) => p.name).join(', ')}. Run engram-audit probe --help.` });
    const def = getProbe(name);
    if (!def) throw new UsageError(`unknown probe ${JSON.stringify(name)}`, { field: 'probe', hint: `Known probes: ${listProbes().map((p) => p.name).join(', ')}.` });
    if (!target) throw new UsageError(`the ${name} probe needs a target`, { field: 'target', hint: 'Run engram-audit probe --help for examples.' });
    if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`, { field: 'target', hint: 'Give exactly one target.' });
    if (name === 'tls') parseHostPort(target);
    if (name === 'postgres-session') parseHostPort(target, 5432);
    const timeoutText = (values['timeout-ms'] as string | undefined) ?? '10000';
    const timeoutMs = Number(timeoutText);
    if (!/^\d+$/.test(timeoutText) || timeoutMs < 1) {
      throw new UsageError(`--timeout-ms ${JSON.stringify(timeoutText)} is not a positive whole number of milliseconds`, { field: 'timeout-ms' });
    }
    const options = buildOptions(name, values);
    return await observeAndPrint(def, target, options, { timeoutMs, credential: deps.credential, json: Boolean(values.json) }, io, deps);
  } catch (err) {
    return probeErrorExit(err, io);
  }
}

/** Runs one probe and prints its observation; the exit code says compliant (0), non-compliant (1), not observed (3). */
async function observeAndPrint(
  def: ProbeDefinition,
  target: string,
  options: Record<string, unknown>,
  run: { timeoutMs: number; credential?: TokenCredential; json: boolean },
  io: ProbeCommandIo,
  deps: ProbeCommandDeps,
): Promise<number> {
  const obs = await runProbeDefinition(def, target, options, {
    timeoutMs: run.timeoutMs,
    now: deps.now ?? (() => new Date()),
    env: io.env,
    ...(run.credential ? { credential: run.credential } : {}),
  });
  io.stdout(run.json ? canonicalJson(obs) : formatObservation(obs));
  return obs.status === 'compliant' ? 0 : obs.status === 'non_compliant' ? 1 : 3;
}

/** Usage and input errors print and exit 2 (3 when the error says the observation could not be made). */
function probeErrorExit(err: unknown, io: ProbeCommandIo): number {
  if (err instanceof EngramError) {
    io.stderr(`engram-audit probe: ${err.format()}\n`);
    return err.exitCode === 3 ? 3 : 2;
  }
  throw err;
}

/** The data-plane probes parse their own flags (they have more of them, and their own validation). */
const DATA_PLANE_PARSERS: Record<string, (argv: string[]) => ParsedProbeArgs<Record<string, unknown>>> = {
  'keyvault-crypto': parseKeyvaultCryptoArgs as (argv: string[]) => ParsedProbeArgs<Record<string, unknown>>,
  'blob-canary': parseBlobCanaryArgs as (argv: string[]) => ParsedProbeArgs<Record<string, unknown>>,
  'rotation-drill': parseRotationDrillArgs as (argv: string[]) => ParsedProbeArgs<Record<string, unknown>>,
};

async function runDataPlaneProbe(
  name: string,
  parser: (argv: string[]) => ParsedProbeArgs<Record<string, unknown>>,
  argv: string[],
  io: ProbeCommandIo,
  deps: ProbeCommandDeps,
): Promise<number> {
  try {
    const parsed = parser(argv);
    const def = getProbe(name)!;
    // Entra tokens for Key Vault and Storage come from the same credential chain as a scan; the credential asks
    // nothing of the network until a probe needs a token.
    const credential = deps.credential ?? new DefaultAzureCredential();
    return await observeAndPrint(def, parsed.target, parsed.options, { timeoutMs: parsed.timeoutMs ?? 30_000, credential, json: parsed.json }, io, deps);
  } catch (err) {
    return probeErrorExit(err, io);
  }
}
