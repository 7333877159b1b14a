import { expect } from 'chai';
import nock from 'nock';
import { ConflictError, ForbiddenError, NotFoundError } from '../../../../lib/errors.js';
import {
  createApplicationCredential,
  deleteApplicationCredential,
  getApplicationCredential,
  listApplicationCredentials,
} from '../../../../lib/openstack/identity/applicationcredentials.js';
import { collect } from '../../../../lib/openstack/paginate.js';
import { KEYSTONE, PROJECT_ID, TOKEN, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

const USER = 'u-ferry';
const path = `/v3/users/${USER}/application_credentials`;

// Shape: api-ref identity v3 "Show application credential details" (Zed), from
// keystone/api/users.py UserAppCredGetDeleteResource (the secret is never shown again).
function appCred(id: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name,
    description: 'Ferry replication',
    expires_at: null,
    project_id: PROJECT_ID,
    roles: [{ id: 'r-member', name: 'member', domain_id: null }],
    unrestricted: false,
    access_rules: [],
    links: { self: `${KEYSTONE}/v3/users/${USER}/application_credentials/${id}` },
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('identity/applicationcredentials', () => {
  useNock();

  it("lists a user's application credentials, filtered by name", async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get(path)
      .query({ name: 'ferry-site-b' })
      .matchHeader('X-Auth-Token', TOKEN)
      .reply(200, { application_credentials: [appCred('ac1', 'ferry-site-b')], links: { next: null, self: `${KEYSTONE}${path}`, previous: null } });
    const creds = await collect(listApplicationCredentials(site.identity, USER, { name: 'ferry-site-b' }));
    expect(creds.map((c) => c.id)).to.deep.equal(['ac1']);
    expect(creds[0]!.roles[0]!.name).to.equal('member');
    expectAllCalled();
  });

  it('reads one application credential', async () => {
    const { site } = testSite();
    mockAuth();
    nock(KEYSTONE)
      .get(`${path}/ac1`)
      .reply(200, { application_credential: appCred('ac1', 'ferry-site-b', { expires_at: '2027-01-01T00:00:00.000000' }) });
    const c = await getApplicationCredential(site.identity, USER, 'ac1');
    expect(c.expires_at).to.equal('2027-01-01T00:00:00.000000');
    expect(c.unrestricted).to.equal(false);
    expectAllCalled();
  });

  it('keeps unrestricted: null for a credential created without the flag (the real Keystone, lab-verified)', async () => {
    const { site } = testSite();
    mockAuth();
    // Shape: keystone/application_credential/backends/sql.py stores `unrestricted` as given
    // (nullable Boolean); the Zed lab answers null for a credential created without it.
    nock(KEYSTONE)
      .get(`${path}/ac3`)
      .reply(200, { application_credential: appCred('ac3', 'ferry-plain', { unrestricted: null }) });
    const c = await getApplicationCredential(site.identity, USER, 'ac3');
    expect(c.unrestricted).to.equal(null);
    expect(c.unrestricted === true).to.equal(false);
    expectAllCalled();
  });

  it('creates with the documented body (201) and registers the secret it sent with the redactor', async () => {
    const { site, logger } = testSite();
    mockAuth();
    const secret = 'chosen-S3cret-value-42';
    const opts = {
      name: 'ferry-site-b',
      description: 'Ferry replication',
      secret,
      roles: [{ name: 'member' }],
      expires_at: '2027-01-01T00:00:00',
      unrestricted: false,
      access_rules: [{ service: 'volumev3', method: 'GET' as const, path: '/v3/*/backups/**' }],
    };
    nock(KEYSTONE)
      .post(path, { application_credential: opts })
      .reply(201, { application_credential: { ...appCred('ac2', 'ferry-site-b', { expires_at: '2027-01-01T00:00:00.000000' }), secret } });
    const c = await createApplicationCredential(site.identity, USER, opts);
    expect(c.id).to.equal('ac2');
    expect(c.secret).to.equal(secret);
    expect(site.transport.redactor.text(`secret is ${secret}`)).to.equal('secret is ***');
    expect(logger.text()).not.to.include(secret);
    expectAllCalled();
  });

  it('registers a Keystone-generated secret so later errors cannot leak it', async () => {
    const { site } = testSite();
    mockAuth();
    const generated = 'kS-generated-7Yq2mB0xVw3Lr9';
    nock(KEYSTONE)
      .post(path, { application_credential: { name: 'ferry-gen' } })
      .reply(201, { application_credential: { ...appCred('ac3', 'ferry-gen'), secret: generated } })
      .get(`${path}/ac3`)
      .reply(404, { error: { code: 404, title: 'Not Found', message: `Could not find application credential: ${generated}.` } });
    expect((await createApplicationCredential(site.identity, USER, { name: 'ferry-gen' })).secret).to.equal(generated);
    const err = await rejection(getApplicationCredential(site.identity, USER, 'ac3'));
    expect(err).to.be.instanceOf(NotFoundError);
    expect(String(err)).not.to.include(generated);
    expect((err as NotFoundError).detail).to.equal('Could not find application credential: ***.');
    expectAllCalled();
  });

  it('maps a taken name to ConflictError and a restricted caller to ForbiddenError, with their messages', async () => {
    const { site } = testSite();
    mockAuth();
    // Shapes: keystone/common/sql/core.py handle_conflicts (409) and users.py
    // _check_unrestricted_application_credential (ForbiddenAction, 403).
    nock(KEYSTONE)
      .post(path)
      .once()
      .reply(409, { error: { code: 409, title: 'Conflict', message: 'Conflict occurred attempting to store application_credential - Duplicate entry.' } })
      .post(path)
      .once()
      .reply(403, {
        error: {
          code: 403,
          title: 'Forbidden',
          message: "You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing additional application credentials.",
        },
      });
    const e1 = await rejection(createApplicationCredential(site.identity, USER, { name: 'ferry-site-b' }));
    expect(e1).to.be.instanceOf(ConflictError);
    expect((e1 as ConflictError).detail).to.match(/Duplicate entry/);
    const e2 = await rejection(createApplicationCredential(site.identity, USER, { name: 'other' }));
    expect(e2).to.be.instanceOf(ForbiddenError);
    expect((e2 as ForbiddenError).detail).to.match(/not allowed for managing additional application credentials/);
    expectAllCalled();
  });

  it('deletes idempotently: 204 is true, 404 is false unless ignoreMissing is off', async () => {
    const { site } = testSite();
    mockAuth();
    const gone = { error: { code: 404, title: 'Not Found', message: 'Could not find Application Credential: ac9.' } };
    nock(KEYSTONE).delete(`${path}/ac1`).reply(204).delete(`${path}/ac9`).twice().reply(404, gone);
    expect(await deleteApplicationCredential(site.identity, USER, 'ac1')).to.equal(true);
    expect(await deleteApplicationCredential(site.identity, USER, 'ac9')).to.equal(false);
    const err = await rejection(deleteApplicationCredential(site.identity, USER, 'ac9', { ignoreMissing: false }));
    expect(err).to.be.instanceOf(NotFoundError);
    expectAllCalled();
  });
});
