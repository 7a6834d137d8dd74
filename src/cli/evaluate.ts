/** `engram-audit evaluate`: judge an evidence snapshot with no network at all, and write the signed bundle. */
import { resolve } from 'node:path';
import { loadSnapshot } from '../evidence/index.js';
import { UsageError } from '../errors.js';
import type { Scope } from '../model.js';
import { parse } from './args.js';
import type { CliIo } from './io.js';
import { runPipeline } from './pipeline.js';
import { RUN_FLAGS, runSettingsFromFlags } from './run-flags.js';

export const EVALUATE_HELP = `Usage: engram-audit evaluate --evidence FILE (--control ID ... | --all) [--out DIR] [options]

Evaluates an evidence snapshot offline: no credentials, no network. The snapshot is
{ "documents": [ raw Azure REST response bodies ] } (docs/evidence-format.md), or an existing bundle directory
(a bundle's evidence/ is itself a snapshot), so old evidence can be re-judged by new controls.

Options:
  --evidence FILE         the snapshot file, or a bundle directory
  --control ID            a control to evaluate (repeatable or comma-separated); --all for every control
  --out DIR               bundle directory (default: engram-audit-<UTC time>)
  --format LIST           json,html,pdf,oscal,sarif,junit (default json,html,pdf)
  --sign-key KEY          PEM private key (Ed25519, ECDSA P-256, RSA) or azurekeyvault://<vault>/keys/<name>
                          (default: an ephemeral key, labelled as such)
  --sign-cert FILE.pem    certificate for an RSA --sign-key, for the PDF signature (default: self-signed)
  --sign-p12 FILE.p12     PKCS#12 file (RSA key + certificate) signing the bundle and the PDF
  --sign-passphrase-env VAR  environment variable holding the passphrase of --sign-p12 or an encrypted key
  --org NAME              the organisation assessed (packet cover, PDF author)
  --diff-against PREV     a previous bundle: adds a "Changes since the previous run" section to the packet
  --fail-on SEVERITY      exit 1 only for failures at or above this severity (default: low)
  --waivers FILE          approved exceptions (YAML, docs/waivers.md); waived failures do not count for the exit code
  --attestations PATH     attestation YAML files or directories (repeatable; docs/attestations.md)
  --demo                  label every output DEMO DATA (for sample snapshots)

Example:
  engram-audit evaluate --evidence fixtures/demo/snapshot.json --control AI-SEC-01 --out out/eval --format json,html
`;

export async function runEvaluate(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse('evaluate', argv, {
    ...RUN_FLAGS,
    evidence: { type: 'string' },
    demo: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout(EVALUATE_HELP);
    return 0;
  }
  if (!values.evidence) {
    throw new UsageError('evaluate needs --evidence FILE', { hint: "Run 'engram-audit evaluate --help'." });
  }
  const startedAt = io.now();
  const settings = await runSettingsFromFlags(values, io, startedAt);
  const evidencePath = resolve(io.cwd, values.evidence);
  const evidence = await loadSnapshot(evidencePath);
  const scope: Scope = {
    subscriptions: [],
    managementGroups: [],
    tags: {},
    source: 'snapshot',
    demo: Boolean(values.demo) || /fixtures[\\/]demo/.test(evidencePath),
  };
  const outcome = await runPipeline({ ...settings, evidence, scope, startedAt, io });
  return outcome.exitCode;
}
