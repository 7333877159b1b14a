// Leader election between daemons sharing one catalog database, through a lease row
// (lib/catalog/leases.ts). Only the leader schedules and drives runs; the others stand by and
// take over when the leader stops renewing.
//
// The rules (Kubernetes' leader election, on a database row):
//  - Expiry is judged by each contender with its own clock: it notes when it first saw the
//    row's current `version`, and takes the lease over (a conditional UPDATE on that version)
//    once the version has not moved for `leaseMs`. No two hosts' clocks are ever compared.
//  - The leader renews every heartbeat. It counts as leader only until `renewDeadlineMs`
//    (two thirds of the lease) after the start of its last successful renewal, and a timer
//    demotes it then even when the database hangs. A contender cannot take over before
//    `leaseMs` after it saw that renewal, so the old leader has stopped at least a third of
//    the lease earlier.
//  - A renewal names the fencing value the leader took the lease with; after a take-over it
//    matches nothing, and the old leader steps down at once.
//  - Intervals (the lease's age as seen by a contender, the leader's renew deadline) are
//    measured on the monotonic clock: a wall-clock step (NTP) neither expires a healthy
//    lease early nor keeps a dead leader's alive. Wall time is only what is written to the row.
//  - A released lease (holder '') is taken at once: a clean shutdown hands over without
//    waiting for expiry.
import { randomBytes } from 'node:crypto';
import type { Lease, LeaseRepo } from '../catalog/leases.js';
import { silentLogger, type Logger } from '../log.js';
import { Loop, monotonicNow, systemClock, type Clock, type TimerHandle } from './clock.js';

export const LEADER_LEASE = 'leader';

/** Owners of runs driven by a daemon start with this (the CLI's are `cli@host`). */
export const DAEMON_OWNER_PREFIX = 'daemon@';

/** A daemon's identity: `daemon@HOST:PID:RANDOM`, unique per process. */
export function daemonId(host: string, pid: number = process.pid, random: string = randomBytes(3).toString('hex')): string {
  const safeHost = host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 200) || 'localhost';
  return `${DAEMON_OWNER_PREFIX}${safeHost}:${pid}:${random}`;
}

export interface Term {
  /** The lease's fencing value for this term. */
  fencing: number;
  /** When this daemon became leader. */
  since: Date;
}

export type Role = 'leader' | 'follower';

export interface LeaderStatus {
  id: string;
  role: Role;
  /** Who holds the lease as last read ('' when released, undefined before the first read). */
  holder: string | undefined;
  fencing: number | undefined;
  /** The holder's own expiry of the lease (its clock). */
  expiresAt: string | undefined;
  /** This daemon's term, when leader. */
  term: { fencing: number; since: string } | undefined;
  leaseMs: number;
  /** The last error reading or writing the lease, if the last tick failed. */
  error: string | undefined;
}

export interface LeaderObserver {
  /** This daemon became leader (fencing counts the terms of the lease). */
  elected?(e: { id: string; fencing: number; previousHolder: string }): void;
  /** This daemon stopped being leader. */
  demoted?(e: { id: string; fencing: number; reason: string }): void;
}

export interface ElectorOptions {
  leases: LeaseRepo;
  id: string;
  leaseMs: number;
  heartbeatMs: number;
  /** Default two thirds of leaseMs; must be less than leaseMs. */
  renewDeadlineMs?: number;
  clock?: Clock;
  logger?: Logger;
  observer?: LeaderObserver;
  /** The lease's name (default `leader`). */
  name?: string;
}

export class LeaderElector {
  readonly id: string;
  private readonly leases: LeaseRepo;
  private readonly name: string;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly observer: LeaderObserver;
  private readonly loop: Loop;
  private term: Term | undefined;
  /** Monotonic time at which the last successful renewal (or take-over) was sent. */
  private renewedAt = 0;
  private deadlineTimer: TimerHandle | undefined;
  /** The row's version as first seen, and when (monotonic). */
  private seen: { version: number; holder: string; at: number } | undefined;
  private last: Lease | undefined;
  private lastError: string | undefined;
  private stopped = false;

  constructor(opts: ElectorOptions) {
    this.id = opts.id;
    this.leases = opts.leases;
    this.name = opts.name ?? LEADER_LEASE;
    this.leaseMs = opts.leaseMs;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? Math.floor((opts.leaseMs * 2) / 3);
    if (this.renewDeadlineMs >= this.leaseMs) throw new RangeError(`renewDeadlineMs (${this.renewDeadlineMs}) must be less than leaseMs (${this.leaseMs})`);
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child({ logger: 'ferry.daemon.leader' });
    this.observer = opts.observer ?? {};
    this.loop = new Loop('leader election', this.clock, opts.heartbeatMs, () => this.tick().then(() => undefined), this.log);
  }

  /** True while this daemon holds the lease and its last renewal is recent enough. */
  isLeader(): boolean {
    return this.term !== undefined && this.mono() < this.renewedAt + this.renewDeadlineMs;
  }

  /** The current term, when leader. */
  currentTerm(): Term | undefined {
    return this.isLeader() ? this.term : undefined;
  }

  status(): LeaderStatus {
    const term = this.currentTerm();
    return {
      id: this.id,
      role: term ? 'leader' : 'follower',
      holder: this.last?.holder,
      fencing: this.last?.fencing,
      expiresAt: this.last?.expiresAt.toISOString(),
      term: term ? { fencing: term.fencing, since: term.since.toISOString() } : undefined,
      leaseMs: this.leaseMs,
      error: this.lastError,
    };
  }

  /** Renews or contends every heartbeat, starting now. */
  start(): void {
    this.stopped = false;
    this.loop.start();
  }

  /**
   * One round: renew the lease when leader, else watch it and take it over when it expired
   * or was released. Returns the role after the round. Database errors are logged and kept
   * in status(); a leader keeps its role until its renew deadline.
   */
  async tick(): Promise<Role> {
    if (this.stopped) return 'follower';
    const started = this.clock.now();
    const startedMono = this.mono();
    try {
      if (this.term) {
        const ok = await this.leases.renew(this.name, this.term.fencing, this.claim(started));
        if (ok) {
          this.renewedAt = startedMono;
          this.armDeadline();
          this.last = { ...(this.last ?? this.synthetic(started)), holder: this.id, fencing: this.term.fencing, renewedAt: new Date(started), expiresAt: new Date(started + this.leaseMs) };
          this.lastError = undefined;
          return 'leader';
        }
        this.demote('another daemon took the lease over');
      }
      const lease = await this.leases.get(this.name);
      this.last = lease;
      if (!lease) {
        const created = await this.leases.create(this.name, this.claim(started));
        if (created) return this.elected(created, started, startedMono, '');
        this.lastError = undefined;
        return 'follower';
      }
      if (lease.holder === this.id) {
        // Still ours (we stepped down after a database hiccup): a renewal at that fencing
        // value is safe, as a take-over since would have moved it.
        if (await this.leases.renew(this.name, lease.fencing, this.claim(started))) return this.elected({ ...lease, renewedAt: new Date(started), expiresAt: new Date(started + this.leaseMs) }, started, startedMono, '', 'renewed after a pause');
      }
      const now = this.mono();
      if (!this.seen || this.seen.version !== lease.version) this.seen = { version: lease.version, holder: lease.holder, at: now };
      const released = lease.holder === '';
      const expired = now - this.seen.at >= this.leaseMs;
      this.lastError = undefined;
      if (!released && !expired) return 'follower';
      const taken = await this.leases.takeOver(lease, this.claim(started));
      if (!taken) return 'follower';
      return this.elected(taken, started, startedMono, lease.holder, released ? 'released' : `not renewed for ${Math.round((now - this.seen.at) / 100) / 10} s`);
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.log.warn(`leader lease: ${this.lastError}${this.term ? ' (still leader until the renew deadline)' : ''}`);
      return this.isLeader() ? 'leader' : 'follower';
    }
  }

  /** Stops contending; a leader releases the lease so another daemon takes it at once. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
    const term = this.term;
    if (term) {
      this.demote('stopping');
      if (opts.release !== false) {
        try {
          if (await this.leases.release(this.name, term.fencing, this.id, new Date(this.clock.now()))) this.log.info(`released the leader lease (fencing ${term.fencing})`);
        } catch (err) {
          this.log.warn(`could not release the leader lease: ${err instanceof Error ? err.message : String(err)} (another daemon takes over when it expires)`);
        }
      }
    }
  }

  private claim(at: number) {
    return { holder: this.id, now: new Date(at), durationMs: this.leaseMs };
  }

  private synthetic(at: number): Lease {
    return { name: this.name, holder: this.id, fencing: 0, version: 0, durationMs: this.leaseMs, acquiredAt: new Date(at), renewedAt: new Date(at), expiresAt: new Date(at + this.leaseMs) };
  }

  private mono(): number {
    return monotonicNow(this.clock);
  }

  private elected(lease: Lease, started: number, startedMono: number, previousHolder: string, why?: string): Role {
    this.term = { fencing: lease.fencing, since: new Date(started) };
    this.renewedAt = startedMono;
    this.last = lease;
    this.seen = undefined;
    this.armDeadline();
    const from = previousHolder ? ` from ${previousHolder}${why ? ` (${why})` : ''}` : why ? ` (${why})` : '';
    this.log.info(`became leader (fencing ${lease.fencing})${from}`);
    this.observer.elected?.({ id: this.id, fencing: lease.fencing, previousHolder });
    return 'leader';
  }

  private armDeadline(): void {
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    const fencing = this.term?.fencing;
    this.deadlineTimer = this.clock.setTimeout(
      () => {
        this.deadlineTimer = undefined;
        if (this.term && this.term.fencing === fencing && !this.isLeader()) this.demote(`could not renew the lease for ${Math.round(this.renewDeadlineMs / 100) / 10} s`);
      },
      this.renewedAt + this.renewDeadlineMs - this.mono(),
    );
  }

  private demote(reason: string): void {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (reason === 'stopping') this.log.info(`stepping down as leader (fencing ${term.fencing}): ${reason}`);
    else this.log.warn(`no longer leader (fencing ${term.fencing}): ${reason}`);
    this.observer.demoted?.({ id: this.id, fencing: term.fencing, reason });
  }
}
