// The lab harness: sites from the lab's clouds.yaml (never credentials in code), a run tag on
// everything a test creates, cleanup that runs even when the test fails, and, on failure, the
// resources left behind and the last log lines of the services the test talked to.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { labCloudsFile, loadCloud } from '../../../lib/config/clouds.js';
import { MemoryLogger } from '../../../lib/log.js';
import { Site } from '../../../lib/openstack/site.js';

export type LabCloud = 'lab-a' | 'lab-b' | 'lab-a-demo' | 'lab-b-demo';

export const LAB_STATE = process.env.LAB_STATE ?? '/var/lib/ferry-lab';
/** The lab's clouds.yaml: OS_CLIENT_CONFIG_FILE when set (CI sets it), else the lab's own. */
export const CLOUDS_FILE = process.env.OS_CLIENT_CONFIG_FILE ?? labCloudsFile();

/** Tag and name prefix of everything this run creates; cleanup and leak checks search for it. */
export const RUN_TAG = `ferry-lab-${Date.now().toString(36)}`;
let counter = 0;
/** A unique, recognisable name for a test resource. */
export function uniqueName(what: string): string {
  counter++;
  return `${RUN_TAG}-${what}-${counter}`;
}

/** Generous per-step timeouts from the lab's measurements (docs/lab.md). */
export const TIMEOUTS = {
  volume: 120_000,
  server: 180_000,
  backup: 300_000,
  restore: 300_000,
  stack: 300_000,
  image: 300_000,
};

const loggers = new Map<string, MemoryLogger>();
const sites = new Map<string, Site>();

/** A Site for a lab cloud (cached; its HTTP log is kept in memory for failure reports). */
export function labSite(cloud: LabCloud): Site {
  let site = sites.get(cloud);
  if (!site) {
    if (!existsSync(CLOUDS_FILE)) {
      throw new Error(`lab clouds.yaml not found at ${CLOUDS_FILE}: run 'npm run lab:up' first (or set OS_CLIENT_CONFIG_FILE)`);
    }
    const logger = new MemoryLogger();
    loggers.set(cloud, logger);
    site = new Site(loadCloud(cloud, { env: { ...process.env, OS_CLIENT_CONFIG_FILE: CLOUDS_FILE } }), { logger, timeoutMs: 120_000 });
    sites.set(cloud, site);
  }
  return site;
}

/** Lab site letter of a cloud name. */
export function siteLetter(cloud: string): 'a' | 'b' {
  return cloud.startsWith('lab-b') ? 'b' : 'a';
}

interface CleanupStep {
  what: string;
  run: () => Promise<unknown>;
}

/** Undo steps registered while a test creates things, run newest first. */
export class Cleanup {
  private steps: CleanupStep[] = [];
  readonly leftovers: string[] = [];

  /** Registers how to remove something just created. */
  add(what: string, run: () => Promise<unknown>): void {
    this.steps.push({ what, run });
  }

  /** Runs every step (newest first); failures are collected, not thrown. */
  async runAll(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const s of steps) {
      try {
        await s.run();
      } catch (err) {
        this.leftovers.push(`${s.what}: ${(err as Error).message}`);
      }
    }
  }
}

function tail(file: string, lines: number): string[] {
  try {
    const text = readFileSync(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

/** Last lines of every service log of the sites a test used (with ERROR/TRACE lines first). */
export function serviceLogTails(letters: Iterable<string>, lines = 8): string {
  const out: string[] = [];
  for (const s of letters) {
    const dir = join(LAB_STATE, `site-${s}`, 'log');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.log')).sort()) {
      const t = tail(join(dir, f), 400);
      const errors = t.filter((l) => / (ERROR|CRITICAL) /.test(l)).slice(-lines);
      if (errors.length > 0) out.push(`--- site ${s} ${f} (ERROR lines) ---`, ...errors);
    }
  }
  return out.join('\n');
}

/**
 * Mocha hooks for a lab suite: a fresh Cleanup per test, run after it even when it failed;
 * a failed test prints what cleanup could not remove, the HTTP calls it made, and the
 * services' recent ERROR lines.
 */
export function useLab(): { cleanup: () => Cleanup } {
  let current = new Cleanup();
  beforeEach(() => {
    current = new Cleanup();
    for (const l of loggers.values()) l.lines.length = 0;
  });
  afterEach(async function () {
    this.timeout(600_000);
    await current.runAll();
    const failed = this.currentTest?.state === 'failed';
    if (failed || current.leftovers.length > 0) {
      const used = [...loggers.entries()].filter(([, l]) => l.lines.length > 0);
      const calls = used.flatMap(([cloud, l]) => l.lines.filter((x) => x.msg.startsWith('RESP') || x.level !== 'debug').slice(-15).map((x) => `  [${cloud}] ${x.msg}`));
      const report = [
        current.leftovers.length ? `left behind:\n  ${current.leftovers.join('\n  ')}` : 'left behind: nothing',
        calls.length ? `last HTTP calls:\n${calls.join('\n')}` : '',
        serviceLogTails(new Set(used.map(([c]) => siteLetter(c)))),
      ].filter(Boolean);
      console.log(`\n${report.join('\n')}\n`);
    }
    if (current.leftovers.length > 0 && !failed) {
      throw new Error(`cleanup left resources behind: ${current.leftovers.join('; ')}`);
    }
  });
  return { cleanup: () => current };
}
