import { expect } from 'chai';
import nock from 'nock';
import { collect } from '../../../../lib/openstack/paginate.js';
import { EventCursor, followEvents, getEvent, latestEventId, listEvents, type StackEvent } from '../../../../lib/openstack/orchestration/events.js';
import { HEAT, PROJECT_ID, expectAllCalled, mockAuth, testSite, useNock } from '../../../support/fake-cloud.js';

const base = `/v1/${PROJECT_ID}`;
const SID = '3095aefc-09fb-4bc7-b1f0-f21a304e864c';
const ident = { stack_name: 'web', id: SID };
const events = `${base}/stacks/web/${SID}/events`;

// Shape: api-ref orchestration v1 "List stack events" (events.py summary_keys + links).
function event(id: string, status = 'CREATE_IN_PROGRESS', resource = 'server') {
  const stackUrl = `${HEAT}${base}/stacks/web/${SID}`;
  return {
    id,
    event_time: '2026-11-27T03:00:01Z',
    resource_name: resource,
    logical_resource_id: resource,
    physical_resource_id: status === 'CREATE_COMPLETE' ? 'srv-1' : null,
    resource_status: status,
    resource_status_reason: 'state changed',
    links: [
      { href: `${stackUrl}/resources/${resource}/events/${id}`, rel: 'self' },
      { href: `${stackUrl}/resources/${resource}`, rel: 'resource' },
      { href: stackUrl, rel: 'stack' },
    ],
  };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('orchestration/events', () => {
  useNock();

  it('lists events oldest first with filters and nested_depth, across marker pages', async () => {
    const { site } = testSite();
    mockAuth();
    const q = { sort_dir: 'asc', nested_depth: '2', resource_status: ['CREATE_FAILED', 'UPDATE_FAILED'], resource_type: 'OS::Nova::Server', limit: '2' };
    nock(HEAT)
      .get(events)
      .query(q)
      .reply(200, { events: [event('e1', 'CREATE_FAILED'), event('e2', 'UPDATE_FAILED')] })
      .get(events)
      .query({ ...q, marker: 'e2' })
      .reply(200, { events: [event('e3', 'CREATE_FAILED')] });
    const all = await collect(
      listEvents(site.orchestration, ident, { sort_dir: 'asc', nested_depth: 2, resource_status: ['CREATE_FAILED', 'UPDATE_FAILED'], resource_type: 'OS::Nova::Server', limit: 2 }),
    );
    expect(all.map((e) => e.id)).to.deep.equal(['e1', 'e2', 'e3']);
    expect(all[0]!.links.find((l) => l.rel === 'stack')?.href).to.match(/\/stacks\/web\//);
    expectAllCalled();
  });

  it('shows one event in detail under its resource', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(`${base}/stacks/web/${SID}/resources/server/events/e1`)
      .reply(200, { event: { ...event('e1'), resource_type: 'OS::Nova::Server', resource_properties: { flavor: 'm1.small' } } });
    const e = await getEvent(site.orchestration, ident, 'server', 'e1');
    expect(e.resource_type).to.equal('OS::Nova::Server');
    expect(e.resource_properties).to.deep.equal({ flavor: 'm1.small' });
  });

  it('finds the newest event ID with sort_dir=desc and limit=1', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(events)
      .query({ sort_dir: 'desc', limit: '1' })
      .reply(200, { events: [event('e9', 'CREATE_COMPLETE')] })
      .get(events)
      .query({ sort_dir: 'desc', limit: '1', nested_depth: '1' })
      .reply(200, { events: [] });
    expect(await latestEventId(site.orchestration, ident)).to.equal('e9');
    expect(await latestEventId(site.orchestration, ident, { nested_depth: 1 })).to.equal(undefined);
    expectAllCalled();
  });

  it('polls incrementally from the last event returned; an empty poll keeps the position', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(events)
      .query({ sort_dir: 'asc', marker: 'e0', limit: '100' })
      .reply(200, { events: [event('e1'), event('e2')] })
      .get(events)
      .query({ sort_dir: 'asc', marker: 'e2', limit: '100' })
      .reply(200, { events: [] })
      .get(events)
      .query({ sort_dir: 'asc', marker: 'e2', limit: '100' })
      .reply(200, { events: [event('e3', 'CREATE_COMPLETE')] });
    const cursor = new EventCursor(site.orchestration, ident, { since: 'e0' });
    expect((await cursor.poll()).map((e) => e.id)).to.deep.equal(['e1', 'e2']);
    expect(await cursor.poll()).to.deep.equal([]);
    expect((await cursor.poll()).map((e) => e.id)).to.deep.equal(['e3']);
    expect(cursor.position).to.equal('e3');
    expectAllCalled();
  });

  it('skips events it already returned when Heat restarts the listing (marker purged)', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(events)
      .query({ sort_dir: 'asc', limit: '100' })
      .reply(200, { events: [event('e1'), event('e2')] })
      // Heat no longer knows e2 (max_events_per_stack purge): it lists from the start again.
      .get(events)
      .query({ sort_dir: 'asc', marker: 'e2', limit: '100' })
      .reply(200, { events: [event('e2'), event('e3')] });
    const cursor = new EventCursor(site.orchestration, ident);
    expect((await cursor.poll()).map((e) => e.id)).to.deep.equal(['e1', 'e2']);
    expect((await cursor.poll()).map((e) => e.id)).to.deep.equal(['e3']);
    expectAllCalled();
  });

  it('follows events across polls, yielding each once, until told to stop', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT)
      .get(events)
      .query({ sort_dir: 'asc', nested_depth: '1', limit: '100' })
      .reply(200, { events: [event('e1')] })
      .get(events)
      .query({ sort_dir: 'asc', nested_depth: '1', marker: 'e1', limit: '100' })
      .reply(200, { events: [] })
      .get(events)
      .query({ sort_dir: 'asc', nested_depth: '1', marker: 'e1', limit: '100' })
      .reply(200, { events: [event('e2', 'CREATE_COMPLETE', 'stack')] })
      // The poll after `until` said done: nothing new.
      .get(events)
      .query({ sort_dir: 'asc', nested_depth: '1', marker: 'e2', limit: '100' })
      .reply(200, { events: [] });
    let done = false;
    const seen: StackEvent[] = [];
    for await (const e of followEvents(site.orchestration, ident, { nested_depth: 1, intervalMs: 1, until: () => done })) {
      seen.push(e);
      if (e.resource_status === 'CREATE_COMPLETE') done = true;
    }
    expect(seen.map((e) => e.id)).to.deep.equal(['e1', 'e2']);
    expectAllCalled();
  });

  it('yields the final event written just before the status that ended the follow (until asked before the poll)', async () => {
    const { site } = testSite();
    mockAuth();
    // Heat (engine/stack.py _persist_state) adds the stack's event, then stores its status: a
    // follower whose `until` reads COMPLETE must still poll once more to see that event.
    let stackDone = false;
    nock(HEAT)
      .get(events)
      .query({ sort_dir: 'asc', limit: '100' })
      .reply(200, () => ({ events: [event('e1')] }))
      .get(events)
      .query({ sort_dir: 'asc', marker: 'e1', limit: '100' })
      .reply(200, () => ({ events: stackDone ? [event('e2', 'UPDATE_COMPLETE', 'web')] : [] }));
    let asked = 0;
    const until = () => {
      asked++;
      // The stack finishes (event e2 written, then the status) between the first poll and the second question.
      if (asked === 2) stackDone = true;
      return stackDone;
    };
    const seen = await collect(followEvents(site.orchestration, ident, { intervalMs: 1, until }));
    expect(seen.map((e) => `${e.id}:${e.resource_status}`)).to.deep.equal(['e1:CREATE_IN_PROGRESS', 'e2:UPDATE_COMPLETE']);
    expect(asked).to.equal(2);
    expectAllCalled();
  });

  it('stops following when the caller aborts, with the abort reason', async () => {
    const { site } = testSite();
    mockAuth();
    nock(HEAT).get(events).query(true).times(50).reply(200, { events: [] });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('operator stopped')), 30);
    const err = await caught(
      (async () => {
        for await (const _e of followEvents(site.orchestration, ident, { intervalMs: 5, signal: ac.signal })) {
          // no events
        }
      })(),
    );
    expect(String(err)).to.match(/operator stopped/);
  });
});
