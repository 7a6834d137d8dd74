/**
 * postgres-session probe: opens a real PostgreSQL session over TLS (password from an environment variable, or a
 * Microsoft Entra token) and records what the server says about it: its own backend's row in `pg_stat_ssl`,
 * `ssl_min_protocol_version`, Azure's `require_secure_transport` and `azure.extensions`, the installed pgvector version,
 * and whether a connection WITHOUT TLS is refused. The non-TLS attempt never sends a credential: if the server asks for
 * one, it was willing to authenticate an unencrypted session, which is all the probe needs to know.
 */
import pg from 'pg';
import type { TokenCredential } from '@azure/core-auth';
import { UsageError } from '../errors.js';
import { redactString } from '../evidence/redact.js';
import { normaliseTlsVersion, parseHostPort, TLS_VERSIONS, type TlsVersion } from './tls.js';
import type { ProbeContext, ProbeDefinition, ProbeObservation, ProbeStatus } from './types.js';

/** Scope of Microsoft Entra tokens for Azure Database for PostgreSQL. */
export const ENTRA_POSTGRES_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

/** Options of the postgres-session probe. The time budget is `ctx.timeoutMs`. */
export interface PostgresSessionOptions {
  user: string;
  /** Database to connect to (default `postgres`). */
  database?: string;
  /** Name of the environment variable (in `ctx.env`) that holds the password. The password itself is never an option. */
  passwordEnv?: string;
  /** Use a Microsoft Entra token (ctx.credential, else DefaultAzureCredential) as the password. */
  entra?: boolean;
  /** PEM CA certificate(s) to verify the server against instead of Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Lowest acceptable TLS version for the session and for `ssl_min_protocol_version` (default TLSv1.2). */
  floor?: TlsVersion | string;
  /**
   * Run the session WITHOUT TLS (for test servers such as PGlite that have none). The observation records
   * `session.tls = false`, and since the server then evidently accepts unencrypted sessions, the status is non-compliant.
   * The password, if any, travels in clear: use only against loopback test servers.
   */
  noTls?: boolean;
}

/** pgvector facts: installed version, the version the server could install, and Azure's allow-list. */
export interface PgvectorFacts {
  installedVersion: string | null;
  availableVersion: string | null;
}

type Queryable = Pick<pg.Client, 'query'>;

/** Reads the installed and available pgvector versions over an open session. */
export async function queryPgvector(client: Queryable): Promise<PgvectorFacts> {
  const installed = await client.query<{ extversion: string }>("select extversion from pg_extension where extname = 'vector'");
  const available = await client.query<{ default_version: string }>("select default_version from pg_available_extensions where name = 'vector'");
  return {
    installedVersion: installed.rows[0]?.extversion ?? null,
    availableVersion: available.rows[0]?.default_version ?? null,
  };
}

/**
 * Reads server settings that may not exist (Azure-only ones): null when the server does not know the name. A setting
 * the role may not read (42501: ssl_* need pg_read_all_settings) is null too and listed in `unreadable`.
 */
export async function querySettings(client: Queryable, names: string[]): Promise<{ values: Record<string, string | null>; unreadable: string[] }> {
  const values: Record<string, string | null> = {};
  const unreadable: string[] = [];
  for (const name of names) {
    try {
      // current_setting(name, true) returns null for an unknown name instead of failing like SHOW does.
      const r = await client.query<{ v: string | null }>('select current_setting($1, true) as v', [name]);
      values[name] = r.rows[0]?.v ?? null;
    } catch (err) {
      if ((err as { code?: string }).code !== '42501') throw err;
      values[name] = null;
      unreadable.push(name);
    }
  }
  return { values, unreadable };
}

/** True when `azure.extensions` (a comma-separated list, any case) allows `name`; null when the setting is absent. */
export function isAllowListed(azureExtensions: string | null, name: string): boolean | null {
  if (azureExtensions === null) return null;
  return azureExtensions
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .includes(name.toLowerCase());
}

function msgOf(err: unknown): string {
  const e = err as { message?: string; code?: string } | undefined;
  // Credential chains report one line per credential; an observation's message stays on one line.
  const m = (e?.message ?? String(err)).replace(/\s*\n\s*/g, ' ').trim();
  return redactString(e?.code && !m.includes(e.code) ? `${m} (${e.code})` : m);
}

/** Turns a connection failure into words that say what went wrong and what to do. */
export function describeConnectError(err: unknown, what: { target: string; user: string; auth: string }): { code: string; message: string } {
  const e = err as { code?: string; message?: string } | undefined;
  const code = e?.code ?? '';
  const text = e?.message ?? String(err);
  const tried = `tried: TLS session to ${what.target} as ${what.user} (${what.auth})`;
  if (code === '28P01') return { code: 'E_PROBE_AUTH', message: `password authentication failed for user ${what.user}; ${tried}` };
  if (code === '28000') return { code: 'E_PROBE_AUTH', message: `the server rejected the login: ${msgOf(err)}; ${tried}` };
  if (code === 'ECONNREFUSED') return { code: 'E_PROBE_UNREACHABLE', message: `connection refused by ${what.target}; ${tried}` };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { code: 'E_PROBE_DNS', message: `could not resolve the host of ${what.target} (${code}); ${tried}` };
  if (
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code) ||
    /certificate|Hostname\/IP does not match/i.test(text)
  ) {
    return {
      code: 'E_PROBE_UNTRUSTED_CERT',
      message: `the server certificate was not trusted (${msgOf(err)}); pass --sslrootcert FILE with the issuing CA; ${tried}`,
    };
  }
  if (/timeout|timed out/i.test(text) || code === 'ETIMEDOUT') return { code: 'E_PROBE_TIMEOUT', message: `timed out (${msgOf(err)}); ${tried}` };
  return { code: 'E_PROBE_CONNECT', message: `could not open the session: ${msgOf(err)}; ${tried}` };
}

interface ClientWithStream {
  connection?: { stream?: { destroy: () => void } };
}

/** Destroys a client's socket at once: `end()` waits for the server, which a deadline cannot. */
function kill(client: pg.Client): void {
  try {
    (client as unknown as ClientWithStream).connection?.stream?.destroy();
  } catch {
    // already gone
  }
}

/** What the non-TLS attempt saw. */
export interface PlaintextOutcome {
  result: 'refused' | 'accepted' | 'error';
  reason: string;
  sqlstate?: string;
}

/**
 * Tries a session WITHOUT TLS and never sends a credential. Refused = the server rejected it before authentication
 * (pg_hba `hostnossl ... reject`, "no encryption", Azure's "SSL connection is required"); accepted = the server asked
 * for a password or let the session in.
 */
export async function tryPlaintext(
  host: string,
  port: number,
  user: string,
  database: string,
  timeoutMs: number,
  clients: Set<pg.Client>,
): Promise<PlaintextOutcome> {
  let askedForPassword = false;
  const client = new pg.Client({
    host,
    port,
    user,
    database,
    ssl: false,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    password: () => {
      askedForPassword = true;
      throw new Error('engram-audit declined to send a credential over a connection without TLS');
    },
  });
  clients.add(client);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return { result: 'accepted', reason: 'a session without TLS was opened without any credential being asked for' };
  } catch (err) {
    if (askedForPassword) {
      return { result: 'accepted', reason: 'the server asked for a password on a connection without TLS (nothing was sent): it accepts unencrypted sessions' };
    }
    const e = err as { code?: string; message?: string };
    const text = e.message ?? '';
    if (e.code === '28000' || /no encryption|SSL connection is required|SSL off|pg_hba\.conf rejects|secure transport/i.test(text)) {
      return { result: 'refused', reason: `refused before authentication: ${msgOf(err)}`, ...(e.code ? { sqlstate: e.code } : {}) };
    }
    if (e.code === '28P01') {
      // A password failure means the server got as far as checking a password on an unencrypted connection.
      return { result: 'accepted', reason: 'the server checked a password on a connection without TLS', sqlstate: e.code };
    }
    return { result: 'error', reason: `the non-TLS attempt failed without a refusal from the server: ${msgOf(err)}`, ...(e.code ? { sqlstate: e.code } : {}) };
  } finally {
    kill(client);
    clients.delete(client);
  }
}

async function entraToken(ctx: ProbeContext, signal: AbortSignal): Promise<string> {
  let credential: TokenCredential | undefined = ctx.credential;
  if (!credential) {
    const identity = await import('@azure/identity');
    credential = new identity.DefaultAzureCredential();
  }
  // Some credentials in the chain (managed identity, CLI) ignore the signal for a while: the race keeps the deadline.
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(new Error('timed out before a token arrived'));
    signal.addEventListener('abort', () => reject(new Error('timed out before a token arrived')), { once: true });
  });
  const token = await Promise.race([credential.getToken(ENTRA_POSTGRES_SCOPE, { abortSignal: signal }), aborted]);
  if (!token?.token) throw new Error('the credential returned no token');
  return token.token;
}

function cmpVersion(a: string, b: TlsVersion): number | undefined {
  const v = normaliseTlsVersion(a);
  if (!v) return undefined;
  return TLS_VERSIONS.indexOf(v) - TLS_VERSIONS.indexOf(b);
}

/** Runs the postgres-session probe. Connection, authentication and certificate failures are `error` observations. */
export async function runPostgresSessionProbe(target: string, options: PostgresSessionOptions, ctx: ProbeContext): Promise<ProbeObservation> {
  const startedAt = ctx.now();
  const t0 = performance.now();
  if (!options || typeof options.user !== 'string' || options.user === '') {
    throw new UsageError('the postgres-session probe needs a user', { field: 'user', hint: 'Pass --user NAME.' });
  }
  if (options.passwordEnv && options.entra) {
    throw new UsageError('--password-env and --entra cannot be combined', { field: 'password-env', hint: 'Choose one way to authenticate.' });
  }
  const floor = normaliseTlsVersion(String(options.floor ?? 'TLSv1.2'));
  if (!floor) throw new UsageError(`--floor ${JSON.stringify(options.floor)} is not a TLS version`, { field: 'floor', hint: 'Use TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3.' });
  const hp = parseHostPort(target, 5432);
  const database = options.database ?? 'postgres';
  const auth = options.entra ? 'Microsoft Entra token' : options.passwordEnv ? `password from $${options.passwordEnv}` : 'no password';
  const observed: Record<string, unknown> = { host: hp.host, port: hp.port, user: options.user, database, auth, floor };
  const base = { probe: 'postgres-session', target, startedAt: startedAt.toISOString() };
  const finish = (status: ProbeStatus, summary: string, error?: { code: string; message: string }): ProbeObservation => ({
    ...base,
    status,
    summary: redactString(summary),
    observed,
    durationMs: Math.round(performance.now() - t0),
    ...(error ? { error: { code: error.code, message: redactString(error.message) } } : {}),
  });

  const clients = new Set<pg.Client>();
  let timedOut = false;
  const local = new AbortController();
  const killAll = (): void => {
    for (const c of clients) kill(c);
  };
  const onAbort = (): void => {
    timedOut = true;
    local.abort();
    killAll();
  };
  const overall = setTimeout(onAbort, ctx.timeoutMs);
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = Date.now() + ctx.timeoutMs;
  const left = (): number => Math.max(1, deadline - Date.now());

  try {
    let password: string | undefined;
    if (options.passwordEnv) {
      password = ctx.env[options.passwordEnv];
      if (password === undefined || password === '') {
        const msg = `environment variable ${options.passwordEnv} is not set or empty; tried: reading the password for ${options.user} from it before connecting to ${target}`;
        return finish('error', msg, { code: 'E_PROBE_PASSWORD_ENV', message: msg });
      }
    } else if (options.entra) {
      try {
        password = await entraToken(ctx, local.signal);
      } catch (err) {
        const msg = `could not get a Microsoft Entra token (scope ${ENTRA_POSTGRES_SCOPE}): ${msgOf(err)}; tried: DefaultAzureCredential before connecting to ${target}`;
        return finish('error', msg, { code: 'E_PROBE_CREDENTIAL', message: msg });
      }
    }

    const client = new pg.Client({
      host: hp.host,
      port: hp.port,
      user: options.user,
      database,
      // A function keeps pg from falling back to PGPASSWORD or ~/.pgpass: the only password is the one asked for.
      password: () => password ?? '',
      ssl: options.noTls ? false : { rejectUnauthorized: true, ...(options.ca ? { ca: options.ca } : {}) },
      connectionTimeoutMillis: left(),
      query_timeout: left(),
      application_name: 'engram-audit-probe',
    });
    clients.add(client);
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      if (/does not support SSL/i.test((err as Error).message ?? '')) {
        observed.tlsOffered = false;
        return finish('non_compliant', `${target} answered the SSLRequest with N: the server does not offer TLS, so sessions are unencrypted.`);
      }
      const d = timedOut
        ? { code: 'E_PROBE_TIMEOUT', message: `timed out after ${ctx.timeoutMs} ms; tried: TLS session to ${target} as ${options.user} (${auth})` }
        : describeConnectError(err, { target, user: options.user, auth });
      return finish('error', d.message, d);
    }

    const session: Record<string, unknown> = { tls: !options.noTls };
    const ssl = await client.query<{ ssl: boolean; version: string | null; cipher: string | null; bits: number | null }>(
      'select ssl, version, cipher, bits from pg_stat_ssl where pid = pg_backend_pid()',
    );
    const row = ssl.rows[0];
    session.pgStatSsl = row ? { ssl: row.ssl, version: row.version, cipher: row.cipher, bits: row.bits } : null;
    observed.session = session;
    const read = await querySettings(client, ['ssl', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'require_secure_transport', 'azure.extensions']);
    const settings = read.values;
    observed.settings = settings;
    if (read.unreadable.length) observed.unreadableSettings = read.unreadable;
    const vector = await queryPgvector(client);
    observed.pgvector = { ...vector, allowListed: isAllowListed(settings['azure.extensions'], 'vector') };
    kill(client);
    clients.delete(client);

    let plaintext: PlaintextOutcome;
    if (options.noTls) {
      plaintext = { result: 'accepted', reason: 'the probe session itself ran without TLS (--no-tls)' };
    } else {
      plaintext = await tryPlaintext(hp.host, hp.port, options.user, database, left(), clients);
      if (timedOut) plaintext = { result: 'error', reason: `the non-TLS attempt did not finish within the ${ctx.timeoutMs} ms budget` };
    }
    observed.nonTls = plaintext;

    const problems: string[] = [];
    if (plaintext.result === 'accepted') problems.push(`accepts sessions without TLS (${plaintext.reason})`);
    const sessVersion = row?.version ?? null;
    if (!options.noTls && row && row.ssl !== true) problems.push('pg_stat_ssl says this session is not encrypted');
    if (sessVersion && (cmpVersion(sessVersion, floor) ?? 0) < 0) problems.push(`the session negotiated ${sessVersion}, below ${floor}`);
    const minSetting = settings.ssl_min_protocol_version;
    if (minSetting && (cmpVersion(minSetting, floor) ?? 0) < 0) problems.push(`ssl_min_protocol_version is ${minSetting}, below ${floor}`);
    if (settings.require_secure_transport !== null && settings.require_secure_transport.toLowerCase() !== 'on') {
      problems.push(`require_secure_transport is ${settings.require_secure_transport}`);
    }
    observed.problems = problems;
    const facts = `session ${sessVersion ?? 'without TLS'}${row?.cipher ? ` ${row.cipher}` : ''}, ssl_min_protocol_version ${minSetting ?? 'unknown'}, pgvector ${vector.installedVersion ?? 'not installed'}`;
    if (problems.length) return finish('non_compliant', `${target} ${problems.join('; ')} (${facts}).`);
    if (read.unreadable.includes('ssl_min_protocol_version')) {
      const msg = `${options.user} may not read ssl_min_protocol_version on ${target} (42501); grant it pg_read_all_settings (on Azure: a member of azure_pg_admin) and run again`;
      return finish('error', msg, { code: 'E_PROBE_INCOMPLETE', message: msg });
    }
    if (plaintext.result === 'error') {
      const msg = `could not tell whether ${target} refuses sessions without TLS: ${plaintext.reason}`;
      return finish('error', msg, { code: 'E_PROBE_INCONCLUSIVE', message: msg });
    }
    if (!options.noTls && !sessVersion) {
      const msg = `${target} opened a session but pg_stat_ssl shows no TLS version for it`;
      return finish('error', msg, { code: 'E_PROBE_INCONCLUSIVE', message: msg });
    }
    return finish('compliant', `${target} refuses sessions without TLS; ${facts}.`);
  } catch (err) {
    const msg = timedOut
      ? `timed out after ${ctx.timeoutMs} ms; tried: TLS session to ${target} as ${options.user} (${auth}), then pg_stat_ssl, settings, pgvector and a non-TLS attempt`
      : `the session failed while reading facts: ${msgOf(err)}; tried: TLS session to ${target} as ${options.user} (${auth})`;
    return finish('error', msg, { code: timedOut ? 'E_PROBE_TIMEOUT' : 'E_PROBE_QUERY', message: msg });
  } finally {
    clearTimeout(overall);
    ctx.signal?.removeEventListener('abort', onAbort);
    killAll();
  }
}

/** The postgres-session probe definition (read-only: runs with `--probes safe`). */
export const postgresSessionProbe: ProbeDefinition<PostgresSessionOptions> = {
  name: 'postgres-session',
  writes: false,
  description:
    'Opens a TLS session and records pg_stat_ssl, ssl_min_protocol_version, require_secure_transport, whether a non-TLS connection is refused, and the pgvector version against azure.extensions.',
  run: runPostgresSessionProbe,
};
