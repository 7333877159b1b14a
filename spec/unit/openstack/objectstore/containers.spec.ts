import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, FerryError, ForbiddenError, NotFoundError } from '../../../../lib/errors.js';
import {
  createContainer,
  deleteContainer,
  getAccountMetadata,
  getContainerMetadata,
  listContainers,
  setContainerMetadata,
} from '../../../../lib/openstack/objectstore/containers.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { PROJECT_ID, SWIFT, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

const account = `/v1/AUTH_${PROJECT_ID}`;

// Shape: swift/account/utils.py account_listing_response with format=json (api-ref object-store
// "Show account details and list containers").
function container(name: string, count = 0, bytes = 0) {
  return { name, count, bytes, last_modified: '2026-11-27T03:00:00.000000' };
}

// Shape: swift/common/swob.py default error bodies (text/html whatever the Accept header).
const swiftHtml = (title: string, text: string) => `<html><h1>${title}</h1><p>${text}</p></html>`;
const HTML = { 'Content-Type': 'text/html; charset=UTF-8' };

async function fails(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('objectstore/containers', () => {
  useNock();

  it('lists containers across pages with marker = last name until an empty page', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .get(account)
      .query({ format: 'json', prefix: 'ferry-', limit: '2' })
      .reply(200, [container('ferry-a', 1, 10), container('ferry-b')])
      .get(account)
      .query({ format: 'json', prefix: 'ferry-', limit: '2', marker: 'ferry-b' })
      .reply(200, [container('ferry-c')])
      .get(account)
      .query({ format: 'json', prefix: 'ferry-', limit: '2', marker: 'ferry-c' })
      .reply(200, []);
    const all = await collect(listContainers(site.objectStore, { prefix: 'ferry-', limit: 2 }));
    expect(all.map((c) => c.name)).to.deep.equal(['ferry-a', 'ferry-b', 'ferry-c']);
    expect(all[0]).to.deep.equal(container('ferry-a', 1, 10));
    expectAllCalled();
  });

  it('reads account counters and metadata from HEAD', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: api-ref "Show account metadata": 204 with X-Account-* headers.
    nock(SWIFT).head(account).reply(204, '', {
      'X-Account-Container-Count': '3',
      'X-Account-Object-Count': '42',
      'X-Account-Bytes-Used': '1048576',
      'X-Account-Meta-Temp-Url-Key': 'k',
      'X-Trans-Id': 'tx-acct',
    });
    const info = await getAccountMetadata(site.objectStore);
    expect(info).to.include({ container_count: 3, object_count: 42, bytes_used: 1048576 });
    expect(info.metadata).to.deep.equal({ 'temp-url-key': 'k' });
  });

  it('creates a container with metadata, policy and ACL headers; 201 created, 202 existed', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .put(`${account}/ferry%20plans`)
      .matchHeader('X-Container-Meta-Ferry-Plan', 'web')
      .matchHeader('X-Storage-Policy', 'gold')
      .matchHeader('X-Container-Read', '.r:*')
      .reply(201, '', { 'Content-Type': 'text/html; charset=UTF-8' })
      .put(`${account}/ferry%20plans`)
      .reply(202, swiftHtml('Accepted', 'The request is accepted for processing.'), HTML);
    expect(await createContainer(site.objectStore, 'ferry plans', { metadata: { 'Ferry-Plan': 'web' }, storage_policy: 'gold', read_acl: '.r:*' })).to.equal(true);
    expect(await createContainer(site.objectStore, 'ferry plans')).to.equal(false);
    expectAllCalled();
  });

  it('refuses metadata that cannot travel as an HTTP header before sending anything', async () => {
    const { site } = testSite();
    const err = await fails(createContainer(site.objectStore, 'c', { metadata: { note: 'café' } }));
    expect(err).to.be.instanceOf(FerryError);
    expect(err.message).to.match(/printable ASCII/);
    expect(await fails(createContainer(site.objectStore, 'c', { metadata: { 'bad key': 'x' } }))).to.be.instanceOf(FerryError);
  });

  it('reads container counters, policy, ACLs and metadata from HEAD', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: api-ref "Show container metadata" (swift/container/server.py HEAD).
    nock(SWIFT).head(`${account}/backups`).reply(204, '', {
      'X-Container-Object-Count': '7',
      'X-Container-Bytes-Used': '700',
      'X-Storage-Policy': 'Policy-0',
      'X-Container-Read': '.r:*',
      'X-Versions-Location': 'backups_versions',
      'X-Container-Meta-Ferry-Plan': 'web',
      'X-Timestamp': '1732676400.00000',
    });
    const info = await getContainerMetadata(site.objectStore, 'backups');
    expect(info).to.include({ object_count: 7, bytes_used: 700, storage_policy: 'Policy-0', read_acl: '.r:*', versions_location: 'backups_versions', write_acl: undefined });
    expect(info.metadata).to.deep.equal({ 'ferry-plan': 'web' });
  });

  it('sets and removes metadata with POST, which is repeated after a 503', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .post(`${account}/backups`)
      .matchHeader('X-Container-Meta-Ferry-Plan', 'db')
      .matchHeader('X-Remove-Container-Meta-Old', '1')
      .matchHeader('X-Container-Write', 'proj:ferry')
      .reply(503, swiftHtml('Service Unavailable', 'The server is currently unavailable. Please try again at a later time.'), HTML)
      .post(`${account}/backups`)
      .matchHeader('X-Container-Meta-Ferry-Plan', 'db')
      .reply(204);
    await setContainerMetadata(site.objectStore, 'backups', { metadata: { 'Ferry-Plan': 'db' }, remove: ['Old'], write_acl: 'proj:ferry' });
    expectAllCalled();
  });

  it('deletes idempotently and explains the 409 of a container that is not empty', async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT)
      .delete(`${account}/a`)
      .reply(204)
      .delete(`${account}/b`)
      .times(2)
      .reply(404, swiftHtml('Not Found', 'The resource could not be found.'), HTML)
      .delete(`${account}/c`)
      .reply(409, swiftHtml('Conflict', 'There was a conflict when trying to complete your request.'), { ...HTML, 'X-Trans-Id': 'tx-409', 'X-Openstack-Request-Id': 'tx-409' });
    expect(await deleteContainer(site.objectStore, 'a')).to.equal(true);
    expect(await deleteContainer(site.objectStore, 'b')).to.equal(false);
    expect(await fails(deleteContainer(site.objectStore, 'b', { ignoreMissing: false }))).to.be.instanceOf(NotFoundError);
    const err = (await fails(deleteContainer(site.objectStore, 'c'))) as ConflictError;
    expect(err).to.be.instanceOf(ConflictError);
    expect(err.requestId).to.equal('tx-409');
    expect(err.type).to.equal('ContainerNotEmpty');
    expect(err.message).to.match(/container 'c' is not empty: delete its objects first/);
    expectAllCalled();
  });

  it("maps Swift's HTML error pages to typed errors with the transaction ID", async () => {
    const { site } = testSite();
    mockAuth();
    nock(SWIFT).head(`${account}/secret`).reply(403, '', { 'X-Trans-Id': 'tx-403' }).get(account).query(true).reply(403, swiftHtml('Forbidden', 'Access was denied to this resource.'), { ...HTML, 'X-Trans-Id': 'tx-403b' });
    const head = (await fails(getContainerMetadata(site.objectStore, 'secret'))) as ForbiddenError;
    expect(head).to.be.instanceOf(ForbiddenError);
    expect(head.requestId).to.equal('tx-403');
    const list = (await fails(collect(listContainers(site.objectStore)))) as ForbiddenError;
    expect(list).to.be.instanceOf(ForbiddenError);
    expect(list.detail).to.include('Access was denied to this resource.');
    expect(list.requestId).to.equal('tx-403b');
  });
});
