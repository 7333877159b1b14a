// `ferry runs list`, `ferry runs show RUN`, `ferry resume RUN`. (Being written: registers nothing yet.)
import type { Command } from 'commander';
import type { CliContext } from './context.js';

/** Adds runs and resume to the program. */
export function registerRuns(_program: Command, _ctx: CliContext): void {}
