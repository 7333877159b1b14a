// Microversions: each endpoint's version document says which range it supports; we use the
// highest version both sides know (never above what Ferry was written against), and calls that
// need a feature ask `supports()` instead of comparing numbers themselves.

export interface VersionRange {
  /** Lowest microversion the server accepts, e.g. "2.1". */
  min: string;
  /** Highest microversion the server accepts, e.g. "2.93". */
  max: string;
}

/** Header name used for a service's microversion (`OpenStack-API-Version: <name> X.Y`). */
export const MICROVERSION_SERVICES: Record<string, { header: string; legacy?: string }> = {
  compute: { header: 'compute', legacy: 'X-OpenStack-Nova-API-Version' },
  'block-storage': { header: 'volume' },
  placement: { header: 'placement' },
};

export function parseVersion(v: string): [number, number] {
  const m = /^v?(\d+)\.(\d+)$/.exec(v.trim());
  if (!m) throw new Error(`not a microversion: '${v}'`);
  return [Number(m[1]), Number(m[2])];
}

/** <0, 0, >0 like a comparator. */
export function compareVersions(a: string, b: string): number {
  const [a1, a2] = parseVersion(a);
  const [b1, b2] = parseVersion(b);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

/** The version to use: min(wanted, server max); undefined when the ranges do not meet. */
export function negotiate(wanted: string, server: VersionRange): string | undefined {
  const chosen = compareVersions(wanted, server.max) <= 0 ? wanted : server.max;
  return compareVersions(chosen, server.min) >= 0 ? chosen : undefined;
}

interface VersionDoc {
  id?: string;
  version?: string;
  max_version?: string;
  min_version?: string;
  status?: string;
}

/**
 * Reads a version range out of a version document: Nova's `{"version": {...}}`, Cinder's and
 * Placement's `{"versions": [...]}` (the entry whose id matches `major`, else the CURRENT
 * one). Returns undefined when the service does not do microversions (empty `version`).
 */
export function rangeFromDocument(body: unknown, major?: string): VersionRange | undefined {
  const b = body as { version?: VersionDoc; versions?: VersionDoc[] | { values?: VersionDoc[] } } | undefined;
  let docs: VersionDoc[] = [];
  if (b?.version) docs = [b.version];
  else if (Array.isArray(b?.versions)) docs = b.versions;
  else if (b?.versions && Array.isArray((b.versions as { values?: VersionDoc[] }).values)) docs = (b.versions as { values: VersionDoc[] }).values;
  const pick =
    (major ? docs.find((d) => d.id && d.id.replace(/^v/, '').split('.')[0] === major.replace(/^v/, '').split('.')[0]) : undefined) ??
    docs.find((d) => d.status === 'CURRENT') ??
    docs[0];
  const max = pick?.version || pick?.max_version;
  const min = pick?.min_version;
  if (!max || !min) return undefined;
  return { min, max };
}

/** Headers that ask for microversion `v` of `service` (none for services without them). */
export function microversionHeaders(service: string, v: string | undefined): Record<string, string> {
  const spec = MICROVERSION_SERVICES[service];
  if (!spec || !v) return {};
  const h: Record<string, string> = { 'OpenStack-API-Version': `${spec.header} ${v}` };
  if (spec.legacy) h[spec.legacy] = v;
  return h;
}
