// An in-memory Cinder (Zed) for the mover's tests and everything built on it (the replication
// cycle, plan purge): volumes, snapshots and backups with their status machines behind nock.
import nock from 'nock';
import { CINDER, PROJECT_ID, mockAuth, mockCinderVersion, testSite } from './fake-cloud.js';
import type { Backup } from '../../lib/openstack/blockstorage/backups.js';
import type { Site } from '../../lib/openstack/site.js';
import { predictCinderParent } from '../../lib/replication/cinder-backup.js';

/** Site B's Cinder endpoint in two-site tests. */
export const CINDER_B = 'https://cinder.site-b.test:8776';
const base = `/v3/${PROJECT_ID}`;

// An in-memory Cinder (Zed) behind nock, enough for the mover: volumes (read), snapshots and
// backups with their status machines (each GET shows the current state, then it advances),
// export_record/import_record, Cinder's own parent choice for incremental backups, its refusals
// and its fault bodies. Shapes: cinder/api/views/snapshots.py summary (+ v3 user_id),
// cinder/api/views/backups.py detail + v3 metadata (3.43), summary for create/import,
// export_summary ('backup-record'); errors are {"badRequest"|"itemNotFound": {code, message}}.
export type Json = Record<string, unknown>;
interface Obj {
  body: Json;
  next?: () => void;
}

let clock = 0;
function stamp(): string {
  clock++;
  const s = String(clock % 60).padStart(2, '0');
  const m = String(Math.floor(clock / 60) % 60).padStart(2, '0');
  return `2026-11-27T03:${m}:${s}.${String(clock).padStart(6, '0')}`;
}

export class FakeCinder {
  readonly volumes = new Map<string, Json>();
  readonly snapshots = new Map<string, Obj>();
  readonly backups = new Map<string, Obj & { parent?: string; deps: number }>();
  /** "POST snapshots", "GET backups/b1"... in order. */
  readonly log: string[] = [];
  readonly bodies: { path: string; body: Json }[] = [];
  readonly headers = new Set<string>();
  private seq = 0;
  /** Requests whose action is performed but whose response is lost (answered 502). */
  readonly loseResponse = new Set<string>();
  /** Volumes whose backups go to error. */
  readonly failBackupsOf = new Set<string>();
  /** Snapshot deletes Cinder accepts but then undoes (SnapshotIsBusy: status back to available). */
  snapshotBusyDeletes = 0;
  /** Backup IDs GET answers 404 for, once (a race with another importer). */
  readonly hideOnce = new Set<string>();
  /** Called on every request (after logging), e.g. to count in-flight work. */
  onRequest?: (method: string, path: string, answered: Json | undefined) => void;
  onGet?: (id: string) => void;

  constructor(
    readonly origin: string,
    readonly tag: string,
  ) {}

  posts(path: string): number {
    return this.log.filter((l) => l === `POST ${path}`).length;
  }

  addVolume(id: string, status = 'in-use', size = 1): void {
    this.volumes.set(id, {
      id,
      name: `vol-${id}`,
      description: null,
      status,
      size,
      availability_zone: 'nova',
      created_at: '2026-11-27T02:00:00.000000',
      updated_at: null,
      bootable: 'false',
      encrypted: false,
      multiattach: false,
      volume_type: 'ceph',
      snapshot_id: null,
      source_volid: null,
      metadata: {},
      attachments: status === 'in-use' ? [{ id, attachment_id: `att-${id}`, volume_id: id, server_id: 'srv-1', host_name: null, device: '/dev/vdb', attached_at: '2026-11-27T02:01:00.000000' }] : [],
    });
  }

  /** A backup that already exists (e.g. an earlier point), available. */
  addBackup(id: string, volumeId: string, extra: Json = {}, parent?: string): void {
    const created = stamp();
    const b = this.backupBody(id, volumeId, { status: 'available', created_at: created, data_timestamp: created, ...extra });
    this.backups.set(id, { body: b, deps: 0, ...(parent ? { parent } : {}) });
    if (parent) this.backups.get(parent)!.deps++;
  }

  private backupBody(id: string, volumeId: string, extra: Json): Json {
    return {
      id,
      name: null,
      description: null,
      status: 'creating',
      size: 1,
      object_count: 0,
      availability_zone: 'nova',
      container: 'ferry',
      created_at: stamp(),
      updated_at: null,
      fail_reason: null,
      volume_id: volumeId,
      links: [{ rel: 'self', href: `${this.origin}${base}/backups/${id}` }],
      is_incremental: false,
      has_dependent_backups: false,
      snapshot_id: null,
      data_timestamp: null,
      metadata: {},
      'os-backup-project-attr:project_id': PROJECT_ID,
      user_id: 'u-ferry',
      ...extra,
    };
  }

  private id(kind: string): string {
    this.seq++;
    return `${this.tag}${kind}${this.seq}-0000-4000-8000-000000000000`;
  }

  private view(o: Obj & { deps?: number }): Json {
    const body = { ...o.body };
    if (o.deps !== undefined) body.has_dependent_backups = o.deps > 0;
    const next = o.next;
    o.next = undefined;
    next?.();
    return body;
  }

  private notFound(what: string, id: string): [number, Json] {
    return [404, { itemNotFound: { code: 404, message: `${what} ${id} could not be found.` } }];
  }

  private bad(message: string): [number, Json] {
    return [400, { badRequest: { code: 400, message } }];
  }

  private removeBackup(id: string): void {
    const b = this.backups.get(id);
    if (!b) return;
    this.backups.delete(id);
    const parent = b.parent ? this.backups.get(b.parent) : undefined;
    if (parent && parent.deps > 0) parent.deps--;
  }

  private handle(method: string, uri: string, body: Json | undefined): [number, Json | string] {
    const url = new URL(uri, this.origin);
    const path = url.pathname.slice(base.length + 1);
    const q = url.searchParams;
    const parts = path.split('/');
    if (method === 'GET' && parts[0] === 'volumes' && parts[1]) {
      const v = this.volumes.get(parts[1]);
      return v ? [200, { volume: v }] : this.notFound('Volume', parts[1]);
    }
    if (parts[0] === 'snapshots') {
      if (method === 'GET' && parts[1] === 'detail') {
        const meta = q.get('metadata') ? (JSON.parse(q.get('metadata')!) as Record<string, string>) : {};
        const list = [...this.snapshots.values()]
          .filter((s) => (!q.get('volume_id') || s.body.volume_id === q.get('volume_id')) && Object.entries(meta).every(([k, v]) => (s.body.metadata as Json)[k] === v))
          .map((s) => ({ ...s.body }));
        return [200, { snapshots: list }];
      }
      if (method === 'POST' && !parts[1]) {
        const req = (body as { snapshot: Json }).snapshot;
        const vol = this.volumes.get(req.volume_id as string);
        if (!vol) return this.notFound('Volume', req.volume_id as string);
        if (vol.status === 'in-use' && req.force !== true) return this.bad("Invalid volume: Volume vol status must be available, but current status is: in-use.");
        const id = this.id('s');
        const s: Obj = {
          body: {
            id,
            created_at: stamp(),
            updated_at: null,
            name: req.name ?? null,
            description: req.description ?? null,
            volume_id: vol.id,
            status: 'creating',
            size: vol.size,
            metadata: req.metadata ?? {},
            'os-extended-snapshot-attributes:progress': '0%',
            'os-extended-snapshot-attributes:project_id': PROJECT_ID,
            user_id: 'u-ferry',
          },
        };
        s.next = () => (s.body.status = 'available');
        this.snapshots.set(id, s);
        return [202, { snapshot: { ...s.body } }];
      }
      const s = this.snapshots.get(parts[1]!);
      if (!s) return this.notFound('Snapshot', parts[1]!);
      if (method === 'GET') return [200, { snapshot: this.view(s) }];
      if (method === 'DELETE') {
        if (!['available', 'error'].includes(s.body.status as string)) return this.bad('Invalid snapshot: Volume Snapshot status must be available or error or error_restoring or unmanaging');
        s.body.status = 'deleting';
        if (this.snapshotBusyDeletes > 0) {
          // RBD: cinder-backup's temporary clone still depends on the snapshot; the volume
          // manager logs SnapshotIsBusy and sets the snapshot back to available.
          this.snapshotBusyDeletes--;
          s.next = () => (s.body.status = 'available');
        } else {
          s.next = () => this.snapshots.delete(parts[1]!);
        }
        return [202, ''];
      }
    }
    if (parts[0] === 'backups') {
      if (method === 'GET' && parts[1] === 'detail') {
        const list = [...this.backups.values()]
          .filter((b) => (!q.get('volume_id') || b.body.volume_id === q.get('volume_id')) && (!q.get('name') || b.body.name === q.get('name')))
          .map((b) => ({ ...b.body, has_dependent_backups: b.deps > 0 }));
        return [200, { backups: list }];
      }
      if (method === 'POST' && parts[1] === 'import_record') {
        const rec = (body as { 'backup-record': { backup_service: string; backup_url: string } })['backup-record'];
        const src = JSON.parse(Buffer.from(rec.backup_url, 'base64').toString()) as Json & { parent_id?: string };
        if (this.backups.has(src.id as string)) return this.bad('Invalid backup: Backup already exists in database.');
        const b = { body: this.backupBody(src.id as string, src.volume_id as string, { ...src, status: 'creating' }), deps: 0 } as Obj & { parent?: string; deps: number };
        delete b.body.parent_id;
        // Like Cinder: the import records parent_id but never counts the parent's dependents.
        if (src.parent_id) b.parent = src.parent_id;
        b.next = () => (b.body.status = 'available');
        this.backups.set(src.id as string, b);
        return [201, { backup: { id: src.id, name: src.name, links: b.body.links } }];
      }
      if (method === 'POST' && !parts[1]) {
        const req = (body as { backup: Json }).backup;
        const snap = this.snapshots.get(req.snapshot_id as string);
        if (!snap || snap.body.status !== 'available') return this.bad('Invalid snapshot: Snapshot to be backed up must be available');
        let parent: (Obj & { deps: number }) | undefined;
        if (req.incremental) {
          const mine = [...this.backups.values()].filter((b) => b.body.volume_id === req.volume_id).map((b) => b.body as unknown as Backup);
          const p = predictCinderParent(mine, snap.body as { created_at: string });
          if (!p) return this.bad('Invalid backup: No backups available to do an incremental backup.');
          parent = this.backups.get(p.id);
          if (parent!.body.status !== 'available') return this.bad('Invalid backup: The parent backup must be available for incremental backup.');
        }
        const id = this.id('b');
        const b = {
          body: this.backupBody(id, req.volume_id as string, {
            name: req.name ?? null,
            description: req.description ?? null,
            snapshot_id: snap.body.id,
            data_timestamp: snap.body.created_at,
            is_incremental: !!parent,
            metadata: req.metadata ?? {},
          }),
          deps: 0,
          ...(parent ? { parent: parent.body.id as string } : {}),
        } as Obj & { parent?: string; deps: number };
        if (parent) parent.deps++;
        snap.body.status = 'backing-up';
        b.next = () => {
          snap.body.status = 'available';
          if (this.failBackupsOf.has(req.volume_id as string)) Object.assign(b.body, { status: 'error', fail_reason: 'posix driver: disk full' });
          else Object.assign(b.body, { status: 'available', object_count: 3 });
        };
        this.backups.set(id, b);
        return [202, { backup: { id, name: b.body.name, links: b.body.links } }];
      }
      const id = parts[1]!;
      const b = this.backups.get(id);
      if (!b || (method === 'GET' && this.hideOnce.delete(id))) return this.notFound('Backup', id);
      if (method === 'GET' && parts[2] === 'export_record') {
        const rec = { ...b.body, parent_id: b.parent ?? null };
        return [200, { 'backup-record': { backup_service: 'cinder.backup.drivers.posix.PosixBackupDriver', backup_url: Buffer.from(JSON.stringify(rec)).toString('base64') } }];
      }
      if (method === 'GET') {
        this.onGet?.(id);
        return [200, { backup: this.view(b) }];
      }
      if (method === 'DELETE') {
        // cinder/backup/api.py delete: refused while any backup has parent_id = this one.
        if ([...this.backups.values()].some((x) => x.parent === id)) return this.bad('Invalid backup: Incremental backups exist for this backup.');
        if (!['available', 'error'].includes(b.body.status as string)) return this.bad('Invalid backup: Backup status must be available or error');
        b.body.status = 'deleting';
        b.next = () => this.removeBackup(id);
        return [202, ''];
      }
    }
    return [599, { message: `fake cinder: unhandled ${method} ${path}` }];
  }

  private answer(method: string, uri: string, body: unknown, headers: Record<string, string>): [number, Json | string] {
    const path = new URL(uri, this.origin).pathname.slice(base.length + 1);
    this.log.push(`${method} ${path}`);
    this.headers.add(String(headers['openstack-api-version']));
    if (body && typeof body === 'object') this.bodies.push({ path: `${method} ${path}`, body: body as Json });
    const [status, answer] = this.handle(method, uri, (body || undefined) as Json | undefined);
    this.onRequest?.(method, path, status < 300 && typeof answer === 'object' ? answer : undefined);
    if (this.loseResponse.delete(`${method} ${path}`)) return [502, '<html>Bad Gateway</html>'];
    return [status, answer];
  }

  install(): this {
    const answer = this.answer.bind(this);
    const respond = (method: string) =>
      function (this: { req: { headers: Record<string, string> } }, uri: string, body: unknown): [number, Json | string] {
        return answer(method, uri, body, this.req.headers);
      };
    const scope = nock(this.origin).persist();
    const p = new RegExp(`^${base}/`);
    scope.get(p).query(true).reply(respond('GET'));
    scope.post(p).query(true).reply(respond('POST'));
    scope.delete(p).query(true).reply(respond('DELETE'));
    return this;
  }
}

/** Cinder's version document at site B's endpoint (same shape as mockCinderVersion). */
export function mockCinderVersionB(): void {
  nock(CINDER_B)
    .get('/v3/')
    .reply(200, { versions: [{ id: 'v3.0', status: 'CURRENT', version: '3.70', min_version: '3.0', updated: '2023-08-31T00:00:00Z', links: [], 'media-types': [] }] });
}

export interface World {
  A: Site;
  B: Site;
  fa: FakeCinder;
  fb: FakeCinder;
}

/** Two sites (A with Cinder at CINDER, B at CINDER_B), each with its own in-memory Cinder. */
export function world(): World {
  mockAuth(2);
  mockCinderVersion();
  mockCinderVersionB();
  const A = testSite().site;
  const B = testSite({ name: 'site-b', endpoint_overrides: { 'block-storage': `${CINDER_B}/v3/%(project_id)s` } }).site;
  return { A, B, fa: new FakeCinder(CINDER, 'a').install(), fb: new FakeCinder(CINDER_B, 'b').install() };
}
