// Named leases in the catalog: the leader election of daemons sharing one database
// (lib/daemon/leader.ts decides when to call what; this module only reads and writes rows).
// Every write is one conditional statement, so two daemons racing for the same lease cannot
// both win:
//  - create: INSERT; the loser gets a duplicate-key error and learns who won by reading;
//  - takeOver: UPDATE … WHERE version = <the version the caller saw>; the winner's write moves
//    the version, so every other take-over based on the same observation matches no row;
//  - renew / release: UPDATE … WHERE holder = me AND fencing = <mine>; after someone took the
//    lease over (fencing moved), a late renewal matches nothing and tells the caller so.
// Times are ISO strings from the caller's clock and are informational (who holds it, until
// when by its own reckoning); expiry is judged by watching `version` (see leader.ts).
import type { Catalog, LeasesTable } from './db.js';
import { isDuplicate } from './repo.js';

export interface Lease {
  name: string;
  /** The daemon holding the lease; '' when it was released. */
  holder: string;
  /** Raised on every change of holder. */
  fencing: number;
  /** Raised on every write. */
  version: number;
  durationMs: number;
  acquiredAt: Date;
  renewedAt: Date;
  /** renewedAt + duration, by the holder's clock. */
  expiresAt: Date;
}

/** What every write states: who, when (the caller's clock), for how long. */
export interface LeaseClaim {
  holder: string;
  now: Date;
  durationMs: number;
}

export class LeaseRepo {
  constructor(private readonly catalog: Pick<Catalog, 'db' | 'backend'>) {}

  private get db() {
    return this.catalog.db;
  }

  async get(name: string): Promise<Lease | undefined> {
    const row = await this.db.selectFrom('leases').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toLease(row) : undefined;
  }

  async list(): Promise<Lease[]> {
    const rows = await this.db.selectFrom('leases').selectAll().orderBy('name').execute();
    return rows.map(toLease);
  }

  /** Creates the lease held by `claim.holder` (fencing 1); undefined when it exists already. */
  async create(name: string, claim: LeaseClaim): Promise<Lease | undefined> {
    const row: LeasesTable = {
      name,
      holder: claim.holder,
      fencing: 1,
      version: 1,
      duration_ms: claim.durationMs,
      acquired_at: claim.now.toISOString(),
      renewed_at: claim.now.toISOString(),
      expires_at: new Date(claim.now.getTime() + claim.durationMs).toISOString(),
    };
    try {
      await this.db.insertInto('leases').values(row).execute();
      return toLease(row);
    } catch (err) {
      if (isDuplicate(err)) return undefined;
      throw err;
    }
  }

  /**
   * Takes the lease over from what the caller saw (`seen`: its version and fencing); undefined
   * when the row changed since (another daemon renewed it or got there first).
   */
  async takeOver(seen: Pick<Lease, 'name' | 'version' | 'fencing'>, claim: LeaseClaim): Promise<Lease | undefined> {
    const next: Omit<LeasesTable, 'name'> = {
      holder: claim.holder,
      fencing: seen.fencing + 1,
      version: seen.version + 1,
      duration_ms: claim.durationMs,
      acquired_at: claim.now.toISOString(),
      renewed_at: claim.now.toISOString(),
      expires_at: new Date(claim.now.getTime() + claim.durationMs).toISOString(),
    };
    const res = await this.db.updateTable('leases').set(next).where('name', '=', seen.name).where('version', '=', seen.version).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1 ? toLease({ name: seen.name, ...next }) : undefined;
  }

  /** Extends the holder's lease; false when it is no longer theirs at that fencing value. */
  async renew(name: string, fencing: number, claim: LeaseClaim): Promise<boolean> {
    const res = await this.db
      .updateTable('leases')
      .set((eb) => ({
        version: eb('version', '+', 1),
        duration_ms: claim.durationMs,
        renewed_at: claim.now.toISOString(),
        expires_at: new Date(claim.now.getTime() + claim.durationMs).toISOString(),
      }))
      .where('name', '=', name)
      .where('holder', '=', claim.holder)
      .where('fencing', '=', fencing)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Gives the lease up (holder ''), so a contender takes it at once; false when it was not the caller's. */
  async release(name: string, fencing: number, holder: string, now: Date): Promise<boolean> {
    const res = await this.db
      .updateTable('leases')
      .set((eb) => ({ holder: '', version: eb('version', '+', 1), renewed_at: now.toISOString(), expires_at: now.toISOString() }))
      .where('name', '=', name)
      .where('holder', '=', holder)
      .where('fencing', '=', fencing)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
}

function toLease(r: LeasesTable): Lease {
  return {
    name: r.name,
    holder: r.holder,
    fencing: Number(r.fencing),
    version: Number(r.version),
    durationMs: Number(r.duration_ms),
    acquiredAt: new Date(r.acquired_at),
    renewedAt: new Date(r.renewed_at),
    expiresAt: new Date(r.expires_at),
  };
}
