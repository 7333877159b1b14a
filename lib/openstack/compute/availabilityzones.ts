// Nova v2.1 availability zones (os-availability-zone): the zones servers can be placed in.
// API reference: https://docs.openstack.org/api-ref/compute/#availability-zones-os-availability-zone
// Source: nova/api/openstack/compute/availability_zone.py, nova/availability_zones.py,
// nova/policies/availability_zone.py (Zed, 26.x). No microversion changes these answers.
//
// The summary (`list` policy: any project reader) names every zone that has compute hosts,
// without `internal` (CONF.internal_service_availability_zone, where the scheduler and
// conductor live). The detail (`detail` policy: admin) adds each zone's hosts and their
// services, and also shows `internal`. A zone whose every compute service is disabled is
// listed with `available: false`.
import type { ServiceClient } from '../service-client.js';

// ---- types ----------------------------------------------------------------

/** One service of a host, in the detailed listing. */
export interface ZoneHostService {
  /** The service reported recently (servicegroup API). */
  available: boolean;
  /** Not disabled by an operator. */
  active: boolean;
  /** UTC, without a zone suffix; null for a service that never reported. */
  updated_at: string | null;
}

export interface AvailabilityZone {
  zoneName: string;
  zoneState: { available: boolean };
  /**
   * Detail only, for available zones: host name → binary (`nova-compute`, `nova-scheduler`...)
   * → state. Null in the summary and for unavailable zones.
   */
  hosts: Record<string, Record<string, ZoneHostService>> | null;
}

export interface ListAvailabilityZonesOptions {
  /** The detailed listing with hosts and services (admin only by default policy). */
  detail?: boolean;
  signal?: AbortSignal;
}

// ---- urls -----------------------------------------------------------------

export const availabilityZoneUrls = {
  list: () => 'os-availability-zone',
  detail: () => 'os-availability-zone/detail',
};

// ---- requests ---------------------------------------------------------------

/** Lists Nova's availability zones; one request (the API is not paginated). */
export async function listAvailabilityZones(sc: ServiceClient, opts: ListAvailabilityZonesOptions = {}): Promise<AvailabilityZone[]> {
  const path = opts.detail ? availabilityZoneUrls.detail() : availabilityZoneUrls.list();
  return (await sc.get<{ availabilityZoneInfo: AvailabilityZone[] }>(path, { signal: opts.signal })).data.availabilityZoneInfo;
}

/** The names of the zones servers can be scheduled to: available ones, without Nova's `internal` zone. */
export function availableZoneNames(zones: Pick<AvailabilityZone, 'zoneName' | 'zoneState'>[], internalZone = 'internal'): string[] {
  return zones.filter((z) => z.zoneState.available && z.zoneName !== internalZone).map((z) => z.zoneName);
}
