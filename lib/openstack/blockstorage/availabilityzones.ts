// Cinder v3 availability zones (os-availability-zone): the zones volumes can be created in.
// API reference: https://docs.openstack.org/api-ref/block-storage/v3/#availability-zones-os-availability-zone
// Source: cinder/api/contrib/availability_zones.py, cinder/api/views/availability_zones.py,
// cinder/volume/api.py API.list_availability_zones (Zed). Any project member may list them; no
// microversion changes the answer.
//
// Cinder derives the zones from its cinder-volume services: a zone is available when one of
// its services is not disabled, whether or not that service is up (the listing does not look
// at heartbeats; os-services does). The API asks without Cinder's AZ cache.
import type { ServiceClient } from '../service-client.js';

// ---- types ----------------------------------------------------------------

export interface AvailabilityZone {
  zoneName: string;
  zoneState: { available: boolean };
}

// ---- urls -----------------------------------------------------------------

export const availabilityZoneUrls = {
  list: () => 'os-availability-zone',
};

// ---- requests ---------------------------------------------------------------

/** Lists Cinder's availability zones; one request (the API is not paginated). */
export async function listAvailabilityZones(sc: ServiceClient, signal?: AbortSignal): Promise<AvailabilityZone[]> {
  return (await sc.get<{ availabilityZoneInfo: AvailabilityZone[] }>(availabilityZoneUrls.list(), { signal })).data.availabilityZoneInfo;
}

/** The names of the zones volumes can be created in (the available ones). */
export function availableZoneNames(zones: Pick<AvailabilityZone, 'zoneName' | 'zoneState'>[]): string[] {
  return zones.filter((z) => z.zoneState.available).map((z) => z.zoneName);
}
