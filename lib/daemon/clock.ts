// Time for the daemon: every module takes a Clock, so tests drive time by hand instead of
// sleeping. `Loop` runs an async task every interval without ever overlapping itself (a slow
// database makes the next tick late, never concurrent).
import { silentLogger, type Logger } from '../log.js';

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch (wall time: for timestamps stored or shown). */
  now(): number;
  /**
   * Milliseconds on a clock that only moves forward (performance.now()): for measuring
   * intervals such as lease ages, which an NTP step of the wall clock must not stretch or
   * shrink. Absent (test clocks): now() is used.
   */
  monotonic?(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The clock's monotonic time (its wall time when it has none). */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

/** An async task run every `intervalMs`, the next run scheduled when the previous one ends. */
export class Loop {
  private timer: TimerHandle | undefined;
  private current: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly name: string,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly logger: Logger = silentLogger,
  ) {}

  get running(): boolean {
    return !this.stopped;
  }

  /** Starts the loop; the first run is immediate unless `delayMs` says otherwise. */
  start(delayMs = 0): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.arm(delayMs);
  }

  /** Runs the task now (after the current run, if one is going), then keeps the interval. */
  kick(): void {
    if (this.stopped) return;
    if (this.current) return;
    this.arm(0);
  }

  /** Stops scheduling and waits for a run in progress to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private arm(ms: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.runOnce();
    }, ms);
  }

  private async runOnce(): Promise<void> {
    if (this.stopped || this.current) return;
    this.current = (async () => {
      try {
        await this.task();
      } catch (err) {
        // A task reports its own failures; this only keeps the loop alive through a bug.
        this.logger.error(`${this.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    })();
    try {
      await this.current;
    } finally {
      this.current = undefined;
      if (!this.stopped) this.arm(this.intervalMs);
    }
  }
}
