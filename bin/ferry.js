#!/usr/bin/env node
// Launcher: in a source checkout (lib/ present, dev dependencies installed) run the
// TypeScript directly through tsx, so `npm ci && npx ferry ...` needs no build step;
// in an installed package run the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const source = new URL('lib/cli/main.ts', root);
let main;
if (existsSync(fileURLToPath(source))) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    main = await import(source.href);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
}
main ??= await import(new URL('dist/lib/cli/main.js', root).href);
process.exitCode = await main.run(process.argv.slice(2));
