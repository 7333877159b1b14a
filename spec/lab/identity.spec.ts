// Identity (Keystone v3) against the real lab: projects, token validation, and application
// credentials used to authenticate a site without a password.
import { expect } from 'chai';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError, type HttpError } from '../../lib/errors.js';
import { loadCloud, type CloudConfig } from '../../lib/config/clouds.js';
import { MemoryLogger } from '../../lib/log.js';
import {
  createApplicationCredential,
  deleteApplicationCredential,
  getApplicationCredential,
  listApplicationCredentials,
} from '../../lib/openstack/identity/applicationcredentials.js';
import { findProject, findProjectByName, getProject, listProjects } from '../../lib/openstack/identity/projects.js';
import { checkToken, validateToken } from '../../lib/openstack/identity/tokens.js';
import { collect } from '../../lib/openstack/paginate.js';
import { Site } from '../../lib/openstack/site.js';
import { CLOUDS_FILE, RUN_TAG, labSite, uniqueName, useLab } from './support/lab.js';

async function failure(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    return e as HttpError;
  }
  throw new Error('expected the call to fail');
}

const MISSING = '00000000000040008000000000000000';

describe('lab: identity', function () {
  this.timeout(120_000);
  const { cleanup } = useLab();

  describe('projects', () => {
    it('lists projects (admin and demo exist) and filters by name', async () => {
      const id = labSite('lab-a').identity;
      const all = await collect(listProjects(id));
      expect(all.map((p) => p.name)).to.include.members(['admin', 'demo']);
      const demo = all.find((p) => p.name === 'demo')!;
      expect(demo).to.include({ domain_id: 'default', enabled: true, is_domain: false });
      const byName = await collect(listProjects(id, { name: 'demo' }));
      expect(byName.map((p) => p.id)).to.deep.equal([demo.id]);
      expect(await collect(listProjects(id, { name: `${RUN_TAG}-none` }))).to.deep.equal([]);
    });

    it('finds a project by name and by ID; undefined when neither matches', async () => {
      const id = labSite('lab-a').identity;
      const byName = await findProject(id, 'demo');
      expect(byName?.name).to.equal('demo');
      const byId = await findProject(id, byName!.id);
      expect(byId).to.deep.equal(byName);
      expect((await getProject(id, byName!.id)).name).to.equal('demo');
      expect((await findProjectByName(id, 'admin', 'default'))?.name).to.equal('admin');
      expect(await findProject(id, MISSING)).to.equal(undefined);
      expect(await findProjectByName(id, `${RUN_TAG}-none`)).to.equal(undefined);
    });

    it('the member user finds its own project by ID; another project ID gives 403, which findProject treats as "not this ID"', async () => {
      const demo = labSite('lab-a-demo');
      const own = (await demo.connect()).info.project!;
      expect((await findProject(demo.identity, own.id))?.name).to.equal('demo');
      const admin = (await labSite('lab-a').connect()).info.project!;
      const err = await failure(getProject(demo.identity, admin.id));
      expect(err).to.be.instanceOf(ForbiddenError);
      // listing by name is admin-only too, so the fallback ends in the same 403
      const fallback = await failure(findProject(demo.identity, admin.id));
      expect(fallback.status).to.equal(403);
    });
  });

  describe('tokens', () => {
    it("validates the demo user's token as admin: user, project, roles, no catalog unless asked", async () => {
      const admin = labSite('lab-a').identity;
      const demoToken = await labSite('lab-a-demo').session.token();
      const t = await validateToken(admin, demoToken);
      expect(t).to.not.equal(undefined);
      expect(t!.user.name).to.equal('demo');
      expect(t!.project?.name).to.equal('demo');
      expect(t!.methods).to.deep.equal(['password']);
      expect(t!.roles?.map((r) => r.name)).to.include('member');
      expect(t!.catalog, 'nocatalog').to.equal(undefined);
      expect(t!.audit_ids).to.be.an('array').with.length.greaterThan(0);
      const withCatalog = await validateToken(admin, demoToken, { catalog: true });
      expect(withCatalog!.catalog?.map((s) => s.type)).to.include.members(['volumev3', 'compute', 'identity']);
    });

    it('checkToken: true for a valid token, false for an unknown one; validateToken gives undefined', async () => {
      const admin = labSite('lab-a').identity;
      const demoToken = await labSite('lab-a-demo').session.token();
      expect(await checkToken(admin, demoToken)).to.equal(true);
      const bogus = `gAAAAAB${'x'.repeat(180)}`;
      expect(await checkToken(admin, bogus)).to.equal(false);
      expect(await validateToken(admin, bogus)).to.equal(undefined);
    });

    it("the member user may not validate another user's token (403) and the token is not in the error", async () => {
      const demo = labSite('lab-a-demo').identity;
      const adminToken = await labSite('lab-a').session.token();
      const err = await failure(validateToken(demo, adminToken));
      expect(err).to.be.instanceOf(ForbiddenError);
      expect(err.message).to.not.include(adminToken);
      const head = await failure(checkToken(demo, adminToken));
      expect(head.status).to.equal(403);
    });
  });

  describe('application credentials', () => {
    it('created for the admin user, authenticates a new site, then deleted; the secret is never logged', async () => {
      const adminSite = labSite('lab-a');
      const id = adminSite.identity;
      const me = (await adminSite.connect()).info;
      const userId = me.user.id;
      const name = uniqueName('appcred');
      const cred = await createApplicationCredential(id, userId, { name, description: RUN_TAG, roles: [{ name: 'admin' }] });
      cleanup().add(`application credential ${cred.id}`, () => deleteApplicationCredential(id, userId, cred.id));
      expect(cred.secret).to.be.a('string').with.length.greaterThan(20);
      expect(cred).to.include({ name, description: RUN_TAG, project_id: me.project!.id, expires_at: null });
      expect(cred.unrestricted, 'not given: Keystone stores null (restricted)').to.equal(null);
      expect(cred.roles.map((r) => r.name)).to.deep.equal(['admin']);

      const got = await getApplicationCredential(id, userId, cred.id);
      expect(got).to.not.have.property('secret');
      expect(got.name).to.equal(name);
      expect((await collect(listApplicationCredentials(id, userId, { name }))).map((c) => c.id)).to.deep.equal([cred.id]);
      const dup = await failure(createApplicationCredential(id, userId, { name }));
      expect(dup, 'names are unique per user').to.be.instanceOf(ConflictError);

      const base = loadCloud('lab-a', { env: { ...process.env, OS_CLIENT_CONFIG_FILE: CLOUDS_FILE } });
      const cloud: CloudConfig = {
        ...base,
        name: 'lab-a-appcred',
        auth_type: 'v3applicationcredential',
        auth: { auth_url: base.auth.auth_url, application_credential_id: cred.id, application_credential_secret: cred.secret },
      };
      const logger = new MemoryLogger();
      const site = new Site(cloud, { logger, retry: { retries: 0 } });
      const token = await site.connect();
      expect(token.info.methods).to.deep.equal(['application_credential']);
      expect(token.info.application_credential?.id).to.equal(cred.id);
      expect(token.info.user.id).to.equal(userId);
      expect(token.info.project?.id, 'the credential carries its project').to.equal(me.project!.id);
      // the new site works against other services too
      expect((await getProject(site.identity, me.project!.id)).name).to.equal('admin');
      expect(await site.blockStorage.microversion()).to.equal('3.64');

      // A wrong secret is 401. (Changed at the start: Keystone hashes secrets with bcrypt, which
      // reads only the first 72 bytes of the 86-character secret, so a changed tail still works.)
      const wrongSecret = `${cred.secret.startsWith('zzzz') ? 'yyyy' : 'zzzz'}${cred.secret.slice(4)}`;
      const wrong = new Site({ ...cloud, auth: { ...cloud.auth, application_credential_secret: wrongSecret } }, { logger, retry: { retries: 0 } });
      const denied = await failure(wrong.connect());
      expect(denied).to.be.instanceOf(UnauthorizedError);
      expect(denied.message).to.not.include(wrongSecret);

      expect(await deleteApplicationCredential(id, userId, cred.id)).to.equal(true);
      expect(await deleteApplicationCredential(id, userId, cred.id), 'deleting again is not an error').to.equal(false);
      // A deleted credential is 404, not 401: Keystone looks the credential up before checking it.
      const after = new Site(cloud, { logger, retry: { retries: 0 } });
      const gone = await failure(after.connect());
      expect(gone).to.be.instanceOf(NotFoundError);
      expect(gone.detail).to.match(/Could not find Application Credential/);
      expect(gone.message).to.not.include(cred.secret);

      expect(logger.lines.length).to.be.greaterThan(0);
      expect(logger.text()).to.not.include(cred.secret);
      expect(logger.text()).to.not.include(wrongSecret);
    });

    it("an admin may not create one for another user (403)", async () => {
      const id = labSite('lab-a').identity;
      const demoUser = (await labSite('lab-a-demo').connect()).info.user.id;
      const err = await failure(
        createApplicationCredential(id, demoUser, { name: uniqueName('appcred-other') }).then((c) => {
          cleanup().add(`application credential ${c.id}`, () => deleteApplicationCredential(id, demoUser, c.id));
        }),
      );
      expect(err).to.be.instanceOf(ForbiddenError);
    });
  });
});
