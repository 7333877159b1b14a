// Bringing a generated stack up at a site, and checking what it made: create-or-adopt by the
// stack's deterministic name and Ferry's tags, follow its events, watch the resources under it
// while Heat works, delete it, and verify that its servers run with their volumes attached.
//
// Decisions:
//  - Adoption by name and tags. A generated stack's name is deterministic (ferry-<plan>-<mode>)
//    and its tags carry the plan and the run. A stack of that name with the caller's tags is
//    the caller's own (a create whose answer was lost, a process that died): it is adopted,
//    waited for while in progress, never created twice. A stack of that name without them
//    belongs to someone else: a StackConflictError says whose, nothing is touched.
//  - Fail fast on a stuck attachment. Heat's OS::Cinder::VolumeAttachment polls the volume and
//    keeps waiting while it is `available` (heat/engine/clients/os/cinder.py
//    check_attach_volume_complete), which is also where a volume lands when Nova's asynchronous
//    attach fails: the stack then waits until its timeout (an hour by default). So while a
//    stack is in progress, the attachments in progress under it are looked at with the
//    volume and server they join: a volume `available` again after it was reserved or
//    attaching, still `available` a grace period after Nova accepted the attach (the attachment
//    resource has a physical ID), in an error state or gone, or a server in ERROR, ends the
//    wait at once with the cause, the states and Nova's request ID of the attach.
//  - Listings, not a GET per item: one resource listing (nested_depth 1, filtered by type and
//    status: Heat matches `type` as a substring) per check, one stack GET and one event page
//    per poll. Volumes and servers are read one by one only while few attachments are in
//    progress; above that, one project listing each.
//  - Verification reads the stack's resources once (nested_depth 1) and the project's servers
//    (by the run's tag) and volumes in one listing each.
//  - The topology (which volume attaches to which server) comes from the generated template
//    itself (stackTopology), so the checks know what to expect without asking Heat for
//    resource properties (with_detail resolves every attribute, a call per resource).
import { FerryError, ResourceFailureError, isConflict, isNotFound } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { getVolume, listVolumes, setVolumeMetadata, type Volume } from '../openstack/blockstorage/volumes.js';
import { getServer, listServers, type Server } from '../openstack/compute/servers.js';
import { EventCursor, type StackEvent } from '../openstack/orchestration/events.js';
import { listResources, type StackResource } from '../openstack/orchestration/resources.js';
import { createStack, deleteStack, findStack, getStack, resolveStack, updateStack, waitForStackDeleted, type Stack, type StackIdentity, type StackSummary } from '../openstack/orchestration/stacks.js';
import { collect } from '../openstack/paginate.js';
import type { Site } from '../openstack/site.js';
import { sleep as abortableSleep } from '../openstack/wait.js';

// ---- types ----------------------------------------------------------------

/** What deploying needs of a generated stack (lib/heat/generate.ts GeneratedStack fits). */
export interface DeployableStack {
  stackName: string;
  stackTags: string[];
  template: Record<string, unknown>;
  environment: Record<string, unknown>;
  files: Record<string, string>;
  parameters: Record<string, unknown>;
}

/** Where a stack stands, from its status. */
export type StackPhase = 'absent' | 'in-progress' | 'complete' | 'failed' | 'deleting';

export interface ObservedStack {
  phase: StackPhase;
  summary?: StackSummary;
  /** The stack carries every owner tag (the plan's and the run's): it is the caller's own. */
  ours: boolean;
}

/** What a generated template recovers, by top-level resource name. */
export interface StackTopology {
  servers: string[];
  volumes: string[];
  /** Data volumes and the servers they attach to. */
  attachments: { attachment: string; volume: string; server: string }[];
  /** Root volumes and the servers that boot from them. */
  bootVolumes: { server: string; volume: string }[];
}

export interface WatchOptions {
  signal?: AbortSignal;
  logger?: Logger;
  /** Each new event of the stack (top level), oldest first. */
  onEvent?: (e: StackEvent) => void;
  /**
   * Pause between polls (default 2 s: the benchmark found a 5 s poll cost 2-3 s of RTO on
   * average in noticing the stack complete; a poll is one stack GET, one event page and one
   * in-progress attachment listing).
   */
  pollIntervalMs?: number;
  /** Give up after this long (default: the stack's timeout plus two minutes, else 1 hour). */
  timeoutMs?: number;
  /** How long a volume may stay `available` after Nova accepted its attach (default 30 s). */
  attachGraceMs?: number;
  /** A tag every server of the stack carries (ferry:run=...): big stacks list servers by it. */
  serverTag?: string;
  /** The template's topology; default: stackTopology(template) where a template is known. */
  topology?: StackTopology;
  /** Clock in ms (tests). */
  now?: () => number;
  /** Pause (tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface DeployOptions extends WatchOptions {
  /** Heat's stack timeout (timeout_mins): Heat fails the stack after it. */
  timeoutMins: number;
  /** Tags that make a stack the caller's own (default: every stack tag). */
  ownerTags?: string[];
  /**
   * A stack of ours that failed, or is stuck in progress: delete it and create it again (a
   * retry). A stack ID replaces only that stack (a retry that already replaced it, then died,
   * does not replace the new one). Default false: report it, or wait for it.
   */
  replace?: boolean | string;
}

export interface DeployResult {
  identity: StackIdentity;
  stack: Stack;
  /** created: a new stack; adopted: ours, complete already; waited: ours, was in progress; recreated: ours, replaced. */
  action: 'created' | 'adopted' | 'waited' | 'recreated' | 'updated';
  ms: number;
}

export interface StuckAttachment {
  /** Top-level attachment resource. */
  attachment: string;
  volumeId?: string;
  serverId?: string;
  reason: string;
  /** Nova's request ID of the attach, and what Nova recorded, when it could be read. */
  novaRequestId?: string;
  novaMessage?: string;
}

export interface StackVerification {
  ok: boolean;
  problems: string[];
  servers: { resource: string; id: string; name: string; status: string }[];
  volumes: { resource: string; id: string; status: string; attachedTo: string[]; metadata: Record<string, string> }[];
}

// ---- errors ---------------------------------------------------------------

/** The stack failed (or was rolled back): Heat's reason and every failed resource's. */
export class StackFailedError extends FerryError {
  override readonly name: string = 'StackFailedError';
  constructor(
    readonly stackName: string,
    readonly status: string,
    readonly reasons: string[],
  ) {
    super(`stack ${stackName} is ${status}: ${reasons.length > 0 ? reasons.join('; ') : 'Heat gave no reason'}`);
  }
}

/** Attachments under an in-progress stack cannot finish; Heat would wait until the stack times out. */
export class StackStuckError extends FerryError {
  override readonly name: string = 'StackStuckError';
  constructor(
    readonly stackName: string,
    readonly stuck: StuckAttachment[],
    readonly timeoutMins: number | null,
  ) {
    const items = stuck.map((s) => `${s.attachment}: ${s.reason}${s.novaRequestId ? ` (Nova attach request ${s.novaRequestId}${s.novaMessage ? `: ${s.novaMessage}` : ''})` : ''}`);
    const wait = timeoutMins ? `Heat would wait until the stack times out (${timeoutMins} min)` : 'Heat would wait until the stack times out';
    super(
      `stack ${stackName}: ${stuck.length} volume attachment(s) cannot finish, ${wait}: ${items.join('; ')}. ` +
        'Fix: look the request up in nova-compute\'s log at the site; running the workflow again replaces the stack',
    );
  }
}

/** A stack of the wanted name exists and is not the caller's. */
export class StackConflictError extends FerryError {
  override readonly name: string = 'StackConflictError';
}

/** The watch ran out of time before Heat finished. */
export class StackTimeoutError extends FerryError {
  override readonly name: string = 'StackTimeoutError';
}

// ---- pure helpers ------------------------------------------------------------

/** A stack status as a phase: CREATE_COMPLETE → complete, ROLLBACK_COMPLETE → failed, ... */
export function stackPhase(status: string | undefined): StackPhase {
  if (status === undefined || status === 'DELETE_COMPLETE') return 'absent';
  if (status === 'DELETE_IN_PROGRESS') return 'deleting';
  if (status.endsWith('_FAILED') || status === 'ROLLBACK_COMPLETE' || status === 'ROLLBACK_IN_PROGRESS') return 'failed';
  if (status.endsWith('_IN_PROGRESS') || status === 'INIT_COMPLETE') return 'in-progress';
  return 'complete';
}

/** True when the stack carries every owner tag. */
export function hasTags(summary: Pick<StackSummary, 'tags'>, tags: readonly string[]): boolean {
  const have = new Set(summary.tags ?? []);
  return tags.every((t) => have.has(t));
}

function refsOf(v: unknown): string | undefined {
  // {get_attr: [res, attr]} or {get_resource: res}
  if (!v || typeof v !== 'object') return undefined;
  const o = v as { get_attr?: unknown; get_resource?: unknown };
  if (Array.isArray(o.get_attr) && typeof o.get_attr[0] === 'string') return o.get_attr[0];
  if (typeof o.get_resource === 'string') return o.get_resource;
  return undefined;
}

const isType = (type: unknown, ...names: string[]) => typeof type === 'string' && names.includes(type);

/**
 * Which servers, volumes and attachments a template makes, read from its resources: DR::Server
 * (or OS::Nova::Server) with boot_volume, DR::Volume (OS::Cinder::Volume), and
 * DR::VolumeAttachment (OS::Cinder::VolumeAttachment) with instance_uuid and volume_id.
 */
export function stackTopology(template: Record<string, unknown>): StackTopology {
  const resources = (template.resources ?? {}) as Record<string, { type?: unknown; properties?: Record<string, unknown> }>;
  const t: StackTopology = { servers: [], volumes: [], attachments: [], bootVolumes: [] };
  for (const name of Object.keys(resources).sort()) {
    const r = resources[name]!;
    const p = r.properties ?? {};
    if (isType(r.type, 'DR::Server', 'OS::Nova::Server')) {
      t.servers.push(name);
      const boot = refsOf(p.boot_volume);
      if (boot) t.bootVolumes.push({ server: name, volume: boot });
    } else if (isType(r.type, 'DR::Volume', 'OS::Cinder::Volume')) {
      t.volumes.push(name);
    } else if (isType(r.type, 'DR::VolumeAttachment', 'OS::Cinder::VolumeAttachment')) {
      const server = refsOf(p.instance_uuid);
      const volume = refsOf(p.volume_id);
      if (server && volume) t.attachments.push({ attachment: name, volume, server });
    }
  }
  return t;
}

/** What a check saw of one attachment in progress. */
export interface AttachmentObservation {
  attachment: string;
  /** Nova accepted the attach (Heat set the resource's physical ID from Nova's answer). */
  accepted: boolean;
  /** How long the watch has seen it in progress. */
  inProgressMs: number;
  volume?: { id: string; status: string; gone?: boolean };
  server?: { id: string; status: string; fault?: string; gone?: boolean };
  /** The volume was seen reserved, attaching or in-use earlier in this watch. */
  volumeWasBusy: boolean;
}

export const VOLUME_BUSY_STATES = ['reserved', 'attaching', 'in-use'];

/**
 * Why an attachment in progress cannot finish, or undefined while it may still: the rule of
 * the watch, as a table-tested pure function.
 */
export function stuckReason(o: AttachmentObservation, graceMs: number): string | undefined {
  const v = o.volume;
  const s = o.server;
  const vol = v ? `volume ${v.id}` : 'the volume';
  const srv = s ? `server ${s.id}` : 'the server';
  const serverState = s ? (s.gone ? `${srv} is gone` : `${srv} is ${s.status}${s.fault ? ` (${s.fault})` : ''}`) : undefined;
  if (s?.gone || s?.status === 'ERROR') return serverState!;
  if (v?.gone) return `${vol} is gone${serverState ? `; ${serverState}` : ''}`;
  if (v && v.status.startsWith('error')) return `${vol} is ${v.status}${serverState ? `; ${serverState}` : ''}`;
  if (v?.status === 'available') {
    if (o.volumeWasBusy) return `${vol} is available again after it was reserved for the attach: Nova's attach failed${serverState ? `; ${serverState}` : ''}`;
    if (o.accepted && o.inProgressMs >= graceMs) return `${vol} is still available ${Math.round(o.inProgressMs / 1000)} s after Nova accepted the attach${serverState ? `; ${serverState}` : ''}`;
  }
  return undefined;
}

// ---- observing ------------------------------------------------------------------

/** The stack of that name (top level), its phase, and whether it carries the owner tags. */
export async function observeStack(site: Site, name: string, ownerTags: readonly string[], signal?: AbortSignal): Promise<ObservedStack> {
  const summary = await findStack(site.orchestration, name, {}, signal);
  if (!summary) return { phase: 'absent', ours: false };
  return { phase: stackPhase(summary.stack_status), summary, ours: hasTags(summary, ownerTags) };
}

/** Every failed resource under a stack (two levels of nesting), as `name (type): reason`. */
export async function failedResources(site: Site, stack: StackIdentity, signal?: AbortSignal): Promise<string[]> {
  try {
    const failed = await listResources(site.orchestration, stack, { nested_depth: 2, status: 'FAILED' }, signal);
    return failed.map((r) => `${r.parent_resource ? `${r.parent_resource}/` : ''}${r.resource_name} (${r.resource_type}) ${r.resource_status}: ${r.resource_status_reason || 'no reason given'}`);
  } catch (err) {
    return [`(the failed resources could not be listed: ${(err as Error).message})`];
  }
}

/** The stack's own reason and every failed resource's. */
async function failure(site: Site, id: StackIdentity, stack: Pick<StackSummary, 'stack_status' | 'stack_status_reason'>, signal?: AbortSignal): Promise<StackFailedError> {
  const reasons = [...(stack.stack_status_reason ? [stack.stack_status_reason] : []), ...(await failedResources(site, id, signal))];
  return new StackFailedError(id.stack_name, stack.stack_status, reasons);
}

// ---- watching ---------------------------------------------------------------------

/** Nova's newest attach_volume action on a server: its request ID and message (best effort). */
async function novaAttachAction(site: Site, serverId: string, signal?: AbortSignal): Promise<{ requestId: string; message?: string } | undefined> {
  try {
    const res = await site.compute.get<{ instanceActions: { action: string; request_id: string; message?: string | null; start_time: string }[] }>(`servers/${encodeURIComponent(serverId)}/os-instance-actions`, { signal });
    const attach = res.data.instanceActions.filter((a) => a.action === 'attach_volume').sort((a, b) => (a.start_time < b.start_time ? 1 : -1))[0];
    if (!attach) return undefined;
    let message = attach.message ?? undefined;
    try {
      const one = await site.compute.get<{ instanceAction: { events?: { event: string; result: string | null }[] } }>(
        `servers/${encodeURIComponent(serverId)}/os-instance-actions/${encodeURIComponent(attach.request_id)}`,
        { signal },
      );
      const failed = (one.data.instanceAction.events ?? []).filter((e) => e.result && e.result !== 'Success').map((e) => `${e.event}: ${e.result}`);
      if (failed.length > 0) message = [message, ...failed].filter(Boolean).join(', ');
    } catch {
      // the action's events are optional detail
    }
    return { requestId: attach.request_id, ...(message ? { message } : {}) };
  } catch {
    return undefined;
  }
}

/** Physical IDs of the concrete server and volume under each top-level resource. */
class PhysicalIds {
  private readonly byTop = new Map<string, string>();
  constructor(
    private readonly site: Site,
    private readonly id: StackIdentity,
  ) {}

  static record(map: Map<string, string>, resources: StackResource[]): void {
    for (const r of resources) {
      if (!r.physical_resource_id) continue;
      if (r.resource_type !== 'OS::Nova::Server' && r.resource_type !== 'OS::Cinder::Volume') continue;
      map.set(r.parent_resource ?? r.resource_name, r.physical_resource_id);
    }
  }

  async get(names: string[], signal?: AbortSignal): Promise<Map<string, string>> {
    if (names.some((n) => !this.byTop.has(n))) {
      PhysicalIds.record(this.byTop, await listResources(this.site.orchestration, this.id, { nested_depth: 1 }, signal));
    }
    return this.byTop;
  }
}

/** Items read one by one while few, else from one listing. */
const FEW = 20;

async function volumesById(site: Site, ids: string[], signal?: AbortSignal): Promise<Map<string, Volume | undefined>> {
  const out = new Map<string, Volume | undefined>();
  if (ids.length <= FEW) {
    for (const id of ids) {
      try {
        out.set(id, await getVolume(site.blockStorage, id, signal));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        out.set(id, undefined);
      }
    }
    return out;
  }
  const all = new Map((await collect(listVolumes(site.blockStorage, {}, { signal }))).map((v) => [v.id, v]));
  for (const id of ids) out.set(id, all.get(id));
  return out;
}

async function serversById(site: Site, ids: string[], tag: string | undefined, signal?: AbortSignal): Promise<Map<string, Server | undefined>> {
  const out = new Map<string, Server | undefined>();
  if (ids.length <= FEW) {
    for (const id of ids) {
      try {
        out.set(id, await getServer(site.compute, id, signal));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        out.set(id, undefined);
      }
    }
    return out;
  }
  const all = new Map((await collect(listServers(site.compute, tag ? { tags: [tag] } : {}, { signal }))).map((s) => [s.id, s]));
  for (const id of ids) out.set(id, all.get(id));
  return out;
}

/** Follows an in-progress stack's attachments: which are stuck, with their causes. */
class AttachmentWatch {
  private readonly firstSeen = new Map<string, number>();
  private readonly busy = new Set<string>();
  private readonly ids: PhysicalIds;
  private readonly links: Map<string, { volume: string; server: string }>;

  constructor(
    private readonly site: Site,
    private readonly id: StackIdentity,
    topology: StackTopology | undefined,
    private readonly opts: { graceMs: number; serverTag?: string; now: () => number; signal?: AbortSignal },
  ) {
    this.ids = new PhysicalIds(site, id);
    this.links = new Map((topology?.attachments ?? []).map((a) => [a.attachment, { volume: a.volume, server: a.server }]));
  }

  async check(): Promise<StuckAttachment[]> {
    if (this.links.size === 0) return [];
    const { signal } = this.opts;
    const inProgress = await listResources(this.site.orchestration, this.id, { nested_depth: 1, type: 'OS::Cinder::VolumeAttachment', status: 'IN_PROGRESS' }, signal);
    const now = this.opts.now();
    const current = inProgress.map((r) => ({ top: r.parent_resource ?? r.resource_name, accepted: r.physical_resource_id !== '' && r.physical_resource_id !== null }));
    for (const c of current) if (!this.firstSeen.has(c.top)) this.firstSeen.set(c.top, now);
    const linked = current.filter((c) => this.links.has(c.top));
    if (linked.length === 0) return [];
    const names = linked.flatMap((c) => [this.links.get(c.top)!.volume, this.links.get(c.top)!.server]);
    const phys = await this.ids.get(names, signal);
    const volumeIds = [...new Set(linked.map((c) => phys.get(this.links.get(c.top)!.volume)).filter((x): x is string => !!x))];
    const serverIds = [...new Set(linked.map((c) => phys.get(this.links.get(c.top)!.server)).filter((x): x is string => !!x))];
    const [volumes, servers] = await Promise.all([volumesById(this.site, volumeIds, signal), serversById(this.site, serverIds, this.opts.serverTag, signal)]);
    const stuck: StuckAttachment[] = [];
    for (const c of linked) {
      const link = this.links.get(c.top)!;
      const volumeId = phys.get(link.volume);
      const serverId = phys.get(link.server);
      const v = volumeId ? volumes.get(volumeId) : undefined;
      const s = serverId ? servers.get(serverId) : undefined;
      const wasBusy = volumeId !== undefined && this.busy.has(volumeId);
      if (volumeId && v && VOLUME_BUSY_STATES.includes(v.status)) this.busy.add(volumeId);
      const o: AttachmentObservation = {
        attachment: c.top,
        accepted: c.accepted,
        inProgressMs: now - this.firstSeen.get(c.top)!,
        volumeWasBusy: wasBusy,
        ...(volumeId ? { volume: v ? { id: volumeId, status: v.status } : { id: volumeId, status: 'gone', gone: true } } : {}),
        ...(serverId ? { server: s ? { id: serverId, status: s.status, ...(s.fault?.message ? { fault: s.fault.message } : {}) } : { id: serverId, status: 'gone', gone: true } } : {}),
      };
      const reason = stuckReason(o, this.opts.graceMs);
      if (!reason) continue;
      const item: StuckAttachment = { attachment: c.top, reason, ...(volumeId ? { volumeId } : {}), ...(serverId ? { serverId } : {}) };
      if (serverId && s) {
        const action = await novaAttachAction(this.site, serverId, signal);
        if (action) {
          item.novaRequestId = action.requestId;
          if (action.message) item.novaMessage = action.message;
        }
      }
      stuck.push(item);
    }
    return stuck;
  }
}

/**
 * Waits until the stack reaches `target` (CREATE_COMPLETE, UPDATE_COMPLETE), reporting its
 * events and watching its attachments. Throws StackFailedError (with every failed resource's
 * reason), StackStuckError (an attachment that cannot finish) or StackTimeoutError.
 */
export async function watchStack(site: Site, ref: StackIdentity, target: string, opts: WatchOptions = {}): Promise<Stack> {
  const sc = site.orchestration;
  const now = opts.now ?? Date.now;
  const pause = opts.sleep ?? abortableSleep;
  const log = opts.logger ?? silentLogger;
  const interval = opts.pollIntervalMs ?? 2_000;
  const started = now();
  let timeoutMins: number | null | undefined;
  let deadline = opts.timeoutMs !== undefined ? started + opts.timeoutMs : undefined;
  const cursor = opts.onEvent ? new EventCursor(sc, ref) : undefined;
  const watch = new AttachmentWatch(site, ref, opts.topology, { graceMs: opts.attachGraceMs ?? 30_000, serverTag: opts.serverTag, now, signal: opts.signal });
  for (;;) {
    opts.signal?.throwIfAborted();
    const stack = await getStack(sc, ref, { resolveOutputs: false, signal: opts.signal });
    // Events after the status read: Heat writes a stack's last event before its new status.
    if (cursor) for (const e of await cursor.poll(opts.signal)) opts.onEvent!(e);
    timeoutMins = stack.timeout_mins;
    deadline ??= started + ((stack.timeout_mins ?? 60) + 2) * 60_000;
    if (stack.stack_status === target) return getStack(sc, ref, { signal: opts.signal });
    const phase = stackPhase(stack.stack_status);
    if (phase === 'failed' || phase === 'absent' || (phase === 'complete' && stack.stack_status !== target)) {
      throw await failure(site, ref, stack, opts.signal);
    }
    if (phase === 'in-progress') {
      const stuck = await watch.check();
      if (stuck.length > 0) {
        log.error(`stack ${ref.stack_name}: ${stuck.length} attachment(s) stuck`, { stuck });
        throw new StackStuckError(ref.stack_name, stuck, timeoutMins ?? null);
      }
    }
    if (now() >= deadline) {
      throw new StackTimeoutError(`stack ${ref.stack_name} did not reach ${target} within ${Math.round((deadline - started) / 1000)} s (last status ${stack.stack_status}: ${stack.stack_status_reason || 'no reason'}); Heat fails it at its own timeout (${timeoutMins ?? '?'} min)`);
    }
    await pause(interval, opts.signal);
  }
}

// ---- acting ----------------------------------------------------------------------

/** Deletes a stack and waits until it is gone; false when there was none. Asks twice when Heat's first delete fails. */
export async function deleteStackAndWait(site: Site, ref: StackIdentity | string, opts: { signal?: AbortSignal; timeoutMs?: number; pollIntervalMs?: number } = {}): Promise<boolean> {
  const sc = site.orchestration;
  let id: StackIdentity;
  try {
    id = await resolveStack(sc, ref, opts.signal);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  const wait = { signal: opts.signal, timeoutMs: opts.timeoutMs ?? 1_800_000, intervalMs: opts.pollIntervalMs ?? 2_000, maxIntervalMs: opts.pollIntervalMs ?? 10_000 };
  for (let attempt = 1; ; attempt++) {
    const existed = await deleteStack(sc, id, { signal: opts.signal });
    if (!existed) return attempt > 1;
    try {
      await waitForStackDeleted(sc, id, wait);
      return true;
    } catch (err) {
      if (!(err instanceof ResourceFailureError && err.status === 'DELETE_FAILED')) throw err;
      // Heat often succeeds on a second delete (a dependency that went away meanwhile).
      if (attempt >= 2) throw await failure(site, id, { stack_status: 'DELETE_FAILED', stack_status_reason: err.message }, opts.signal);
    }
  }
}

function identityOf(s: StackSummary): StackIdentity {
  return { stack_name: s.stack_name, id: s.id };
}

function conflict(name: string, s: StackSummary, ownerTags: readonly string[]): StackConflictError {
  return new StackConflictError(
    `a stack named ${name} exists (${s.id}, ${s.stack_status}) with tags ${JSON.stringify(s.tags ?? [])}, without ${ownerTags.filter((t) => !(s.tags ?? []).includes(t)).join(', ')}: ` +
      `it is not this run's. Fix: if it is a leftover of an earlier run of the plan, delete it (openstack stack delete ${s.id}), then run again`,
  );
}

/**
 * Creates the stack, or adopts the caller's own (by name and owner tags), and waits until it is
 * CREATE_COMPLETE while following its events and watching its attachments. A stack of the name
 * that is not the caller's is a StackConflictError; the caller's failed stack is a
 * StackFailedError, or is replaced with `replace`.
 */
export async function deployStack(site: Site, g: DeployableStack, opts: DeployOptions): Promise<DeployResult> {
  const t0 = Date.now();
  const sc = site.orchestration;
  const owner = opts.ownerTags ?? g.stackTags;
  const log = opts.logger ?? silentLogger;
  const watchOpts: WatchOptions = { ...opts, topology: opts.topology ?? stackTopology(g.template) };
  let action: DeployResult['action'] | undefined;
  for (let round = 1; round <= 4; round++) {
    const seen = await observeStack(site, g.stackName, owner, opts.signal);
    if (seen.summary && !seen.ours && seen.phase !== 'deleting') throw conflict(g.stackName, seen.summary, owner);
    if (seen.phase === 'deleting') {
      log.info(`stack ${g.stackName} is being deleted; waiting before creating it`);
      await waitForStackDeleted(sc, identityOf(seen.summary!), { signal: opts.signal, timeoutMs: 1_800_000 });
      continue;
    }
    if (seen.phase === 'complete') {
      const stack = await getStack(sc, identityOf(seen.summary!), { signal: opts.signal });
      return { identity: identityOf(seen.summary!), stack, action: action ?? 'adopted', ms: Date.now() - t0 };
    }
    const replaceIt = opts.replace === true || (typeof opts.replace === 'string' && opts.replace === seen.summary?.id);
    if (seen.phase === 'in-progress' && !replaceIt) {
      const id = identityOf(seen.summary!);
      log.info(`stack ${g.stackName} (${id.id}) is ${seen.summary!.stack_status}: adopting it`);
      const stack = await watchStack(site, id, 'CREATE_COMPLETE', watchOpts);
      return { identity: id, stack, action: action ?? 'waited', ms: Date.now() - t0 };
    }
    if (seen.phase === 'failed' || seen.phase === 'in-progress') {
      const id = identityOf(seen.summary!);
      if (!replaceIt) throw await failure(site, id, seen.summary!, opts.signal);
      log.warn(`stack ${g.stackName} (${id.id}) is ${seen.summary!.stack_status}: deleting it to create it again`);
      await deleteStackAndWait(site, id, { signal: opts.signal, ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}) });
      action = 'recreated';
      opts = { ...opts, replace: false };
      continue;
    }
    // absent: create
    let created: { id: string };
    try {
      created = await createStack(
        sc,
        {
          stack_name: g.stackName,
          template: g.template,
          environment: g.environment,
          files: g.files,
          parameters: g.parameters,
          tags: g.stackTags,
          timeout_mins: opts.timeoutMins,
          disable_rollback: true,
        },
        opts.signal,
      );
    } catch (err) {
      // A create whose answer was lost, or a concurrent one: look again.
      if (isConflict(err)) continue;
      throw err;
    }
    const id = { stack_name: g.stackName, id: created.id };
    log.info(`stack ${g.stackName} (${id.id}) created; waiting for CREATE_COMPLETE`);
    const stack = await watchStack(site, id, 'CREATE_COMPLETE', watchOpts);
    return { identity: id, stack, action: action ?? 'created', ms: Date.now() - t0 };
  }
  throw new StackConflictError(`stack ${g.stackName}: it kept changing under us (created, deleted or taken by another run) four times in a row; look at it with openstack stack show ${g.stackName}`);
}

/**
 * Updates an existing stack to `g` (template, environment, files, parameters, tags), or adopts
 * the update when the stack already carries the owner tags; waits for UPDATE_COMPLETE with the
 * same watch. For warm standby: the standby stack becomes the production one.
 */
export async function updateStackTo(site: Site, ref: StackIdentity, g: DeployableStack, opts: DeployOptions): Promise<DeployResult> {
  const t0 = Date.now();
  const sc = site.orchestration;
  const owner = opts.ownerTags ?? g.stackTags;
  const watchOpts: WatchOptions = { ...opts, topology: opts.topology ?? stackTopology(g.template) };
  for (let round = 1; round <= 3; round++) {
    const stack = await getStack(sc, ref, { resolveOutputs: false, signal: opts.signal });
    const ours = hasTags(stack, owner);
    if (ours && stack.stack_status === 'UPDATE_COMPLETE') return { identity: ref, stack: await getStack(sc, ref, { signal: opts.signal }), action: 'adopted', ms: Date.now() - t0 };
    if (ours && stack.stack_status === 'UPDATE_IN_PROGRESS') return { identity: ref, stack: await watchStack(site, ref, 'UPDATE_COMPLETE', watchOpts), action: 'waited', ms: Date.now() - t0 };
    if (stackPhase(stack.stack_status) === 'in-progress') {
      // Someone else's action (or ours before Heat stored the tags): let it end, then look again.
      await watchStack(site, ref, stack.stack_status.replace('_IN_PROGRESS', '_COMPLETE'), { ...watchOpts, onEvent: undefined });
      continue;
    }
    try {
      await updateStack(sc, ref, { template: g.template, environment: g.environment, files: g.files, parameters: g.parameters, tags: g.stackTags, timeout_mins: opts.timeoutMins }, opts.signal);
    } catch (err) {
      if (isConflict(err)) continue;
      throw err;
    }
    return { identity: ref, stack: await watchStack(site, ref, 'UPDATE_COMPLETE', watchOpts), action: 'updated', ms: Date.now() - t0 };
  }
  throw new StackConflictError(`stack ${ref.stack_name}: another action kept running on it; look at it with openstack stack show ${ref.id}`);
}

// ---- verifying ----------------------------------------------------------------------

/**
 * Checks what the stack made: every server of the topology exists and is ACTIVE, every volume
 * exists, every data volume is in-use and attached to its server, every root volume is attached
 * to the server booted from it. One resource listing, one server listing (by `serverTag` when
 * given) and one volume listing, whatever the stack's size.
 */
export async function verifyStack(site: Site, ref: StackIdentity, topology: StackTopology, opts: { serverTag?: string; signal?: AbortSignal } = {}): Promise<StackVerification> {
  const phys = new Map<string, string>();
  PhysicalIds.record(phys, await listResources(site.orchestration, ref, { nested_depth: 1 }, opts.signal));
  const [servers, volumes] = await Promise.all([
    collect(listServers(site.compute, opts.serverTag ? { tags: [opts.serverTag] } : {}, { signal: opts.signal })),
    collect(listVolumes(site.blockStorage, {}, { signal: opts.signal })),
  ]);
  const serverById = new Map(servers.map((s) => [s.id, s]));
  const volumeById = new Map(volumes.map((v) => [v.id, v]));
  const out: StackVerification = { ok: true, problems: [], servers: [], volumes: [] };
  const problem = (p: string) => out.problems.push(p);

  for (const res of topology.servers) {
    const id = phys.get(res);
    if (!id) {
      problem(`server ${res}: the stack made no server`);
      continue;
    }
    const s = serverById.get(id);
    if (!s) {
      problem(`server ${res} (${id}) is not listed${opts.serverTag ? ` with tag ${opts.serverTag}` : ''}`);
      continue;
    }
    out.servers.push({ resource: res, id, name: s.name, status: s.status });
    if (s.status !== 'ACTIVE') problem(`server ${res} (${s.name}, ${id}) is ${s.status}${s.fault?.message ? `: ${s.fault.message}` : ''}`);
  }
  const attachedTo = (v: Volume) => v.attachments.map((a) => a.server_id).sort();
  for (const res of topology.volumes) {
    const id = phys.get(res);
    if (!id) {
      problem(`volume ${res}: the stack made no volume`);
      continue;
    }
    const v = volumeById.get(id);
    if (!v) {
      problem(`volume ${res} (${id}) is not listed`);
      continue;
    }
    out.volumes.push({ resource: res, id, status: v.status, attachedTo: attachedTo(v), metadata: { ...v.metadata } });
  }
  const expectAttached = (volumeRes: string, serverRes: string, what: string) => {
    const vid = phys.get(volumeRes);
    const sid = phys.get(serverRes);
    const v = vid ? volumeById.get(vid) : undefined;
    if (!v || !sid) return; // reported above
    if (v.status !== 'in-use' || !attachedTo(v).includes(sid)) {
      problem(`${what} ${volumeRes} (${vid}) is ${v.status}${v.attachments.length ? ` attached to ${attachedTo(v).join(', ')}` : ''}, not attached to server ${serverRes} (${sid})`);
    }
  };
  for (const b of topology.bootVolumes) expectAttached(b.volume, b.server, 'root volume');
  for (const a of topology.attachments) expectAttached(a.volume, a.server, 'volume');
  out.ok = out.problems.length === 0;
  return out;
}

/**
 * Sets metadata on the stack's volumes where it is missing or different (Heat's restore from a
 * backup takes a name and a description only: the template's metadata never reaches the
 * volume on create). `marksFor` gives each volume resource's wanted keys. Returns how many
 * volumes were written.
 */
export async function markVolumes(site: Site, v: Pick<StackVerification, 'volumes'>, marksFor: (resource: string) => Record<string, string> | undefined, signal?: AbortSignal): Promise<number> {
  let written = 0;
  for (const vol of v.volumes) {
    const want = marksFor(vol.resource);
    if (!want) continue;
    if (Object.entries(want).every(([k, x]) => vol.metadata[k] === x)) continue;
    await setVolumeMetadata(site.blockStorage, vol.id, want, signal);
    Object.assign(vol.metadata, want);
    written++;
  }
  return written;
}
