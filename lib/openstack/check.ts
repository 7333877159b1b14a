// Site check: authenticate, then ask every service Ferry needs for its version document (or
// a cheap authenticated read), and report endpoints and microversion ranges. Used by
// `ferry sites check` and, later, by the daemon's health probes.
import { FerryError } from '../errors.js';
import { catalogRegions, findEndpoint, SERVICE_ALIASES, type ServiceType } from './catalog.js';
import type { Site } from './site.js';

/** Services a Ferry site must offer; placement is reported when present but optional. */
export const REQUIRED_SERVICES: ServiceType[] = ['identity', 'compute', 'block-storage', 'image', 'network', 'orchestration', 'object-store'];
const OPTIONAL_SERVICES: ServiceType[] = ['placement'];

export interface ServiceReport {
  type: ServiceType;
  endpoint?: string;
  /** Microversion range "min-max" for microversioned services, else the API version ("v2.16"). */
  versions?: string;
  /** The microversion Ferry will use. */
  microversion?: string;
  ok: boolean;
  required: boolean;
  error?: string;
}

export interface SiteReport {
  site: string;
  auth_url: string;
  region: string;
  ok: boolean;
  error?: string;
  user?: string;
  project?: string;
  roles?: string[];
  token_expires?: string;
  regions?: string[];
  services: ServiceReport[];
  elapsed_ms: number;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function currentVersion(body: unknown): string | undefined {
  const b = body as { versions?: unknown; version?: { id?: string } } | undefined;
  const list = Array.isArray(b?.versions) ? b.versions : Array.isArray((b?.versions as { values?: unknown[] })?.values) ? (b!.versions as { values: unknown[] }).values : [];
  const docs = list as { id?: string; status?: string }[];
  const cur = docs.find((d) => d.status === 'CURRENT' || d.status === 'stable') ?? docs[0];
  return cur?.id ?? b?.version?.id;
}

async function probe(site: Site, type: ServiceType, signal?: AbortSignal): Promise<Partial<ServiceReport>> {
  const sc = site.service(type);
  switch (type) {
    case 'identity': {
      const res = await sc.get<unknown>('', { signal, ok: [200, 300] });
      return { versions: currentVersion(res.data) ?? 'v3' };
    }
    case 'compute':
    case 'block-storage':
    case 'placement': {
      const range = await sc.versionRange(signal);
      const mv = await sc.microversion(signal);
      return { ...(range ? { versions: `${range.min}-${range.max}` } : {}), ...(mv ? { microversion: mv } : {}) };
    }
    case 'image':
    case 'network': {
      const res = await sc.get<unknown>('', { signal, ok: [200, 300] });
      return { versions: currentVersion(res.data) };
    }
    case 'orchestration': {
      const res = await sc.get<{ api?: { revision?: string } }>('build_info', { signal });
      return { versions: `v1 (build ${res.data?.api?.revision ?? '?'})` };
    }
    case 'object-store': {
      const res = await sc.head('', { signal, ok: [200, 204] });
      return { versions: `v1 (${res.headers['x-account-container-count'] ?? '?'} containers)` };
    }
  }
}

/** Checks one site; never throws: failures are in the report. */
export async function checkSite(site: Site, signal?: AbortSignal): Promise<SiteReport> {
  const started = Date.now();
  const report: SiteReport = {
    site: site.name,
    auth_url: site.cloud.auth.auth_url,
    region: site.cloud.region_name ?? '(any)',
    ok: false,
    services: [],
    elapsed_ms: 0,
  };
  try {
    const token = await site.connect(signal);
    report.user = token.info.user.name ?? token.info.user.id;
    const scope = token.info.project ?? token.info.domain;
    if (scope) report.project = scope.name ?? scope.id;
    report.roles = (token.info.roles ?? []).map((r) => r.name).sort();
    report.token_expires = token.expiresAt.toISOString();
    report.regions = catalogRegions(token.catalog);
    const types = [...REQUIRED_SERVICES, ...OPTIONAL_SERVICES];
    report.services = await Promise.all(
      types.map(async (type): Promise<ServiceReport> => {
        const required = REQUIRED_SERVICES.includes(type);
        const out: ServiceReport = { type, ok: false, required };
        try {
          out.endpoint = site.cloud.endpoint_overrides[type] ?? findEndpoint(token.catalog, { type, region: site.cloud.region_name, interface: site.cloud.interface });
        } catch (err) {
          out.error = message(err);
          return out;
        }
        try {
          Object.assign(out, await probe(site, type, signal));
          out.ok = true;
        } catch (err) {
          out.error = message(err);
        }
        return out;
      }),
    );
    const missing = report.services.filter((s) => s.required && !s.endpoint).map((s) => s.type);
    const failing = report.services.filter((s) => s.required && s.endpoint && !s.ok).map((s) => s.type);
    const problems: string[] = [];
    if (missing.length) problems.push(`missing service(s): ${missing.join(', ')} (catalog types tried: ${missing.map((m) => SERVICE_ALIASES[m].join('/')).join('; ')})`);
    if (failing.length) problems.push(`failing service(s): ${failing.join(', ')}`);
    report.ok = problems.length === 0;
    if (!report.ok) report.error = problems.join('; ');
  } catch (err) {
    report.error = err instanceof FerryError || err instanceof Error ? message(err) : String(err);
  }
  report.elapsed_ms = Date.now() - started;
  return report;
}
