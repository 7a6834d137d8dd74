/** `engram-audit merge PART... --out DIR`: verify signed part bundles (e.g. the shards of a scan) and write one bundle. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadCatalog, selectControls } from '../controls/index.js';
import { loadSigner } from '../evidence/index.js';
import { openStoreBeside } from '../evidence/store.js';
import { InputError, UsageError } from '../errors.js';
import { parseFormats } from '../reporters/formats.js';
import { loadPart, mergeParts, type PartTrust } from '../bundle-ops/merge.js';
import { formatShard } from '../bundle-ops/shard.js';
import { parse } from './args.js';
import type { CliIo } from './io.js';
import { runPipeline } from './pipeline.js';
import { parseFailOn } from './scan.js';

export const MERGE_HELP = `Usage: engram-audit merge PART... --out DIR [--key PUB.pem ... | --fingerprint HEX ...] [options]

Combines part bundles, typically the N bundles of 'engram-audit scan --shard i/N', into one signed bundle and packet.
Every part is verified first (every digest and the signature); a part that was changed after signing, or whose signer
is not one you name with --key or --fingerprint, is refused. The evidence is unioned (one document per id; two parts
that disagree about a document are refused) and re-evaluated with the controls the parts ran, so the merged bundle is
what one unsharded scan of the same estate gives. A missing shard makes every control 'error' for it, never a pass.

Options:
  --out DIR               the merged bundle directory (required); the parts' evidence is read one file at a time
                          into a hidden .<DIR>.spool-* directory beside it, removed when the run ends
  --key PUB.pem           a public key a part may be signed with (repeatable)
  --fingerprint HEX       a trusted SHA-256 key fingerprint a part may be signed with (repeatable)
                          (with neither, each part's own key is used: integrity, not origin)
  --sign-key FILE.pem     Ed25519 or ECDSA P-256 private key for the merged bundle (default: an ephemeral key)
  --format LIST           json,html,pdf,oscal,sarif,junit (default json,html,pdf)
  --fail-on SEVERITY      exit 1 only for failures at or above this severity (default: low)

Exit codes: 0 compliant, 1 findings, 2 usage or input error (a part refused), 3 evaluation incomplete.

Example:
  engram-audit merge part-1 part-2 part-3 --fingerprint "$PART_KEY_FINGERPRINT" --out merged --format json,html,pdf,sarif
`;

export async function runMerge(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    'merge',
    argv,
    {
      out: { type: 'string' },
      key: { type: 'string', multiple: true },
      fingerprint: { type: 'string', multiple: true },
      'sign-key': { type: 'string' },
      format: { type: 'string' },
      'fail-on': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    io.stdout(MERGE_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError('merge needs at least one part bundle directory', { hint: 'Example: engram-audit merge part-1 part-2 --out merged' });
  }
  if (!values.out) throw new UsageError('merge needs --out DIR', { hint: 'Example: engram-audit merge part-1 part-2 --out merged' });
  const formats = parseFormats(values.format ?? 'json,html,pdf');
  const failOn = parseFailOn(values['fail-on']);
  const trust: PartTrust = { fingerprints: values.fingerprint ?? [], publicKeys: [] };
  for (const k of values.key ?? []) {
    const file = resolve(io.cwd, k);
    try {
      trust.publicKeys!.push({ label: k, pem: await readFile(file, 'utf8') });
    } catch (err) {
      throw new InputError('E_KEY_UNREADABLE', `cannot read the public key: ${(err as Error).message}`, {
        file,
        field: '--key',
        hint: 'Pass the PEM public key the part jobs signed with (signing-key.pub.pem of a trusted part, obtained out of band).',
      });
    }
  }
  const outDir = resolve(io.cwd, values.out);
  const parts = [];
  for (const p of positionals) {
    const dir = resolve(io.cwd, p);
    if (dir === outDir) throw new UsageError(`--out ${values.out} is also a part`, { hint: 'Write the merged bundle to a new directory.' });
    // Verified now; the evidence is read later, one part file at a time, straight into the store.
    parts.push(await loadPart(dir, trust, { stream: true }));
  }
  // The union streams into a store beside the output, as a scan's evidence does, so merging N shards never holds
  // the whole estate's evidence at once.
  const store = openStoreBeside(outDir);
  try {
    const merged = await mergeParts(parts, store);
    parts.forEach((p, i) => {
      const shard = p.results.scope.shard ? `shard ${formatShard(p.results.scope.shard)}, ` : '';
      io.stderr(`part ${p.dir}: ${shard}${merged.partDocuments[i]} documents, signature valid (${p.verification.trust}, key ${p.verification.signature.fingerprint})\n`);
    });
    if (parts.some((p) => p.verification.trust === 'integrity-only')) {
      io.stderr('note: parts were checked with their own keys (integrity, not origin); pass --key or --fingerprint to require a known signer\n');
    }
    for (const n of merged.notes) io.stderr(`note: ${n}\n`);

    const catalog = await loadCatalog();
    const controls = selectControls(catalog, merged.controlIds);
    const signer = await loadSigner(values['sign-key'] ? resolve(io.cwd, values['sign-key']) : undefined);
    const outcome = await runPipeline({
      controls,
      evidence: merged.evidence,
      scope: merged.scope,
      ...(merged.coverage ? { coverage: merged.coverage } : {}),
      outDir,
      formats,
      signer,
      failOn,
      startedAt: merged.startedAt,
      io,
    });
    return outcome.exitCode;
  } finally {
    store.dispose();
  }
}
