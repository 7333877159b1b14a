// `ferry sites check [CLOUD...]`: can Ferry reach and use each site?
import pLimit from 'p-limit';
import { configDirs, listClouds, loadCloud, type LoadOptions } from '../config/clouds.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { checkSite, type SiteReport } from '../openstack/check.js';
import { Site } from '../openstack/site.js';
import { structured, table, type Format } from './output.js';

export interface SitesCheckOptions {
  format: Format;
  timeoutMs: number;
  logger: Logger;
  load?: LoadOptions;
}

/** Checks every named cloud (all clouds in clouds.yaml when none is named). */
export async function sitesCheck(names: string[], opts: SitesCheckOptions): Promise<{ reports: SiteReport[]; text: string; ok: boolean }> {
  const clouds = names.length > 0 ? names : listClouds(opts.load);
  if (clouds.length === 0) {
    throw new ConfigError(`no clouds found (searched ${configDirs(opts.load).join(', ')} and OS_* variables)`, undefined, undefined, 'create clouds.yaml or set OS_CLIENT_CONFIG_FILE (see docs/configuration.md)');
  }
  const limit = pLimit(4);
  const reports = await Promise.all(
    clouds.map((name) =>
      limit(async (): Promise<SiteReport> => {
        let site: Site;
        try {
          site = new Site(loadCloud(name, opts.load), { logger: opts.logger, timeoutMs: opts.timeoutMs, retry: { retries: 1 } });
        } catch (err) {
          return { site: name, auth_url: '', region: '', ok: false, error: (err as Error).message, services: [], elapsed_ms: 0 };
        }
        return checkSite(site, AbortSignal.timeout(opts.timeoutMs * 4));
      }),
    ),
  );
  const ok = reports.every((r) => r.ok);
  return { reports, ok, text: render(reports, opts.format) };
}

function render(reports: SiteReport[], format: Format): string {
  if (format !== 'table') return structured(reports, format);
  const blocks: string[] = [];
  for (const r of reports) {
    const head = [
      `site ${r.site}: ${r.ok ? 'OK' : 'FAILED'}`,
      r.auth_url ? `  auth_url ${r.auth_url}   region ${r.region}` : '',
      r.user ? `  user ${r.user}   project ${r.project ?? '-'}   roles ${(r.roles ?? []).join(',')}   token expires ${r.token_expires}` : '',
      r.error ? `  error: ${r.error}` : '',
    ].filter(Boolean);
    blocks.push(head.join('\n'));
    if (r.services.length > 0) {
      blocks.push(
        table(
          ['service', 'endpoint', 'versions', 'microversion', 'status'],
          r.services.map((s) => [s.type, s.endpoint ?? '-', s.versions ?? '', s.microversion ?? '', s.ok ? 'ok' : `${s.required ? 'FAILED' : 'absent'}${s.error ? `: ${s.error}` : ''}`]),
        ),
      );
    }
  }
  return blocks.join('\n');
}
