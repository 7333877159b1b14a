// What the data movers hand to a recovery point: where each protected volume's data for that
// point lives at the secondary, and how it chains to earlier points.

/** One volume's data for one recovery point, moved by Cinder backups. */
export interface VolumeDataRef {
  /** The protected volume at the primary. */
  sourceVolumeId: string;
  mover: 'cinder-backup';
  /** The backup at the primary (Cinder keeps the same ID when the record is imported). */
  primaryBackupId: string;
  /** The imported backup at the secondary: what a restore uses. */
  secondaryBackupId: string;
  /** Parent in the incremental chain (undefined for a full backup). */
  parentBackupId?: string;
  incremental: boolean;
  /** Size of the source volume in GiB (a restore needs at least this). */
  sizeGb: number;
  /** When the snapshot the backup was taken from was created: the point's data time for this volume. */
  dataTimestamp: string;
  /** Cinder's backup driver as export_record reported it (e.g. cinder.backup.drivers.posix.PosixBackupDriver). */
  backupService: string;
}

/** One image copied from the primary's Glance to the secondary's. */
export interface ImageDataRef {
  sourceImageId: string;
  secondaryImageId: string;
  /** os_hash_algo:os_hash_value as Glance computed it at both ends. */
  hash: string;
  sizeBytes: number;
}

/** Ferry's marks on what it creates in OpenStack (names, metadata, tags): plan, point, run. */
/** The Nova tag of a server a failover fenced (stopped, locked): an old copy, never a member again. */
export const FENCED_TAG = 'ferry:fenced';

export const FERRY_MARKS = {
  plan: 'ferry:plan',
  point: 'ferry:point',
  run: 'ferry:run',
  source: 'ferry:source',
} as const;
