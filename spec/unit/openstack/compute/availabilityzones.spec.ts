import { expect } from 'chai';
import nock from 'nock';
import { ForbiddenError, ServerError } from '../../../../lib/errors.js';
import { availabilityZoneUrls, availableZoneNames, listAvailabilityZones } from '../../../../lib/openstack/compute/availabilityzones.js';
import { NOVA, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = '/v2.1';

// Shape: nova/api/openstack/compute/availability_zone.py _describe_availability_zones (Zed):
// available zones first, then unavailable ones, `hosts: null` in the summary, and the
// internal zone left out. Matches api-ref compute "Get Availability Zone Information".
const summary = {
  availabilityZoneInfo: [
    { zoneName: 'az-1', zoneState: { available: true }, hosts: null },
    { zoneName: 'az-2', zoneState: { available: true }, hosts: null },
    { zoneName: 'az-drained', zoneState: { available: false }, hosts: null },
  ],
};

// Shape: _describe_availability_zones_verbose: per available zone, host → binary →
// {available, active, updated_at}; `internal` listed with the control services; unavailable
// zones with `hosts: null`. Matches api-ref "Get Detailed Availability Zone Information".
const detail = {
  availabilityZoneInfo: [
    {
      zoneName: 'internal',
      zoneState: { available: true },
      hosts: {
        'ctl-1': {
          'nova-scheduler': { available: true, active: true, updated_at: '2026-11-27T03:59:51.000000' },
          'nova-conductor': { available: true, active: true, updated_at: '2026-11-27T03:59:52.000000' },
        },
      },
    },
    { zoneName: 'az-1', zoneState: { available: true }, hosts: { 'cmp-1': { 'nova-compute': { available: true, active: true, updated_at: '2026-11-27T03:59:50.000000' } } } },
    { zoneName: 'az-drained', zoneState: { available: false }, hosts: null },
  ],
};

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('compute/availabilityzones', () => {
  useNock();

  it('lists the zones with GET os-availability-zone and the negotiated microversion', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/os-availability-zone`)
      .query((q) => Object.keys(q).length === 0)
      .matchHeader('OpenStack-API-Version', 'compute 2.79')
      .matchHeader('X-OpenStack-Nova-API-Version', '2.79')
      .reply(200, summary);
    const zones = await listAvailabilityZones(site.compute);
    expect(zones.map((z) => [z.zoneName, z.zoneState.available, z.hosts])).to.deep.equal([
      ['az-1', true, null],
      ['az-2', true, null],
      ['az-drained', false, null],
    ]);
    expectAllCalled();
  });

  it('lists the detail (hosts and their services) with GET os-availability-zone/detail', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get(`${base}/os-availability-zone/detail`).reply(200, detail);
    const zones = await listAvailabilityZones(site.compute, { detail: true });
    expect(zones.map((z) => z.zoneName)).to.deep.equal(['internal', 'az-1', 'az-drained']);
    expect(zones[1]!.hosts).to.deep.equal({ 'cmp-1': { 'nova-compute': { available: true, active: true, updated_at: '2026-11-27T03:59:50.000000' } } });
    expect(Object.keys(zones[0]!.hosts!['ctl-1']!)).to.deep.equal(['nova-scheduler', 'nova-conductor']);
    expect(zones[2]!.hosts).to.equal(null);
    expectAllCalled();
  });

  it('names the zones servers can go to: available ones, never internal', async () => {
    expect(availableZoneNames(summary.availabilityZoneInfo)).to.deep.equal(['az-1', 'az-2']);
    expect(availableZoneNames(detail.availabilityZoneInfo)).to.deep.equal(['az-1']);
    // A cloud that renamed its internal zone (internal_service_availability_zone).
    const renamed = [
      { zoneName: 'control', zoneState: { available: true } },
      { zoneName: 'internal', zoneState: { available: true } },
    ];
    expect(availableZoneNames(renamed, 'control')).to.deep.equal(['internal']);
    expect(availableZoneNames([])).to.deep.equal([]);
  });

  it('an empty cloud (no compute service yet) lists no zone', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).get(`${base}/os-availability-zone`).reply(200, { availabilityZoneInfo: [] });
    expect(await listAvailabilityZones(site.compute)).to.deep.equal([]);
    expectAllCalled();
  });

  it("the detail refused to a member: ForbiddenError with Nova's policy message", async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    // Shape: nova/api/openstack/wsgi.py Fault over exception.PolicyNotAuthorized (403 forbidden).
    nock(NOVA)
      .get(`${base}/os-availability-zone/detail`)
      .reply(403, { forbidden: { code: 403, message: 'Policy doesn\'t allow os_compute_api:os-availability-zone:detail to be performed.' } });
    const err = await rejection(listAvailabilityZones(site.compute, { detail: true }));
    expect(err).to.be.instanceOf(ForbiddenError);
    expect((err as ForbiddenError).detail).to.equal("Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed.");
    expectAllCalled();
  });

  it('an internal error is a ServerError with the fault type, at once (a 500 is not asked again)', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    // Shape: Nova's fault wrapper for an unexpected error (computeFault, 500).
    nock(NOVA)
      .get(`${base}/os-availability-zone`)
      .reply(500, { computeFault: { code: 500, message: 'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.' } });
    const err = await rejection(listAvailabilityZones(site.compute));
    expect(err).to.be.instanceOf(ServerError);
    expect((err as ServerError).type).to.equal('computeFault');
    expect((err as ServerError).detail).to.match(/^Unexpected API Error/);
    expectAllCalled();
  });

  it('passes the abort signal in the options: an aborted listing is not sent', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    const scope = nock(NOVA).get(`${base}/os-availability-zone/detail`).reply(200, detail);
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await rejection(listAvailabilityZones(site.compute, { detail: true, signal: ac.signal }));
    expect(scope.isDone()).to.equal(false);
  });

  it('paths are relative to the compute endpoint', () => {
    expect(availabilityZoneUrls.list()).to.equal('os-availability-zone');
    expect(availabilityZoneUrls.detail()).to.equal('os-availability-zone/detail');
  });
});
