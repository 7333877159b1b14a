// Plans shown to people (plan validate/show, the API) never carry hook secrets.
import { expect } from 'chai';
import { openCatalog } from '../../../lib/catalog/db.js';
import { CatalogRepo } from '../../../lib/catalog/repo.js';
import { maskPlanSecrets, parsePlanText } from '../../../lib/config/protection-plan.js';
import { showPlan } from '../../../lib/plan/store.js';

const TEXT = `name: shop
project: shop
primary: lab-a
secondary: lab-b
tier: pilot-light
rpo: 15m
retention: {count: 4}
members: [{server: web-1}]
hooks:
  pre_snapshot:
    - http: {url: 'https://hooks.example.com/freeze?token=s3cr3t-q', headers: {Authorization: 'Bearer s3cr3t-h', X-Team: ops}}
    - command: [/usr/local/bin/freeze]
`;

describe('plan secrets', () => {
  it('masks hook URL tokens and secret headers, keeps the rest, and leaves the input alone', () => {
    const plan = parsePlanText(TEXT, 'plan.yaml');
    const shown = maskPlanSecrets(plan);
    const text = JSON.stringify(shown);
    expect(text).to.not.include('s3cr3t-q').and.not.include('s3cr3t-h');
    expect(shown.hooks.pre_snapshot[0]!.http!.headers['X-Team']).to.equal('ops');
    expect(shown.hooks.pre_snapshot[1]!.command).to.deep.equal(['/usr/local/bin/freeze']);
    expect(JSON.stringify(plan), 'the plan itself is unchanged').to.include('s3cr3t-q').and.include('s3cr3t-h');
    expect(maskPlanSecrets(null)).to.equal(null);
    expect(maskPlanSecrets({ name: 'x' })).to.deep.equal({ name: 'x' });
  });

  it('plan show (showPlan) masks the stored spec', async () => {
    const catalog = await openCatalog('sqlite::memory:');
    try {
      const repo = new CatalogRepo(catalog);
      const plan = parsePlanText(TEXT, 'plan.yaml');
      await repo.plans.upsert({ name: 'shop', project: 'shop', primarySite: 'lab-a', secondarySite: 'lab-b', tier: 'pilot-light', rpoMs: 900_000, spec: plan });
      const d = await showPlan(repo, 'shop');
      expect(JSON.stringify(d)).to.not.include('s3cr3t-q').and.not.include('s3cr3t-h');
    } finally {
      await catalog.close();
    }
  });
});
