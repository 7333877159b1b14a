// `ferry plan apply FILE`, `ferry plan list`, `ferry plan show NAME`, `ferry plan delete NAME
// [--purge]`: plans as catalog records. (Being written: registers nothing yet.)
import type { Command } from 'commander';
import type { CliContext } from './context.js';

/** Adds apply, list, show and delete under the `plan` command. */
export function registerPlanStore(_plan: Command, _ctx: CliContext): void {}
