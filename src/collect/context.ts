/**
 * The state one collection run shares: SDK client options (the shared HTTP layer, SDK retry off), the documents,
 * provenance, list records and errors gathered so far, and the helper that turns captured wire bodies into documents.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { HttpClient } from '@azure/core-rest-pipeline';
import type { AzureDocument, CollectionError, ListRecord, Provenance } from '../model.js';
import { redactString, redactUrl, redactValue } from '../evidence/redact.js';
import { sha256Hex } from '../util/hash.js';
import { type CapturedResponse, withCapture } from './http.js';

/**
 * Proof that a child list was read successfully, even when it was empty: the engine tells "no diagnostic settings"
 * (a list record with count 0 and no error) from "could not read them" (a CollectionError with the same resourceId and
 * resourceType, and no list record).
 */
export type { ListRecord } from '../model.js';

/**
 * Progress events for a terminal or a log; never carry secrets. For an ETA: the `inventory` events give the resources
 * found per family; each service task then ends with one `resource` event (a vault has two: keys and diagnostic
 * settings). Per-request detail goes to `CollectOptions.onCall`.
 */
export type ProgressEvent =
  | { kind: 'inventory'; family: string; resources: number }
  | { kind: 'resource'; collector: string; resourceId: string; ok: boolean }
  | { kind: 'done'; documents: number; errors: number };

/** Settings of a run that shape the SDK clients and the queries. */
export interface ContextSettings {
  /** ARM endpoint every management client is built with (e.g. a loopback fake Azure); default Azure public cloud. */
  armEndpoint?: string;
  /** `$top` of each Resource Graph page (1-1000); default none, i.e. the service's default page size. */
  graphPageSize?: number;
}

const digests = new WeakMap<CapturedResponse, string>();
/**
 * SHA-256 of a response body, computed once per response: a Resource Graph page carries up to 1,000 rows, and hashing
 * the whole page again for every row made inventory quadratic in the page size.
 */
function bodyDigest(response: CapturedResponse): string {
  let d = digests.get(response);
  if (d === undefined) digests.set(response, (d = sha256Hex(response.bodyText)));
  return d;
}

/**
 * Where collected documents go as they arrive: an in-memory map (`collect()`), or an `EvidenceStore` that spools them
 * to disk (`collectToStore()`, what a scan uses, so memory stays bounded as the estate grows). A later `put` of the
 * same id (case-insensitively) replaces the earlier one.
 */
export interface EvidenceSink {
  put(document: AzureDocument, provenance: Provenance): void;
}

/** The in-memory sink of `collect()`. */
export class MemorySink implements EvidenceSink {
  readonly documents = new Map<string, AzureDocument>();
  readonly provenance = new Map<string, Provenance>();
  put(document: AzureDocument, provenance: Provenance): void {
    const key = document.id.toLowerCase();
    this.documents.set(key, document);
    this.provenance.set(key, provenance);
  }
}

/** Mutable state of one run. */
export class CollectContext {
  readonly errors: CollectionError[] = [];
  readonly lists: ListRecord[] = [];

  constructor(
    readonly credential: TokenCredential,
    readonly httpClient: HttpClient,
    readonly source: 'azure' | 'replay',
    readonly onProgress: (event: ProgressEvent) => void = () => {},
    readonly settings: ContextSettings = {},
    readonly sink: EvidenceSink = new MemorySink(),
  ) {}

  /**
   * Options every SDK client is built with: our HTTP layer, the SDK's own retry off so retry lives once, and the ARM
   * endpoint when one is set (every client used here honours `endpoint`).
   */
  clientOptions(): { httpClient: HttpClient; retryOptions: { maxRetries: number }; endpoint?: string } {
    return {
      httpClient: this.httpClient,
      retryOptions: { maxRetries: 0 },
      ...(this.settings.armEndpoint ? { endpoint: this.settings.armEndpoint } : {}),
    };
  }

  /**
   * Stores one wire document (redacted) with provenance from the response it came in. A later body for the same id
   * replaces an earlier one: a GET of one child is more complete than the list it was found in.
   */
  addDocument(raw: AzureDocument, response: CapturedResponse): AzureDocument | undefined {
    if (!raw || typeof raw.id !== 'string' || raw.id === '') return undefined;
    const { value, changed } = redactValue(raw);
    this.sink.put(value, {
      documentId: value.id,
      source: this.source,
      method: response.method,
      url: redactUrl(response.url),
      status: response.status,
      ...(response.requestId ? { requestId: response.requestId } : {}),
      time: response.time,
      bodySha256: bodyDigest(response),
      redacted: changed,
    });
    return value;
  }

  /** Records a failed call as a CollectionError; the message is redacted (Azure error text may quote user input). */
  addError(e: Omit<CollectionError, 'message' | 'code'>, err: unknown): void {
    const status = (err as { statusCode?: number }).statusCode;
    const azureCode = (err as { code?: string }).code;
    const code = azureCode ?? (status ? `HTTP_${status}` : 'E_COLLECT');
    const msg = err instanceof Error ? err.message : String(err);
    this.errors.push({
      ...e,
      ...(e.resourceType ? { resourceType: e.resourceType.toLowerCase() } : {}),
      code,
      message: redactString(`${status ? `HTTP ${status}: ` : ''}${msg}`.split('\n')[0] ?? ''),
    });
  }

  /**
   * Runs one SDK call (driving its pager to the end), then turns every 2xx wire body it received into documents:
   * `value[]` items of a list page, or the body itself for a single GET. `fix` may adjust a raw item (e.g. give a
   * diagnostic setting its parent-prefixed id). Returns the stored documents, or undefined when the call failed
   * (already recorded as a CollectionError).
   */
  async capture(
    where: Omit<CollectionError, 'message' | 'code'>,
    call: () => Promise<unknown>,
    fix: (raw: AzureDocument) => AzureDocument = (r) => r,
  ): Promise<AzureDocument[] | undefined> {
    let responses: CapturedResponse[];
    try {
      ({ responses } = await withCapture(call));
    } catch (err) {
      this.addError(where, err);
      return undefined;
    }
    const docs: AzureDocument[] = [];
    for (const r of responses) {
      if (r.status < 200 || r.status > 299 || !r.bodyText) continue;
      let body: unknown;
      try {
        body = JSON.parse(r.bodyText);
      } catch {
        this.addError(where, new Error(`response body is not JSON: ${r.method} ${redactUrl(r.url)}`));
        return undefined;
      }
      const items =
        body && typeof body === 'object' && Array.isArray((body as { value?: unknown }).value)
          ? ((body as { value: AzureDocument[] }).value)
          : [body as AzureDocument];
      for (const item of items) {
        const stored = this.addDocument(fix(item), r);
        if (stored) docs.push(stored);
      }
    }
    return docs;
  }

  /** `capture` for a child list, also writing the {@link ListRecord} that proves it was read. */
  async captureList(
    where: Omit<CollectionError, 'message' | 'code'> & { resourceId: string; resourceType: string },
    call: () => Promise<unknown>,
    fix?: (raw: AzureDocument) => AzureDocument,
  ): Promise<AzureDocument[] | undefined> {
    const docs = await this.capture(where, call, fix);
    if (docs) {
      this.lists.push({
        collector: where.collector,
        parentId: where.resourceId,
        resourceType: where.resourceType.toLowerCase(),
        count: docs.length,
      });
    }
    return docs;
  }
}

/** Drains a paged async iterator (SDK list calls) so every page goes over the wire. */
export async function drain(iter: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of iter) {
    // pages are captured as wire bodies by the shared HTTP layer
  }
}

/** Parts of an ARM resource id: `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}`. */
export function parseResourceId(id: string): { subscriptionId: string; resourceGroup: string; name: string } {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/[^/]+\/[^/]+\/([^/]+)$/i.exec(id);
  if (!m) throw new Error(`not a top-level ARM resource id: ${id}`);
  return { subscriptionId: m[1]!, resourceGroup: m[2]!, name: m[3]! };
}
