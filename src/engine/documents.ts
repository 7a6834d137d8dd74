/**
 * Indexes evidence documents once (by lower-cased id, type and parent id) so evaluation is linear in the estate:
 * child and extension resources are found by resource-id prefix, lookups through per-key maps built on first use.
 */
import type { AzureDocument, EvidenceSet } from '../model.js';

/** Lower-case, no trailing slash: Azure ids and types compare case-insensitively. */
export function normId(id: string): string {
  return id.trim().replace(/\/+$/, '').toLowerCase();
}

/** The resource a child or extension document belongs to, or undefined for a top-level resource. */
export function parentId(id: string): string | undefined {
  const lower = normId(id);
  // Extension resources: <resourceId>/providers/<namespace>/<type>/<name> (diagnostic settings, locks, ...).
  const ext = lower.lastIndexOf('/providers/');
  const first = lower.indexOf('/providers/');
  if (ext > 0 && ext !== first) return lower.slice(0, ext);
  const segs = lower.split('/');
  // /subscriptions/s/resourceGroups/g/providers/<ns>/<type>/<name> has 9 segments (leading empty one included).
  if (first < 0 || segs.length <= 9) return undefined;
  return segs.slice(0, -2).join('/');
}

/**
 * The partition a document is evaluated in: the top-level ARM resource it belongs to
 * (`/subscriptions/s/resourcegroups/g/providers/<ns>/<type>/<name>`, lower-case), so a resource, its children, its
 * extension resources (diagnostic settings) and its probe observations always meet in one partition. Ids that are not
 * under a provider resource (`attestation://...`, a subscription) are their own partition.
 */
export function partitionKey(id: string): string {
  const lower = normId(id);
  const at = lower.indexOf('/providers/');
  if (at < 0) return lower;
  const segs = lower.slice(at + '/providers/'.length).split('/');
  if (segs.length < 3) return lower;
  return `${lower.slice(0, at)}/providers/${segs[0]}/${segs[1]}/${segs[2]}`;
}

/** The collection path segment a child type lives under, e.g. `configurations` or `providers/microsoft.insights/diagnosticsettings`. */
export function collectionSegment(parentType: string, childType: string): string {
  const p = parentType.toLowerCase();
  const c = childType.toLowerCase();
  if (c.startsWith(`${p}/`)) return c.slice(p.length + 1).split('/').pop() as string;
  return `providers/${c}`;
}

export function docType(doc: AzureDocument): string {
  return typeof doc.type === 'string' ? doc.type.toLowerCase() : '';
}

export function docName(doc: AzureDocument): string {
  if (typeof doc.name === 'string' && doc.name) return doc.name;
  return doc.id.replace(/\/+$/, '').split('/').pop() ?? doc.id;
}

/** Marker type for "this list was collected" documents (`{ id: <parent>/<collection>, type: engram.collection, value: [...] }`). */
export const COLLECTION_TYPE = 'engram.collection';

/**
 * The documents of one evaluation: the whole evidence, or (for an estate streamed to disk) one partition of it on top
 * of a `base` index that holds what every partition may read: the documents of the types checks reach through
 * `lookup` (vaults, metric alerts) and the list records. Targets always come from this index's own documents.
 */
export class DocumentIndex {
  readonly documents: AzureDocument[] = [];
  private readonly byId = new Map<string, AzureDocument>();
  private readonly byType = new Map<string, AzureDocument[]>();
  private readonly children = new Map<string, AzureDocument[]>();
  /** Lower-cased collection ids known to have been listed (possibly empty). */
  private readonly collected = new Set<string>();
  /** `<lower-cased parent id>|<lower-cased child type>` for every list a collector recorded as read (EvidenceSet.lists). */
  private readonly listed = new Set<string>();
  private readonly lookups = new Map<string, Map<string, AzureDocument[]>>();

  /**
   * @param base the shared index of a partitioned evaluation: `get`, `childrenOf` and list records fall back to it,
   *   and `lookup` of a type in `base.resident` reads it (so a lookup sees the whole estate, not one partition).
   * @param resident the lower-case types this index holds for every partition (set on the base index only).
   */
  constructor(
    evidence: Pick<EvidenceSet, 'documents'> & Partial<Pick<EvidenceSet, 'provenance' | 'lists'>>,
    private readonly base?: DocumentIndex,
    readonly resident: ReadonlySet<string> = new Set(),
  ) {
    for (const doc of evidence.documents) this.add(doc);
    for (const l of evidence.lists ?? []) this.listed.add(`${normId(l.parentId)}|${l.resourceType.toLowerCase()}`);
    // A collector records a list call's provenance under the collection id (`<parent>/firewallRules`), so an empty
    // list is evidence of "none", not a gap.
    for (const p of evidence.provenance ?? []) {
      if (p.documentId && !this.byId.has(normId(p.documentId))) this.collected.add(normId(p.documentId));
    }
  }

  private add(doc: AzureDocument): void {
    if (!doc || typeof doc.id !== 'string') return;
    const id = normId(doc.id);
    const type = docType(doc);
    // A list body with an id (`az rest` output plus the collection id): mark the collection and index its items.
    if (Array.isArray((doc as { value?: unknown }).value) && (type === '' || type === COLLECTION_TYPE)) {
      this.collected.add(id);
      for (const item of (doc as unknown as { value: unknown[] }).value) {
        if (item && typeof item === 'object' && typeof (item as AzureDocument).id === 'string') this.add(item as AzureDocument);
      }
      return;
    }
    if (this.byId.has(id)) return; // first wins: same inputs, same result
    this.byId.set(id, doc);
    this.documents.push(doc);
    push(this.byType, type, doc);
    const parent = parentId(doc.id);
    if (parent) {
      push(this.children, parent, doc);
      const lastSlash = id.lastIndexOf('/');
      this.collected.add(id.slice(0, lastSlash));
    }
  }

  get(id: string): AzureDocument | undefined {
    const key = normId(id);
    return this.byId.get(key) ?? this.base?.byId.get(key);
  }

  ofType(type: string): AzureDocument[] {
    return this.byType.get(type.toLowerCase()) ?? [];
  }

  /**
   * Children of `parent` of `childType` (optionally only the one named `name`), and whether that collection was
   * collected at all. `collected: false` means missing evidence, not "none".
   */
  childrenOf(parent: AzureDocument, childType: string, name?: string): { docs: AzureDocument[]; collected: boolean; collectionId: string } {
    const pid = normId(parent.id);
    const type = childType.toLowerCase();
    // A parent's children share its partition; a parent reached through a lookup has its children in the base.
    const own = this.children.get(pid);
    const all = (own ?? this.base?.children.get(pid) ?? []).filter((d) => docType(d) === type);
    const collectionId = `${pid}/${collectionSegment(docType(parent), type)}`;
    const docs = name === undefined ? all : all.filter((d) => docName(d).toLowerCase() === name.toLowerCase());
    const collected = all.length > 0 || this.collected.has(collectionId) || this.base?.collected.has(collectionId) === true || this.wasListed(pid, type);
    return { docs, collected, collectionId };
  }

  /**
   * Whether a collector recorded reading the list of `childType` under `parentId` or one of its ancestors (the
   * storage collector records containers against the account, though they live under blobServices/default).
   */
  private wasListed(parentId: string, childType: string): boolean {
    if (this.base && this.listed.size === 0) return this.base.wasListed(parentId, childType);
    if (this.listed.size === 0) return false;
    let id = parentId;
    for (;;) {
      if (this.listed.has(`${id}|${childType}`)) return true;
      const cut = id.lastIndexOf('/');
      if (cut <= 0) return false;
      id = id.slice(0, cut);
    }
  }

  /** Documents of `type` whose key (read by `keyOf`) equals `key`; the map is built once per (type, keyName). */
  lookup(type: string, keyName: string, keyOf: (doc: AzureDocument) => string | string[] | undefined, key: string): AzureDocument[] {
    if (this.base?.resident.has(type.toLowerCase())) return this.base.lookup(type, keyName, keyOf, key);
    const mapKey = `${type.toLowerCase()}\u0000${keyName}`;
    let map = this.lookups.get(mapKey);
    if (!map) {
      map = new Map();
      for (const doc of this.ofType(type)) {
        let k: string | string[] | undefined;
        try {
          k = keyOf(doc);
        } catch {
          k = undefined;
        }
        // An array key (a metric alert's `scopes`) indexes the document under each element.
        for (const one of new Set(Array.isArray(k) ? k : k ? [k] : [])) if (one) push(map, one, doc);
      }
      this.lookups.set(mapKey, map);
    }
    return map.get(key) ?? [];
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
