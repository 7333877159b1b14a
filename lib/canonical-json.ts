// Canonical JSON: one text per document whatever its key order, so hashes of plans and
// recovery-point manifests are stable across writers, databases and object stores.
import { createHash } from 'node:crypto';
import { FerryError } from './errors.js';

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level and no whitespace:
 * equal documents give equal text whatever their key order. Object members whose value is
 * undefined are left out (as JSON.stringify does); undefined inside an array, a non-finite
 * number, a bigint or a function is an error (it has no JSON form a reader could check).
 */
export function canonicalJson(value: unknown): string {
  return canon(value, '$');
}

function canon(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new FerryError(`canonicalJson: ${path} is ${value}, which JSON cannot represent`);
      return JSON.stringify(value);
    case 'object': {
      const withJson = value as { toJSON?: () => unknown };
      if (typeof withJson.toJSON === 'function') return canon(withJson.toJSON(), path);
      if (Array.isArray(value)) {
        return `[${value
          .map((v, i) => {
            if (v === undefined) throw new FerryError(`canonicalJson: ${path}[${i}] is undefined`);
            return canon(v, `${path}[${i}]`);
          })
          .join(',')}]`;
      }
      const obj = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(obj).sort()) {
        if (obj[k] === undefined) continue;
        parts.push(`${JSON.stringify(k)}:${canon(obj[k], `${path}.${k}`)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new FerryError(`canonicalJson: ${path} is a ${typeof value}, which JSON cannot represent`);
  }
}

/** `sha256:<hex>` of a JSON document's canonical form (plan specs; survives key reordering). */
export function specHash(spec: object): string {
  return `sha256:${createHash('sha256').update(canonicalJson(JSON.parse(JSON.stringify(spec)))).digest('hex')}`;
}
