// DR-test cleanup against a secondary in memory (fake-leftovers.ts): a DR-test stack, one that
// Heat fails to delete at first, the leftovers of an older test outside any stack (a server
// with its volume and port, an isolated network with a subnet, an unbound port and a router,
// a security group, a floating IP, a second volume), and production of the same plan: its
// failover stack with its resources, a production volume. The cleanup must delete exactly the
// test's things in dependency order with list calls only, leave production alone even when the
// caller wrongly names a production run, say what it left and why, and find nothing the second
// time.
import { expect } from 'chai';
import { testSite, useNock, PROJECT_ID } from '../../support/fake-cloud.js';
import { markTag } from '../../../lib/heat/names.js';
import {
  ARTIFACT_KINDS,
  DRTEST_TAG,
  cleanupDrTest,
  drTestMetadata,
  drTestTags,
  judge,
  marksOfMetadata,
  marksOfTags,
  marksOfText,
  modeTag,
  type CleanupOptions,
  type CleanupResult,
} from '../../../lib/workflows/cleanup.js';
import { FakeSecondary } from './fake-leftovers.js';

const plan = 'web';
const tags = (run: string, ...extra: string[]) => [markTag('plan', plan), markTag('point', 'pt-1'), markTag('run', run), ...extra];

/** The secondary after two DR tests (one still standing, one whose stack is long gone) and a failover. */
function scenario(f: FakeSecondary): FakeSecondary {
  // A DR test's stack and what it owns (Heat deletes those with it).
  f.stacks.push({ id: 'st-t1', name: 'ferry-web-drtest-runt1', tags: tags('run-t1', modeTag('drtest')), status: 'CREATE_COMPLETE' });
  f.networks.push({ id: 'n-t1', name: 'drtest-app-net', tags: tags('run-t1', DRTEST_TAG), stack: 'st-t1' });
  f.subnets.push({ id: 'sn-t1', name: 'drtest-app-subnet', network_id: 'n-t1', tags: tags('run-t1', DRTEST_TAG), stack: 'st-t1' });
  f.ports.push({ id: 'p-t1', name: 'drtest-web-port', network_id: 'n-t1', device_id: 'srv-t1', device_owner: 'compute:nova', tags: tags('run-t1'), stack: 'st-t1' });
  f.servers.push({ id: 'srv-t1', name: 'drtest-web', tags: [markTag('point', 'pt-1'), markTag('run', 'run-t1')], metadata: { 'ferry:plan': plan, 'ferry:run': 'run-t1' }, status: 'ACTIVE', stack: 'st-t1' });
  // A DR test whose stack Heat fails to delete the first time.
  f.stacks.push({ id: 'st-t2', name: 'ferry-web-drtest-runt2', tags: tags('run-t2', modeTag('drtest')), status: 'CREATE_FAILED', reason: 'Resource CREATE failed: volume quota', failDeletes: 1 });

  // Production: the failover stack, its resources (marked with its run only), a production volume.
  f.stacks.push({ id: 'st-prod', name: 'ferry-web-failover', tags: tags('run-f1', modeTag('failover')), status: 'CREATE_COMPLETE' });
  f.networks.push({ id: 'n-prod', name: 'app-net', tags: tags('run-f1'), stack: 'st-prod' });
  f.ports.push({ id: 'p-prod', name: 'web-port', network_id: 'n-prod', device_id: 'srv-prod', device_owner: 'compute:nova', tags: tags('run-f1'), stack: 'st-prod' });
  f.servers.push({ id: 'srv-prod', name: 'web', tags: [markTag('point', 'pt-1'), markTag('run', 'run-f1')], metadata: { 'ferry:plan': plan, 'ferry:run': 'run-f1' }, status: 'ACTIVE', stack: 'st-prod' });
  f.volumes.push({ id: 'v-prod', name: 'db-data', metadata: { 'ferry:plan': plan, 'ferry:run': 'run-f1' }, status: 'in-use', attachedTo: ['srv-prod'], stack: 'st-prod' });
  f.volumes.push({ id: 'v-prod2', name: 'db-extra', metadata: { 'ferry:plan': plan, 'ferry:mode': 'failover' }, status: 'available', attachedTo: [] });
  // Another plan's DR test: not this cleanup's business.
  f.stacks.push({ id: 'st-shop', name: 'ferry-shop-drtest-x', tags: [markTag('plan', 'shop'), markTag('run', 'run-s1'), modeTag('drtest')], status: 'CREATE_COMPLETE' });
  f.servers.push({ id: 'srv-shop', name: 'drtest-shop', tags: drTestTags('shop', 'run-s1'), metadata: drTestMetadata('shop', 'run-s1'), status: 'ACTIVE' });

  // Leftovers of an older DR test (run-t0, known from the catalog), outside any stack.
  f.servers.push({ id: 'srv-t0', name: 'drtest-db', tags: [markTag('point', 'pt-0'), markTag('run', 'run-t0')], metadata: { 'ferry:plan': plan, 'ferry:run': 'run-t0' }, status: 'ERROR' });
  f.networks.push({ id: 'n-t0', name: 'drtest-db-net', tags: tags('run-t0', DRTEST_TAG) });
  f.subnets.push({ id: 'sn-t0', name: 'drtest-db-subnet', network_id: 'n-t0', tags: tags('run-t0', DRTEST_TAG) });
  f.ports.push({ id: 'p-dhcp', name: '', network_id: 'n-t0', device_id: 'dhcp-1', device_owner: 'network:dhcp', tags: [] });
  f.ports.push({ id: 'p-t0', name: 'drtest-db-port', network_id: 'n-t0', device_id: 'srv-t0', device_owner: 'compute:nova', tags: tags('run-t0') });
  f.ports.push({ id: 'p-loose', name: '', network_id: 'n-t0', device_id: '', device_owner: '', tags: [] });
  f.routers.push({ id: 'r-t0', name: 'drtest-router', tags: drTestTags(plan, 'run-t0') });
  f.ports.push({ id: 'p-rif', name: '', network_id: 'n-t0', device_id: 'r-t0', device_owner: 'network:router_interface', tags: [] });
  f.groups.push({ id: 'sg-t0', name: 'drtest-db-sg', tags: drTestTags(plan, 'run-t0') });
  f.fips.push({ id: 'fip-t0', address: '172.24.4.50', tags: [], description: 'ferry:plan=web ferry:point=pt-0 ferry:run=run-t0 ferry:source=p1', port_id: 'p-t0' });
  f.fips.push({ id: 'fip-other', address: '172.24.4.51', tags: [], description: 'someone else', port_id: null });
  f.volumes.push({ id: 'v-t0', name: 'drtest-db-data', metadata: drTestMetadata(plan, 'run-t0'), status: 'in-use', attachedTo: ['srv-t0'] });
  f.volumes.push({ id: 'v-t0b', name: 'drtest-db-log', metadata: { 'ferry:plan': plan, 'ferry:run': 'run-t0' }, status: 'available', attachedTo: [] });
  return f;
}

const fast: Partial<CleanupOptions> = { sleep: () => Promise.resolve(), pollMs: 1, timeoutMs: 5_000 };

const names = (r: CleanupResult, key: 'deleted' | 'failed' | 'kept') => r[key].map((i) => `${i.kind} ${i.name}`);

describe('workflows/cleanup', () => {
  useNock();

  it('deletes the DR tests’ stacks and leftovers in dependency order, leaves production alone, lists only', async () => {
    const f = scenario(new FakeSecondary()).install();
    const { site } = testSite();
    const progress: string[] = [];
    // The caller wrongly passes the production run too: the production stack's tag overrules it.
    const r = await cleanupDrTest(site, { plan, knownRuns: ['run-t0', 'run-f1'], onProgress: (l) => progress.push(l), ...fast });

    expect(r.failed, JSON.stringify(r.failed)).to.deep.equal([]);
    expect(f.ops).to.deep.equal([
      'DELETE stack ferry-web-drtest-runt1',
      'DELETE stack ferry-web-drtest-runt2',
      'DELETE server drtest-db',
      'DELETE floating-ip 172.24.4.50',
      'DELETE port drtest-db-port',
      'DELETE port p-loose',
      'REMOVE interface p-rif from router r-t0',
      'DELETE router drtest-router',
      'DELETE subnet drtest-db-subnet',
      'DELETE network drtest-db-net',
      'DELETE security-group drtest-db-sg',
      'DELETE volume drtest-db-data (cascade)',
      'DELETE volume drtest-db-log (cascade)',
      // Heat failed the second stack at first; after the orphans it is deleted again.
      'DELETE stack ferry-web-drtest-runt2',
    ]);
    expect(names(r, 'deleted')).to.deep.equal([
      'stack ferry-web-drtest-runt1',
      'server drtest-db',
      'floating-ip 172.24.4.50',
      'port drtest-db-port',
      'port p-loose',
      'router-interface p-rif',
      'router drtest-router',
      'subnet drtest-db-subnet',
      'network drtest-db-net',
      'security-group drtest-db-sg',
      'volume drtest-db-data',
      'volume drtest-db-log',
      'stack ferry-web-drtest-runt2',
    ]);
    // The order of the result follows ARTIFACT_KINDS (after the stacks retried last).
    const kinds = r.deleted.slice(0, -1).map((i) => ARTIFACT_KINDS.indexOf(i.kind));
    expect(kinds).to.deep.equal([...kinds].sort((a, b) => a - b));

    // Production and the other plan are untouched and still there.
    expect(f.stacks.map((s) => s.name).sort()).to.deep.equal(['ferry-shop-drtest-x', 'ferry-web-failover']);
    expect(f.servers.map((s) => s.name).sort()).to.deep.equal(['drtest-shop', 'web']);
    expect(f.volumes.map((v) => v.name).sort()).to.deep.equal(['db-data', 'db-extra']);
    expect(f.networks.map((n) => n.name)).to.deep.equal(['app-net']);
    expect(f.ports.map((p) => p.name)).to.deep.equal(['web-port']);
    expect(f.fips.map((x) => x.address)).to.deep.equal(['172.24.4.51']);

    // What it left alone, and why.
    expect(r.kept.map((k) => [k.kind, k.name, k.reason])).to.deep.equal([
      ['stack', 'ferry-web-failover', 'a failover resource (ferry:mode=failover), not a DR test\'s'],
      ['network', 'app-net', 'made by run run-f1, which made a production stack of the plan'],
      ['volume', 'db-data', 'made by run run-f1, which made a production stack of the plan'],
      ['volume', 'db-extra', 'a failover resource (ferry:mode=failover), not a DR test\'s'],
      ['port', 'web-port', 'made by run run-f1, which made a production stack of the plan'],
    ]);
    expect(r.runs).to.deep.equal(['run-t0', 'run-t1', 'run-t2']);
    expect(r).to.include({ plan, project: PROJECT_ID, dryRun: false, site: 'site-a' });

    // List calls only: no GET names an item.
    expect(f.getsPerItem()).to.deep.equal([]);
    expect(progress.at(-1)).to.equal('cleanup of plan web at site-a: deleted 13, failed 0, left alone 5');

    // Again: nothing left to find, nothing changed.
    const before = f.ops.length;
    const again = await cleanupDrTest(site, { plan, knownRuns: ['run-t0'], ...fast });
    expect(again.deleted).to.deep.equal([]);
    expect(again.failed).to.deep.equal([]);
    expect(f.ops.length).to.equal(before);
    expect(again.kept.map((k) => k.name)).to.include('ferry-web-failover');
  });

  it('dry-run: reports what would go (and with which stack) and changes nothing', async () => {
    const f = scenario(new FakeSecondary()).install();
    const { site } = testSite();
    const r = await cleanupDrTest(site, { plan, knownRuns: ['run-t0'], dryRun: true, ...fast });
    expect(f.ops).to.deep.equal([]);
    expect(f.requests.filter((x) => !x.startsWith('GET '))).to.deep.equal([]);
    expect(r.dryRun).to.equal(true);
    expect(r.deleted.map((i) => [i.kind, i.name, i.via ?? ''])).to.deep.equal([
      ['stack', 'ferry-web-drtest-runt1', ''],
      ['stack', 'ferry-web-drtest-runt2', ''],
      ['server', 'drtest-web', 'ferry-web-drtest-runt1'],
      ['server', 'drtest-db', ''],
      ['floating-ip', '172.24.4.50', ''],
      ['port', 'drtest-web-port', 'ferry-web-drtest-runt1'],
      ['port', 'drtest-db-port', ''],
      ['port', 'p-loose', ''],
      ['router-interface', 'p-rif', ''],
      ['router', 'drtest-router', ''],
      ['subnet', 'drtest-app-subnet', 'ferry-web-drtest-runt1'],
      ['subnet', 'drtest-db-subnet', ''],
      ['network', 'drtest-app-net', 'ferry-web-drtest-runt1'],
      ['network', 'drtest-db-net', ''],
      ['security-group', 'drtest-db-sg', ''],
      ['volume', 'drtest-db-data', ''],
      ['volume', 'drtest-db-log', ''],
    ]);
    expect(r.kept.map((k) => k.name)).to.have.members(['ferry-web-failover', 'app-net', 'db-data', 'db-extra', 'web-port']);
  });

  it('refuses what is not the test’s: a stack without the drtest mode tag, a foreign router in the bubble, a volume on a foreign server', async () => {
    const f = new FakeSecondary();
    // A stack of the plan without any mode tag (not made by the generator): left alone.
    f.stacks.push({ id: 'st-x', name: 'hand-made', tags: [markTag('plan', plan), markTag('run', 'run-t0')], status: 'CREATE_COMPLETE' });
    f.networks.push({ id: 'n-t0', name: 'drtest-net', tags: drTestTags(plan, 'run-t0') });
    // Someone plugged their router (no marks) into the test's network: its interface stays, so does the network.
    f.routers.push({ id: 'r-ops', name: 'ops-router', tags: [] });
    f.ports.push({ id: 'p-ops', name: '', network_id: 'n-t0', device_id: 'r-ops', device_owner: 'network:router_interface', tags: [] });
    // And booted a server on it.
    f.ports.push({ id: 'p-vm', name: 'jump', network_id: 'n-t0', device_id: 'srv-ops', device_owner: 'compute:nova', tags: [] });
    // A DR-test volume attached to a server that is not the test's.
    f.volumes.push({ id: 'v-t0', name: 'drtest-data', metadata: drTestMetadata(plan, 'run-t0'), status: 'in-use', attachedTo: ['srv-ops'] });
    f.install();
    const { site } = testSite();
    const r = await cleanupDrTest(site, { plan, ...fast });

    expect(f.ops).to.deep.equal([]);
    expect(r.deleted).to.deep.equal([]);
    expect(r.kept.map((k) => [k.kind, k.name, k.reason])).to.deep.equal([
      ['stack', 'hand-made', 'no ferry:mode=drtest tag'],
      ['router-interface', 'p-ops', 'router r-ops is not a DR-test artifact of plan web, and its interface keeps DR-test network n-t0 in use (fix: openstack router remove port r-ops p-ops)'],
      ['port', 'jump', 'on DR-test network n-t0 but used by compute:nova srv-ops, which is not a DR-test artifact of plan web; the network stays until it is freed'],
    ]);
    expect(r.failed.map((x) => [x.kind, x.name])).to.deep.equal([
      ['network', 'drtest-net'],
      ['volume', 'drtest-data'],
    ]);
    expect(r.failed[0]!.error).to.equal(
      'network: DELETE https://neutron.site-a.test:9696/v2.0/networks/n-t0 returned 409: Unable to complete operation on network n-t0. There are one or more ports still in use on the network. (in use or locked: free it, then run the cleanup again)',
    );
    expect(r.failed[1]!.error).to.equal('attached to server srv-ops, which is not a DR-test server of plan web (fix: openstack server remove volume srv-ops v-t0, then run the cleanup again)');
  });

  it('reports a stack Heat cannot delete, and one that does not finish within the timeout', async () => {
    const f = new FakeSecondary();
    f.stacks.push({ id: 'st-1', name: 'ferry-web-drtest-a', tags: tags('run-a', modeTag('drtest')), status: 'CREATE_COMPLETE', failDeletes: Infinity, deleteReason: 'Resource DELETE failed: Forbidden: volume is locked' });
    f.stacks.push({ id: 'st-2', name: 'ferry-web-drtest-b', tags: tags('run-b', modeTag('drtest')), status: 'DELETE_IN_PROGRESS', deleteListings: 1e9 });
    f.install();
    const { site } = testSite();
    const r = await cleanupDrTest(site, { plan, ...fast, timeoutMs: 30 });
    expect(r.deleted).to.deep.equal([]);
    expect(r.failed.map((x) => [x.name, x.error.replace(/after \d+ s/, 'after N s')])).to.deep.equal([
      ['ferry-web-drtest-a', 'Heat could not delete it: Resource DELETE failed: Forbidden: volume is locked (look at it with openstack stack show st-1; run ferry test cleanup web again)'],
      ['ferry-web-drtest-b', 'still DELETE_IN_PROGRESS after N s (look at it with openstack stack show st-2; run ferry test cleanup web again)'],
    ]);
    // st-1 deleted twice (once more after the orphans); st-2 was already being deleted: waited for, deleted again only at the end.
    expect(f.ops).to.deep.equal(['DELETE stack ferry-web-drtest-a', 'DELETE stack ferry-web-drtest-a', 'DELETE stack ferry-web-drtest-b']);
  });

  it('leaves alone what a DR test still running made, stack and leftovers', async () => {
    const f = new FakeSecondary();
    f.stacks.push({ id: 'st-live', name: 'ferry-web-drtest-live', tags: tags('run-live', modeTag('drtest')), status: 'CREATE_COMPLETE' });
    f.networks.push({ id: 'n-live', name: 'drtest-live-net', tags: drTestTags(plan, 'run-live') });
    f.networks.push({ id: 'n-old', name: 'drtest-old-net', tags: drTestTags(plan, 'run-old') });
    f.install();
    const { site } = testSite();
    const r = await cleanupDrTest(site, { plan, knownRuns: ['run-old'], activeRuns: ['run-live'], ...fast });
    expect(f.ops).to.deep.equal(['DELETE network drtest-old-net']);
    expect(r.kept.map((k) => `${k.kind} ${k.name}`)).to.deep.equal(['stack ferry-web-drtest-live', 'network drtest-live-net']);
    expect(r.kept[0]!.reason).to.match(/^run run-live is still running/);
  });

  it('refuses credentials without a project', async () => {
    const f = new FakeSecondary().install();
    void f;
    const { site } = testSite();
    // A token whose info has no project: the cleanup cannot scope its listings.
    (site as unknown as { connect: () => Promise<unknown> }).connect = () => Promise.resolve({ info: { user: { id: 'u' } } });
    const err = await cleanupDrTest(site, { plan, ...fast }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal('cleanup at site-a: the credentials are not scoped to a project (fix: set project_name or project_id for cloud site-a in clouds.yaml)');
  });

  describe('judging marks (pure)', () => {
    const j = { plan, drtestRuns: new Set(['run-t0']), productionRuns: new Set(['run-f1']), activeRuns: new Set(['run-live']) };
    const cases: [string, ReturnType<typeof marksOfTags>, boolean, string][] = [
      ['the DR-test tags', marksOfTags(drTestTags(plan, 'run-x')), true, 'marked ferry:mode=drtest'],
      ['the isolated network tag', marksOfTags([markTag('plan', plan), DRTEST_TAG]), true, 'marked ferry:drtest'],
      ['a DR-test run', marksOfTags([markTag('plan', plan), markTag('run', 'run-t0')]), true, 'run run-t0 is a DR test'],
      ['DR-test metadata', marksOfMetadata(drTestMetadata(plan, 'run-y')), true, 'marked ferry:mode=drtest'],
      ['a floating IP description', marksOfText('ferry:plan=web ferry:run=run-t0'), true, 'run run-t0 is a DR test'],
      ['no plan mark', marksOfTags([DRTEST_TAG, markTag('run', 'run-t0')]), false, 'not marked ferry:plan=web'],
      ['another plan', marksOfTags(drTestTags('shop', 'run-t0')), false, 'not marked ferry:plan=web'],
      ['two plans', marksOfTags([...drTestTags(plan, 'run-t0'), markTag('plan', 'shop')]), false, 'marked for several plans (web, shop)'],
      ['production mode', marksOfTags([markTag('plan', plan), modeTag('failover'), DRTEST_TAG]), false, "a failover resource (ferry:mode=failover), not a DR test's"],
      ['a production run', marksOfTags([markTag('plan', plan), markTag('run', 'run-f1'), DRTEST_TAG]), false, 'made by run run-f1, which made a production stack of the plan'],
      ['a running DR test', marksOfTags(drTestTags(plan, 'run-live')), false, 'run run-live is still running (a DR test in progress or within its --keep time; fix: let it finish, or ferry resume run-live)'],
      ['only the plan', marksOfTags([markTag('plan', plan), markTag('run', 'run-zz')]), false, 'no DR-test mark (ferry:mode=drtest, ferry:drtest, or the ferry:run of a DR test)'],
    ];
    for (const [what, marks, ours, why] of cases) {
      it(`${what}: ${ours ? 'the test’s' : 'left alone'}`, () => {
        const v = judge(marks, j);
        expect(v.ours).to.equal(ours);
        expect(v.ours ? v.why : v.reason).to.equal(why);
      });
    }
    it('a stack needs its mode tag, a run alone is not enough', () => {
      expect(judge(marksOfTags([markTag('plan', plan), markTag('run', 'run-t0')]), j, { requireModeTag: true })).to.deep.equal({ ours: false, reason: 'no ferry:mode=drtest tag' });
      expect(judge(marksOfTags(tags('run-t0', modeTag('drtest'))), j, { requireModeTag: true })).to.deep.equal({ ours: true, why: 'marked ferry:mode=drtest' });
    });
    it('the marks a DR test puts on what it makes', () => {
      expect(drTestTags('web', 'r1')).to.deep.equal(['ferry:plan=web', 'ferry:run=r1', 'ferry:mode=drtest', 'ferry:drtest']);
      expect(drTestMetadata('web', 'r1')).to.deep.equal({ 'ferry:plan': 'web', 'ferry:run': 'r1', 'ferry:mode': 'drtest' });
      expect(marksOfTags(['ferry:plan=a=b', 'x', 'ferry:drtest'])).to.deep.equal({ plans: ['a=b'], runs: [], modes: [], drtest: true });
    });
  });
});
