// One replication cycle of a plan: discovery → pre hooks → volume snapshots/backups → post
// hooks → images → recovery point (bank, then catalog) → retention. (Being written.)
import type { CatalogRepo } from '../catalog/repo.js';
import type { Logger } from '../log.js';
import type { Site } from '../openstack/site.js';
import type { ImageCopyProgress } from '../replication/images.js';
import type { MoverProgress } from '../replication/cinder-backup.js';

export const CYCLE_PHASES = ['discover', 'pre-hooks', 'volumes', 'post-hooks', 'images', 'record', 'retention'] as const;
export type CyclePhase = (typeof CYCLE_PHASES)[number];

export type CycleEvent =
  | { kind: 'phase'; phase: CyclePhase; state: 'start' | 'done' | 'failed' | 'skipped'; detail?: string }
  | { kind: 'volume'; progress: MoverProgress }
  | { kind: 'image'; progress: ImageCopyProgress };

export interface CycleOptions {
  repo: CatalogRepo;
  /** Site objects by cloud name; must hold the plan's primary and secondary. */
  sites: (cloud: string) => Site;
  /** Who runs the cycle (recorded on the run), e.g. `cli@host` or a daemon ID. */
  owner: string;
  logger?: Logger;
  signal?: AbortSignal;
  onEvent?: (e: CycleEvent) => void;
  /** Bank container at the secondary (default ferry-bank). */
  container?: string;
  /** Volumes and images worked on at once per site (default 2). */
  concurrency?: number;
  now?: () => Date;
}

export interface CycleResult {
  runId: string;
  pointId?: string;
  status: 'complete' | 'partial' | 'failed';
  createdAt: string;
  durationMs: number;
  bytes: { volumes: number; images: number };
  retention: { deletedPoints: string[] };
  warnings: string[];
  error?: string;
}

/** Runs one cycle of the named plan from its active site to the other. */
export async function runReplicationCycle(_planName: string, _opts: CycleOptions): Promise<CycleResult> {
  throw new Error('runReplicationCycle: being written');
}
