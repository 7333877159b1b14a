// The `ferry` CLI as the lab specs drive it: in-process (lib/cli/main.ts run()), against one
// catalog, capturing stdout and stderr; ok() also asserts exit code 0 and shows both when not.
import { expect } from 'chai';
import { run } from '../../../lib/cli/main.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export interface Cli {
  /** Runs `ferry --db DB ...args`; never throws for a non-zero exit. */
  ferry: (...args: string[]) => Promise<CliResult>;
  /** The same, asserting exit code 0. */
  ok: (...args: string[]) => Promise<CliResult>;
}

/** A CLI bound to the catalog at `db` (a kysely URL such as sqlite:///tmp/x/catalog.db). */
export function cli(db: string): Cli {
  const ferry = async (...args: string[]): Promise<CliResult> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(['--db', db, ...args], { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const ok = async (...args: string[]): Promise<CliResult> => {
    const r = await ferry(...args);
    expect(r.code, `ferry ${args.join(' ')}\n${r.err}\n${r.out}`).to.equal(0);
    return r;
  };
  return { ferry, ok };
}
