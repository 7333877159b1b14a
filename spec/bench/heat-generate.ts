// Recovery template generation at scale: generates the stack for synthetic workloads of N
// servers (half booted from a volume with a data volume, half from an image; 10 networks,
// 3 security groups, 2 priority groups) in each mode, and prints the time, the heap it took,
// and the size of what Heat would be sent.
//
//   node --expose-gc --import tsx spec/bench/heat-generate.ts [N...]     (default: 1000 5000)
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { generate } from '../../lib/heat/generate.js';
import { defaultLibrary } from '../../lib/heat/library.js';
import type { RecoveryMode } from '../../lib/heat/types.js';
import { RUN_ID, bigWorkload, plan } from '../unit/heat/fixtures.js';

const MiB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

export interface GenerateFigures {
  servers: number;
  mode: RecoveryMode;
  /** Wall time (the lab shares this machine: see cpuMs too). */
  ms: number;
  /** CPU time (user + system) of the generation. */
  cpuMs: number;
  heapMiB: number;
  resources: number;
  totalResources: number;
  templateMiB: number;
  parametersMiB: number;
}

export function measure(n: number, modes: RecoveryMode[] = ['failover', 'drtest', 'standby']): GenerateFigures[] {
  const { manifest, resolved } = bigWorkload(n);
  const names = manifest.members.map((m) => m.server.name);
  const p = { ...plan(), priority_groups: [{ name: 'first', members: names.slice(0, Math.floor(n / 10)) }, { name: 'second', members: names.slice(Math.floor(n / 10), Math.floor(n / 2)) }] };
  const library = defaultLibrary();
  generate(manifest, p, resolved, 'failover', { runId: RUN_ID, library }); // warm up (JIT, library read)
  const out: GenerateFigures[] = [];
  for (const mode of modes) {
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const stack = generate(manifest, p, resolved, mode, { runId: RUN_ID, library });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    const heapMiB = (process.memoryUsage().heapUsed - before) / MiB;
    out.push({
      servers: n,
      mode,
      ms: Math.round(ms),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      heapMiB: Math.round(heapMiB),
      resources: stack.stats.resources,
      totalResources: stack.stats.totalResources,
      templateMiB: Math.round((stack.stats.templateBytes / MiB) * 10) / 10,
      parametersMiB: Math.round((stack.stats.parameterBytes / MiB) * 10) / 10,
    });
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
  if (!gc) console.log('(run with node --expose-gc for heap figures that exclude earlier garbage)');
  console.log(`load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`);
  console.log('servers  mode     wall ms  CPU ms  heap MiB  resources  with nested  template MiB  parameters MiB');
  for (const n of sizes.length > 0 ? sizes : [1000, 5000]) {
    for (const f of measure(n)) {
      console.log(
        `${String(f.servers).padStart(7)}  ${f.mode.padEnd(8)} ${String(f.ms).padStart(7)}  ${String(f.cpuMs).padStart(6)}  ${String(f.heapMiB).padStart(8)}  ${String(f.resources).padStart(9)}  ${String(f.totalResources).padStart(11)}  ${String(f.templateMiB).padStart(12)}  ${String(f.parametersMiB).padStart(14)}`,
      );
    }
  }
  console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
}
