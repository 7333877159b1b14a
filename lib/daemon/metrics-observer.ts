// What the daemon reports (DaemonObserver) turned into metrics (metrics.ts): the daemon's
// services subscribe this with daemon.observe(metricsObserver(metrics)).
//
// A slow cycle is reported by the scheduler while it runs (once it passes half the RPO) and
// again when it ends; it is one slow cycle. It is counted at its first report, by the cycle's
// request ID, never from its duration at the end as well.
import type { RunKind } from '../catalog/repo.js';
import type { DaemonObserver } from './daemon.js';
import { PROBED_SERVICES } from './health.js';
import type { Metrics } from './metrics.js';

export function metricsObserver(metrics: Metrics): DaemonObserver {
  /** Request IDs of the cycles under way already counted as slow. */
  const slow = new Set<string>();
  return {
    elected: () => metrics.setLeader(true),
    demoted: () => metrics.setLeader(false),
    siteChanged: (t) => metrics.setSiteState(t.site, t.to),
    serviceChanged: (e) => metrics.setServiceState(e.site, e.service, e.to),
    siteDropped: (e) => {
      metrics.setSiteState(e.site, 'unknown');
      for (const service of PROBED_SERVICES) metrics.setServiceState(e.site, service, 'unknown');
    },
    openstackResponse: (e) => metrics.recordOpenStackResponse(e),
    cycleSlow: (e) => {
      if (slow.has(e.requestId)) return;
      slow.add(e.requestId);
      metrics.recordSlowCycle(e.plan);
    },
    cycleFinished: (e) => {
      slow.delete(e.requestId);
      const status = e.result?.status ?? 'failed';
      // Slowness is counted from cycleSlow only (no rpoMs here): else a slow cycle counts twice.
      metrics.recordCycle(e.plan, { status, durationMs: e.durationMs, bytes: e.result?.bytes ?? { volumes: 0, images: 0 } });
      metrics.recordRun('replicate', status === 'complete' ? 'succeeded' : 'failed', e.durationMs);
    },
    runFinished: (e) => metrics.recordRun(e.kind as RunKind, e.outcome, e.durationMs),
  };
}
