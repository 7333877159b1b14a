// Deploying a generated stack against Heat, Nova and Cinder behind nock (bodies from the API
// references and the Zed sources: heat/api/openstack/v1 stacks, resources and events views,
// nova os-instance-actions, cinder volumes): create-or-adopt by name and tags, events followed,
// failed stacks reported with their resources' reasons, a stuck attachment caught at once,
// timeouts, deletion, and verification from listings.
import { expect } from 'chai';
import nock from 'nock';
import {
  deleteStackAndWait,
  deployStack,
  hasTags,
  markVolumes,
  stackPhase,
  stackTopology,
  stuckReason,
  updateStackTo,
  verifyStack,
  watchStack,
  StackConflictError,
  StackFailedError,
  StackStuckError,
  StackTimeoutError,
  type AttachmentObservation,
  type DeployableStack,
} from '../../../lib/heat/deploy.js';
import { generate } from '../../../lib/heat/generate.js';
import type { StackEvent } from '../../../lib/openstack/orchestration/events.js';
import { CINDER, HEAT, NOVA, PROJECT_ID, expectAllCalled, mockAuth, mockCinderVersion, mockNovaVersion, testSite, useNock } from '../../support/fake-cloud.js';
import { RUN_ID, manifest, plan, resolved } from './fixtures.js';

const base = `/v1/${PROJECT_ID}`;
const cinder = `/v3/${PROJECT_ID}`;
const SID = '7d3c1f0e-5b2a-4c9d-8e7f-6a5b4c3d2e1f';
const NAME = 'ferry-shop-failover';
const stackPath = `${base}/stacks/${NAME}/${SID}`;
const TAGS = ['ferry:plan=shop', 'ferry:point=p-1', `ferry:run=${RUN_ID}`, 'ferry:mode=failover'];
const OWNER = ['ferry:plan=shop', `ferry:run=${RUN_ID}`];
const VOL_ROOT = 'a1a1a1a1-0000-4000-8000-000000000001';
const VOL_DATA = 'a1a1a1a1-0000-4000-8000-000000000002';
const SRV = 'b2b2b2b2-0000-4000-8000-000000000001';

/** A small template: one server booted from a restored root volume, one data volume attached. */
const template = {
  heat_template_version: '2021-04-16',
  resources: {
    volume_r: { type: 'DR::Volume', properties: { backup_id: { get_param: 'volume_r_backup' } } },
    volume_d: { type: 'DR::Volume', properties: { backup_id: { get_param: 'volume_d_backup' } } },
    server_s: { type: 'DR::Server', properties: { boot_volume: { get_attr: ['volume_r', 'volume_id'] } } },
    attach_d: { type: 'DR::VolumeAttachment', properties: { instance_uuid: { get_attr: ['server_s', 'server_id'] }, volume_id: { get_attr: ['volume_d', 'volume_id'] } } },
  },
};
const g: DeployableStack = { stackName: NAME, stackTags: TAGS, template, environment: { resource_registry: { 'DR::Server': 'nested/server.yaml' } }, files: { 'nested/server.yaml': 'heat_template_version: 2021-04-16' }, parameters: { volume_r_backup: 'bk-r', volume_d_backup: 'bk-d' } };

// Shape: views/stacks_view.py basic keys.
function summary(status: string, tags: string[] | null = TAGS) {
  return {
    id: SID,
    stack_name: NAME,
    description: '',
    stack_status: status,
    stack_status_reason: status === 'CREATE_FAILED' ? 'Resource CREATE failed: ResourceInError: resources.volume_d.resources.volume: Went to status error due to "Unknown"' : `Stack ${status}`,
    creation_time: '2026-11-27T03:00:00Z',
    updated_time: null,
    deletion_time: null,
    stack_owner: null,
    parent: null,
    stack_user_project_id: 'e2f3',
    tags,
    links: [{ href: `${HEAT}${stackPath}`, rel: 'self' }],
  };
}

function stack(status: string, extra: Record<string, unknown> = {}) {
  return { ...summary(status), parameters: {}, outputs: [], timeout_mins: 30, disable_rollback: true, template_description: '', capabilities: [], notification_topics: [], ...extra };
}

// Shape: resources.py format_resource (no detail).
function resource(name: string, type: string, physical: string, status = 'CREATE_COMPLETE', parent?: string, reason = 'state changed') {
  return {
    resource_name: name,
    logical_resource_id: name,
    physical_resource_id: physical,
    resource_type: type,
    resource_status: status,
    resource_status_reason: reason,
    creation_time: '2026-11-27T03:00:00Z',
    updated_time: '2026-11-27T03:00:00Z',
    required_by: [],
    links: [],
    ...(parent ? { parent_resource: parent } : {}),
  };
}

function event(id: string, res: string, status: string): StackEvent {
  return { id, event_time: '2026-11-27T03:00:01Z', resource_name: res, logical_resource_id: res, physical_resource_id: null, resource_status: status, resource_status_reason: 'state changed', links: [] };
}

// Shape: cinder/api/v2/views/volumes.py detail.
function volume(id: string, status: string, serverId?: string, metadata: Record<string, string> = {}) {
  return {
    id,
    name: null,
    description: null,
    status,
    size: 1,
    availability_zone: 'nova',
    created_at: '2026-11-27T03:00:00.000000',
    updated_at: null,
    bootable: 'false',
    encrypted: false,
    multiattach: false,
    volume_type: '__DEFAULT__',
    snapshot_id: null,
    source_volid: null,
    metadata,
    attachments: serverId ? [{ id, attachment_id: `att-${id}`, volume_id: id, server_id: serverId, host_name: null, device: '/dev/vdb', attached_at: '2026-11-27T03:00:02.000000' }] : [],
  };
}

// Shape: nova/api/openstack/compute/views/servers.py (2.79, trimmed to what Ferry reads).
function server(id: string, status: string, extra: Record<string, unknown> = {}) {
  return { id, name: 'shop-db', status, tenant_id: PROJECT_ID, user_id: 'u', metadata: {}, tags: [`ferry:run=${RUN_ID}`], locked: false, 'os-extended-volumes:volumes_attached': [], addresses: {}, ...extra };
}

const noSleep = async () => undefined;

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('heat/deploy', () => {
  useNock();

  describe('pure parts', () => {
    it('maps stack statuses to phases', () => {
      const table: [string | undefined, string][] = [
        [undefined, 'absent'],
        ['DELETE_COMPLETE', 'absent'],
        ['DELETE_IN_PROGRESS', 'deleting'],
        ['CREATE_IN_PROGRESS', 'in-progress'],
        ['UPDATE_IN_PROGRESS', 'in-progress'],
        ['INIT_COMPLETE', 'in-progress'],
        ['CREATE_COMPLETE', 'complete'],
        ['UPDATE_COMPLETE', 'complete'],
        ['CREATE_FAILED', 'failed'],
        ['DELETE_FAILED', 'failed'],
        ['ROLLBACK_COMPLETE', 'failed'],
        ['ROLLBACK_IN_PROGRESS', 'failed'],
      ];
      for (const [status, phase] of table) expect(stackPhase(status), String(status)).to.equal(phase);
    });

    it('owns a stack only when it carries every owner tag', () => {
      expect(hasTags({ tags: TAGS }, OWNER)).to.equal(true);
      expect(hasTags({ tags: ['ferry:plan=shop', 'ferry:run=other'] }, OWNER)).to.equal(false);
      expect(hasTags({ tags: null }, OWNER)).to.equal(false);
    });

    it('reads the topology of a generated template: servers, volumes, attachments and root volumes', () => {
      const gen = generate(manifest(), plan(), resolved(), 'failover', { runId: RUN_ID });
      const t = stackTopology(gen.template);
      const byKind = (k: string) => gen.index.filter((e) => e.kind === k).map((e) => e.resource).sort();
      expect(t.servers).to.deep.equal(byKind('server'));
      expect(t.volumes).to.deep.equal(byKind('volume'));
      expect(t.attachments.map((a) => a.attachment)).to.deep.equal(byKind('attach'));
      // shop-db boots from its root volume and has its data volume attached
      expect(t.bootVolumes).to.have.length(1);
      expect(t.attachments).to.have.length(1);
      expect(t.attachments[0]!.server).to.equal(t.bootVolumes[0]!.server);
      expect(t.attachments[0]!.volume).to.not.equal(t.bootVolumes[0]!.volume);
      expect(stackTopology(template)).to.deep.equal({ servers: ['server_s'], volumes: ['volume_d', 'volume_r'], attachments: [{ attachment: 'attach_d', volume: 'volume_d', server: 'server_s' }], bootVolumes: [{ server: 'server_s', volume: 'volume_r' }] });
    });

    it('decides when an attachment in progress cannot finish', () => {
      const o = (over: Partial<AttachmentObservation>): AttachmentObservation => ({ attachment: 'attach_d', accepted: true, inProgressMs: 5_000, volumeWasBusy: false, volume: { id: 'v', status: 'attaching' }, server: { id: 's', status: 'ACTIVE' }, ...over });
      const grace = 30_000;
      const table: [string, AttachmentObservation, RegExp | undefined][] = [
        ['attaching', o({}), undefined],
        ['reserved', o({ volume: { id: 'v', status: 'reserved' } }), undefined],
        ['available before Nova was asked', o({ accepted: false, volume: { id: 'v', status: 'available' }, inProgressMs: 600_000 }), undefined],
        ['available within the grace period', o({ volume: { id: 'v', status: 'available' } }), undefined],
        ['available after the grace period', o({ volume: { id: 'v', status: 'available' }, inProgressMs: 31_000 }), /volume v is still available 31 s after Nova accepted the attach; server s is ACTIVE/],
        ['available again after reserved', o({ volume: { id: 'v', status: 'available' }, volumeWasBusy: true }), /volume v is available again after it was reserved for the attach: Nova's attach failed; server s is ACTIVE/],
        ['volume error', o({ volume: { id: 'v', status: 'error_attaching' } }), /volume v is error_attaching/],
        ['volume gone', o({ volume: { id: 'v', status: 'gone', gone: true } }), /volume v is gone/],
        ['server ERROR', o({ server: { id: 's', status: 'ERROR', fault: 'No valid host was found.' } }), /server s is ERROR \(No valid host was found\.\)/],
        ['server gone', o({ server: { id: 's', status: 'gone', gone: true } }), /server s is gone/],
      ];
      for (const [what, obs, want] of table) {
        const r = stuckReason(obs, grace);
        if (want) expect(r, what).to.match(want);
        else expect(r, what).to.equal(undefined);
      }
    });
  });

  describe('deployStack', () => {
    it('adopts the run\'s own complete stack: nothing is created', async () => {
      const { site } = testSite();
      mockAuth();
      nock(HEAT).get(`${base}/stacks`).query({ name: NAME, limit: '100' }).reply(200, { stacks: [summary('CREATE_COMPLETE')] });
      nock(HEAT).get(stackPath).reply(200, { stack: stack('CREATE_COMPLETE') });
      const r = await deployStack(site, g, { timeoutMins: 30, ownerTags: OWNER });
      expect(r).to.deep.include({ action: 'adopted', identity: { stack_name: NAME, id: SID } });
      expectAllCalled();
    });

    it('creates the stack with template, environment, files, parameters, tags and timeout, and follows its events to CREATE_COMPLETE', async () => {
      const { site } = testSite();
      mockAuth();
      nock(HEAT).get(`${base}/stacks`).query({ name: NAME, limit: '100' }).reply(200, { stacks: [] });
      let body: Record<string, unknown> = {};
      nock(HEAT)
        .post(`${base}/stacks`, (b: Record<string, unknown>) => {
          body = b;
          return true;
        })
        .reply(201, { stack: { id: SID, links: [] } });
      // poll 1: in progress; the attachment watch finds nothing in progress yet
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('CREATE_IN_PROGRESS') });
      nock(HEAT).get(`${stackPath}/events`).query({ sort_dir: 'asc', limit: '100' }).reply(200, { events: [event('e1', NAME, 'CREATE_IN_PROGRESS'), event('e2', 'volume_r', 'CREATE_IN_PROGRESS')] });
      nock(HEAT).get(`${stackPath}/resources`).query({ nested_depth: '1', type: 'OS::Cinder::VolumeAttachment', status: 'IN_PROGRESS' }).reply(200, { resources: [] });
      // poll 2: complete; the events up to it are still reported
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('CREATE_COMPLETE') });
      nock(HEAT).get(`${stackPath}/events`).query({ sort_dir: 'asc', limit: '100', marker: 'e2' }).reply(200, { events: [event('e3', 'volume_r', 'CREATE_COMPLETE'), event('e4', NAME, 'CREATE_COMPLETE')] });
      nock(HEAT).get(stackPath).reply(200, { stack: stack('CREATE_COMPLETE') });
      const seen: string[] = [];
      const r = await deployStack(site, g, { timeoutMins: 45, ownerTags: OWNER, pollIntervalMs: 0, sleep: noSleep, onEvent: (e) => seen.push(`${e.resource_name} ${e.resource_status}`) });
      expect(r.action).to.equal('created');
      expect(body).to.deep.equal({ stack_name: NAME, template, environment: g.environment, files: g.files, parameters: g.parameters, tags: TAGS.join(','), timeout_mins: 45, disable_rollback: true });
      expect(seen).to.deep.equal([`${NAME} CREATE_IN_PROGRESS`, 'volume_r CREATE_IN_PROGRESS', 'volume_r CREATE_COMPLETE', `${NAME} CREATE_COMPLETE`]);
      expectAllCalled();
    });

    it('adopts a create whose answer was lost (409) and waits for it', async () => {
      const { site } = testSite();
      mockAuth();
      nock(HEAT).get(`${base}/stacks`).query({ name: NAME, limit: '100' }).reply(200, { stacks: [] });
      nock(HEAT).post(`${base}/stacks`).reply(409, { code: 409, title: 'Conflict', explanation: 'There was a conflict when trying to complete your request.', error: { type: 'StackExists', message: `The Stack (${NAME}) already exists.`, traceback: null } });
      nock(HEAT).get(`${base}/stacks`).query({ name: NAME, limit: '100' }).reply(200, { stacks: [summary('CREATE_IN_PROGRESS')] });
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('CREATE_COMPLETE') });
      nock(HEAT).get(stackPath).reply(200, { stack: stack('CREATE_COMPLETE') });
      const r = await deployStack(site, g, { timeoutMins: 30, ownerTags: OWNER, pollIntervalMs: 0, sleep: noSleep });
      expect(r.action).to.equal('waited');
      expectAllCalled();
    });

    it("refuses a stack of the name that is not the run's, touching nothing", async () => {
      const { site } = testSite();
      mockAuth();
      nock(HEAT).get(`${base}/stacks`).query({ name: NAME, limit: '100' }).reply(200, { stacks: [summary('CREATE_COMPLETE', ['ferry:plan=shop', 'ferry:run=older-run'])] });
      const err = await caught(deployStack(site, g, { timeoutMins: 30, ownerTags: OWNER }));
      expect(err).to.be.instanceOf(StackConflictError);
      expect(err.message).to.include(`a stack named ${NAME} exists (${SID}, CREATE_COMPLETE)`);
      expect(err.message).to.include(`without ferry:run=${RUN_ID}`);
      expectAllCalled();
    });

    it("reports the run's failed stack with every failed resource's reason", async () => {
      const { site } = testSite();
      mockAuth();
      nock(HEAT).get(`${base}/stacks`).query({ name: NAME, limit: '100' }).reply(200, { stacks: [summary('CREATE_FAILED')] });
      nock(HEAT)
        .get(`${stackPath}/resources`)
        .query({ nested_depth: '2', status: 'FAILED' })
        .reply(200, { resources: [resource('volume', 'OS::Cinder::Volume', VOL_DATA, 'CREATE_FAILED', 'volume_d', 'BadRequest: resources.volume: Invalid backup: Backup status must be available (HTTP 400)')] });
      const err = await caught(deployStack(site, g, { timeoutMins: 30, ownerTags: OWNER }));
      expect(err).to.be.instanceOf(StackFailedError);
      expect(err.message).to.equal(
        `stack ${NAME} is CREATE_FAILED: Resource CREATE failed: ResourceInError: resources.volume_d.resources.volume: Went to status error due to "Unknown"; volume_d/volume (OS::Cinder::Volume) CREATE_FAILED: BadRequest: resources.volume: Invalid backup: Backup status must be available (HTTP 400)`,
      );
      expectAllCalled();
    });

    it("replaces the run's failed stack when asked (a retry)", async () => {
      const { site } = testSite();
      mockAuth();
      nock(HEAT).get(`${base}/stacks`).query({ name: NAME, limit: '100' }).reply(200, { stacks: [summary('CREATE_FAILED')] });
      nock(HEAT).delete(stackPath).reply(204);
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(404, { code: 404, title: 'Not Found', error: { type: 'EntityNotFound', message: 'The Stack could not be found.' } });
      nock(HEAT).get(`${base}/stacks`).query({ name: NAME, limit: '100' }).reply(200, { stacks: [] });
      nock(HEAT).post(`${base}/stacks`).reply(201, { stack: { id: SID, links: [] } });
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('CREATE_COMPLETE') });
      nock(HEAT).get(stackPath).reply(200, { stack: stack('CREATE_COMPLETE') });
      const r = await deployStack(site, g, { timeoutMins: 30, ownerTags: OWNER, replace: true, pollIntervalMs: 0, sleep: noSleep });
      expect(r.action).to.equal('recreated');
      expectAllCalled();
    });
  });

  describe('watching', () => {
    const ident = { stack_name: NAME, id: SID };

    function inProgressPoll(attach: Record<string, unknown>[]) {
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('CREATE_IN_PROGRESS') });
      nock(HEAT).get(`${stackPath}/resources`).query({ nested_depth: '1', type: 'OS::Cinder::VolumeAttachment', status: 'IN_PROGRESS' }).reply(200, { resources: attach });
    }

    it("fails fast when an attachment's volume is available again after it was reserved, with the states and Nova's request ID", async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      mockCinderVersion();
      const attachment = resource('attachment', 'OS::Cinder::VolumeAttachment', VOL_DATA, 'CREATE_IN_PROGRESS', 'attach_d');
      // poll 1: the volume is reserved (Nova accepted the attach)
      inProgressPoll([attachment]);
      nock(HEAT)
        .get(`${stackPath}/resources`)
        .query({ nested_depth: '1' })
        .reply(200, { resources: [resource('volume', 'OS::Cinder::Volume', VOL_DATA, 'CREATE_COMPLETE', 'volume_d'), resource('server_from_volume', 'OS::Nova::Server', SRV, 'CREATE_COMPLETE', 'server_s'), attachment] });
      nock(CINDER).get(`${cinder}/volumes/${VOL_DATA}`).reply(200, { volume: volume(VOL_DATA, 'reserved') });
      nock(NOVA).get(`/v2.1/servers/${SRV}`).reply(200, { server: server(SRV, 'ACTIVE') });
      // poll 2: Nova's attach failed: the volume is available again; Heat keeps waiting
      inProgressPoll([attachment]);
      nock(CINDER).get(`${cinder}/volumes/${VOL_DATA}`).reply(200, { volume: volume(VOL_DATA, 'available') });
      nock(NOVA).get(`/v2.1/servers/${SRV}`).reply(200, { server: server(SRV, 'ACTIVE') });
      nock(NOVA)
        .get(`/v2.1/servers/${SRV}/os-instance-actions`)
        .reply(200, {
          instanceActions: [
            { action: 'create', instance_uuid: SRV, request_id: 'req-create', user_id: 'u', project_id: PROJECT_ID, start_time: '2026-11-27T03:00:01.000000', message: null, updated_at: '2026-11-27T03:00:05.000000' },
            { action: 'attach_volume', instance_uuid: SRV, request_id: 'req-attach-77', user_id: 'u', project_id: PROJECT_ID, start_time: '2026-11-27T03:00:10.000000', message: 'Error', updated_at: '2026-11-27T03:00:12.000000' },
          ],
        });
      nock(NOVA)
        .get(`/v2.1/servers/${SRV}/os-instance-actions/req-attach-77`)
        .reply(200, { instanceAction: { action: 'attach_volume', request_id: 'req-attach-77', message: 'Error', events: [{ event: 'compute_attach_volume', result: 'Error', start_time: '2026-11-27T03:00:10.000000' }] } });
      const err = await caught(watchStack(site, ident, 'CREATE_COMPLETE', { topology: stackTopology(template), pollIntervalMs: 0, sleep: noSleep }));
      expect(err).to.be.instanceOf(StackStuckError);
      expect((err as StackStuckError).stuck).to.deep.equal([
        {
          attachment: 'attach_d',
          reason: `volume ${VOL_DATA} is available again after it was reserved for the attach: Nova's attach failed; server ${SRV} is ACTIVE`,
          volumeId: VOL_DATA,
          serverId: SRV,
          novaRequestId: 'req-attach-77',
          novaMessage: 'Error, compute_attach_volume: Error',
        },
      ]);
      expect(err.message).to.include('Heat would wait until the stack times out (30 min)');
      expectAllCalled();
    });

    it('fails fast when the server under an attachment is in ERROR', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      mockCinderVersion();
      const attachment = resource('attachment', 'OS::Cinder::VolumeAttachment', '', 'CREATE_IN_PROGRESS', 'attach_d');
      inProgressPoll([attachment]);
      nock(HEAT)
        .get(`${stackPath}/resources`)
        .query({ nested_depth: '1' })
        .reply(200, { resources: [resource('volume', 'OS::Cinder::Volume', VOL_DATA, 'CREATE_COMPLETE', 'volume_d'), resource('server_from_volume', 'OS::Nova::Server', SRV, 'CREATE_COMPLETE', 'server_s')] });
      nock(CINDER).get(`${cinder}/volumes/${VOL_DATA}`).reply(200, { volume: volume(VOL_DATA, 'available') });
      nock(NOVA).get(`/v2.1/servers/${SRV}`).reply(200, { server: server(SRV, 'ERROR', { fault: { code: 500, message: 'Host is down', created: '2026-11-27T03:00:09Z' } }) });
      nock(NOVA).get(`/v2.1/servers/${SRV}/os-instance-actions`).reply(200, { instanceActions: [] });
      const err = await caught(watchStack(site, ident, 'CREATE_COMPLETE', { topology: stackTopology(template), pollIntervalMs: 0, sleep: noSleep }));
      expect(err).to.be.instanceOf(StackStuckError);
      expect(err.message).to.include(`attach_d: server ${SRV} is ERROR (Host is down)`);
      expectAllCalled();
    });

    it('gives up at its deadline with the last status', async () => {
      const { site } = testSite();
      mockAuth();
      let t = 0;
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).times(3).reply(200, { stack: stack('CREATE_IN_PROGRESS') });
      const err = await caught(watchStack(site, ident, 'CREATE_COMPLETE', { timeoutMs: 10_000, pollIntervalMs: 0, sleep: noSleep, now: () => (t += 4_000) }));
      expect(err).to.be.instanceOf(StackTimeoutError);
      expect(err.message).to.match(/did not reach CREATE_COMPLETE within \d+ s \(last status CREATE_IN_PROGRESS: Stack CREATE_IN_PROGRESS\); Heat fails it at its own timeout \(30 min\)/);
      expectAllCalled();
    });
  });

  describe('deleteStackAndWait', () => {
    it('is idempotent: a missing stack is false, an existing one is deleted and waited for', async () => {
      const { site } = testSite();
      mockAuth();
      nock(HEAT).get(`${base}/stacks/${NAME}`).reply(404, { code: 404, title: 'Not Found', error: { type: 'EntityNotFound', message: 'The Stack could not be found.' } });
      expect(await deleteStackAndWait(site, NAME)).to.equal(false);
      nock(HEAT).get(`${base}/stacks/${NAME}`).reply(302, '', { Location: `${HEAT}${stackPath}` });
      nock(HEAT).delete(stackPath).reply(204);
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('DELETE_IN_PROGRESS') });
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('DELETE_COMPLETE') });
      expect(await deleteStackAndWait(site, NAME, { pollIntervalMs: 1 })).to.equal(true);
      expectAllCalled();
    });
  });

  describe('verifyStack and markVolumes', () => {
    const ident = { stack_name: NAME, id: SID };
    function listings(dataStatus: string, dataServer?: string) {
      nock(HEAT)
        .get(`${stackPath}/resources`)
        .query({ nested_depth: '1' })
        .reply(200, {
          resources: [
            resource('server_s', 'DR::Server', 'nested-1'),
            resource('server_from_volume', 'OS::Nova::Server', SRV, 'CREATE_COMPLETE', 'server_s'),
            resource('volume', 'OS::Cinder::Volume', VOL_ROOT, 'CREATE_COMPLETE', 'volume_r'),
            resource('volume', 'OS::Cinder::Volume', VOL_DATA, 'CREATE_COMPLETE', 'volume_d'),
            resource('attachment', 'OS::Cinder::VolumeAttachment', VOL_DATA, 'CREATE_COMPLETE', 'attach_d'),
          ],
        });
      nock(NOVA).get('/v2.1/servers/detail').query({ tags: `ferry:run=${RUN_ID}` }).reply(200, { servers: [server(SRV, 'ACTIVE')] });
      nock(CINDER)
        .get(`${cinder}/volumes/detail`)
        .reply(200, { volumes: [volume(VOL_ROOT, 'in-use', SRV, { 'ferry:plan': 'shop' }), volume(VOL_DATA, dataStatus, dataServer), volume('unrelated', 'available')] });
    }

    it('verifies servers ACTIVE and volumes attached to their servers from three listings', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      mockCinderVersion();
      listings('in-use', SRV);
      const v = await verifyStack(site, ident, stackTopology(template), { serverTag: `ferry:run=${RUN_ID}` });
      expect(v.problems).to.deep.equal([]);
      expect(v.ok).to.equal(true);
      expect(v.servers).to.deep.equal([{ resource: 'server_s', id: SRV, name: 'shop-db', status: 'ACTIVE' }]);
      expect(v.volumes.map((x) => [x.resource, x.id, x.status, x.attachedTo])).to.deep.equal([
        ['volume_d', VOL_DATA, 'in-use', [SRV]],
        ['volume_r', VOL_ROOT, 'in-use', [SRV]],
      ]);
      expectAllCalled();

      // marks only the volume that lacks them
      let written: unknown;
      nock(CINDER)
        .post(`${cinder}/volumes/${VOL_DATA}/metadata`, (b: unknown) => {
          written = b;
          return true;
        })
        .reply(200, { metadata: { 'ferry:plan': 'shop' } });
      const n = await markVolumes(site, v, (res) => (res.startsWith('volume_') ? { 'ferry:plan': 'shop' } : undefined));
      expect(n).to.equal(1);
      expect(written).to.deep.equal({ metadata: { 'ferry:plan': 'shop' } });
      expectAllCalled();
    });

    it('names a data volume that is not attached to its server', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      mockCinderVersion();
      listings('available');
      const v = await verifyStack(site, ident, stackTopology(template), { serverTag: `ferry:run=${RUN_ID}` });
      expect(v.ok).to.equal(false);
      expect(v.problems).to.deep.equal([`volume volume_d (${VOL_DATA}) is available, not attached to server server_s (${SRV})`]);
    });
  });

  describe('updateStackTo (warm standby)', () => {
    it('updates the standby stack with the new template, parameters and tags, and waits for UPDATE_COMPLETE', async () => {
      const { site } = testSite();
      mockAuth();
      const ident = { stack_name: NAME, id: SID };
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('CREATE_COMPLETE', { tags: ['ferry:plan=shop', 'ferry:mode=standby', 'ferry:run=standby-run'] }) });
      let body: Record<string, unknown> = {};
      nock(HEAT)
        .put(stackPath, (b: Record<string, unknown>) => {
          body = b;
          return true;
        })
        .reply(202, '');
      nock(HEAT).get(stackPath).query({ resolve_outputs: 'false' }).reply(200, { stack: stack('UPDATE_COMPLETE') });
      nock(HEAT).get(stackPath).reply(200, { stack: stack('UPDATE_COMPLETE') });
      const r = await updateStackTo(site, ident, g, { timeoutMins: 20, ownerTags: OWNER, pollIntervalMs: 0, sleep: noSleep });
      expect(r.action).to.equal('updated');
      expect(body).to.deep.include({ tags: TAGS.join(','), timeout_mins: 20, parameters: g.parameters });
      expect(body.template).to.deep.equal(template);
      expectAllCalled();
    });
  });
});
