/**
 * Record and replay: cassettes of scrubbed Azure responses served in-process to the real SDK clients, so tests and the
 * demo run the same code as a live scan with no network. See docs/recording.md for the format.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { HttpClient, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { createHttpHeaders, RestError } from '@azure/core-rest-pipeline';
import { InputError } from '../errors.js';
import { canonicalJson, sortKeys } from '../util/canonical-json.js';
import { sha256Hex } from '../util/hash.js';
import { redactString, redactValue } from '../evidence/redact.js';

/** One recorded exchange; a cassette directory holds one such JSON file per request. */
export interface CassetteEntry {
  request: {
    method: string;
    /** Full URL as the SDK sent it (query included). */
    url: string;
    /** Parsed JSON request body (POST/PUT), when there is one. */
    body?: unknown;
  };
  response: {
    status: number;
    /** Only the headers worth keeping: content-type, x-ms-request-id, retry-after, quota headers. */
    headers: Record<string, string>;
    /** The response body: parsed JSON when it was JSON, else the text. */
    body?: unknown;
  };
}

/** Response headers kept in cassettes; everything else (cookies, auth challenges with tenant ids) is dropped. */
const KEPT_HEADERS = [
  'content-type',
  'x-ms-request-id',
  'retry-after',
  'x-ms-retry-after-ms',
  'x-ms-user-quota-remaining',
  'x-ms-user-quota-resets-after',
];

/**
 * The match key of a request: method, lower-cased URL path, query parameters decoded and sorted (so `api%2Dversion`
 * and `api-version` are the same) and, for bodies, canonical JSON. The host is ignored.
 */
export function requestKey(method: string, url: string, body?: unknown): string {
  const u = new URL(url);
  const params = [...u.searchParams.entries()]
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const path = decodeURIComponent(u.pathname).replace(/\/+/g, '/').toLowerCase();
  const b = body === undefined || body === null || body === '' ? '' : ` ${JSON.stringify(sortKeys(body))}`;
  return `${method.toUpperCase()} ${path}${params ? `?${params}` : ''}${b}`;
}

function parseBody(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function requestBodyText(request: PipelineRequest): string | undefined {
  const b = request.body;
  if (b === undefined || b === null) return undefined;
  if (typeof b === 'string') return b;
  if (b instanceof Uint8Array) return Buffer.from(b).toString('utf8');
  return undefined;
}

/** A file name for an entry: readable slug plus a digest of its key, so names are stable and unique. */
export function cassetteFileName(entry: CassetteEntry): string {
  const key = requestKey(entry.request.method, entry.request.url, entry.request.body);
  const u = new URL(entry.request.url);
  const segs = u.pathname.split('/').filter(Boolean);
  const slug = segs
    .slice(-3)
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '_')
    .slice(0, 60);
  return `${entry.request.method.toLowerCase()}-${slug || 'root'}-${sha256Hex(key).slice(0, 12)}.json`;
}

/** Reads every `*.json` cassette entry in `dir`, keyed by {@link requestKey}. Throws InputError on a bad file. */
export function loadCassettes(dir: string): Map<string, CassetteEntry> {
  if (!existsSync(dir)) {
    throw new InputError('E_REPLAY_DIR', `replay directory not found: ${dir}`, {
      file: dir,
      hint: 'Pass a directory of recorded responses, e.g. --replay fixtures/demo/replay, or record one with --record DIR.',
    });
  }
  const map = new Map<string, CassetteEntry>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(dir, name);
    let entry: CassetteEntry;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as CassetteEntry;
    } catch (err) {
      throw new InputError('E_REPLAY_FILE', `recorded response is not valid JSON: ${(err as Error).message}`, {
        file,
        hint: 'Re-record the directory with --record DIR or fix the file.',
      });
    }
    if (!entry?.request?.method || !entry.request.url || typeof entry.response?.status !== 'number') {
      throw new InputError('E_REPLAY_FILE', 'recorded response lacks request.method, request.url or response.status', {
        file,
        hint: 'See docs/recording.md for the cassette format.',
      });
    }
    map.set(requestKey(entry.request.method, entry.request.url, entry.request.body), entry);
  }
  return map;
}

/**
 * An `HttpClient` that answers from the cassettes in `dir` (see docs/recording.md). URLs stay
 * `https://management.azure.com/...`; nothing leaves the process. A request with no recording throws a `RestError`
 * with code `REPLAY_UNMATCHED` naming the request and the directory (never a hang, never retried).
 */
export function createReplayClient(dir: string): HttpClient {
  const entries = loadCassettes(dir);
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const body = parseBody(requestBodyText(request));
      const key = requestKey(request.method, request.url, body);
      const entry = entries.get(key);
      if (!entry) {
        throw new RestError(`no recorded response for ${request.method} ${redactString(request.url)} in ${dir}`, {
          code: 'REPLAY_UNMATCHED',
          request,
        });
      }
      const headers = createHttpHeaders({ 'content-type': 'application/json; charset=utf-8', ...entry.response.headers });
      const b = entry.response.body;
      return {
        request,
        status: entry.response.status,
        headers,
        bodyAsText: b === undefined ? '' : typeof b === 'string' ? b : JSON.stringify(b),
      };
    },
  };
}

/**
 * Wraps `inner` and writes each exchange, scrubbed, to `dir` in the cassette format: no request headers at all (so no
 * Authorization), only {@link KEPT_HEADERS} of the response, URL and bodies through redaction. The live response is
 * returned unchanged to the SDK.
 */
export function createRecordingClient(inner: HttpClient, dir: string): HttpClient {
  mkdirSync(dir, { recursive: true });
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const response = await inner.sendRequest(request);
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const v = response.headers.get(name);
        if (v !== undefined) headers[name] = v;
      }
      const reqBody = parseBody(requestBodyText(request));
      const entry: CassetteEntry = {
        request: {
          method: request.method,
          url: redactString(request.url),
          ...(reqBody === undefined ? {} : { body: redactValue(reqBody).value }),
        },
        response: {
          status: response.status,
          headers,
          ...(response.bodyAsText ? { body: redactValue(parseBody(response.bodyAsText)).value } : {}),
        },
      };
      writeFileSync(join(dir, cassetteFileName(entry)), canonicalJson(entry));
      return response;
    },
  };
}

/** A credential for replay: hands out a placeholder token, never talks to Entra. */
export function createReplayCredential(): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token: 'replay-placeholder-token', expiresOnTimestamp: Date.now() + 3_600_000, tokenType: 'Bearer' };
    },
  };
}
