// Real bodies captured from the lab become unit-test fixtures. Capture only when asked
// (FERRY_CAPTURE_FIXTURES=1), so a normal run never rewrites checked-in files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURE_DIR = join(import.meta.dirname, '..', '..', 'support', 'fixtures', 'lab');
export const RELEASE = 'OpenStack Zed from Debian 12 (bookworm) packages, Ferry two-site lab';

export function captureFixture(name: string, facts: { service: string; call: string; status: number; body: unknown; contentType?: string }): void {
  if (process.env.FERRY_CAPTURE_FIXTURES !== '1') return;
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const doc = { source: RELEASE, captured_at: new Date().toISOString().slice(0, 10), ...facts };
  writeFileSync(join(FIXTURE_DIR, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
}
