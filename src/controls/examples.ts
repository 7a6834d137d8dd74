/**
 * Turns a check's inline examples into evidence: literal documents as written, fixture copies with their changes
 * applied (`set` / `unset` dotted paths, `rename` id segments, `id`, `name`, `tags`). Pure, so tests and docs share it.
 */
import type { AzureDocument, EvidenceSet } from '../model.js';
import type { Check, Control, Example, ExampleDocument } from './types.js';

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.split('.');
  let cur: Record<string, unknown> = obj;
  for (const seg of segs.slice(0, -1)) {
    const next = cur[seg];
    if (!next || typeof next !== 'object') cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1] as string] = clone(value);
}

function unsetPath(obj: Record<string, unknown>, path: string): void {
  const segs = path.split('.');
  let cur: unknown = obj;
  for (const seg of segs.slice(0, -1)) {
    if (!cur || typeof cur !== 'object') return;
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur && typeof cur === 'object') delete (cur as Record<string, unknown>)[segs[segs.length - 1] as string];
}

/** One example document, materialised. Throws if it names a fixture neither the check nor the control defines. */
export function materialise(control: Control, d: ExampleDocument, check?: Check): AzureDocument {
  if (!('fixture' in d) || typeof d.fixture !== 'string') return clone(d as AzureDocument);
  const base = check?.fixtures?.[d.fixture] ?? control.fixtures?.[d.fixture];
  if (!base) throw new Error(`example refers to fixture "${d.fixture}", which ${control.id} does not define`);
  const doc = clone(base) as AzureDocument;
  const spec = d as { rename?: Record<string, string>; id?: string; name?: string; tags?: Record<string, string>; set?: Record<string, unknown>; unset?: string[] };
  if (spec.rename) {
    doc.id = doc.id
      .split('/')
      .map((seg) => {
        const hit = Object.keys(spec.rename as object).find((k) => k.toLowerCase() === seg.toLowerCase());
        return hit ? (spec.rename as Record<string, string>)[hit] : seg;
      })
      .join('/');
    if (typeof doc.name === 'string') {
      const hit = Object.keys(spec.rename).find((k) => k.toLowerCase() === (doc.name as string).toLowerCase());
      if (hit) doc.name = spec.rename[hit];
    }
  }
  if (spec.name) {
    doc.id = `${doc.id.split('/').slice(0, -1).join('/')}/${spec.name}`;
    doc.name = spec.name;
  }
  if (spec.id) doc.id = spec.id;
  if (spec.tags) doc.tags = { ...spec.tags };
  for (const [path, value] of Object.entries(spec.set ?? {})) setPath(doc as Record<string, unknown>, path, value);
  for (const path of spec.unset ?? []) unsetPath(doc as Record<string, unknown>, path);
  return doc;
}

/** The evidence an example describes (fixtures from `check`, then `control`). */
export function exampleEvidence(control: Control, example: Example, check?: Check): EvidenceSet {
  return { documents: example.documents.map((d) => materialise(control, d, check)), provenance: [], errors: clone(example.errors ?? []) };
}
