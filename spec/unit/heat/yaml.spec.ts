// The YAML writer of generated stacks: every value reads back as itself under YAML 1.1 (Heat's
// PyYAML) and 1.2, whatever the string; plain only where nothing else can be meant; calls on
// one line. (The lab spec sends the same strings through Heat's own loader.)
import { expect } from 'chai';
import { parse } from 'yaml';
import { toYaml, yamlString } from '../../../lib/heat/yaml.js';
import { TRICKY_STRINGS } from './fixtures.js';


describe('heat/yaml', () => {
  it('every string, as a value and as a key, reads back as itself (YAML 1.1 and 1.2)', () => {
    const doc = { list: TRICKY_STRINGS, map: Object.fromEntries(TRICKY_STRINGS.map((s, i) => [s, i])), call: { get_param: ['yes', 'on', 3] } };
    const text = toYaml(doc);
    expect(parse(text, { version: '1.1' })).to.deep.equal(doc);
    expect(parse(text, { version: '1.2' })).to.deep.equal(doc);
  });

  it('writes plain only what cannot be read otherwise', () => {
    const plain = ['get_param', 'server_1a2b3c4d5e6f_data', 'DR::Server', 'OS::Heat::None', 'nested/server.yaml', 'ferry:plan', 'fa:16:3e:00:00:01', '/etc/passwd', 'm1.tiny'];
    for (const s of plain) expect(yamlString(s), s).to.equal(s);
    for (const s of ['on', 'Yes', '~', '02:00', '10.0.0.1', '2021-04-16', 'a:', 'http://x', 'a b', '']) expect(yamlString(s), s).to.equal(JSON.stringify(s));
    expect(yamlString('\u2028')).to.equal('"\\u2028"');
  });

  it('numbers YAML 1.1 reads as numbers, nested lists and maps, empty ones, calls in flow style', () => {
    const doc = {
      num: [0, -1, 1.5, 1e21, 1e-7, 123456789012],
      bool: [true, false],
      nil: null,
      nested: [[1, [2, []]], {}, [{ a: { get_param: ['x', 0] }, b: [{ c: 'on' }] }]],
      r: { type: 'DR::Port', depends_on: ['a'], properties: { network: { get_attr: ['net_x', 'network_id'] }, name: { list_join: ['', [{ get_param: 'name_prefix' }, 'x']] } } },
    };
    const text = toYaml(doc);
    expect(parse(text, { version: '1.1' })).to.deep.equal(doc);
    expect(text).to.contain('1.0e+21').and.contain('1.0e-7');
    expect(text).to.contain("    network: {get_attr: [net_x, network_id]}\n    name: {list_join: [\"\", [{get_param: name_prefix}, x]]}\n");
    expect(text).to.contain('nested:\n  -\n    - 1\n    -\n      - 2\n      - []\n  - {}\n  -\n    - a: {get_param: [x, 0]}\n      b:\n        - c: "on"\n');
    expect(() => toYaml({ x: Number.NaN })).to.throw(TypeError);
    expect(() => toYaml({ x: undefined })).to.throw(TypeError);
  });
});
