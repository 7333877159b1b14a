// Baseline B, the runbook: what an operator without Ferry types, one `openstack` command after
// another, server by server: create the port, restore the backup into a new volume, poll the
// volume until available, create the server and wait for it, attach the volume, poll until
// in-use. Timed from the first command to the last volume in-use; removed afterwards with
// Ferry's client (untimed). The commands are built here and run through an injectable `cli`,
// so the unit test checks the exact sequence.
import { execFile } from 'node:child_process';
import { sleep } from '../../../lib/openstack/wait.js';
import type { Fixture } from './fixture.js';
import { MARK_KEY } from './fixture.js';
import type { StepTotals } from './report.js';

export const OPENSTACK_CLI = '/usr/bin/openstack';
/** The runbook's poll loop: `volume show` then `sleep 1`, as an operator's shell loop would. */
export const RUNBOOK_POLL_MS = 1_000;
export const RUNBOOK_WAIT_TIMEOUT_MS = 300_000;

/** Runs one openstack command (without the program and --os-cloud); resolves to its stdout, trimmed. */
export type Cli = (args: string[], signal?: AbortSignal) => Promise<string>;

/** Step kinds, for the per-step breakdown. */
export const RUNBOOK_STEPS = ['port create', 'volume backup restore', 'volume show (ID by name)', 'wait volume available', 'server create --wait', 'server add volume', 'wait volume in-use'] as const;
export type RunbookStep = (typeof RUNBOOK_STEPS)[number];

/**
 * python-openstackclient before the 2024 fix (Launchpad bug 2063335; Debian 12 ships 6.0.0)
 * starts the restore into a new volume and then fails to print its answer with this error.
 * An operator sees the error, finds the volume by name and goes on; so does the runbook.
 */
export const RESTORE_OUTPUT_BUG = /cannot unpack non-iterable VolumeBackupsRestore object/;

/** A CLI bound to a cloud of a clouds.yaml; errors carry the command and its stderr. */
export function openstackCli(cloud: string, cloudsFile: string, program = OPENSTACK_CLI): Cli {
  return (args, signal) =>
    new Promise((resolve, reject) => {
      execFile(
        program,
        ['--os-cloud', cloud, ...args],
        { env: { ...process.env, OS_CLIENT_CONFIG_FILE: cloudsFile }, maxBuffer: 4 * 1024 * 1024, ...(signal ? { signal } : {}) },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`openstack ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
          else resolve(String(stdout).trim());
        },
      );
    });
}

export interface RunbookServer {
  index: number;
  portId: string;
  volumeId: string;
  serverId: string;
}

export interface RunbookResult {
  seconds: number;
  commands: number;
  steps: StepTotals;
  servers: RunbookServer[];
}

export interface RunbookOptions {
  cli: Cli;
  run: number;
  /** Called right after each create with what to remove (register cleanup here). */
  created: (kind: 'port' | 'volume' | 'server', id: string) => void;
  log?: (line: string) => void;
  pollMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Injectable for tests. */
  pause?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

/** Names of what the runbook makes for one server (prefix-led, so the sweep finds them). */
export function runbookNames(prefix: string, run: number, index: number): { port: string; volume: string; server: string } {
  const base = `${prefix}-runbook-${run}`;
  return { port: `${base}-port-${index}`, volume: `${base}-volume-${index}`, server: `${base}-server-${index}` };
}

/** Runs the runbook once over every server of the fixture. */
export async function runRunbook(fixture: Pick<Fixture, 'prefix' | 'runTag' | 'networkId' | 'subnetId' | 'flavor' | 'image' | 'servers'>, o: RunbookOptions): Promise<RunbookResult> {
  const pollMs = o.pollMs ?? RUNBOOK_POLL_MS;
  const timeoutMs = o.timeoutMs ?? RUNBOOK_WAIT_TIMEOUT_MS;
  const pause = o.pause ?? sleep;
  const now = o.now ?? (() => performance.now());
  const steps: StepTotals = {};
  let commands = 0;

  const step = async (kind: RunbookStep, args: string[]): Promise<string> => {
    const t = now();
    try {
      commands++;
      return await o.cli(args, o.signal);
    } finally {
      const cur = steps[kind] ?? { count: 0, seconds: 0 };
      steps[kind] = { count: cur.count + 1, seconds: cur.seconds + (now() - t) / 1000 };
    }
  };
  // An operator's loop: `until [ "$(openstack volume show -f value -c status ID)" = available ]; do sleep 1; done`.
  const waitStatus = async (kind: RunbookStep, volumeId: string, want: string): Promise<void> => {
    const t = now();
    for (;;) {
      const status = await step(kind, ['volume', 'show', '-f', 'value', '-c', 'status', volumeId]);
      if (status === want) return;
      if (status.startsWith('error')) throw new Error(`runbook: volume ${volumeId} went to ${status} while waiting for ${want}`);
      if (now() - t > timeoutMs) throw new Error(`runbook: volume ${volumeId} not ${want} after ${Math.round(timeoutMs / 1000)} s (last ${status})`);
      await pause(pollMs, o.signal);
    }
  };

  const servers: RunbookServer[] = [];
  const t0 = now();
  for (const s of fixture.servers) {
    const names = runbookNames(fixture.prefix, o.run, s.index);
    const portId = await step('port create', ['port', 'create', '--network', fixture.networkId, '--fixed-ip', `subnet=${fixture.subnetId}`, '--tag', fixture.runTag, '-f', 'value', '-c', 'id', names.port]);
    o.created('port', portId);
    let volumeId: string;
    try {
      volumeId = await step('volume backup restore', ['volume', 'backup', 'restore', '-f', 'value', '-c', 'volume_id', s.backupId, names.volume]);
    } catch (err) {
      if (!RESTORE_OUTPUT_BUG.test((err as Error).message)) throw err;
      volumeId = await step('volume show (ID by name)', ['volume', 'show', '-f', 'value', '-c', 'id', names.volume]);
    }
    o.created('volume', volumeId);
    await waitStatus('wait volume available', volumeId, 'available');
    const serverId = await step('server create --wait', [
      'server', 'create', '--flavor', fixture.flavor.id, '--image', fixture.image.id, '--port', portId,
      '--property', `${MARK_KEY}=${fixture.runTag}`, '--wait', '-f', 'value', '-c', 'id', names.server,
    ]);
    o.created('server', serverId);
    await step('server add volume', ['server', 'add', 'volume', serverId, volumeId]);
    await waitStatus('wait volume in-use', volumeId, 'in-use');
    servers.push({ index: s.index, portId, volumeId, serverId });
    o.log?.(`runbook, run ${o.run}: server ${s.index}/${fixture.servers.length} ready at ${((now() - t0) / 1000).toFixed(1)} s`);
  }
  return { seconds: (now() - t0) / 1000, commands, steps, servers };
}
