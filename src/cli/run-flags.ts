/**
 * The flags scan and evaluate share (controls, output, signing, failure threshold, previous run, waivers,
 * attestations) and the one place they are read. Everything here is read before any evidence is collected or loaded,
 * so a bad format, key, waiver file or previous bundle fails fast with exit 2 and nothing is written.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadDiffSide } from '../bundle-ops/diff.js';
import { loadCatalog, selectControls, type Control } from '../controls/index.js';
import { loadSigner, type Signer } from '../evidence/index.js';
import { loadP12Signer } from '../evidence/signing.js';
import { InputError, UsageError } from '../errors.js';
import { SEVERITIES, type Severity } from '../model.js';
import { loadAttestations } from '../policy/attestations.js';
import { loadWaivers } from '../policy/waivers.js';
import { parseFormats } from '../reporters/formats.js';
import type { CliIo } from './io.js';
import type { RunOptions } from './pipeline.js';

/** The signing flags scan and evaluate share. */
export const SIGNING_FLAGS = {
  'sign-key': { type: 'string' },
  'sign-cert': { type: 'string' },
  'sign-p12': { type: 'string' },
  'sign-passphrase-env': { type: 'string' },
  org: { type: 'string' },
} as const;

/**
 * Loads the run's signer from --sign-key / --sign-cert / --sign-p12 / --sign-passphrase-env. Passphrases come only from
 * the environment (never argv, which other users of the machine can read in the process list).
 */
export async function signerFromFlags(
  values: { 'sign-key'?: string; 'sign-cert'?: string; 'sign-p12'?: string; 'sign-passphrase-env'?: string },
  io: CliIo,
): Promise<Signer> {
  const key = values['sign-key'];
  const p12 = values['sign-p12'];
  const envName = values['sign-passphrase-env'];
  if (key && p12) throw new UsageError('--sign-key and --sign-p12 cannot be combined', { hint: 'A PKCS#12 file holds the key and its certificate; give one of them.' });
  if (values['sign-cert'] && !key) throw new UsageError('--sign-cert needs --sign-key (the RSA private key the certificate was issued for)', { field: '--sign-cert' });
  let passphrase: string | undefined;
  if (envName !== undefined) {
    passphrase = io.env[envName];
    if (passphrase === undefined) {
      throw new UsageError(`--sign-passphrase-env names ${envName}, which is not set`, { field: '--sign-passphrase-env', hint: `export ${envName}=... before the run (the passphrase itself is never a flag).` });
    }
  }
  if (p12) {
    if (passphrase === undefined) {
      throw new UsageError('--sign-p12 needs --sign-passphrase-env VAR (the environment variable holding its passphrase)', { field: '--sign-p12' });
    }
    return loadP12Signer(resolve(io.cwd, p12), passphrase);
  }
  let certificatePem: string | undefined;
  let certificateFile: string | undefined;
  if (values['sign-cert']) {
    certificateFile = resolve(io.cwd, values['sign-cert']);
    try {
      certificatePem = await readFile(certificateFile, 'utf8');
    } catch (err) {
      throw new InputError('E_SIGN_CERT_UNREADABLE', `certificate file could not be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file: certificateFile, field: '--sign-cert' });
    }
    if (!/-----BEGIN CERTIFICATE-----/.test(certificatePem)) {
      throw new InputError('E_SIGN_CERT_INVALID', 'certificate file is not a PEM certificate', { file: certificateFile, field: '--sign-cert', hint: 'Convert it: openssl x509 -in cert.der -inform DER -out cert.pem' });
    }
  }
  const spec = key === undefined ? undefined : /^azurekeyvault:\/\//i.test(key) ? key : resolve(io.cwd, key);
  const signer = await loadSigner(spec, { passphrase, certificatePem, certificateFile });
  if (certificatePem && !signer.pdfIdentity) {
    throw new UsageError(`--sign-cert needs an RSA --sign-key; this key is ${signer.info.algorithm}`, { field: '--sign-cert', hint: 'PDF signatures use RSA; drop --sign-cert to sign the PDF with a labelled ephemeral RSA identity.' });
  }
  return signer;
}

/** Parses a --fail-on value. */
export function parseFailOn(value: string | undefined): Severity {
  if (value === undefined) return 'low';
  const v = value.toLowerCase() as Severity;
  if (!SEVERITIES.includes(v)) {
    throw new UsageError(`--fail-on '${value}' is not a severity`, { hint: `Use one of: ${SEVERITIES.join(', ')}.` });
  }
  return v;
}

/** Default bundle directory name: engram-audit-20261128T090000Z. */
export function defaultOutDir(now: Date): string {
  return `engram-audit-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

export function controlIds(values: string[] | undefined, all: boolean | undefined): string[] | 'all' {
  if (all) return 'all';
  const ids = (values ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) {
    throw new UsageError('no control selected', {
      hint: "Name one with --control AI-SEC-01, or use --all. 'engram-audit controls list' shows the catalog.",
    });
  }
  return ids;
}

export const RUN_FLAGS = {
  control: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  out: { type: 'string' },
  format: { type: 'string' },
  ...SIGNING_FLAGS,
  'diff-against': { type: 'string' },
  'fail-on': { type: 'string' },
  waivers: { type: 'string' },
  attestations: { type: 'string', multiple: true },
} as const;

/** The parsed values of {@link RUN_FLAGS}. */
export interface RunFlagValues {
  control?: string[];
  all?: boolean;
  out?: string;
  format?: string;
  'sign-key'?: string;
  'sign-cert'?: string;
  'sign-p12'?: string;
  'sign-passphrase-env'?: string;
  org?: string;
  'diff-against'?: string;
  'fail-on'?: string;
  waivers?: string;
  attestations?: string[];
}

/** Everything a run needs besides its evidence and scope. */
export type RunSettings = Pick<RunOptions, 'controls' | 'outDir' | 'formats' | 'signer' | 'organisation' | 'failOn' | 'diffAgainst' | 'waivers' | 'attestations'> & {
  controls: Control[];
  signer: Signer;
  failOn: Severity;
};

/** Reads the shared flags in the order a user's mistakes should be reported: usage first, then files. */
export async function runSettingsFromFlags(values: RunFlagValues, io: CliIo, startedAt: Date): Promise<RunSettings> {
  const ids = controlIds(values.control, values.all);
  const formats = parseFormats(values.format ?? 'json,html,pdf');
  const failOn = parseFailOn(values['fail-on']);
  // A previous bundle is verified before anything else happens, so a wrong or tampered one fails fast.
  const diffAgainst = values['diff-against'] ? await loadDiffSide(resolve(io.cwd, values['diff-against']), { verify: true }) : undefined;
  const controls = selectControls(await loadCatalog(), ids);
  const signer = await signerFromFlags(values, io);
  const waivers = values.waivers ? loadWaivers(resolve(io.cwd, values.waivers)) : undefined;
  const attestations = values.attestations ? loadAttestations(values.attestations, io.cwd) : undefined;
  return {
    controls,
    outDir: values.out ?? defaultOutDir(startedAt),
    formats,
    signer,
    failOn,
    ...(values.org ? { organisation: values.org } : {}),
    ...(diffAgainst ? { diffAgainst } : {}),
    ...(waivers ? { waivers } : {}),
    ...(attestations ? { attestations } : {}),
  };
}
