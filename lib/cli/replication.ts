// `ferry replicate PLAN`, `ferry points list PLAN`, `ferry status [PLAN...]`.
// (Being written: registers nothing yet.)
import type { Command } from 'commander';
import type { CliContext } from './context.js';

/** Adds replicate, points and status to the program. */
export function registerReplication(_program: Command, _ctx: CliContext): void {}
