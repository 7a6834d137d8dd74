/**
 * Live credentials: DefaultAzureCredential, checked up front so a missing login fails in seconds with a message that
 * names every source tried and the offline alternative, instead of as a pile of per-resource errors.
 */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { InputError } from '../errors.js';
import { redactString } from '../evidence/redact.js';

/** The ARM scope every management client asks for. */
export const MANAGEMENT_SCOPE = 'https://management.azure.com/.default';

/** The sources DefaultAzureCredential tries, in its order, with what the user can do about each. */
export const CREDENTIAL_SOURCES: readonly string[] = [
  'environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH)',
  'workload identity (AZURE_FEDERATED_TOKEN_FILE, as set by AKS or a federated CI login)',
  'managed identity (on an Azure VM, App Service, Container Apps or Functions host)',
  'Visual Studio Code (Azure Resources extension sign-in)',
  'Azure CLI (`az login`)',
  'Azure PowerShell (`Connect-AzAccount`)',
  'Azure Developer CLI (`azd auth login`)',
];

/** Builds the E_NO_CREDENTIALS error; the cause text is redacted (it may quote a token endpoint response). */
export function noCredentialsError(cause?: unknown): InputError {
  const reason = cause instanceof Error ? redactString(cause.message.split('\n')[0] ?? '') : '';
  const lines = [
    'no Azure credentials found: DefaultAzureCredential could not get a management token.',
    'Tried, in order:',
    ...CREDENTIAL_SOURCES.map((s) => `  - ${s}`),
  ];
  if (reason) lines.push(`Last error: ${reason}`);
  // DefaultAzureCredential throws an AggregateAuthenticationError listing why each source failed.
  const inner = (cause as { errors?: unknown[] } | undefined)?.errors;
  if (Array.isArray(inner)) {
    for (const e of inner) {
      const name = (e as { name?: string }).name ?? 'Error';
      const first = redactString(String((e as { message?: string }).message ?? e).split('\n')[0] ?? '').slice(0, 300);
      lines.push(`    ${name}: ${first}`);
    }
  }
  return new InputError('E_NO_CREDENTIALS', lines.join('\n'), {
    hint: 'Sign in with one of the sources above (e.g. `az login`), or run offline over recorded responses: --replay fixtures/demo/replay',
  });
}

/**
 * Returns a DefaultAzureCredential after proving it can get a management token; otherwise throws InputError
 * E_NO_CREDENTIALS naming each source tried. The token itself is discarded, never printed.
 */
export async function resolveCredential(
  factory: () => TokenCredential = () => new DefaultAzureCredential(),
): Promise<TokenCredential> {
  let credential: TokenCredential;
  try {
    credential = factory();
    const token = await credential.getToken(MANAGEMENT_SCOPE);
    if (!token) throw new Error('credential returned no token');
  } catch (err) {
    throw noCredentialsError(err);
  }
  return credential;
}
