// Fencing the old primary: what a server still needs, the guard's answers (not needed,
// unreachable, fenced now, already fenced), the order of the changes, idempotence, a server in
// ERROR, and the members found at a real site (nock) with Nova's tag filter and the lock reason.
import { expect } from 'chai';
import nock from 'nock';
import { openCatalog, type Catalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import { MemoryLogger } from '../../../lib/log.js';
import { specOf } from '../../../lib/plan/store.js';
import { parsePlanText } from '../../../lib/config/protection-plan.js';
import { ensureFenced, fenceNeeds, isFenced, oldPrimaryOf, siteMembers, FENCED_TAG, fencedEpochTag, FenceUnreachableError, type MemberServerView, type MembersSite } from '../../../lib/workflows/fence.js';
import { NOVA, expectAllCalled, mockAuth, mockNovaVersion, testSite, useNock } from '../../support/fake-cloud.js';

const PLAN = `name: shop
project: admin
primary: site-a
secondary: site-b
tier: pilot-light
rpo: 15m
retention: {count: 4}
members:
  - tag: shop
`;

class FakeMembers implements MembersSite {
  readonly name = 'site-a';
  readonly ops: string[] = [];
  down: string | undefined;
  constructor(readonly servers: MemberServerView[]) {}
  private s(id: string) {
    return this.servers.find((x) => x.id === id)!;
  }
  async members() {
    return this.servers.map((s) => ({ ...s, tags: [...s.tags] }));
  }
  async stop(id: string) {
    this.ops.push(`stop ${this.s(id).name}`);
    this.s(id).status = 'SHUTOFF';
  }
  async start(id: string) {
    this.ops.push(`start ${this.s(id).name}`);
  }
  async tag(id: string, tag: string) {
    this.ops.push(`tag ${this.s(id).name} ${tag}`);
    if (this.s(id).status === 'ERROR') throw Object.assign(new Error('Cannot tag an instance in vm_state error'), { status: 409, name: 'ConflictError' });
    this.s(id).tags.push(tag);
  }
  async lock(id: string, reason: string) {
    this.ops.push(`lock ${this.s(id).name}: ${reason.replace(/run [0-9a-f-]{36}/, 'run R')}`);
    this.s(id).locked = true;
  }
  async unreachable() {
    return this.down;
  }
}

async function catalog(): Promise<{ catalog: Catalog; repo: CatalogRepo }> {
  const c = await openCatalog('sqlite::memory:');
  const repo = new CatalogRepo(c);
  await repo.plans.upsert({ name: 'shop', project: 'admin', primarySite: 'site-a', secondarySite: 'site-b', tier: 'pilot-light', rpoMs: 900_000, spec: specOf(parsePlanText(PLAN, 'shop.yaml')) });
  return { catalog: c, repo };
}

const noSites = (): never => {
  throw new Error('no real site here');
};

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('workflows/fence', () => {
  it('knows what a server still needs to be fenced', () => {
    const s = (over: Partial<MemberServerView>): MemberServerView => ({ id: 'i', name: 'n', status: 'ACTIVE', locked: false, tags: [], ...over });
    expect(fenceNeeds(s({}), 3)).to.deep.equal({ stop: true, tags: [FENCED_TAG, 'ferry:fenced-epoch=3'], lock: true });
    expect(fenceNeeds(s({ status: 'SHUTOFF', tags: [FENCED_TAG, fencedEpochTag(3)], locked: true }), 3)).to.deep.equal({ stop: false, tags: [], lock: false });
    expect(fenceNeeds(s({ status: 'ERROR' }), 3), 'Nova refuses tags in ERROR').to.deep.equal({ stop: true, tags: [], lock: true });
    expect(isFenced(s({ status: 'SHUTOFF', tags: [FENCED_TAG, fencedEpochTag(3)], locked: true }), 3)).to.equal(true);
    expect(isFenced(s({ status: 'SHUTOFF', tags: [FENCED_TAG, fencedEpochTag(2)], locked: true }), 3), 'fenced at an older epoch').to.equal(false);
    expect(isFenced(s({ status: 'ACTIVE', tags: [FENCED_TAG, fencedEpochTag(3)], locked: true }), 3), 'running again').to.equal(false);
    expect(isFenced(s({ status: 'SHUTOFF', tags: [FENCED_TAG, fencedEpochTag(3)] }), 3), 'not locked').to.equal(false);
    expect(isFenced(s({ status: 'ERROR', locked: true }), 3)).to.equal(true);
    expect(oldPrimaryOf({ activeSite: 'site-a', primarySite: 'site-a', secondarySite: 'site-b' })).to.equal(undefined);
    expect(oldPrimaryOf({ activeSite: 'site-b', primarySite: 'site-a', secondarySite: 'site-b' })).to.equal('site-a');
  });

  it('ensureFenced: not needed at the primary; refuses while the old primary is silent; fences once, then says already', async () => {
    const { catalog: c, repo } = await catalog();
    try {
      const members = new FakeMembers([
        { id: 'srv-db', name: 'shop-db', status: 'ACTIVE', locked: false, tags: ['shop'] },
        { id: 'srv-web', name: 'shop-web', status: 'SHUTOFF', locked: false, tags: ['shop'] },
        { id: 'srv-old', name: 'shop-broken', status: 'ERROR', locked: false, tags: ['shop'] },
      ]);
      const opts = { members: () => members, owner: 'daemon-1', sleep: async () => undefined };
      expect(await ensureFenced(repo, 'shop', noSites, opts)).to.deep.equal({ status: 'not-needed' });

      await repo.plans.bumpEpoch('shop', 0, { activeSite: 'site-b' });
      members.down = 'connect ETIMEDOUT 127.0.1.1:5000';
      const err = await rejects(ensureFenced(repo, 'shop', noSites, opts));
      expect(err).to.be.instanceOf(FenceUnreachableError);
      expect(err.message).to.equal(
        "plan 'shop' is active at site-b (epoch 1); its old primary site-a does not answer (connect ETIMEDOUT 127.0.1.1:5000), so its old servers cannot be fenced yet, and nothing may act for the plan there before they are. Fix: when site-a is back, run ferry fence shop (replication and failback call it first)",
      );
      expect(members.ops).to.deep.equal([]);

      members.down = undefined;
      const logger = new MemoryLogger();
      const out = await ensureFenced(repo, 'shop', noSites, { ...opts, logger });
      expect(out).to.deep.include({ status: 'fenced', site: 'site-a', servers: 3 });
      const reason = 'fenced by Ferry: plan shop is active at site-b since epoch 1; do not start this server (run R)';
      // In ERROR, Nova refuses tags: the first try stops and locks it; stopped (SHUTOFF), the next try tags it.
      expect(members.ops).to.deep.equal([
        'stop shop-db',
        `tag shop-db ${FENCED_TAG}`,
        `tag shop-db ${fencedEpochTag(1)}`,
        `lock shop-db: ${reason}`,
        `tag shop-web ${FENCED_TAG}`,
        `tag shop-web ${fencedEpochTag(1)}`,
        `lock shop-web: ${reason}`,
        'stop shop-broken',
        `lock shop-broken: ${reason}`,
        `tag shop-broken ${FENCED_TAG}`,
        `tag shop-broken ${fencedEpochTag(1)}`,
      ]);
      expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('shop-broken (srv-old) at site-a is in ERROR: Nova refuses tags on it; it is stopped and locked only'))).to.equal(true);
      const run = (await repo.runs.get(out.runId!))!;
      expect([run.kind, run.status, run.epoch]).to.deep.equal(['failover', 'succeeded', 1]);
      expect(run.params).to.deep.equal({ phase: 'fence', site: 'site-a' });

      const n = members.ops.length;
      expect(await ensureFenced(repo, 'shop', noSites, opts)).to.deep.equal({ status: 'already', site: 'site-a', runId: out.runId, servers: 3 });
      expect(members.ops.length, 'nothing touched the second time').to.equal(n);

      // after a failback to the primary, nothing is fenced (the secondary's stack is failback's to delete)
      await repo.plans.bumpEpoch('shop', 1, { activeSite: 'site-a' });
      expect(await ensureFenced(repo, 'shop', noSites, opts)).to.deep.equal({ status: 'not-needed' });
    } finally {
      await c.close();
    }
  });

  describe('siteMembers (nock)', () => {
    useNock();

    // Shape: nova servers detail (2.79), trimmed.
    const server = (id: string, name: string, status: string, tags: string[], extra: Record<string, unknown> = {}) => ({ id, name, status, tags, locked: false, metadata: {}, addresses: {}, 'os-extended-volumes:volumes_attached': [], ...extra });

    it("lists the plan's members with Nova's tag filter, stops (a conflict is no error), tags and locks with a reason", async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get('/v2.1/servers/detail')
        .query({ 'tags-any': 'shop' })
        .reply(200, { servers: [server('s2', 'shop-web', 'ACTIVE', ['shop']), server('s1', 'shop-db', 'SHUTOFF', ['shop', FENCED_TAG], { locked: true })] });
      nock(NOVA).post('/v2.1/servers/s2/action', { 'os-stop': null }).reply(409, { conflictingRequest: { code: 409, message: "Cannot 'stop' instance s2 while it is in task_state powering-off" } });
      nock(NOVA).put(`/v2.1/servers/s2/tags/${encodeURIComponent(FENCED_TAG)}`).reply(201);
      nock(NOVA).post('/v2.1/servers/s2/action', { lock: { locked_reason: 'fenced' } }).reply(202);
      const plan = { name: 'shop', project: 'admin', primarySite: 'site-a', spec: specOf(parsePlanText(PLAN, 'shop.yaml')) } as never;
      const m = siteMembers(site);
      const list = await m.members(plan);
      expect(list).to.deep.equal([
        { id: 's1', name: 'shop-db', status: 'SHUTOFF', locked: true, tags: ['ferry:fenced', 'shop'] },
        { id: 's2', name: 'shop-web', status: 'ACTIVE', locked: false, tags: ['shop'] },
      ]);
      await m.stop('s2');
      await m.tag('s2', FENCED_TAG);
      await m.lock('s2', 'fenced');
      expectAllCalled();
    });

    it('filters by name and metadata selectors when Nova cannot', async () => {
      const { site } = testSite();
      mockAuth();
      mockNovaVersion();
      nock(NOVA)
        .get('/v2.1/servers/detail')
        .reply(200, { servers: [server('s1', 'db-1', 'ACTIVE', []), server('s2', 'web-1', 'ACTIVE', [], { metadata: { app: 'shop' } }), server('s3', 'other', 'ACTIVE', [])] });
      const spec = specOf(parsePlanText(PLAN.replace('  - tag: shop', '  - server: db-1\n  - metadata: {app: shop}'), 'shop.yaml'));
      const list = await siteMembers(site).members({ name: 'shop', project: 'admin', primarySite: 'site-a', spec } as never);
      expect(list.map((s) => s.name)).to.deep.equal(['db-1', 'web-1']);
      expectAllCalled();
    });
  });
});
