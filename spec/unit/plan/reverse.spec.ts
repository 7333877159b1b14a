// reversePlan: the mappings a failback recovers with, turned around from the plan's.
import { expect } from 'chai';
import { parsePlanText } from '../../../lib/config/protection-plan.js';
import { reversePlan } from '../../../lib/plan/reverse.js';
import { plan as shopPlan } from '../heat/fixtures.js';

describe('plan/reverse', () => {
  it('swaps map entries, maps named recreations back to the original, drops plain recreations', () => {
    const r = reversePlan(shopPlan());
    expect(r.mappings.networks).to.deep.equal([{ from: 'app-net-dr', to: 'app-net' }]);
    expect(r.mappings.flavors.map).to.deep.equal([{ from: 'm1.small', to: 'm1.small' }]);
    expect(r.mappings.volume_types).to.deep.equal([{ from: 'rbd-ssd', to: 'ssd' }]);
    expect(r.mappings.availability_zones).to.deep.equal([{ from: 'nova', to: 'az1' }]);
    expect(r.ip_policy).to.equal('preserve');
    // everything else is the plan's own
    expect({ ...r, mappings: undefined }).to.deep.equal({ ...shopPlan(), mappings: undefined });
  });

  const cases: { title: string; yaml: string; check: (r: ReturnType<typeof reversePlan>) => void }[] = [
    {
      title: 'a recreated network with another name maps that name back',
      yaml: 'networks: [{from: web, recreate: true, name: web-dr}]',
      check: (r) => expect(r.mappings.networks).to.deep.equal([{ from: 'web-dr', to: 'web' }]),
    },
    {
      title: 'a subnet recreated with another CIDR turns fixed IPs into DHCP',
      yaml: 'subnets: [{from: web-sub, recreate: true, cidr: 10.9.0.0/24}]',
      check: (r) => {
        expect(r.mappings.subnets).to.deep.equal([]);
        expect(r.ip_policy).to.equal('dhcp');
      },
    },
    {
      title: 'security groups, images and keypairs keep their keyword, their maps are swapped',
      yaml: 'security_groups: {map: [{from: sg-a, to: sg-b}]}\n  images: replicate\n  keypairs: {map: [{from: k-a, to: k-b}]}',
      check: (r) => {
        expect(r.mappings.security_groups).to.deep.equal({ map: [{ from: 'sg-b', to: 'sg-a' }] });
        expect(r.mappings.images).to.equal('replicate');
        expect(r.mappings.keypairs).to.deep.equal({ map: [{ from: 'k-b', to: 'k-a' }] });
      },
    },
  ];
  for (const c of cases) {
    it(c.title, () => {
      const text = `name: p\nproject: demo\nprimary: a\nsecondary: b\nrpo: 15m\ntier: pilot-light\nretention: {count: 3}\nmembers: [{tag: x}]\nmappings:\n  ${c.yaml}\n`;
      const plan = parsePlanText(text, 'p.yaml');
      c.check(reversePlan(plan));
    });
  }

  it('reversing twice gives back the plan when nothing was recreated', () => {
    const text = 'name: p\nproject: demo\nprimary: a\nsecondary: b\nrpo: 15m\ntier: pilot-light\nretention: {count: 3}\nmembers: [{tag: x}]\nmappings:\n  networks: [{from: n1, to: n2}]\n  volume_types: [{from: t1, to: t2}]\n';
    const plan = parsePlanText(text, 'p.yaml');
    expect(reversePlan(reversePlan(plan))).to.deep.equal(plan);
  });
});
