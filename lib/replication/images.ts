// Image replication: members' Glance images copied to the secondary's Glance, streamed and
// hash-verified. (Being written.)
import type { Site } from '../openstack/site.js';
import type { ImageDataRef } from './types.js';

export interface ImageCopyProgress {
  imageId: string;
  event: 'start' | 'skipped' | 'adopted' | 'bytes' | 'done' | 'failed';
  /** Bytes uploaded so far (event bytes/done). */
  bytes?: number;
  totalBytes?: number;
  detail?: string;
}

export interface ReplicateImagesOptions {
  plan: string;
  pointId: string;
  /** Images copied at once (default 2). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: ImageCopyProgress) => void;
}

export interface ReplicateImagesResult {
  refs: ImageDataRef[];
  failures: { imageId: string; error: Error }[];
  /** Bytes actually moved (skipped and adopted images move none). */
  bytesCopied: number;
}

/** Copies each image (by primary ID) to the secondary unless the same hash is already there. */
export async function replicateImages(_primary: Site, _secondary: Site, _imageIds: readonly string[], _opts: ReplicateImagesOptions): Promise<ReplicateImagesResult> {
  throw new Error('replicateImages: being written');
}
