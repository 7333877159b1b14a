// Endpoint lookup in a Keystone v3 catalog: service type with its aliases (the
// service-types-authority list that openstacksdk uses), region, interface, overrides.
import { EndpointNotFoundError } from '../errors.js';
import type { Interface } from '../config/clouds.js';

export interface CatalogEndpoint {
  id?: string;
  interface: Interface;
  region?: string;
  region_id?: string;
  url: string;
}

export interface CatalogEntry {
  id?: string;
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}

export type ServiceType = 'identity' | 'compute' | 'block-storage' | 'image' | 'network' | 'orchestration' | 'object-store' | 'placement';

/** Official type first, then historical aliases, newest first (service-types-authority). */
export const SERVICE_ALIASES: Record<ServiceType, string[]> = {
  identity: ['identity'],
  compute: ['compute'],
  'block-storage': ['block-storage', 'volumev3', 'block-store', 'volumev2', 'volume'],
  image: ['image'],
  network: ['network'],
  orchestration: ['orchestration'],
  'object-store': ['object-store'],
  placement: ['placement'],
};

export interface EndpointQuery {
  type: ServiceType;
  region?: string | undefined;
  interface?: Interface | undefined;
}

/** Finds the URL of a service; the error says what the catalog does offer. */
export function findEndpoint(catalog: CatalogEntry[], q: EndpointQuery): string {
  const iface = q.interface ?? 'public';
  const names = SERVICE_ALIASES[q.type] ?? [q.type];
  for (const name of names) {
    const entry = catalog.find((e) => e.type === name);
    if (!entry) continue;
    const matches = entry.endpoints.filter((ep) => ep.interface === iface && (!q.region || ep.region_id === q.region || ep.region === q.region));
    if (matches.length > 0) return matches[0]!.url.replace(/\/+$/, '');
    const regions = [...new Set(entry.endpoints.map((ep) => ep.region_id ?? ep.region ?? '?'))];
    const ifaces = [...new Set(entry.endpoints.map((ep) => ep.interface))];
    throw new EndpointNotFoundError(
      `service '${q.type}' (catalog type '${name}') has no ${iface} endpoint${q.region ? ` in region '${q.region}'` : ''}; ` +
        `it has regions [${regions.join(', ')}] and interfaces [${ifaces.join(', ')}]: set region_name/interface in clouds.yaml`,
    );
  }
  const types = catalog.map((e) => e.type).sort();
  throw new EndpointNotFoundError(`service '${q.type}' is not in the catalog (types: ${types.join(', ') || 'none'}); set ${q.type.replace(/-/g, '_')}_endpoint_override in clouds.yaml if it exists outside the catalog`);
}

/** Regions named anywhere in the catalog (for `sites check`). */
export function catalogRegions(catalog: CatalogEntry[]): string[] {
  return [...new Set(catalog.flatMap((e) => e.endpoints.map((ep) => ep.region_id ?? ep.region ?? '')).filter(Boolean))].sort();
}
