/**
 * rotation-drill probe (writes; never in production): writes a canary blob and optionally a PostgreSQL row, rotates the
 * Key Vault key, then shows that what was written before is still readable and which key version each service reports
 * afterwards, as a timeline of timestamped steps. Refuses targets tagged or declared as production before writing.
 */
import { randomBytes } from 'node:crypto';
import type { Agent } from 'node:https';
import { createDefaultHttpClient, createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { KeyClient } from '@azure/keyvault-keys';
import pg from 'pg';
import { UsageError } from '../errors.js';
import { sha256Hex } from '../util/hash.js';
import {
  canaryBlobName,
  containerAccess,
  deleteCanary,
  parseContainerTarget,
  readBack,
  writeCanary,
  type ContainerAccess,
} from './blob-canary.js';
import {
  describeError,
  finishObservation,
  isProductionName,
  parseFlags,
  productionTag,
  readCaFile,
  trustAgent,
  withDeadline,
  type ParsedProbeArgs,
} from './data-plane-support.js';
import { keyVaultClientOptions, parseKeyTarget } from './keyvault-crypto.js';
import type { ProbeContext, ProbeDefinition, ProbeObservation, ProbeStatus } from './types.js';

export const ROTATION_DRILL_PROBE = 'rotation-drill';

/** Microsoft Entra scope for Azure Database for PostgreSQL tokens. */
export const POSTGRES_ENTRA_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

export interface PostgresDrillTarget {
  host: string;
  port: number;
}

/** Options of the rotation-drill probe (a type alias, so it is assignable to `ProbeDefinition<Record<string, unknown>>`). */
export type RotationDrillOptions = {
  /** Azure resource id of the target (the scan passes it), tying the observation to configuration checks. */
  resourceId?: string;
  /** Blob container URL for the canary blob (required). */
  container: string;
  /** Environment variable holding the storage connection string (default: the Entra credential). */
  connectionStringEnv?: string;
  /** PostgreSQL servers to write a canary row to (optional). */
  postgres?: PostgresDrillTarget[];
  postgresUser?: string;
  /** Default `postgres`. */
  postgresDatabase?: string;
  /** Environment variable with the PostgreSQL password; without it, a Microsoft Entra token is used. */
  postgresPasswordEnv?: string;
  /** Default `verify-full` (Azure requires TLS); `disable` only for local test servers. */
  postgresSslMode?: 'disable' | 'require' | 'verify-full';
  /** Declared environment of the targets; `prod`/`production` is refused before anything is touched. */
  environment?: string;
  /** Tags of the target resources as the inventory saw them (the scan passes them); `environment=prod` is refused. */
  tags?: Record<string, string>;
  caFile?: string;
  ca?: string;
  disableChallengeResourceVerification?: boolean;
  serviceVersion?: string;
  /** Canary name suffix source (tests). */
  randomSuffix?: () => string;
  /**
   * Azure resource ids whose ARM settings report the key version each service uses (a storage account's
   * `encryption.keyvaultproperties.currentVersionedKeyIdentifier`, a PostgreSQL server's `dataEncryption`): read after
   * the rotation, because neither data plane exposes it.
   */
  armResources?: string[];
  /** ARM endpoint (default https://management.azure.com; a sovereign cloud's, or a test server). */
  armEndpoint?: string;
};

/** The api-versions the ARM reads use (the same as the collectors'). */
const ARM_API_VERSIONS: Record<string, string> = {
  'microsoft.storage/storageaccounts': '2025-08-01',
  'microsoft.dbforpostgresql/flexibleservers': '2025-08-01',
};

/** `/subscriptions/s/resourceGroups/g/providers/<ns>/<type>/<name>` -> `<ns>/<type>`, lower-case. */
function armTypeOf(id: string): string | undefined {
  const m = /\/providers\/([^/]+)\/([^/]+)\/[^/]+$/i.exec(id);
  return m ? `${m[1]}/${m[2]}`.toLowerCase() : undefined;
}

/**
 * Reads what the ARM resource says about the key it uses, after the rotation. Storage reports the versioned key it
 * currently wraps with (it picks a new version up asynchronously, usually within a day, when keyversion is empty);
 * PostgreSQL reports its key URI and key status.
 */
async function armKeyReport(
  id: string,
  endpoint: string,
  credential: NonNullable<ProbeContext['credential']>,
  agent: Agent | undefined,
  abortSignal: AbortSignal,
): Promise<Record<string, unknown>> {
  const type = armTypeOf(id);
  const apiVersion = type ? ARM_API_VERSIONS[type] : undefined;
  if (!type || !apiVersion) return { resourceId: id, reportedKeyVersion: null, why: 'not a storage account or PostgreSQL flexible server id' };
  const origin = new URL(endpoint).origin;
  // Sovereign clouds' ARM endpoints are their own token audience; anything else (a test server) asks for public ARM.
  const audience = /^https:\/\/management\./.test(origin) ? origin : 'https://management.azure.com';
  const token = await credential.getToken(`${audience}/.default`, { abortSignal });
  const url = `${origin}${id}?api-version=${apiVersion}`;
  const request = createPipelineRequest({
    url,
    method: 'GET',
    headers: createHttpHeaders({ authorization: `Bearer ${token?.token ?? ''}`, accept: 'application/json' }),
    abortSignal,
  });
  // createPipelineRequest does not copy an agent; the HTTP client reads it from the request (as agentPolicy sets it).
  if (agent) request.agent = agent;
  const response = await createDefaultHttpClient().sendRequest(request);
  if (response.status !== 200) {
    return { resourceId: id, request: `GET ${url}`, status: response.status, reportedKeyVersion: null, why: `ARM answered ${response.status}` };
  }
  const body = JSON.parse(response.bodyAsText ?? '{}') as { properties?: Record<string, any> };
  const p = body.properties ?? {};
  if (type === 'microsoft.storage/storageaccounts') {
    const kv = p.encryption?.keyvaultproperties ?? {};
    const current: string | undefined = kv.currentVersionedKeyIdentifier;
    return {
      resourceId: id,
      request: `GET ${url}`,
      keySource: p.encryption?.keySource ?? null,
      keyVersionPinned: kv.keyversion ? kv.keyversion : null,
      currentVersionedKeyIdentifier: current ?? null,
      reportedKeyVersion: current ? current.replace(/\/+$/, '').split('/').pop() : null,
      lastKeyRotationTimestamp: kv.lastKeyRotationTimestamp ?? null,
    };
  }
  const de = p.dataEncryption ?? {};
  const uri: string | undefined = de.primaryKeyURI;
  const segments = uri ? new URL(uri).pathname.split('/').filter(Boolean) : [];
  return {
    resourceId: id,
    request: `GET ${url}`,
    type: de.type ?? null,
    primaryKeyURI: uri ?? null,
    primaryEncryptionKeyStatus: de.primaryEncryptionKeyStatus ?? null,
    // A versionless URI (keys/<name>) follows the newest version; a versioned one names it.
    reportedKeyVersion: segments.length >= 3 ? segments[2] : null,
    followsLatestVersion: segments.length === 2,
  };
}

/** One timeline entry. */
export interface DrillStep {
  at: string;
  step: string;
  ok: boolean;
  detail?: Record<string, unknown>;
}

const CANARY_TABLE = 'engram_audit_canary';

function pgHostPort(t: PostgresDrillTarget): string {
  return `${t.host}:${t.port}`;
}

/** Parses `host:port` (IPv6 as `[::1]:5432`). Throws UsageError. */
export function parsePostgresTarget(text: string): PostgresDrillTarget {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new UsageError(`--postgres takes host:port, got ${JSON.stringify(text)}`, { hint: 'e.g. --postgres myserver.postgres.database.azure.com:5432' });
  }
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** Runs the drill. Never throws for service or network failures: they become an `error` observation. */
export async function runRotationDrill(target: string, options: RotationDrillOptions, ctx: ProbeContext): Promise<ProbeObservation> {
  const startedAt = ctx.now();
  const timeline: DrillStep[] = [];
  const attempted: string[] = [];
  const observed: Record<string, unknown> = { timeline, attempted };
  const done = (status: ProbeStatus, summary: string, error?: { code: string; message: string }): ProbeObservation =>
    finishObservation(ROTATION_DRILL_PROBE, target, startedAt, ctx.now, status, summary, observed, error, options.resourceId);
  const record = (step: string, ok: boolean, detail?: Record<string, unknown>): void => {
    timeline.push({ at: ctx.now().toISOString(), step, ok, ...(detail ? { detail } : {}) });
  };

  // Production guard, part 1: what the caller declared, before any network call.
  const declaredProd = isProductionName(options.environment) ? `--environment ${options.environment}` : productionTag(options.tags);
  if (declaredProd) {
    record('refused: production target', false, { because: declaredProd });
    observed.refused = { because: declaredProd };
    return done('error', `Refused to run the rotation drill: the target is production (${declaredProd}). Nothing was read or written.`, {
      code: 'refused_production',
      message: `rotation-drill never runs against production (${declaredProd})`,
    });
  }

  let kt: ReturnType<typeof parseKeyTarget>;
  let agent: Agent | undefined;
  let access: ContainerAccess;
  const pgTargets = options.postgres ?? [];
  try {
    kt = parseKeyTarget(target);
    parseContainerTarget(options.container);
    agent = trustAgent(options.ca ?? (options.caFile ? readCaFile(options.caFile) : undefined));
    access = containerAccess(options.container, options, ctx, agent);
    if (!ctx.credential) throw new UsageError('rotation-drill needs a Microsoft Entra credential for Key Vault (rotate permission on the key)');
    if (pgTargets.length > 0 && !options.postgresUser) throw new UsageError('--postgres needs --postgres-user');
    if (pgTargets.length > 0 && !options.postgresPasswordEnv && !ctx.credential) throw new UsageError('--postgres needs --postgres-password-env or an Entra credential');
  } catch (e) {
    agent?.destroy();
    return done('error', 'The drill could not be set up, so nothing was touched.', { code: 'bad_input', message: (e as Error).message });
  }
  const credential = ctx.credential!;
  Object.assign(observed, { key: { vaultUrl: kt.vaultUrl, name: kt.name }, container: access.containerUrl, postgres: pgTargets.map(pgHostPort) });
  const suffix = options.randomSuffix?.() ?? randomBytes(4).toString('hex');
  const blobName = canaryBlobName(startedAt, suffix);
  const rowId = `engram-audit-drill-${startedAt.toISOString()}-${suffix}`;
  let step = `GET ${kt.vaultUrl}/keys/${kt.name} (read key and tags)`;
  const leftovers: string[] = [];

  const pgClients: Array<{ target: PostgresDrillTarget; client: pg.Client }> = [];
  const connectPg = async (t: PostgresDrillTarget): Promise<pg.Client> => {
    const password = options.postgresPasswordEnv
      ? ctx.env[options.postgresPasswordEnv]
      : (await credential.getToken(POSTGRES_ENTRA_SCOPE))?.token;
    if (!password) throw new UsageError(`no PostgreSQL password: ${options.postgresPasswordEnv ? `${options.postgresPasswordEnv} is not set` : 'the credential returned no token'}`);
    const mode = options.postgresSslMode ?? 'verify-full';
    const ca = options.ca ?? (options.caFile ? readCaFile(options.caFile) : undefined);
    const client = new pg.Client({
      host: t.host,
      port: t.port,
      user: options.postgresUser,
      database: options.postgresDatabase ?? 'postgres',
      password,
      ssl: mode === 'disable' ? false : { rejectUnauthorized: mode === 'verify-full', ...(ca ? { ca } : {}) },
      connectionTimeoutMillis: ctx.timeoutMs,
      application_name: 'engram-audit rotation-drill',
    });
    client.on('error', () => undefined); // a dropped connection surfaces on the next query instead of crashing
    await client.connect();
    return client;
  };

  try {
    const outcome = await withDeadline(ctx, async (abortSignal) => {
      const keyClient = new KeyClient(kt.vaultUrl, credential, keyVaultClientOptions(options, agent));
      try {
        // Production guard, part 2: tags on the key and metadata on the container (reads only).
        attempted.push(step);
        const before = await keyClient.getKey(kt.name, { abortSignal });
        const keyProd = productionTag(before.properties.tags);
        let containerProd: string | undefined;
        step = `GET ${access.containerUrl}?restype=container (read container metadata)`;
        attempted.push(step);
        try {
          const props = await access.client.getProperties({ abortSignal });
          containerProd = productionTag(props.metadata);
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode !== 403) throw e; // a SAS may not read container properties
        }
        const prodBecause = keyProd ? `key tag ${keyProd}` : containerProd ? `container metadata ${containerProd}` : undefined;
        if (prodBecause) {
          record('refused: production target', false, { because: prodBecause });
          observed.refused = { because: prodBecause };
          return { status: 'error' as const, summary: `Refused to run the rotation drill: the target is production (${prodBecause}). Nothing was written.`, error: { code: 'refused_production', message: `rotation-drill never runs against production (${prodBecause})` } };
        }
        const versionBefore = before.properties.version ?? '';
        record('key read', true, { keyId: before.id, version: versionBefore });

        // Write what must survive the rotation.
        step = `PUT ${access.containerUrl}/${blobName} (canary blob)`;
        attempted.push(step);
        const content = Buffer.from(`engram-audit rotation-drill canary ${startedAt.toISOString()}\n`, 'utf8');
        const written = await writeCanary(access, blobName, content, abortSignal);
        leftovers.push(`blob ${access.containerUrl}/${blobName}`);
        record('canary blob written', true, { blob: blobName, contentSha256: written.contentSha256, headers: written.uploadHeaders });

        const rowSha = sha256Hex(rowId);
        for (const t of pgTargets) {
          step = `PostgreSQL ${pgHostPort(t)}: connect and INSERT INTO ${CANARY_TABLE}`;
          attempted.push(step);
          const client = await connectPg(t);
          pgClients.push({ target: t, client });
          await client.query(`CREATE TABLE IF NOT EXISTS ${CANARY_TABLE} (id text PRIMARY KEY, written_at timestamptz NOT NULL, sha256 text NOT NULL)`);
          await client.query(`INSERT INTO ${CANARY_TABLE} (id, written_at, sha256) VALUES ($1, $2, $3)`, [rowId, startedAt.toISOString(), rowSha]);
          leftovers.push(`row ${rowId} in ${pgHostPort(t)}/${CANARY_TABLE}`);
          const ssl = await client.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()').catch(() => ({ rows: [] as Array<Record<string, unknown>> }));
          record('canary row written', true, { server: pgHostPort(t), table: CANARY_TABLE, rowSha256: rowSha, tls: ssl.rows[0] ?? null });
        }

        // Rotate.
        step = `POST ${kt.vaultUrl}/keys/${kt.name}/rotate (KeyClient.rotateKey)`;
        attempted.push(step);
        const rotated = await keyClient.rotateKey(kt.name, { abortSignal });
        const versionAfter = rotated.properties.version ?? '';
        record('key rotated', versionAfter !== '' && versionAfter !== versionBefore, { keyId: rotated.id, versionBefore, versionAfter });

        // Read back what was written before.
        const problems: string[] = [];
        step = `GET ${access.containerUrl}/${blobName} (read back after rotation)`;
        attempted.push(step);
        const back = await readBack(access, blobName, abortSignal);
        const blobOk = back.sha256 === written.contentSha256;
        if (!blobOk) problems.push('the canary blob read back after rotation differs from what was written');
        record('canary blob read after rotation', blobOk, { contentSha256: back.sha256, headers: back.headers });

        const pgReports: Array<Record<string, unknown>> = [];
        for (const { target: t, client } of pgClients) {
          step = `PostgreSQL ${pgHostPort(t)}: SELECT canary row after rotation`;
          attempted.push(step);
          const r = await client.query(`SELECT sha256 FROM ${CANARY_TABLE} WHERE id = $1`, [rowId]);
          const ok = r.rows.length === 1 && r.rows[0].sha256 === rowSha;
          if (!ok) problems.push(`the canary row on ${pgHostPort(t)} was not readable after rotation`);
          record('canary row read after rotation', ok, { server: pgHostPort(t), rows: r.rows.length });
          pgReports.push({
            server: pgHostPort(t),
            reportedKeyVersion: null,
            why: 'PostgreSQL does not expose its data-encryption key version over SQL; the server resource (ARM dataEncryption.primaryKeyURI) does.',
          });
        }

        // Which version each side reports now.
        step = `GET ${kt.vaultUrl}/keys/${kt.name}/versions (after rotation)`;
        attempted.push(step);
        const after = await keyClient.getKey(kt.name, { abortSignal });
        let previousEnabled: boolean | null = null;
        for await (const p of keyClient.listPropertiesOfKeyVersions(kt.name, { abortSignal })) {
          if (p.version === versionBefore) previousEnabled = p.enabled ?? null;
        }
        if (after.properties.version !== versionAfter) problems.push(`Key Vault reports version ${after.properties.version} as current, not the rotated ${versionAfter}`);
        if (previousEnabled !== true) problems.push('the pre-rotation key version is no longer enabled, so data wrapped under it cannot be unwrapped');
        if (versionAfter === versionBefore) problems.push('rotation did not create a new key version');
        record('key versions after rotation', previousEnabled === true && after.properties.version === versionAfter, {
          current: after.properties.version,
          previous: versionBefore,
          previousEnabled,
        });
        const armReports: Array<Record<string, unknown>> = [];
        for (const id of options.armResources ?? []) {
          step = `GET ${id} (ARM: which key version the service reports)`;
          attempted.push(step);
          const report = await armKeyReport(id, options.armEndpoint ?? 'https://management.azure.com', credential, agent, abortSignal);
          armReports.push(report);
          record('service key version (ARM)', report.reportedKeyVersion !== null || report.followsLatestVersion === true, report);
        }
        observed.keyVersions = {
          ...(armReports.length > 0 ? { services: armReports } : {}),
          keyVault: { before: versionBefore, after: after.properties.version ?? null, previousEnabled },
          blob: {
            reportedKeyVersion: null,
            encryptionScope: back.headers['x-ms-encryption-scope'],
            serverEncrypted: back.headers['x-ms-server-encrypted'],
            why: "The blob data plane does not expose the customer-managed key version; the storage account's encryption.keyvaultproperties (ARM) does.",
          },
          postgres: pgReports,
        };
        observed.problems = problems;
        if (problems.length > 0) return { status: 'non_compliant' as const, summary: `Rotation drill on key ${kt.name}: ${problems.join('; ')}.` };
        return {
          status: 'compliant' as const,
          summary: `Rotation drill on key ${kt.name}: rotated ${versionBefore} to ${versionAfter}; the canary blob${pgClients.length ? ` and ${pgClients.length} PostgreSQL row(s)` : ''} written before stayed readable and the previous version stayed enabled.`,
        };
      } finally {
        // Clean up what this run wrote (best effort; aborted calls fail fast after the deadline).
        if (leftovers.some((l) => l.startsWith('blob '))) {
          try {
            const del = await deleteCanary(access, blobName, abortSignal);
            if (del.deleted) leftovers.splice(leftovers.findIndex((l) => l.startsWith('blob ')), 1);
            record('canary blob deleted', del.deleted, del.reason ? { reason: del.reason } : undefined);
          } catch (e) {
            record('canary blob deleted', false, { error: describeError(e, 'DELETE canary blob').message });
          }
        }
        for (const { target: t, client } of pgClients) {
          try {
            await client.query(`DELETE FROM ${CANARY_TABLE} WHERE id = $1`, [rowId]);
            const i = leftovers.findIndex((l) => l.startsWith('row ') && l.endsWith(`${pgHostPort(t)}/${CANARY_TABLE}`));
            if (i >= 0) leftovers.splice(i, 1);
            record('canary row deleted', true, { server: pgHostPort(t) });
          } catch (e) {
            record('canary row deleted', false, { server: pgHostPort(t), error: describeError(e, 'DELETE canary row').message });
          }
        }
      }
    });
    observed.leftovers = [...leftovers];
    return done(outcome.status, outcome.summary, 'error' in outcome ? outcome.error : undefined);
  } catch (e) {
    const error = describeError(e, step);
    record(`stopped: ${step}`, false, { error: error.message });
    observed.leftovers = [...leftovers];
    return done('error', `Rotation drill on key ${kt.name} could not complete: ${error.message}`, error);
  } finally {
    for (const { client } of pgClients) await client.end().catch(() => undefined);
    agent?.destroy();
  }
}

/** The probe definition the registry lists (writes; refuses production). */
export const rotationDrillProbe: ProbeDefinition<RotationDrillOptions> = {
  name: ROTATION_DRILL_PROBE,
  writes: true,
  description:
    'Non-production only: writes a canary blob (and optionally a PostgreSQL row), rotates the Key Vault key, and shows the data stays readable and which key version each service reports.',
  run: runRotationDrill,
};

/**
 * argv (after `probe rotation-drill`): `--key <key-url> --container <container-url> [--postgres host:port ...]
 * [--postgres-user U] [--postgres-database D] [--postgres-password-env VAR] [--postgres-sslmode disable|require|verify-full]
 * [--connection-string-env VAR] [--environment NAME] [--ca-file PEM] [--disable-challenge-resource-verification]
 * [--timeout-ms N] [--json]`. The key URL may also be given as the one positional target.
 */
export function parseRotationDrillArgs(argv: string[]): ParsedProbeArgs<RotationDrillOptions> {
  const { positional, flags, timeoutMs, json } = parseFlags(ROTATION_DRILL_PROBE, argv, {
    key: { value: true },
    container: { value: true },
    postgres: { value: true, many: true },
    'postgres-user': { value: true },
    'postgres-database': { value: true },
    'postgres-password-env': { value: true },
    'postgres-sslmode': { value: true },
    'connection-string-env': { value: true },
    environment: { value: true },
    'ca-file': { value: true },
    'disable-challenge-resource-verification': { value: false },
    'arm-resource': { value: true, many: true },
    'arm-endpoint': { value: true },
  });
  const key = flags.get('key')?.[0];
  if (positional.length > 1 || (key && positional.length > 0)) throw new UsageError('rotation-drill takes one key: --key URL (or the key URL as the target)');
  const target = key ?? positional[0];
  if (!target) throw new UsageError('rotation-drill needs --key https://<vault>.vault.azure.net/keys/<name>');
  parseKeyTarget(target);
  const container = flags.get('container')?.[0];
  if (!container) throw new UsageError('rotation-drill needs --container https://<account>.blob.core.windows.net/<container>');
  parseContainerTarget(container);
  const options: RotationDrillOptions = { container };
  const pgList = flags.get('postgres');
  if (pgList) options.postgres = pgList.map(parsePostgresTarget);
  const str = (f: string): string | undefined => flags.get(f)?.[0];
  const envName = (f: string): string | undefined => {
    const v = str(f);
    if (v !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw new UsageError(`--${f} takes the NAME of an environment variable, not its value`);
    return v;
  };
  if (str('postgres-user')) options.postgresUser = str('postgres-user');
  if (str('postgres-database')) options.postgresDatabase = str('postgres-database');
  const pwEnv = envName('postgres-password-env');
  if (pwEnv) options.postgresPasswordEnv = pwEnv;
  const mode = str('postgres-sslmode');
  if (mode !== undefined) {
    if (!['disable', 'require', 'verify-full'].includes(mode)) throw new UsageError(`--postgres-sslmode must be disable, require or verify-full, got ${mode}`);
    options.postgresSslMode = mode as RotationDrillOptions['postgresSslMode'];
  }
  if (options.postgres && !options.postgresUser) throw new UsageError('--postgres needs --postgres-user');
  const csEnv = envName('connection-string-env');
  if (csEnv) options.connectionStringEnv = csEnv;
  if (str('environment')) options.environment = str('environment');
  if (str('ca-file')) options.caFile = str('ca-file');
  if (flags.has('disable-challenge-resource-verification')) options.disableChallengeResourceVerification = true;
  const arm = flags.get('arm-resource');
  if (arm) {
    for (const id of arm) {
      if (!armTypeOf(id) || !ARM_API_VERSIONS[armTypeOf(id)!]) {
        throw new UsageError(`--arm-resource ${JSON.stringify(id)} is not a storage account or PostgreSQL flexible server id`, {
          hint: '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Storage/storageAccounts/<name>',
        });
      }
    }
    options.armResources = arm;
  }
  const endpoint = str('arm-endpoint');
  if (endpoint !== undefined) {
    if (!/^https:\/\//.test(endpoint)) throw new UsageError('--arm-endpoint must be an https:// URL');
    options.armEndpoint = endpoint;
  }
  return { target, options, timeoutMs, json };
}
