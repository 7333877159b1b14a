// The recovery point manifest (ferry.recoverypoint/v1): canonical JSON and its golden
// checksum, validation errors naming JSON paths, complete vs partial, recoverability.
// The inventory fixture follows lib/inventory/model.ts (what discover() produces).
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { canonicalJson as catalogCanonicalJson } from '../../../lib/catalog/repo.js';
import type { Inventory, Member } from '../../../lib/inventory/model.js';
import {
  buildRecoveryPoint,
  canonicalJson,
  isRecoverable,
  jsonPath,
  manifestChecksum,
  ManifestChecksumError,
  ManifestError,
  ManifestVersionError,
  RECOVERY_POINT_API_VERSION,
  unrecoverableReason,
  validateManifest,
  type BuildRecoveryPointInput,
  type RecoveryPointManifest,
} from '../../../lib/replication/recovery-point.js';
import type { ImageDataRef, VolumeDataRef } from '../../../lib/replication/types.js';

const GiB = 1024 ** 3;
const POINT_ID = '3f1c2a9e-7b4d-4e8a-9c1f-5d6e7f8a9b0c';
const SPEC_HASH = `sha256:${'ab'.repeat(32)}`;
const IMAGE_ID = 'a1b2c3d4-0000-4000-8000-000000000001';

const flavor = { key: 'm1.small', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20, ephemeral: 0, swap: 0, extraSpecs: { 'hw:cpu_policy': 'shared' } };

function member(over: { id: string; name: string; image?: boolean; volumes: Member['volumes']; ip: string; mac: string }): Member {
  return {
    server: {
      id: over.id,
      name: over.name,
      status: 'ACTIVE',
      powerState: 'running',
      flavor,
      ...(over.image ? { image: { id: IMAGE_ID, name: 'cirros', checksum: 'd41d8cd98f00b204e9800998ecf8427e' } } : {}),
      bootFromVolume: !over.image,
      keyName: 'ops',
      keypair: { name: 'ops', publicKey: 'ssh-ed25519 AAAAC3Nza ops@example', type: 'ssh' },
      availabilityZone: 'nova',
      metadata: { app: 'shop', role: over.name },
      tags: ['dr'],
      serverGroups: [{ id: 'sg-1', name: 'shop-anti', policy: 'anti-affinity', rules: {} }],
      locked: false,
      configDrive: false,
      diskConfig: 'MANUAL',
      userId: 'u-1',
      projectId: 'p-1',
      createdAt: '2026-11-27T01:00:00Z',
    },
    ports: [
      {
        id: `port-${over.name}`,
        name: '',
        description: '',
        nicIndex: 0,
        networkId: 'net-1',
        networkName: 'shop-net',
        macAddress: over.mac,
        fixedIps: [{ subnetId: 'sub-1', subnetCidr: '10.0.0.0/24', ipAddress: over.ip }],
        securityGroupIds: ['secgrp-1'],
        allowedAddressPairs: [],
        portSecurityEnabled: true,
        adminStateUp: true,
        vnicType: 'normal',
        tags: [],
      },
    ],
    volumes: over.volumes,
    selectedBy: ['tag'],
  };
}

function volume(id: string, order: number, extra: Partial<Member['volumes'][number]> = {}): Member['volumes'][number] {
  return { id, name: id, size: 10, volumeType: 'ceph', volumeTypeId: 'vt-1', bootable: false, device: `/dev/vd${'abc'[order]}`, attachmentOrder: order, availabilityZone: 'nova', metadata: {}, multiattach: false, encrypted: false, status: 'in-use', ...extra };
}

function sampleInventory(): Inventory {
  return {
    schemaVersion: 1,
    site: 'site-a',
    projectId: 'p-1',
    discoveredAt: '2026-11-27T03:00:00.000Z',
    selectors: { tags: ['dr'] },
    members: [
      member({ id: 'srv-db', name: 'db-1', volumes: [volume('vol-db-root', 0, { bootable: true, bootIndex: 0, device: '/dev/vda' }), volume('vol-db-data', 1, { size: 20 })], ip: '10.0.0.11', mac: 'fa:16:3e:00:00:11' }),
      member({ id: 'srv-web', name: 'web-1', image: true, volumes: [volume('vol-web-data', 0, { device: '/dev/vdb' })], ip: '10.0.0.10', mac: 'fa:16:3e:00:00:10' }),
    ],
    networks: { 'net-1': { id: 'net-1', name: 'shop-net', description: '', subnetIds: ['sub-1'], adminStateUp: true, shared: false, external: false, mtu: 1450, availabilityZoneHints: [], projectId: 'p-1', tags: [] } },
    subnets: {
      'sub-1': { id: 'sub-1', name: 'shop-sub', description: '', networkId: 'net-1', ipVersion: 4, cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1', enableDhcp: true, allocationPools: [{ start: '10.0.0.2', end: '10.0.0.254' }], dnsNameservers: [], hostRoutes: [], projectId: 'p-1', tags: [] },
    },
    securityGroups: {
      'secgrp-1': {
        id: 'secgrp-1',
        name: 'shop',
        description: '',
        stateful: true,
        projectId: 'p-1',
        rules: [{ id: 'rule-1', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 443, portRangeMax: 443, remoteIpPrefix: '0.0.0.0/0', description: '' }],
        remoteOnly: false,
        tags: [],
      },
    },
    flavors: { 'm1.small': flavor },
    images: { [IMAGE_ID]: { id: IMAGE_ID, name: 'cirros', status: 'active', diskFormat: 'qcow2', containerFormat: 'bare', size: 21_233_664, minDisk: 0, minRam: 0, visibility: 'public', protected: false, hidden: false, tags: [], properties: {} } },
    volumeTypes: { 'vt-1': { id: 'vt-1', name: 'ceph', isPublic: true } },
    keypairs: { ops: { name: 'ops', publicKey: 'ssh-ed25519 AAAAC3Nza ops@example', type: 'ssh', fingerprint: 'SHA256:abc', userId: 'u-1' } },
    serverGroups: { 'sg-1': { id: 'sg-1', name: 'shop-anti', policy: 'anti-affinity', rules: {}, memberIds: ['srv-db', 'srv-web'], otherServerIds: [] } },
    warnings: [],
  };
}

function volData(id: string, sizeGb: number): VolumeDataRef {
  return { sourceVolumeId: id, mover: 'cinder-backup', primaryBackupId: `bk-${id}`, secondaryBackupId: `bk-${id}`, incremental: false, sizeGb, dataTimestamp: '2026-11-27T03:00:01.000Z', backupService: 'cinder.backup.drivers.swift.SwiftBackupDriver' };
}

const imageData: ImageDataRef = { sourceImageId: IMAGE_ID, secondaryImageId: 'b1b2c3d4-0000-4000-8000-000000000002', hash: `sha512:${'cd'.repeat(64)}`, sizeBytes: 21_233_664 };

function input(over: Partial<BuildRecoveryPointInput> = {}): BuildRecoveryPointInput {
  return {
    plan: { name: 'shop', specHash: SPEC_HASH, epoch: 2 },
    inventory: sampleInventory(),
    // Given out of order on purpose: the manifest sorts them.
    volumes: [volData('vol-web-data', 10), volData('vol-db-root', 10), volData('vol-db-data', 20)],
    images: [imageData],
    targetSite: 'site-b',
    createdAt: '2026-11-27T03:00:00.000Z',
    completedAt: '2026-11-27T03:05:00.000Z',
    id: POINT_ID,
    ...over,
  };
}

/** The same JSON with every object's keys in reverse order. */
function reversedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reversedKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).reverse().map((k) => [k, reversedKeys((v as Record<string, unknown>)[k])]));
  return v;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ManifestError);
    return (err as ManifestError).issues;
  }
  throw new Error('expected a ManifestError');
}

/** A manifest edited by `edit`, with its checksum recomputed (so only the edit is wrong). */
function edited(edit: (m: Record<string, unknown> & RecoveryPointManifest) => void): RecoveryPointManifest {
  const m = clone(buildRecoveryPoint(input())) as Record<string, unknown> & RecoveryPointManifest;
  edit(m);
  m.checksums = { manifest: manifestChecksum(m) };
  return m;
}

describe('replication/recovery-point', () => {
  describe('canonicalJson', () => {
    it('sorts keys at every level, keeps array order, drops undefined members, no whitespace (golden)', () => {
      const v = { z: 1, a: { y: [3, { d: 'é"\n', c: null }], b: true }, m: undefined, k: -0.5, e: [] };
      expect(canonicalJson(v)).to.equal('{"a":{"b":true,"y":[3,{"c":null,"d":"é\\"\\n"}]},"e":[],"k":-0.5,"z":1}');
      expect(canonicalJson(reversedKeys(v))).to.equal(canonicalJson(v));
      expect(canonicalJson({ t: new Date('2026-11-27T03:00:00Z') })).to.equal('{"t":"2026-11-27T03:00:00.000Z"}');
    });

    it('refuses what JSON cannot carry, naming where', () => {
      expect(() => canonicalJson({ a: [1, undefined] })).to.throw(/\$\.a\[1\] is undefined/);
      expect(() => canonicalJson({ a: { b: NaN } })).to.throw(/\$\.a\.b is NaN/);
      expect(() => canonicalJson({ a: 1n })).to.throw(/bigint/);
    });

    it('agrees with the catalog’s canonical JSON, so the catalog sees a stored manifest as unchanged', () => {
      const m = buildRecoveryPoint(input());
      expect(canonicalJson(m)).to.equal(catalogCanonicalJson(m));
    });
  });

  describe('buildRecoveryPoint', () => {
    it('freezes the inventory into a v1 manifest with a golden checksum', () => {
      const m = buildRecoveryPoint(input());
      expect(m.apiVersion).to.equal(RECOVERY_POINT_API_VERSION);
      expect(m.id).to.equal(POINT_ID);
      expect(m.plan).to.deep.equal({ name: 'shop', specHash: SPEC_HASH, epoch: 2 });
      expect([m.sourceSite, m.targetSite, m.status, m.consistency]).to.deep.equal(['site-a', 'site-b', 'complete', 'crash']);
      expect(m.members.map((x) => x.server.name)).to.deep.equal(['db-1', 'web-1']);
      expect(m.members[1]!.ports[0]).to.include({ macAddress: 'fa:16:3e:00:00:10' });
      expect(m.members[1]!.server.keypair?.publicKey).to.equal('ssh-ed25519 AAAAC3Nza ops@example');
      expect(Object.keys(m.shared).sort()).to.deep.equal(['flavors', 'images', 'keypairs', 'networks', 'securityGroups', 'serverGroups', 'subnets', 'volumeTypes']);
      expect(m.data.volumes.map((v) => v.sourceVolumeId)).to.deep.equal(['vol-db-data', 'vol-db-root', 'vol-web-data']);
      expect(m.sizes).to.deep.equal({ volumeBytes: 40 * GiB, imageBytes: 21_233_664, totalBytes: 40 * GiB + 21_233_664 });
      expect(m.source).to.deep.equal({ inventorySchemaVersion: 1, projectId: 'p-1', discoveredAt: '2026-11-27T03:00:00.000Z', selectors: { tags: ['dr'] } });
      expect(m.warnings).to.deep.equal([]);
      // The checksum is the sha256 of the canonical JSON without `checksums`.
      const { checksums: _c, ...rest } = m;
      expect(m.checksums.manifest).to.equal(`sha256:${createHash('sha256').update(canonicalJson(rest)).digest('hex')}`);
      // Golden: the same inputs give the same bytes, on every machine and every run.
      expect(m.checksums.manifest).to.equal('sha256:35b119a16ccbed5615bf1272a499d21569a00bbe1c6d0a4ce55414aa27613b74');
      expect(buildRecoveryPoint(input())).to.deep.equal(m);
      expect(canonicalJson(rest).slice(0, 157)).to.equal(
        '{"apiVersion":"ferry.recoverypoint/v1","completedAt":"2026-11-27T03:05:00.000Z","consistency":"crash","createdAt":"2026-11-27T03:00:00.000Z","data":{"images"',
      );
    });

    it('gives a checksum that ignores key order and catches any value change', () => {
      const m = buildRecoveryPoint(input());
      const shuffled = reversedKeys(m) as RecoveryPointManifest;
      expect(JSON.stringify(shuffled)).to.not.equal(JSON.stringify(m));
      expect(manifestChecksum(shuffled)).to.equal(m.checksums.manifest);
      expect(validateManifest(shuffled)).to.equal(shuffled);
      const changed = clone(m);
      changed.members[0]!.ports[0]!.fixedIps[0]!.ipAddress = '10.0.0.99';
      expect(manifestChecksum(changed)).to.not.equal(m.checksums.manifest);
      const err = (() => {
        try {
          validateManifest(changed, { source: 'bank object x' });
        } catch (e) {
          return e as ManifestChecksumError;
        }
        throw new Error('expected a checksum error');
      })();
      expect(err).to.be.instanceOf(ManifestChecksumError);
      expect(err.expected).to.equal(m.checksums.manifest);
      expect(err.message).to.match(/^bank object x: invalid recovery point manifest: \$\.checksums\.manifest: the manifest's content hashes to sha256:/);
      expect(validateManifest(changed, { checksum: false })).to.equal(changed);
    });

    it('is partial when a member volume has no data, with a warning naming it', () => {
      const m = buildRecoveryPoint(input({ volumes: [volData('vol-db-root', 10), volData('vol-web-data', 10)] }));
      expect(m.status).to.equal('partial');
      expect(m.warnings).to.deep.equal([
        { code: 'volume-data-missing', message: 'volume vol-db-data (vol-db-data) of server db-1 has no data in this point', serverIds: ['srv-db'], resourceType: 'volume', resourceId: 'vol-db-data' },
      ]);
      expect(m.sizes.volumeBytes).to.equal(20 * GiB);
      expect(buildRecoveryPoint(input({ partial: true })).status).to.equal('partial');
    });

    it('warns about an image that was not copied, keeps discovery warnings first, and records group consistency', () => {
      const inv = sampleInventory();
      inv.warnings = [{ code: 'keypair-missing', message: 'keypair x of another user', resourceType: 'keypair', resourceId: 'x' }];
      const m = buildRecoveryPoint(input({ inventory: inv, images: [], consistency: 'group', warnings: [{ code: 'point-note', message: 'pre_snapshot hook took 40s' }] }));
      expect(m.status).to.equal('complete');
      expect(m.consistency).to.equal('group');
      expect(m.warnings.map((w) => w.code)).to.deep.equal(['keypair-missing', 'image-data-missing', 'point-note']);
      expect(m.warnings[1]).to.include({ resourceId: IMAGE_ID });
    });

    it('refuses data for a volume that is not a member, or twice for one volume', () => {
      expect(() => buildRecoveryPoint(input({ volumes: [volData('vol-elsewhere', 1)] }))).to.throw(/data for volume vol-elsewhere, which is not a member volume of plan 'shop'/);
      expect(() => buildRecoveryPoint(input({ volumes: [volData('vol-db-root', 10), volData('vol-db-root', 10)] }))).to.throw(/two data refs for volume vol-db-root/);
      expect(() => buildRecoveryPoint(input({ createdAt: 'yesterday' }))).to.throw(/createdAt: 'yesterday' is not a time/);
    });
  });

  describe('validateManifest', () => {
    it('names the JSON path of every structural problem', () => {
      const m = clone(buildRecoveryPoint(input())) as unknown as Record<string, unknown> & RecoveryPointManifest;
      delete (m.members[0]!.server as unknown as Record<string, unknown>).id;
      (m.members[1]!.volumes[0] as unknown as Record<string, unknown>).size = '10';
      m.members[1]!.ports[0]!.macAddress = 'not-a-mac';
      (m as unknown as Record<string, unknown>).status = 'done';
      m.createdAt = '27/11/2026';
      m.shared.subnets['sub-1']!.ipVersion = 5 as 4;
      expect(issuesOf(() => validateManifest(m)).map((i) => i.path)).to.have.members([
        '$.members[0].server.id',
        '$.members[1].volumes[0].size',
        '$.members[1].ports[0].macAddress',
        '$.status',
        '$.createdAt',
        '$.shared.subnets["sub-1"].ipVersion',
      ]);
      const byPath = Object.fromEntries(issuesOf(() => validateManifest(m)).map((i) => [i.path, i.message]));
      expect(byPath['$.members[0].server.id']).to.equal('required (expected string)');
      expect(byPath['$.members[1].ports[0].macAddress']).to.equal("'not-a-mac' is not a MAC address");
      expect(byPath['$.createdAt']).to.match(/'27\/11\/2026' is not an ISO 8601 UTC time/);
    });

    it('checks cross-field rules: data refs name member volumes, complete means all data, sizes add up', () => {
      const bad = edited((m) => {
        m.data.volumes[0]!.sourceVolumeId = 'vol-ghost';
        m.sizes.totalBytes += 1;
      });
      const issues = issuesOf(() => validateManifest(bad));
      expect(issues).to.deep.include({ path: '$.data.volumes[0].sourceVolumeId', message: 'volume vol-ghost is not a member volume' });
      expect(issues).to.deep.include({ path: '$.status', message: "is 'complete' but member volumes have no data: vol-db-data (it must be 'partial')" });
      expect(issues.map((i) => i.path)).to.include('$.sizes.totalBytes');
      const sameSite = edited((m) => (m.targetSite = 'site-a'));
      expect(issuesOf(() => validateManifest(sameSite))).to.deep.equal([{ path: '$.targetSite', message: "is the source site 'site-a' too" }]);
      const noFlavor = edited((m) => (m.shared.flavors = {}));
      expect(issuesOf(() => validateManifest(noFlavor)).map((i) => i.path)).to.deep.equal(['$.members[0].server.flavor.key', '$.members[1].server.flavor.key']);
    });

    it('refuses a newer apiVersion with an upgrade hint, and non-manifests clearly', () => {
      const v2 = { ...clone(buildRecoveryPoint(input())), apiVersion: 'ferry.recoverypoint/v2' };
      expect(() => validateManifest(v2)).to.throw(ManifestVersionError, /\$\.apiVersion: 'ferry\.recoverypoint\/v2' is newer than this Ferry reads \(ferry\.recoverypoint\/v1\); upgrade Ferry/);
      expect(issuesOf(() => validateManifest({ apiVersion: 'v1' }))).to.deep.equal([{ path: '$.apiVersion', message: `expected '${RECOVERY_POINT_API_VERSION}', got "v1"` }]);
      expect(issuesOf(() => validateManifest([]))).to.deep.equal([{ path: '$', message: 'expected a JSON object, got an array' }]);
      expect(issuesOf(() => validateManifest(null))[0]!.message).to.equal('expected a JSON object, got null');
    });

    it('keeps fields a newer v1 writer added, and they are covered by the checksum', () => {
      const m = edited((x) => {
        x.futureField = { note: 'added later in v1' };
        (x.members[0]!.server as unknown as Record<string, unknown>).hypervisorHint = 'kvm';
      });
      const got = validateManifest(m) as unknown as Record<string, unknown>;
      expect(got.futureField).to.deep.equal({ note: 'added later in v1' });
      const tampered = { ...clone(m), futureField: { note: 'edited' } };
      expect(() => validateManifest(tampered)).to.throw(ManifestChecksumError);
    });

    it('formats JSON paths', () => {
      expect(jsonPath([])).to.equal('$');
      expect(jsonPath(['members', 0, 'server', 'id'])).to.equal('$.members[0].server.id');
      expect(jsonPath(['shared', 'flavors', 'm1.small'])).to.equal('$.shared.flavors["m1.small"]');
    });
  });

  describe('isRecoverable', () => {
    it('takes complete points, partial ones only when forced, never unfinished or deleting ones', () => {
      const complete = buildRecoveryPoint(input());
      const partial = buildRecoveryPoint(input({ partial: true }));
      expect(isRecoverable(complete)).to.equal(true);
      expect(isRecoverable(partial)).to.equal(false);
      expect(isRecoverable(partial, { force: true })).to.equal(true);
      expect(unrecoverableReason(partial)).to.equal(`recovery point ${POINT_ID} is partial (some member data is missing); use --force to recover what it holds`);
      for (const status of ['in-progress', 'deleting', 'weird']) {
        expect(isRecoverable({ status }, { force: true }), status).to.equal(false);
      }
      expect(unrecoverableReason({ id: 'p1', status: 'in-progress' }, { force: true })).to.equal('recovery point p1 is still being written');
    });
  });
});
