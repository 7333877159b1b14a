// Known bytes into lab volumes and checksums out of them, through librbd inside the site
// (devstack/lab/lab-volume-io.sh): the ground truth for "the data survived".
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', '..', '..', 'devstack', 'lab', 'lab-volume-io.sh');

/** Writes LENGTH_MB MiB of bytes derived from `seed` at OFFSET_MB into the volume. */
export async function writeVolumeBytes(site: 'a' | 'b', volumeId: string, opts: { offsetMb?: number; lengthMb: number; seed: string }): Promise<void> {
  await run('bash', [SCRIPT, site, 'write', volumeId, String(opts.offsetMb ?? 0), String(opts.lengthMb), opts.seed], { timeout: 120_000 });
}

/** sha256 of the whole volume (or of its first `lengthMb` MiB). */
export async function volumeSha256(site: 'a' | 'b', volumeId: string, lengthMb?: number): Promise<string> {
  const args = [SCRIPT, site, 'sha', volumeId, ...(lengthMb ? [String(lengthMb)] : [])];
  const { stdout } = await run('bash', args, { timeout: 300_000 });
  const sha = stdout.trim().split('\n').pop() ?? '';
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`lab-volume-io.sh sha printed '${stdout.trim()}'`);
  return sha;
}
