// Heat's own view of a stack's creation, read (untimed) from the stack's events after it
// completed: when Heat started creating it and when it called it complete. Set against a
// runner's wall time it says where the rest went: before the create call (Ferry's planning,
// pre-flight and journal) and after CREATE_COMPLETE (noticing it, verifying, recording).
import { listEvents, type StackEvent } from '../../../lib/openstack/orchestration/events.js';
import type { StackIdentity } from '../../../lib/openstack/orchestration/stacks.js';
import { collect } from '../../../lib/openstack/paginate.js';
import type { Site } from '../../../lib/openstack/site.js';

export interface HeatWindow {
  /** The stack's own CREATE_IN_PROGRESS event (epoch ms; Heat's times have second resolution). */
  startedMs: number;
  /** Its CREATE_COMPLETE event. */
  completedMs: number;
  seconds: number;
}

/** The stack's create window from its events (pure); undefined when they are not both there. */
export function heatWindow(events: readonly Pick<StackEvent, 'resource_name' | 'resource_status' | 'event_time' | 'physical_resource_id'>[], stack: StackIdentity): HeatWindow | undefined {
  const own = events.filter((e) => e.resource_name === stack.stack_name || e.physical_resource_id === stack.id);
  const at = (status: string) => {
    const times = own.filter((e) => e.resource_status === status).map((e) => Date.parse(e.event_time.endsWith('Z') ? e.event_time : `${e.event_time}Z`));
    return times.length > 0 ? times : undefined;
  };
  const started = at('CREATE_IN_PROGRESS');
  const completed = at('CREATE_COMPLETE');
  if (!started || !completed) return undefined;
  const startedMs = Math.min(...started);
  const completedMs = Math.max(...completed);
  return { startedMs, completedMs, seconds: (completedMs - startedMs) / 1000 };
}

/** Reads the window from Heat; undefined (never an error) when it cannot: it only explains. */
export async function readHeatWindow(site: Site, stack: StackIdentity, signal?: AbortSignal): Promise<HeatWindow | undefined> {
  try {
    return heatWindow(await collect(listEvents(site.orchestration, stack, {}, { signal })), stack);
  } catch {
    return undefined;
  }
}

/** "Heat 48 s (create call +1 s, complete +3 s before the end)" for a runner's log (pure). */
export function windowText(w: HeatWindow | undefined, startedAtMs: number, endedAtMs: number): string {
  if (!w) return "Heat's own create time not readable";
  const s = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
  return `Heat's own create time ${w.seconds.toFixed(0)} s; the create reached Heat ${s(w.startedMs - startedAtMs)} after the start, CREATE_COMPLETE came ${s(endedAtMs - w.completedMs)} before the end`;
}
