import { expect } from 'chai';
import nock from 'nock';
import { NotFoundError } from '../../../../lib/errors.js';
import { availabilityZoneUrls, availableZoneNames, listAvailabilityZones } from '../../../../lib/openstack/blockstorage/availabilityzones.js';
import { CINDER, PROJECT_ID, TOKEN, expectAllCalled, mockAuth, mockCinderVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v3/${PROJECT_ID}`;

// Shape: cinder/api/views/availability_zones.py ViewBuilder.list (Zed): zoneName and
// zoneState.available only (no hosts, unlike Nova). Matches api-ref block-storage v3
// "List Availability Zone Information".
const body = {
  availabilityZoneInfo: [
    { zoneName: 'nova', zoneState: { available: true } },
    { zoneName: 'az-ssd', zoneState: { available: true } },
    { zoneName: 'az-retired', zoneState: { available: false } },
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

describe('blockstorage/availabilityzones', () => {
  useNock();

  it('lists the zones with GET os-availability-zone, the token and the negotiated microversion', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER)
      .get(`${base}/os-availability-zone`)
      .query((q) => Object.keys(q).length === 0)
      .matchHeader('X-Auth-Token', TOKEN)
      .matchHeader('OpenStack-API-Version', 'volume 3.64')
      .reply(200, body);
    const zones = await listAvailabilityZones(site.blockStorage);
    expect(zones).to.deep.equal(body.availabilityZoneInfo);
    expectAllCalled();
  });

  it('names the zones volumes can be created in: the available ones, in order', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/os-availability-zone`).reply(200, body);
    expect(availableZoneNames(await listAvailabilityZones(site.blockStorage))).to.deep.equal(['nova', 'az-ssd']);
    expect(availableZoneNames([{ zoneName: 'z', zoneState: { available: false } }])).to.deep.equal([]);
    expectAllCalled();
  });

  it('a site without cinder-volume services lists no zone', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/os-availability-zone`).reply(200, { availabilityZoneInfo: [] });
    expect(await listAvailabilityZones(site.blockStorage)).to.deep.equal([]);
    expectAllCalled();
  });

  it('passes an abort signal: an aborted listing is not sent', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    const scope = nock(CINDER).get(`${base}/os-availability-zone`).reply(200, body);
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await rejection(listAvailabilityZones(site.blockStorage, ac.signal));
    expect(scope.isDone()).to.equal(false);
  });

  it("maps Cinder's error body: a 404 (the extension not loaded) is NotFoundError with its message", async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    // Shape: cinder/api/openstack/wsgi.py Fault for a missing resource (itemNotFound).
    nock(CINDER)
      .get(`${base}/os-availability-zone`)
      .reply(404, { itemNotFound: { code: 404, message: 'The resource could not be found.' } });
    const err = await rejection(listAvailabilityZones(site.blockStorage));
    expect(err).to.be.instanceOf(NotFoundError);
    expect((err as NotFoundError).detail).to.equal('The resource could not be found.');
    expect((err as NotFoundError).type).to.equal('itemNotFound');
    expectAllCalled();
  });

  it('an expired token is renewed once and the listing asked again', async () => {
    const { site } = testSite();
    mockAuth(2);
    mockCinderVersion();
    // Shape: keystonemiddleware's 401 as Cinder returns it.
    nock(CINDER)
      .get(`${base}/os-availability-zone`)
      .reply(401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } })
      .get(`${base}/os-availability-zone`)
      .reply(200, body);
    expect((await listAvailabilityZones(site.blockStorage)).map((z) => z.zoneName)).to.deep.equal(['nova', 'az-ssd', 'az-retired']);
    expectAllCalled();
  });

  it('is a read: a 503 (the API behind a busy load balancer) is asked again', async () => {
    const { site } = testSite();
    mockAuth();
    mockCinderVersion();
    nock(CINDER).get(`${base}/os-availability-zone`).reply(503, 'Service Unavailable').get(`${base}/os-availability-zone`).reply(200, body);
    expect(availableZoneNames(await listAvailabilityZones(site.blockStorage))).to.deep.equal(['nova', 'az-ssd']);
    expectAllCalled();
  });

  it('the path is relative to the block-storage endpoint (which carries the project)', () => {
    expect(availabilityZoneUrls.list()).to.equal('os-availability-zone');
  });
});
