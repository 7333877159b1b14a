// Cinder v3 services (os-services): which cinder-volume, cinder-backup and cinder-scheduler
// hosts exist, and whether they are enabled and alive. Read-only here: Ferry asks whether a
// site can take and restore backups, it never enables, disables or fails over a service.
// API reference: https://docs.openstack.org/api-ref/block-storage/v3/#services-os-services
// Source: cinder/api/contrib/services.py ServiceController.index, cinder/api/microversions.py,
// cinder/policies/services.py (Zed). Admin only by default policy (`volume_extension:services:index`):
// a member gets 403.
import type { ServiceClient } from '../service-client.js';
import type { Query } from '../transport.js';

// ---- types ----------------------------------------------------------------

export type CinderBinary = 'cinder-volume' | 'cinder-backup' | 'cinder-scheduler' | (string & {});

export interface CinderService {
  binary: CinderBinary;
  /** `host` of cinder.conf; for cinder-volume `host@backend`. */
  host: string;
  zone: string;
  /** Disabled by an operator (`disabled_reason` says why), or enabled. */
  status: 'enabled' | 'disabled';
  /** Whether the service reported within `service_down_time` (60 s by default). */
  state: 'up' | 'down';
  /** UTC, without a zone suffix (`2026-11-27T03:59:50.000000`); null for a service that never reported. */
  updated_at: string | null;
  /** With the os-extended-services extension (loaded by default). */
  disabled_reason?: string | null;
  /** Since 3.7. */
  cluster?: string | null;
  /** Since 3.49, cinder-volume only: the backend's own state as the scheduler's pools report it. */
  backend_state?: 'up' | 'down' | null;
  /** os-extended-services, cinder-volume only: `disabled`, `enabled`, `failed-over`, `error`... */
  replication_status?: string | null;
  /** os-extended-services, cinder-volume only: the replication target a failed-over backend uses. */
  active_backend_id?: string | null;
  /** os-extended-services, cinder-volume only. */
  frozen?: boolean;
}

export interface ListServicesQuery {
  /** Only services of this binary, e.g. `cinder-backup`. */
  binary?: CinderBinary;
  /** Only services on this host (for cinder-volume the full `host@backend`). */
  host?: string;
}

// ---- urls -----------------------------------------------------------------

export const serviceUrls = {
  list: () => 'os-services',
};

// ---- requests ---------------------------------------------------------------

export function toListServicesQuery(q: ListServicesQuery): Query {
  const out: Query = {};
  if (q.binary !== undefined) out.binary = q.binary;
  if (q.host !== undefined) out.host = q.host;
  return out;
}

/**
 * Lists Cinder's services, filtered by binary and host. One request: os-services is not
 * paginated (Cinder answers every service at once).
 */
export async function listServices(sc: ServiceClient, q: ListServicesQuery = {}, signal?: AbortSignal): Promise<CinderService[]> {
  return (await sc.get<{ services: CinderService[] }>(serviceUrls.list(), { query: toListServicesQuery(q), signal })).data.services;
}

/** An enabled service that is up: one that takes work. */
export function isServiceUsable(s: Pick<CinderService, 'status' | 'state'>): boolean {
  return s.status === 'enabled' && s.state === 'up';
}
