// Child process of the failover benchmark's generation part (generation.ts starts it with
// --expose-gc): runs spec/bench/heat-generate.ts's measure() for each size given and prints
// one JSON document on stdout. A process of its own, so the heap figures are generation's
// alone and the peak RSS is not the benchmark's.
import os from 'node:os';

const sizes = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 0);
// A computed specifier: this file compiles whether or not heat-generate.ts exists.
const HEAT_GENERATE = '../heat-generate.js';
const bench = (await import(HEAT_GENERATE)) as { measure?: (n: number) => Record<string, unknown>[] };
if (typeof bench.measure !== 'function') {
  console.error('spec/bench/heat-generate.ts exports no measure(servers)');
  process.exit(3);
}
const figures = sizes.flatMap((n) => bench.measure!(n));
console.log(
  JSON.stringify({
    gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    loadAverage: Math.round(os.loadavg()[0]! * 10) / 10,
    cpus: os.cpus().length,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    figures,
  }),
);
