/** `engram-audit verify DIR`: recompute every digest and the signature; exit 0 only when the bundle is intact. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatVerifyReport, verifyBundle } from '../evidence/index.js';
import { InputError, UsageError } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { parse } from './args.js';
import type { CliIo } from './io.js';

export const VERIFY_HELP = `Usage: engram-audit verify DIR [--key PUB.pem] [--fingerprint HEX] [--json]

Recomputes the SHA-256 of every file listed in DIR/SHA256SUMS, names any changed, added or removed file, checks the
detached signature over SHA256SUMS, the PDF signature inside report.pdf (its own CMS check, and pdfsig when installed)
and the DSSE envelope bundle.dsse.json against the files on disk. Exit 0 only when everything is intact; 1 when
anything differs.

  --key PUB.pem        the signer's public key obtained out of band (without it, the bundle's own key is used,
                       which proves integrity but not who signed)
  --fingerprint HEX    a trusted SHA-256 key fingerprint (repeatable) the signing key must match
  --json               print the report as JSON

Without engram-audit, an auditor can run the same checks with sha256sum and openssl: see docs/verifying.md.
`;

export async function runVerify(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    'verify',
    argv,
    {
      key: { type: 'string' },
      fingerprint: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    io.stdout(VERIFY_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError('verify takes exactly one bundle directory', { hint: 'Example: engram-audit verify out/demo' });
  }
  let publicKeyPem: string | undefined;
  if (values.key) {
    const keyPath = resolve(io.cwd, values.key);
    try {
      publicKeyPem = await readFile(keyPath, 'utf8');
    } catch (err) {
      throw new InputError('E_KEY_UNREADABLE', `cannot read the public key: ${(err as Error).message}`, {
        file: keyPath,
        hint: 'Pass the PEM public key the signer published (signing-key.pub.pem in their bundle).',
      });
    }
  }
  const report = await verifyBundle(resolve(io.cwd, positionals[0]), {
    publicKeyPem,
    trustedFingerprints: values.fingerprint,
  });
  io.stdout(values.json ? canonicalJson(report) : `${formatVerifyReport(report)}\n`);
  return report.ok ? 0 : 1;
}
