// Leader election on every backend: SQLite (a file, one connection per daemon) always, and
// MariaDB when FERRY_TEST_MYSQL_URL is set (one pool per daemon, real concurrency). Two
// daemons are two electors on separate connections; "killing" one is to stop its ticks.
// Time is a FakeClock per elector (their clocks need not agree), except in the last test,
// which runs real timers with a short lease.
import { expect } from 'chai';
import type { Catalog } from '../../../lib/catalog/db.js';
import { LeaseRepo } from '../../../lib/catalog/leases.js';
import { systemClock } from '../../../lib/daemon/clock.js';
import { DAEMON_OWNER_PREFIX, LEADER_LEASE, LeaderElector, daemonId, type LeaderObserver } from '../../../lib/daemon/leader.js';
import { MemoryLogger } from '../../../lib/log.js';
import { BACKENDS, FakeClock, until } from './daemon-support.js';

const LEASE = 15_000;
const BEAT = 2_000;

describe('daemon IDs', () => {
  it('are daemon@HOST:PID:RANDOM, unique per process, safe as run owners', () => {
    expect(daemonId('ctl-1.example.org', 4242, 'a1b2c3')).to.equal('daemon@ctl-1.example.org:4242:a1b2c3');
    expect(daemonId('bad host/name', 1, 'x')).to.equal('daemon@bad-host-name:1:x');
    expect(daemonId('', 1, 'x')).to.equal('daemon@localhost:1:x');
    expect(daemonId('h')).to.match(/^daemon@h:\d+:[0-9a-f]{6}$/).and.not.equal(daemonId('h'));
    expect(daemonId('x'.repeat(300)).length).to.be.below(255);
    expect(daemonId('h').startsWith(DAEMON_OWNER_PREFIX)).to.equal(true);
  });
});

for (const backend of BACKENDS) {
  describe(`leader election on ${backend.title}${backend.skip ? ` — ${backend.skip}` : ''}`, function () {
    this.timeout(20_000);
    const catalogs: Catalog[] = [];

    before(function () {
      if (backend.skip) this.skip();
    });
    beforeEach(async () => {
      await backend.reset();
    });
    afterEach(async () => {
      for (const c of catalogs.splice(0)) await c.close();
    });
    after(() => backend.cleanup());

    /** A daemon's elector on its own connection. */
    async function daemon(name: string, clock: FakeClock | typeof systemClock, over: { leaseMs?: number; heartbeatMs?: number } = {}) {
      const catalog = await backend.open();
      catalogs.push(catalog);
      const logger = new MemoryLogger();
      const events: string[] = [];
      const observer: LeaderObserver = {
        elected: (e) => events.push(`elected ${e.fencing} from '${e.previousHolder}'`),
        demoted: (e) => events.push(`demoted ${e.fencing}: ${e.reason}`),
      };
      const leases = new LeaseRepo(catalog);
      const elector = new LeaderElector({ leases, id: `daemon@${name}:1:000000`, leaseMs: over.leaseMs ?? LEASE, heartbeatMs: over.heartbeatMs ?? BEAT, clock, logger, observer });
      return { elector, leases, logger, events };
    }

    it('elects exactly one of two daemons, which renews; the other follows', async () => {
      const ca = new FakeClock();
      const cb = new FakeClock(ca.t + 123_456); // the hosts' clocks disagree by two minutes
      const a = await daemon('a', ca);
      const b = await daemon('b', cb);
      expect(await a.elector.tick()).to.equal('leader');
      expect(await b.elector.tick()).to.equal('follower');
      expect(a.events).to.deep.equal(["elected 1 from ''"]);
      const lease = await a.leases.get(LEADER_LEASE);
      expect(lease).to.deep.include({ holder: 'daemon@a:1:000000', fencing: 1, version: 1, durationMs: LEASE });
      for (let i = 0; i < 20; i++) {
        // 40 s: well past the lease, but a renews every heartbeat
        await ca.advance(BEAT);
        await cb.advance(BEAT);
        expect(await a.elector.tick()).to.equal('leader');
        expect(await b.elector.tick()).to.equal('follower');
      }
      expect(await a.leases.get(LEADER_LEASE)).to.deep.include({ holder: 'daemon@a:1:000000', fencing: 1, version: 21 });
      expect(a.elector.status()).to.deep.include({ role: 'leader', holder: 'daemon@a:1:000000', fencing: 1 });
      expect(b.elector.status()).to.deep.include({ role: 'follower', holder: 'daemon@a:1:000000', fencing: 1 });
      expect(b.events).to.deep.equal([]);
    });

    it('hands over once the leader stops renewing, not before lease_duration after its last renewal', async () => {
      const ca = new FakeClock();
      const cb = new FakeClock();
      const a = await daemon('a', ca);
      const b = await daemon('b', cb);
      await a.elector.tick();
      await b.elector.tick();
      await ca.advance(BEAT);
      await a.elector.tick(); // a's last renewal
      await cb.advance(BEAT);
      await b.elector.tick(); // b sees it
      // a is killed: no more ticks. b checks every heartbeat.
      let waited = 0;
      while ((await b.elector.tick()) === 'follower') {
        await cb.advance(BEAT);
        waited += BEAT;
        expect(waited, 'handover within the lease').to.be.at.most(LEASE + BEAT);
      }
      expect(waited).to.be.at.least(LEASE);
      expect(b.events).to.deep.equal(["elected 2 from 'daemon@a:1:000000'"]);
      expect(b.logger.text()).to.match(/became leader \(fencing 2\) from daemon@a:1:000000 \(not renewed for 1[56] s\)/);
      expect(await b.leases.get(LEADER_LEASE)).to.deep.include({ holder: 'daemon@b:1:000000', fencing: 2 });
    });

    it('measures lease ages on the monotonic clock: a wall-clock step neither hands a live lease over nor keeps a leader past its deadline', async () => {
      /** Wall time = monotonic time + a step the test sets (NTP). */
      class SteppedClock extends FakeClock {
        step = 0;
        override now(): number {
          return this.t + this.step;
        }
        monotonic(): number {
          return this.t;
        }
      }
      const ca = new SteppedClock();
      const cb = new SteppedClock();
      const a = await daemon('a', ca);
      const b = await daemon('b', cb);
      await a.elector.tick();
      await b.elector.tick(); // b sees a's lease
      // b's wall clock jumps an hour ahead, a's an hour back: both keep their roles while a renews
      cb.step = 3_600_000;
      ca.step = -3_600_000;
      for (let i = 0; i < 5; i++) {
        await ca.advance(BEAT);
        expect(await a.elector.tick()).to.equal('leader');
        await cb.advance(BEAT);
        expect(await b.elector.tick()).to.equal('follower');
      }
      expect(a.elector.isLeader()).to.equal(true);
      expect(a.events).to.deep.equal(["elected 1 from ''"]);
      expect(b.events).to.deep.equal([]);
      // a stops renewing: its deadline (10 s of monotonic time) demotes it whatever its wall clock says
      ca.step = -7_200_000;
      await ca.advance(LEASE * (2 / 3));
      expect(a.elector.isLeader()).to.equal(false);
      // and b takes over after the lease, measured on its monotonic clock
      let waited = 0;
      while ((await b.elector.tick()) === 'follower') {
        await cb.advance(BEAT);
        waited += BEAT;
        expect(waited).to.be.at.most(LEASE + BEAT);
      }
      expect(waited).to.be.at.least(LEASE - BEAT);
    });

    it('demotes a leader that cannot renew by its deadline, before anyone can take over, even with the database silent', async () => {
      const ca = new FakeClock();
      const a = await daemon('a', ca);
      await a.elector.tick();
      expect(a.elector.isLeader()).to.equal(true);
      // No ticks (the database hangs): the deadline timer demotes a at two thirds of the lease.
      await ca.advance(LEASE * (2 / 3) - 1);
      expect(a.elector.isLeader()).to.equal(true);
      expect(a.events).to.deep.equal(["elected 1 from ''"]);
      await ca.advance(1);
      expect(a.elector.isLeader()).to.equal(false);
      expect(a.events[1]).to.equal('demoted 1: could not renew the lease for 10 s');
      expect(a.logger.text()).to.include('no longer leader (fencing 1): could not renew the lease for 10 s');
    });

    it('steps a returning old leader down at once: its renewal names a fencing value that moved', async () => {
      const ca = new FakeClock();
      const cb = new FakeClock();
      const a = await daemon('a', ca);
      const b = await daemon('b', cb);
      await a.elector.tick();
      await b.elector.tick();
      await cb.advance(LEASE);
      expect(await b.elector.tick()).to.equal('leader');
      // a was paused (no clock movement, so it still believes it leads), then ticks again
      expect(a.elector.isLeader()).to.equal(true);
      expect(await a.elector.tick()).to.equal('follower');
      expect(a.events).to.deep.equal(["elected 1 from ''", 'demoted 1: another daemon took the lease over']);
      expect(await a.leases.get(LEADER_LEASE)).to.deep.include({ holder: 'daemon@b:1:000000', fencing: 2 });
    });

    it('lets a leader demoted by a database pause take its lease back when nobody took it', async () => {
      const ca = new FakeClock();
      const a = await daemon('a', ca);
      await a.elector.tick();
      await ca.advance(LEASE * 0.7); // past the deadline: demoted
      expect(a.elector.isLeader()).to.equal(false);
      expect(await a.elector.tick()).to.equal('leader');
      expect(a.events).to.deep.equal(["elected 1 from ''", 'demoted 1: could not renew the lease for 10 s', "elected 1 from ''"]);
      expect(a.logger.text()).to.include('became leader (fencing 1) (renewed after a pause)');
    });

    it('gives a released lease to the next daemon at once', async () => {
      const ca = new FakeClock();
      const cb = new FakeClock();
      const a = await daemon('a', ca);
      const b = await daemon('b', cb);
      await a.elector.tick();
      await b.elector.tick();
      await a.elector.stop();
      expect(a.events).to.deep.equal(["elected 1 from ''", 'demoted 1: stopping']);
      expect(await a.leases.get(LEADER_LEASE)).to.deep.include({ holder: '', fencing: 1 });
      expect(await b.elector.tick()).to.equal('leader');
      expect(b.events).to.deep.equal(["elected 2 from ''"]);
      expect(b.logger.text()).to.include('became leader (fencing 2) (released)');
    });

    it('lets exactly one of several contenders take an expired lease', async () => {
      const clocks = [0, 1, 2, 3, 4].map(() => new FakeClock());
      const ds = [];
      // opened one after the other: two first opens of a new SQLite file race in the migrator
      for (const [i, c] of clocks.entries()) ds.push(await daemon(`d${i}`, c));
      await ds[0]!.elector.tick();
      for (const d of ds.slice(1)) await d.elector.tick();
      for (const c of clocks) await c.advance(LEASE);
      // d0 is dead; d1..d4 all see the lease expired and race for it
      const roles = await Promise.all(ds.slice(1).map((d) => d.elector.tick()));
      expect(roles.filter((r) => r === 'leader')).to.have.length(1);
      const winner = ds[1 + roles.indexOf('leader')]!;
      expect(await winner.leases.get(LEADER_LEASE)).to.deep.include({ holder: winner.elector.id, fencing: 2 });
      // and the losers stay followers on their next ticks
      for (const [i, d] of ds.slice(1).entries()) expect(await d.elector.tick(), `d${i + 1}`).to.equal(d === winner ? 'leader' : 'follower');
    });

    it('lets exactly one of several daemons create the first lease', async () => {
      const ds = [];
      for (const i of [0, 1, 2, 3]) ds.push(await daemon(`n${i}`, new FakeClock()));
      const roles = await Promise.all(ds.map((d) => d.elector.tick()));
      expect(roles.filter((r) => r === 'leader')).to.have.length(1);
      expect((await ds[0]!.leases.list()).map((l) => [l.name, l.fencing])).to.deep.equal([[LEADER_LEASE, 1]]);
    });

    it('keeps a leader through a failed renewal and reports it, until the deadline', async () => {
      const ca = new FakeClock();
      const a = await daemon('a', ca);
      await a.elector.tick();
      const renew = a.leases.renew.bind(a.leases);
      a.leases.renew = async () => {
        throw new Error('Connection lost: The server closed the connection.');
      };
      await ca.advance(BEAT);
      expect(await a.elector.tick()).to.equal('leader');
      expect(a.elector.status().error).to.equal('Connection lost: The server closed the connection.');
      expect(a.logger.text()).to.include('leader lease: Connection lost: The server closed the connection. (still leader until the renew deadline)');
      a.leases.renew = renew;
      await ca.advance(BEAT);
      expect(await a.elector.tick()).to.equal('leader');
      expect(a.elector.status().error).to.equal(undefined);
      expect(a.events).to.deep.equal(["elected 1 from ''"]);
    });

    it('hands over within the lease when the leader is killed (real timers, 300 ms lease)', async () => {
      const a = await daemon('a', systemClock, { leaseMs: 300, heartbeatMs: 50 });
      const b = await daemon('b', systemClock, { leaseMs: 300, heartbeatMs: 50 });
      a.elector.start();
      await until(() => a.elector.isLeader(), 3000, 'a to lead');
      b.elector.start();
      // b follows for a while: a renews
      await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 100));
      expect(b.elector.isLeader()).to.equal(false);
      const killedAt = Date.now();
      await a.elector.stop({ release: false }); // a kill: no release, no more renewals
      const handover = await until(() => b.elector.isLeader(), 3000, 'b to take over');
      await b.elector.stop();
      expect(Date.now() - killedAt).to.be.at.least(250);
      expect(handover, 'handover time').to.be.below(300 + 3 * 50 + 400);
      expect(b.events[0]).to.equal("elected 2 from 'daemon@a:1:000000'");
    });
  });
}
