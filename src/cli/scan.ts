/** `engram-audit [scan]`: collect from Azure (or a replay), evaluate, and write the signed bundle. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { HttpClient } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient } from '@azure/core-rest-pipeline';
import {
  collectToStore,
  coverageOfStore,
  type CollectedScope,
  createRecordingClient,
  createReplayClient,
  createReplayCredential,
  resolveCredential,
  type CallEvent,
  type ProgressEvent,
} from '../collect/index.js';
import { UsageError } from '../errors.js';
import { openStoreBeside } from '../evidence/store.js';
import type { Scope } from '../model.js';
import { PROBE_SOURCE_TYPES, runProbes, type ProbeLevel } from '../probes/run.js';
import { RUN_FLAGS, runSettingsFromFlags } from './run-flags.js';
// Re-exported: other commands and tests import these from here.
export { SIGNING_FLAGS, controlIds, defaultOutDir, parseFailOn, signerFromFlags } from './run-flags.js';
import { parse, parsePositiveInt, parseSubscriptions, parseTags } from './args.js';
import type { CliIo } from './io.js';
import { runPipeline } from './pipeline.js';
import { formatShard, parseShard } from '../bundle-ops/shard.js';
import { planShard } from '../bundle-ops/shard-scope.js';

export const SCAN_HELP = `Usage: engram-audit [scan] (--control ID ... | --all) [scope] [options]

Scans Azure (or a recorded estate), evaluates the controls and writes a signed evidence bundle:
results.json, evidence/, report.html, report.pdf (itself PDF-signed), bundle.dsse.json (an in-toto statement over
every file), SHA256SUMS, SHA256SUMS.sig and the public key.

Controls:
  --control ID            a control to evaluate (repeatable or comma-separated), e.g. AI-SEC-01
  --all                   every control in the catalog ('engram-audit controls list')

Scope (default: every subscription the credential can read):
  --subscription ID       a subscription id (repeatable or comma-separated)
  --management-group MG   a management group id (repeatable)
  --tag KEY=VALUE         only resources carrying this tag (repeatable; all must match)
  --shard I/N             scan only shard I of N of the subscriptions in scope (hash of the subscription id, see
                          docs/pipelines.md); run 1/N ... N/N as parallel jobs and combine them with 'engram-audit merge'

Evidence source:
  (default)               live Azure through DefaultAzureCredential (az login, managed identity, workload identity,
                          AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, ...); read-only Reader access suffices
  --replay DIR            serve recorded responses to the same SDK clients, no network
                          (the bundled demo estate: fixtures/demo/replay)
  --record DIR            also save the scan's responses, scrubbed of secrets, for a later --replay

Output:
  --out DIR               bundle directory (default: engram-audit-<UTC time>); written to a temporary directory
                          first and renamed into place, so a failed run never leaves a half bundle. While the scan
                          runs, its evidence is spooled to a hidden .<DIR>.spool-* directory beside it (so memory does
                          not grow with the estate; about 1.6 KB of disk per document), removed when the run ends
  --format LIST           comma list of json,html,pdf,oscal,sarif,junit (default json,html,pdf; results.json is
                          always written)
  --sign-key KEY          the bundle signing key: a PEM private key (Ed25519, ECDSA P-256 or RSA >= 2048 bits) or
                          azurekeyvault://<vault>/keys/<name>[/<version>] (signs in the vault). Default: an
                          ephemeral key, labelled as such in every output: it proves integrity, not origin
  --sign-cert FILE.pem    X.509 certificate for an RSA --sign-key, used for the PDF signature (default: self-signed)
  --sign-p12 FILE.p12     PKCS#12 file (RSA key + certificate) that signs both the bundle and the PDF
  --sign-passphrase-env VAR  environment variable holding the passphrase of --sign-p12 or an encrypted --sign-key
  --org NAME              the organisation assessed: packet cover, PDF author and signer name
  --diff-against PREV     a previous bundle (verified first): the packet gets a "Changes since the previous run"
                          section (new failures, fixed, new and removed resources, changed evidence)
  --fail-on SEVERITY      exit 1 only for failures at or above critical|high|medium|low|info (default: low)
  --concurrency N         parallel Azure requests (default 8)

Exceptions and attestations:
  --waivers FILE          approved exceptions (YAML, docs/waivers.md): a waived failure stays visible, marked waived
                          with its justification and approver, and does not count for the exit code; an expired waiver
                          no longer applies; a waiver that matches nothing is reported
  --attestations PATH     attestation YAML files, or directories of them (repeatable; docs/attestations.md): they enter
                          the evidence for AI-GOV-01, and they and their attached files are copied into the bundle

Probes (active checks of the live services; their observations enter the evidence and the checks):
  --probes LEVEL          none (default) | safe: TLS floor of every PostgreSQL, blob and vault endpoint, Key Vault
                          wrap/unwrap round trip, PostgreSQL session (with a login) | all: also blob canary and
                          rotation drill, which write (the drill refuses anything tagged environment=prod)
  --probe-postgres-user U, --probe-postgres-password-env VAR | --probe-postgres-entra, --probe-postgres-database D
                          login for the postgres-session probe (the password only ever comes from the variable)
  --probe-canary-container NAME   container the blob canary writes to (with --probes all)
  --probe-timeout-ms N    hard limit per probe (default 15000); a probe that cannot observe is an error, never a pass

Exit codes: 0 compliant, 1 findings, 2 usage or input error, 3 evaluation incomplete (errors or manual checks
awaiting an attestation, no findings).

Examples:
  engram-audit --control AI-SEC-01 --replay fixtures/demo/replay --out out/demo
  engram-audit --control AI-SEC-01 --subscription 0b1f6471-1bf0-4dda-aec3-cb9272f09590 --tag environment=prod
  engram-audit --all --management-group contoso-ai --format json,sarif --fail-on high
`;



/** Parses --probes: none (default), safe (read-only probes), all (also the probes that write). */
export function parseProbeLevel(value: string | undefined): ProbeLevel {
  const v = (value ?? 'none').toLowerCase();
  if (v !== 'none' && v !== 'safe' && v !== 'all') {
    throw new UsageError(`--probes '${value}' is not none, safe or all`, {
      hint: "safe runs read-only probes (TLS floor, PostgreSQL session, Key Vault round trip); all adds the blob canary and the rotation drill, which write.",
    });
  }
  return v;
}


export async function runScan(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse('scan', argv, {
    ...RUN_FLAGS,
    subscription: { type: 'string', multiple: true },
    'management-group': { type: 'string', multiple: true },
    tag: { type: 'string', multiple: true },
    shard: { type: 'string' },
    replay: { type: 'string' },
    record: { type: 'string' },
    concurrency: { type: 'string' },
    probes: { type: 'string' },
    'probe-postgres-user': { type: 'string' },
    'probe-postgres-database': { type: 'string' },
    'probe-postgres-password-env': { type: 'string' },
    'probe-postgres-entra': { type: 'boolean' },
    'probe-canary-container': { type: 'string' },
    'probe-timeout-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout(SCAN_HELP);
    return 0;
  }
  const startedAt = io.now();
  const settings = await runSettingsFromFlags(values, io, startedAt);
  const concurrency = parsePositiveInt('--concurrency', values.concurrency, 8);
  if (values.replay && values.record) {
    throw new UsageError('--replay and --record cannot be combined', { hint: 'Record a live scan, then replay it.' });
  }
  const shard = values.shard !== undefined ? parseShard(values.shard) : undefined;
  const probeLevel = parseProbeLevel(values.probes);
  const probeTimeoutMs = parsePositiveInt('--probe-timeout-ms', values['probe-timeout-ms'], 15_000);
  const replayDir = values.replay ? resolve(io.cwd, values.replay) : undefined;
  if (replayDir && !existsSync(replayDir)) {
    throw new UsageError(`--replay directory not found: ${replayDir}`, {
      hint: 'The bundled demo estate is fixtures/demo/replay in the engram-audit package.',
    });
  }


  const scope: Scope = {
    subscriptions: parseSubscriptions(values.subscription),
    managementGroups: [...new Set(values['management-group'] ?? [])],
    tags: parseTags(values.tag),
    source: replayDir ? 'replay' : 'azure',
    demo: Boolean(replayDir && /fixtures[\\/]demo/.test(replayDir)),
    ...(shard ? { shard } : {}),
  };

  let credential: TokenCredential;
  let httpClient: HttpClient | undefined;
  if (replayDir) {
    credential = createReplayCredential();
    httpClient = createReplayClient(replayDir);
  } else {
    if (io.isTTY) io.stderr('authenticating with DefaultAzureCredential...\n');
    credential = await resolveCredential();
    if (values.record) httpClient = createRecordingClient(createDefaultHttpClient(), resolve(io.cwd, values.record));
  }

  // --shard: collect only this job's subscriptions; an empty shard collects nothing (never "every subscription").
  const plan = shard ? await planShard(shard, scope, { credential, httpClient, concurrency }) : undefined;
  if (plan) {
    io.stderr(`shard ${formatShard(plan.shard)}: ${plan.subscriptions.length} of ${plan.population.length} subscriptions${plan.subscriptions.length > 0 ? ` (${plan.subscriptions.join(', ')})` : '; nothing to scan, writing an empty part'}\n`);
  }
  // The evidence streams to a store on disk beside the bundle (src/evidence/store.ts), so memory stays bounded as the
  // estate grows; the store is removed when the run ends, whatever the outcome.
  const store = openStoreBeside(resolve(io.cwd, settings.outDir));
  try {
    let collected: CollectedScope = { subscriptionsRequested: [], subscriptionsReturned: [] };
    if (!(plan && plan.subscriptions.length === 0)) {
      collected = await collectToStore({
        scope: plan?.collectScope ?? scope,
        credential,
        httpClient,
        concurrency,
        store,
        ...(io.isTTY ? progressPrinter(io) : {}),
      });
    }
    if (io.isTTY) io.stderr('\n');
    // A shard of "every visible subscription" still reports what the user asked for (none named), as an unsharded scan does.
    if (plan && scope.subscriptions.length === 0) collected.subscriptionsRequested = [];
    if (probeLevel !== 'none') {
      if (io.isTTY) io.stderr(`probing live endpoints (--probes ${probeLevel})...\n`);
      const user = values['probe-postgres-user'];
      const probed = await runProbes({
        level: probeLevel,
        // Probe targets come from servers, accounts, vaults and keys: only those are read back from the store.
        evidence: { ...store.ofTypes((t) => PROBE_SOURCE_TYPES.has(t)), errors: [] },
        ctx: { timeoutMs: probeTimeoutMs, credential, now: io.now, env: io.env },
        targetOptions: {
          ...(user
            ? {
                postgres: {
                  user,
                  ...(values['probe-postgres-database'] ? { database: values['probe-postgres-database'] } : {}),
                  ...(values['probe-postgres-password-env'] ? { passwordEnv: values['probe-postgres-password-env'] } : {}),
                  ...(values['probe-postgres-entra'] ? { entra: true } : {}),
                },
              }
            : {}),
          ...(values['probe-canary-container'] ? { blobCanaryContainer: values['probe-canary-container'] } : {}),
        },
      });
      store.putAll({ documents: probed.documents, provenance: probed.provenance, errors: probed.errors });
    }

    const outcome = await runPipeline({ ...settings, evidence: store, coverage: coverageOfStore(collected, store), scope, startedAt, io });
    return outcome.exitCode;
  } finally {
    store.dispose();
  }
}

/**
 * A one-line progress display on stderr (terminals only; quiet in CI): resources found, service reads done, API calls
 * made and throttled, errors, elapsed time and an ETA from the read rate so far.
 */
function progressPrinter(io: CliIo): { onProgress: (event: ProgressEvent) => void; onCall: (event: CallEvent) => void } {
  const started = Date.now();
  let found = 0;
  let done = 0;
  let failed = 0;
  let calls = 0;
  let throttled = 0;
  let last = 0;
  const draw = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const elapsed = (now - started) / 1000;
    const eta = done > 0 && found > done ? `, ETA ${Math.ceil((elapsed / done) * (found - done))}s` : '';
    const slow = throttled > 0 ? ` (${throttled} throttled)` : '';
    io.stderr(`\rcollecting: ${found} resources found, ${done} read, ${calls} API calls${slow}, ${failed} with errors, ${elapsed.toFixed(1)}s${eta}\u001b[K`);
  };
  return {
    onProgress: (event) => {
      if (event.kind === 'inventory') found += event.resources;
      if (event.kind === 'resource') {
        done = Math.min(found, done + 1);
        if (!event.ok) failed++;
      }
      draw(event.kind === 'done');
    },
    onCall: (event) => {
      calls++;
      if (event.throttledMs > 0) throttled++;
      draw(false);
    },
  };
}
