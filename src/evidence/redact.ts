/**
 * Redaction: removes secrets (tokens, keys, connection strings, SAS signatures, passwords, private keys) from anything
 * before it reaches disk or output. Applied to every collected document, every snapshot document, every provenance URL
 * and every recorded response. Tag values are hostile text: a connection string pasted into a tag is redacted too.
 */

export const REDACTED = '[REDACTED]';

/** Property names whose values are secret whatever they contain (compared case-insensitively, ignoring `_` and `-`). */
const SECRET_KEYS = new Set(
  [
    'password',
    'administratorloginpassword',
    'secret',
    'clientsecret',
    'accountkey',
    'primarykey',
    'secondarykey',
    'primarymasterkey',
    'secondarymasterkey',
    'connectionstring',
    'primaryconnectionstring',
    'secondaryconnectionstring',
    'accesstoken',
    'refreshtoken',
    'idtoken',
    'token',
    'sastoken',
    'sharedaccesssignature',
    'authorization',
    'privatekey',
    'plaintext',
  ].map((k) => k.toLowerCase()),
);

interface Pattern {
  name: string;
  re: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

const PATTERNS: Pattern[] = [
  {
    name: 'pem-private-key',
    re: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
    replace: () => REDACTED,
  },
  {
    // Storage / Service Bus / Event Hub / SQL connection-string secrets: AccountKey=..., SharedAccessKey=..., Password=...
    name: 'connection-string-secret',
    re: /\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|SharedSecretValue|ClientSecret)\s*=\s*("[^"]*"|'[^']*'|[^;\s"']+)/gi,
    replace: (_m, key) => `${key}=${REDACTED}`,
  },
  {
    // SAS query parameters: the signature is the secret; sig= anywhere in a query string.
    name: 'sas-signature',
    re: /([?&;]|\b)(sig|signature)=([A-Za-z0-9%+/=_-]+)/gi,
    replace: (_m, sep, key) => `${sep}${key}=${REDACTED}`,
  },
  {
    name: 'bearer-token',
    re: /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/g,
    replace: () => `Bearer ${REDACTED}`,
  },
  {
    // JSON Web Tokens (Entra access tokens): three base64url segments starting with {"
    name: 'jwt',
    re: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g,
    replace: () => REDACTED,
  },
  {
    // postgres://user:password@host URLs and similar credentials in URLs.
    name: 'url-credentials',
    re: /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]+):([^\s/@]+)@/gi,
    replace: (_m, prefix) => `${prefix}:${REDACTED}@`,
  },
  {
    // Bare storage account keys: 88 base64 characters ending in '=='.
    name: 'storage-key',
    re: /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])/g,
    replace: () => REDACTED,
  },
];

/** Redacts secrets inside one string. Returns the same string when nothing matched. */
export function redactString(text: string): string {
  let out = text;
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    out = out.replace(p.re, p.replace as (substring: string, ...args: string[]) => string);
  }
  return out;
}

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

/** True when a property name marks its value as secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(normaliseKey(key));
}

/**
 * Returns a redacted deep copy of `value` and whether anything changed. Secret-named properties lose their value
 * (unless it is null, empty, or a boolean that only says whether a secret exists); every string is scanned for
 * secret patterns. Property names themselves are scanned as well, since tag keys are user text.
 */
export function redactValue<T>(value: T): { value: T; changed: boolean } {
  let changed = false;
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (key !== undefined && isSecretKey(key) && v !== '') {
        changed = true;
        return REDACTED;
      }
      const r = redactString(v);
      if (r !== v) changed = true;
      return r;
    }
    if (Array.isArray(v)) return v.map((item) => walk(item, key));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const safeKey = redactString(k);
        if (safeKey !== k) changed = true;
        if (isSecretKey(k) && child !== null && typeof child === 'object') {
          changed = true;
          out[safeKey] = REDACTED;
          continue;
        }
        out[safeKey] = walk(child, k);
      }
      return out;
    }
    return v;
  };
  const result = walk(value) as T;
  return { value: result, changed };
}

/** Redacts a URL for provenance: secrets in the query string and user-info are removed. */
export function redactUrl(url: string): string {
  return redactString(url);
}
