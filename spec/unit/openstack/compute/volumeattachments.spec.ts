import { expect } from 'chai';
import nock from 'nock';
import { BadRequestError, NotFoundError, NotSupportedError } from '../../../../lib/errors.js';
import { attachVolume, detachVolume, getVolumeAttachment, listVolumeAttachments } from '../../../../lib/openstack/compute/volumeattachments.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NOVA, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = '/v2.1';
const SRV = '4d8c3732-a248-40ed-bebc-539a6ffd25c0';

// Shape: api-ref compute "List volume attachments for an instance" at 2.79
// (nova/api/openstack/compute/volumes.py _translate_attachment_detail_view(): tag since 2.70,
// delete_on_termination since 2.79; `id` is the volume ID until 2.89).
function attachment(volumeId: string, extra: Record<string, unknown> = {}) {
  return { id: volumeId, volumeId, serverId: SRV, device: '/dev/vdb', tag: null, delete_on_termination: false, ...extra };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('compute/volumeattachments', () => {
  useNock();

  it('lists a server\'s attachments in one request without limit or offset', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/servers/${SRV}/os-volume_attachments`)
      .query((q) => Object.keys(q).length === 0)
      .matchHeader('OpenStack-API-Version', 'compute 2.79')
      .reply(200, { volumeAttachments: [attachment('v1', { device: '/dev/vda' }), attachment('v2', { tag: 'data', delete_on_termination: true })] });
    const got = await collect(listVolumeAttachments(site.compute, SRV));
    expect(got.map((a) => a.volumeId)).to.deep.equal(['v1', 'v2']);
    expect(got[1]!.tag).to.equal('data');
    expect(got[1]!.delete_on_termination).to.equal(true);
    expectAllCalled();
  });

  it('gets one attachment by volume ID, and maps "not attached" to NotFoundError', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .get(`${base}/servers/${SRV}/os-volume_attachments/v1`)
      .reply(200, { volumeAttachment: attachment('v1') })
      .get(`${base}/servers/${SRV}/os-volume_attachments/v9`)
      .reply(404, { itemNotFound: { code: 404, message: `Instance ${SRV} is not attached to volume v9` } });
    expect((await getVolumeAttachment(site.compute, SRV, 'v1')).device).to.equal('/dev/vdb');
    const e = (await caught(getVolumeAttachment(site.compute, SRV, 'v9'))) as NotFoundError;
    expect(e).to.be.instanceOf(NotFoundError);
    expect(e.detail).to.match(/is not attached to volume v9/);
  });

  it('attaches with volumeId, device, tag and delete_on_termination (answered 200)', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .post(`${base}/servers/${SRV}/os-volume_attachments`, { volumeAttachment: { volumeId: 'v3', device: '/dev/vdc', tag: 'db', delete_on_termination: true } })
      .reply(200, { volumeAttachment: attachment('v3', { device: '/dev/vdc', tag: 'db', delete_on_termination: true }) });
    const a = await attachVolume(site.compute, SRV, { volumeId: 'v3', device: '/dev/vdc', tag: 'db', delete_on_termination: true });
    expect(a.id).to.equal('v3');
    expect(a.serverId).to.equal(SRV);
    expectAllCalled();
  });

  it('refuses delete_on_termination before 2.79 and a tag before 2.49', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion('2.48');
    expect(String(await caught(attachVolume(site.compute, SRV, { volumeId: 'v', delete_on_termination: true })))).to.match(/needs microversion 2\.79/);
    expect(await caught(attachVolume(site.compute, SRV, { volumeId: 'v', tag: 't' }))).to.be.instanceOf(NotSupportedError);
  });

  it('never retries an attach that failed with 503', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA).post(`${base}/servers/${SRV}/os-volume_attachments`).once().reply(503, { serviceUnavailable: { code: 503, message: 'busy' } });
    expect(((await caught(attachVolume(site.compute, SRV, { volumeId: 'v' }))) as { status: number }).status).to.equal(503);
    expectAllCalled();
  });

  it('detaches idempotently (202 true, not attached false) and surfaces a root-volume refusal', async () => {
    const { site } = testSite();
    mockAuth();
    mockNovaVersion();
    nock(NOVA)
      .delete(`${base}/servers/${SRV}/os-volume_attachments/v1`)
      .reply(202)
      .delete(`${base}/servers/${SRV}/os-volume_attachments/v2`)
      .reply(404, { itemNotFound: { code: 404, message: `Instance ${SRV} is not attached to volume v2` } })
      .delete(`${base}/servers/${SRV}/os-volume_attachments/root`)
      .reply(400, { badRequest: { code: 400, message: 'Cannot detach a root device volume' } });
    expect(await detachVolume(site.compute, SRV, 'v1')).to.equal(true);
    expect(await detachVolume(site.compute, SRV, 'v2')).to.equal(false);
    const e = (await caught(detachVolume(site.compute, SRV, 'root'))) as BadRequestError;
    expect(e).to.be.instanceOf(BadRequestError);
    expect(e.detail).to.equal('Cannot detach a root device volume');
    expectAllCalled();
  });
});
