import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, NotFoundError, NotSupportedError, ResourceFailureError, WaitTimeoutError } from '../../../../lib/errors.js';
import {
  addServerTag,
  createServer,
  deleteServer,
  deleteServerMetadataKey,
  deleteServerTag,
  getServer,
  getServerMetadata,
  isEmbeddedFlavor,
  listServers,
  listServerTags,
  lockServer,
  rebootServer,
  replaceServerTags,
  serverHasTag,
  serverImageId,
  setServerMetadata,
  shelveServer,
  startServer,
  stopServer,
  toUserData,
  unlockServer,
  unshelveServer,
  waitForServer,
  waitForServerDeleted,
} from '../../../../lib/openstack/compute/servers.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { NOVA, PROJECT_ID, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../../support/fake-cloud.js';

const base = '/v2.1';
const SRV = '9168b536-cd40-4630-b43f-b259807c6e87';

// Shape: api-ref compute "Show Server Details" response at 2.79 (nova/api/openstack/compute/views/servers.py
// show(), Zed): embedded flavor (2.47), locked (2.9), description (2.19), tags (2.26),
// trusted_image_certificates (2.63), server_groups (2.71, GET only), locked_reason (2.73).
function server(id: string, status = 'ACTIVE', extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `srv-${id}`,
    status,
    tenant_id: PROJECT_ID,
    user_id: 'u-ferry',
    metadata: { 'ferry:plan': 'web' },
    hostId: '2091634baaccdc4c5a1d57069c833e402921df696b7f970791b12ec6',
    image: '',
    flavor: { vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, original_name: 'm1.tiny', extra_specs: { 'hw:cpu_policy': 'shared' } },
    created: '2026-11-27T03:00:00Z',
    updated: '2026-11-27T03:01:00Z',
    addresses: { private: [{ version: 4, addr: '10.0.0.5', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:4c:2c:30' }] },
    accessIPv4: '',
    accessIPv6: '',
    links: [{ rel: 'self', href: `${NOVA}/v2.1/servers/${id}` }],
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': 'nova',
    config_drive: '',
    key_name: 'ferry-key',
    'OS-SRV-USG:launched_at': '2026-11-27T03:00:30.000000',
    'OS-SRV-USG:terminated_at': null,
    security_groups: [{ name: 'default' }],
    'OS-EXT-STS:task_state': null,
    'OS-EXT-STS:vm_state': 'active',
    'OS-EXT-STS:power_state': 1,
    'os-extended-volumes:volumes_attached': [{ id: 'vol-root', delete_on_termination: false }],
    locked: false,
    description: null,
    tags: ['ferry'],
    trusted_image_certificates: null,
    locked_reason: null,
    ...extra,
  };
}

// Nova's fault body (nova/api/openstack/wsgi.py Fault): {"<faultName>": {"code": N, "message": "..."}}.
const notFound = (msg: string) => ({ itemNotFound: { code: 404, message: msg } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('compute/servers', () => {
  useNock();

  describe('listServers', () => {
    it('follows servers_links across pages with the negotiated microversion and server-side filters', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/detail`)
        .query({ status: ['ACTIVE', 'SHUTOFF'], tags: 'ferry,web', 'not-tags-any': 'skip', all_tenants: '1', project_id: 'p2', limit: '2' })
        .matchHeader('OpenStack-API-Version', 'compute 2.79')
        .matchHeader('X-OpenStack-Nova-API-Version', '2.79')
        .reply(200, {
          servers: [server('s1'), server('s2', 'SHUTOFF')],
          // Nova's next link keeps the query and adds marker=<last id> (common.py _get_next_link).
          servers_links: [{ rel: 'next', href: `http://nova.internal:8774/v2.1/servers/detail?all_tenants=1&limit=2&marker=s2&project_id=p2` }],
        })
        .get(`${base}/servers/detail`)
        .query({ status: ['ACTIVE', 'SHUTOFF'], tags: 'ferry,web', 'not-tags-any': 'skip', all_tenants: '1', project_id: 'p2', limit: '2', marker: 's2' })
        .reply(200, { servers: [server('s3')] });
      const got = await collect(listServers(site.compute, { status: ['ACTIVE', 'SHUTOFF'], tags: ['ferry', 'web'], 'not-tags-any': ['skip'], project_id: 'p2', limit: 2 }));
      expect(got.map((s) => s.id)).to.deep.equal(['s1', 's2', 's3']);
      expect(got[1]!.status).to.equal('SHUTOFF');
      expectAllCalled();
    });

    it('sends name, changes-since and host filters as given and one status unrepeated', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/detail`)
        .query({ name: '^web-', status: 'ERROR', 'changes-since': '2026-11-27T00:00:00Z', host: 'cmp-1', sort_key: 'created_at', sort_dir: 'asc' })
        .reply(200, { servers: [] });
      const got = await collect(listServers(site.compute, { name: '^web-', status: 'ERROR', 'changes-since': '2026-11-27T00:00:00Z', host: 'cmp-1', sort_key: 'created_at', sort_dir: 'asc' }));
      expect(got).to.deep.equal([]);
      expectAllCalled();
    });

    it('refuses tag filters before 2.26 and the locked filter before 2.73 without listing', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion('2.25');
      const e1 = await caught(collect(listServers(site.compute, { 'tags-any': ['a'] })));
      expect(e1).to.be.instanceOf(NotSupportedError);
      expect(String(e1)).to.match(/filtering servers by tag needs microversion 2\.26.*2\.1 to 2\.25/);
      const e2 = await caught(collect(listServers(site.compute, { locked: true })));
      expect(String(e2)).to.match(/locked filter needs microversion 2\.73/);
      expect(nock.pendingMocks()).to.deep.equal([]);
    });
  });

  describe('getServer', () => {
    it('parses a 2.79 server booted from a volume with its embedded flavor', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}`)
        .reply(200, { server: server(SRV, 'ACTIVE', { server_groups: ['sg-1'], locked: true, locked_reason: 'ferry failover' }) }, { 'x-compute-request-id': 'req-nova-1' });
      const s = await getServer(site.compute, SRV);
      expect(s.id).to.equal(SRV);
      expect(serverImageId(s)).to.equal(undefined);
      expect(isEmbeddedFlavor(s.flavor)).to.equal(true);
      if (isEmbeddedFlavor(s.flavor)) expect(s.flavor.original_name).to.equal('m1.tiny');
      expect(s['os-extended-volumes:volumes_attached']).to.deep.equal([{ id: 'vol-root', delete_on_termination: false }]);
      expect(s.addresses.private![0]!['OS-EXT-IPS:type']).to.equal('fixed');
      expect(s.server_groups).to.deep.equal(['sg-1']);
      expect(s.locked_reason).to.equal('ferry failover');
    });

    it('reads the pre-2.47 flavor reference and an image reference', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion('2.46');
      nock(NOVA)
        .get(`${base}/servers/${SRV}`)
        .matchHeader('OpenStack-API-Version', 'compute 2.46')
        .reply(200, {
          server: server(SRV, 'ACTIVE', {
            flavor: { id: '1', links: [{ rel: 'bookmark', href: `${NOVA}/flavors/1` }] },
            image: { id: 'img-1', links: [{ rel: 'bookmark', href: `${NOVA}/images/img-1` }] },
          }),
        });
      const s = await getServer(site.compute, SRV);
      expect(isEmbeddedFlavor(s.flavor)).to.equal(false);
      expect(serverImageId(s)).to.equal('img-1');
    });

    it('maps a Nova 404 to NotFoundError with the compute request ID', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA).get(`${base}/servers/nope`).reply(404, notFound('Instance nope could not be found.'), { 'x-compute-request-id': 'req-nova-404' });
      const e = (await caught(getServer(site.compute, 'nope'))) as NotFoundError;
      expect(e).to.be.instanceOf(NotFoundError);
      expect(e.requestId).to.equal('req-nova-404');
      expect(e.detail).to.equal('Instance nope could not be found.');
      expect(e.type).to.equal('itemNotFound');
    });
  });

  describe('createServer', () => {
    it('posts the server with scheduler hints beside it and returns the 202 body', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      const userData = toUserData('#!/bin/sh\necho ferry\n');
      nock(NOVA)
        .post(`${base}/servers`, {
          server: {
            name: 'web-1',
            flavorRef: 'f1',
            networks: [{ port: 'port-1' }, { uuid: 'net-1', fixed_ip: '10.0.0.9' }],
            block_device_mapping_v2: [{ source_type: 'volume', destination_type: 'volume', uuid: 'vol-1', boot_index: 0, delete_on_termination: false }],
            key_name: 'ferry-key',
            metadata: { 'ferry:plan': 'web' },
            tags: ['ferry'],
            security_groups: [{ name: 'web' }],
            availability_zone: 'az-b',
            user_data: userData,
            description: 'replica of web-1',
            config_drive: true,
          },
          'os:scheduler_hints': { group: 'sg-1' },
        })
        .matchHeader('OpenStack-API-Version', 'compute 2.79')
        .reply(202, { server: { id: SRV, links: [], 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'web' }], adminPass: 'x' } });
      const created = await createServer(site.compute, {
        name: 'web-1',
        flavorRef: 'f1',
        networks: [{ port: 'port-1' }, { uuid: 'net-1', fixed_ip: '10.0.0.9' }],
        block_device_mapping_v2: [{ source_type: 'volume', destination_type: 'volume', uuid: 'vol-1', boot_index: 0, delete_on_termination: false }],
        key_name: 'ferry-key',
        metadata: { 'ferry:plan': 'web' },
        tags: ['ferry'],
        security_groups: [{ name: 'web' }],
        availability_zone: 'az-b',
        user_data: userData,
        description: 'replica of web-1',
        config_drive: true,
        'os:scheduler_hints': { group: 'sg-1' },
      });
      expect(created.id).to.equal(SRV);
      expect(Buffer.from(userData, 'base64').toString()).to.equal('#!/bin/sh\necho ferry\n');
      expectAllCalled();
    });

    it('never retries a create that failed with 503', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA).post(`${base}/servers`).once().reply(503, { serviceUnavailable: { code: 503, message: 'busy' } });
      const e = (await caught(createServer(site.compute, { name: 'a', flavorRef: 'f', networks: 'none' }))) as { status: number };
      expect(e.status).to.equal(503);
      expectAllCalled();
    });

    it('refuses boot-time tags before 2.52 and networks "auto" before 2.37 without posting', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion('2.36');
      const e1 = await caught(createServer(site.compute, { name: 'a', flavorRef: 'f', networks: [{ uuid: 'n' }], tags: ['x'] }));
      expect(String(e1)).to.match(/tagging a server at boot needs microversion 2\.52/);
      const e2 = await caught(createServer(site.compute, { name: 'a', flavorRef: 'f', networks: 'auto' }));
      expect(String(e2)).to.match(/networks 'auto' needs microversion 2\.37/);
    });

    it('maps a 400 for a bad request body to its Nova message', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .post(`${base}/servers`)
        .reply(400, { badRequest: { code: 400, message: "Invalid input for field/attribute server. Value: {...}. 'networks' is a required property" } });
      const e = (await caught(createServer(site.compute, { name: 'a', flavorRef: 'f', networks: [] }))) as { status: number; type: string; detail: string };
      expect(e.status).to.equal(400);
      expect(e.type).to.equal('badRequest');
      expect(e.detail).to.match(/'networks' is a required property/);
    });
  });

  describe('deleteServer', () => {
    it('deletes idempotently: 204 is true, 404 is false, unless ignoreMissing is false', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .delete(`${base}/servers/s1`)
        .reply(204)
        .delete(`${base}/servers/s2`)
        .reply(404, notFound('Instance s2 could not be found.'))
        .delete(`${base}/servers/s3`)
        .reply(404, notFound('Instance s3 could not be found.'));
      expect(await deleteServer(site.compute, 's1')).to.equal(true);
      expect(await deleteServer(site.compute, 's2')).to.equal(false);
      expect(await caught(deleteServer(site.compute, 's3', { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
      expectAllCalled();
    });
  });

  describe('actions', () => {
    it('posts the documented action bodies to servers/{id}/action', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      const path = `${base}/servers/${SRV}/action`;
      nock(NOVA)
        .post(path, { 'os-stop': null })
        .reply(202)
        .post(path, { 'os-start': null })
        .reply(202)
        .post(path, { unlock: null })
        .reply(202)
        .post(path, { shelve: null })
        .reply(202)
        .post(path, { reboot: { type: 'HARD' } })
        .reply(202)
        .post(path, { reboot: { type: 'SOFT' } })
        .reply(202);
      await stopServer(site.compute, SRV);
      await startServer(site.compute, SRV);
      await unlockServer(site.compute, SRV);
      await shelveServer(site.compute, SRV);
      await rebootServer(site.compute, SRV, 'HARD');
      await rebootServer(site.compute, SRV);
      expectAllCalled();
    });

    it('locks with a reason (2.73) or with a null body, and unshelves into an AZ (2.77) or with null', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      const path = `${base}/servers/${SRV}/action`;
      nock(NOVA)
        .post(path, { lock: { locked_reason: 'ferry: failover in progress' } })
        .reply(202)
        .post(path, { lock: null })
        .reply(202)
        .post(path, { unshelve: { availability_zone: 'az-b' } })
        .reply(202)
        .post(path, { unshelve: null })
        .reply(202);
      await lockServer(site.compute, SRV, { locked_reason: 'ferry: failover in progress' });
      await lockServer(site.compute, SRV);
      await unshelveServer(site.compute, SRV, { availability_zone: 'az-b' });
      await unshelveServer(site.compute, SRV);
      expectAllCalled();
    });

    it('refuses a lock reason before 2.73 and an unshelve AZ before 2.77', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion('2.72');
      expect(String(await caught(lockServer(site.compute, SRV, { locked_reason: 'x' })))).to.match(/lock reason needs microversion 2\.73/);
      expect(await caught(unshelveServer(site.compute, SRV, { availability_zone: 'az' }))).to.be.instanceOf(NotSupportedError);
    });

    it('retries a stop after 503 but never a reboot', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      const path = `${base}/servers/${SRV}/action`;
      nock(NOVA)
        .post(path, { 'os-stop': null })
        .reply(503, { serviceUnavailable: { code: 503, message: 'busy' } })
        .post(path, { 'os-stop': null })
        .reply(202)
        .post(path, { reboot: { type: 'SOFT' } })
        .once()
        .reply(503, { serviceUnavailable: { code: 503, message: 'busy' } });
      await stopServer(site.compute, SRV);
      const e = (await caught(rebootServer(site.compute, SRV))) as { status: number };
      expect(e.status).to.equal(503);
      expectAllCalled();
    });

    it('maps a 409 for a server in the wrong state to ConflictError with Nova\'s message', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      // nova/api/openstack/common.py raise_http_conflict_for_instance_invalid_state.
      nock(NOVA)
        .post(`${base}/servers/${SRV}/action`, { 'os-start': null })
        .reply(409, { conflictingRequest: { code: 409, message: `Cannot 'start' instance ${SRV} while it is in vm_state active` } });
      const e = (await caught(startServer(site.compute, SRV))) as ConflictError;
      expect(e).to.be.instanceOf(ConflictError);
      expect(e.type).to.equal('conflictingRequest');
      expect(e.detail).to.match(/while it is in vm_state active/);
    });
  });

  describe('metadata', () => {
    it('reads, merges with POST, and deletes one key idempotently', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}/metadata`)
        .reply(200, { metadata: { a: '1' } })
        .post(`${base}/servers/${SRV}/metadata`, { metadata: { 'ferry:role': 'replica' } })
        .reply(200, { metadata: { a: '1', 'ferry:role': 'replica' } })
        .delete(`${base}/servers/${SRV}/metadata/ferry%3Arole`)
        .reply(204)
        .delete(`${base}/servers/${SRV}/metadata/gone`)
        .reply(404, notFound('Metadata item was not found'));
      expect(await getServerMetadata(site.compute, SRV)).to.deep.equal({ a: '1' });
      expect(await setServerMetadata(site.compute, SRV, { 'ferry:role': 'replica' })).to.deep.equal({ a: '1', 'ferry:role': 'replica' });
      expect(await deleteServerMetadataKey(site.compute, SRV, 'ferry:role')).to.equal(true);
      expect(await deleteServerMetadataKey(site.compute, SRV, 'gone')).to.equal(false);
      expectAllCalled();
    });
  });

  describe('tags', () => {
    // Nova refuses a PUT labelled application/x-www-form-urlencoded (what the HTTP client puts
    // on a bodiless PUT) with 415 "Unsupported Content-Type": seen in the lab.
    it('lists, replaces, adds (no body, JSON content type) and deletes tags', async () => {
      const { site } = testSite();
      const sentBodies: unknown[] = [];
      const sentTypes: unknown[] = [];
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}/tags`)
        .reply(200, { tags: ['a'] })
        .put(`${base}/servers/${SRV}/tags`, { tags: ['ferry', 'web'] })
        .reply(200, { tags: ['ferry', 'web'] })
        .put(`${base}/servers/${SRV}/tags/dr-copy`)
        .reply(function (_uri, body) {
          sentBodies.push(body);
          sentTypes.push(this.req.headers['content-type']);
          return [201, ''];
        })
        .put(`${base}/servers/${SRV}/tags/dr-copy`)
        .matchHeader('Content-Type', 'application/json')
        .reply(204)
        .delete(`${base}/servers/${SRV}/tags/web`)
        .reply(204)
        .delete(`${base}/servers/${SRV}/tags/web`)
        .reply(404, notFound(`Instance ${SRV} has no tag 'web'`));
      expect(await listServerTags(site.compute, SRV)).to.deep.equal(['a']);
      expect(await replaceServerTags(site.compute, SRV, ['ferry', 'web'])).to.deep.equal(['ferry', 'web']);
      await addServerTag(site.compute, SRV, 'dr-copy');
      await addServerTag(site.compute, SRV, 'dr-copy');
      expect(await deleteServerTag(site.compute, SRV, 'web')).to.equal(true);
      expect(await deleteServerTag(site.compute, SRV, 'web')).to.equal(false);
      expect(sentBodies).to.deep.equal(['']);
      expect(sentTypes).to.deep.equal(['application/json']);
      expectAllCalled();
    });

    it('checks a tag: 204 is true, "has no tag" is false, a missing server is thrown', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}/tags/ferry`)
        .reply(204)
        .get(`${base}/servers/${SRV}/tags/other`)
        .reply(404, notFound(`Server ${SRV} has no tag 'other'`))
        .get(`${base}/servers/gone/tags/ferry`)
        .reply(404, notFound('Instance gone could not be found.'));
      expect(await serverHasTag(site.compute, SRV, 'ferry')).to.equal(true);
      expect(await serverHasTag(site.compute, SRV, 'other')).to.equal(false);
      expect(await caught(serverHasTag(site.compute, 'gone', 'ferry'))).to.be.instanceOf(NotFoundError);
      expectAllCalled();
    });

    it('refuses tag calls before 2.26', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion('2.25');
      expect(String(await caught(listServerTags(site.compute, SRV)))).to.match(/server tags needs microversion 2\.26/);
      expect(await caught(addServerTag(site.compute, SRV, 'x'))).to.be.instanceOf(NotSupportedError);
    });
  });

  describe('waiters', () => {
    it('waits through BUILD to ACTIVE and reports progress', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}`)
        .reply(200, { server: server(SRV, 'BUILD', { 'OS-EXT-STS:vm_state': 'building', 'OS-EXT-STS:task_state': 'spawning', addresses: {} }) })
        .get(`${base}/servers/${SRV}`)
        .reply(200, { server: server(SRV, 'ACTIVE') });
      const seen: string[] = [];
      const s = await waitForServer(site.compute, SRV, ['ACTIVE'], { intervalMs: 1, onProgress: (st) => seen.push(st) });
      expect(s?.status).to.equal('ACTIVE');
      expect(seen).to.deep.equal(['BUILD', 'ACTIVE']);
    });

    it('fails fast on ERROR with the fault message as the reason', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}`)
        .reply(200, {
          server: server(SRV, 'ERROR', {
            'OS-EXT-STS:vm_state': 'error',
            fault: { code: 500, created: '2026-11-27T03:02:00Z', message: 'No valid host was found. There are not enough hosts available.' },
          }),
        });
      const e = (await caught(waitForServer(site.compute, SRV, ['ACTIVE'], { intervalMs: 1, timeoutMs: 60_000 }))) as ResourceFailureError;
      expect(e).to.be.instanceOf(ResourceFailureError);
      expect(e.status).to.equal('ERROR');
      expect(e.message).to.equal(`server ${SRV} went to ERROR: No valid host was found. There are not enough hosts available.`);
      expectAllCalled();
    });

    it('keeps waiting while an errored server is hard-rebooting', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}`)
        .reply(200, { server: server(SRV, 'ERROR', { 'OS-EXT-STS:vm_state': 'error', 'OS-EXT-STS:task_state': 'reboot_started_hard' }) })
        .get(`${base}/servers/${SRV}`)
        .reply(200, { server: server(SRV, 'ACTIVE') });
      const seen: string[] = [];
      await waitForServer(site.compute, SRV, ['ACTIVE'], { intervalMs: 1, onProgress: (st) => seen.push(st) });
      expect(seen).to.deep.equal(['ERROR/reboot_started_hard', 'ACTIVE']);
    });

    it('gives up after the timeout naming the last status', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA).get(`${base}/servers/${SRV}`).times(50).reply(200, { server: server(SRV, 'SHELVED', { 'OS-EXT-STS:vm_state': 'shelved' }) });
      const e = (await caught(waitForServer(site.compute, SRV, ['SHELVED_OFFLOADED'], { intervalMs: 5, timeoutMs: 20 }))) as WaitTimeoutError;
      expect(e).to.be.instanceOf(WaitTimeoutError);
      expect(e.lastStatus).to.equal('SHELVED');
    });

    it('waits for deletion through ERROR/deleting to 404', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}`)
        .reply(200, { server: server(SRV, 'ERROR', { 'OS-EXT-STS:vm_state': 'error', 'OS-EXT-STS:task_state': 'deleting' }) })
        .get(`${base}/servers/${SRV}`)
        .reply(404, notFound(`Instance ${SRV} could not be found.`));
      await waitForServerDeleted(site.compute, SRV, { intervalMs: 1 });
      expectAllCalled();
    });

    it('fails when a delete left the server in ERROR with no task', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get(`${base}/servers/${SRV}`)
        .reply(200, { server: server(SRV, 'ERROR', { 'OS-EXT-STS:vm_state': 'error', fault: { code: 500, created: 'x', message: 'Failed to detach volume' } }) });
      const e = (await caught(waitForServerDeleted(site.compute, SRV, { intervalMs: 1, timeoutMs: 60_000 }))) as ResourceFailureError;
      expect(e).to.be.instanceOf(ResourceFailureError);
      expect(e.message).to.match(/went to ERROR: Failed to detach volume/);
    });

    it('accepts SOFT_DELETED as deleted unless told otherwise', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      const soft = { server: server(SRV, 'SOFT_DELETED', { 'OS-EXT-STS:vm_state': 'soft-delete' }) };
      nock(NOVA).get(`${base}/servers/${SRV}`).reply(200, soft).get(`${base}/servers/${SRV}`).times(20).reply(200, soft);
      await waitForServerDeleted(site.compute, SRV, { intervalMs: 1 });
      const e = (await caught(waitForServerDeleted(site.compute, SRV, { intervalMs: 5, timeoutMs: 15, acceptSoftDeleted: false }))) as WaitTimeoutError;
      expect(e).to.be.instanceOf(WaitTimeoutError);
      expect(e.lastStatus).to.equal('SOFT_DELETED');
    });
  });
});
