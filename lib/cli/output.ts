// Output like the openstack CLI: `-f table` (default), `-f json`, `-f yaml`.
import Table from 'cli-table3';
import { stringify } from 'yaml';

export type Format = 'table' | 'json' | 'yaml';
export const FORMATS: Format[] = ['table', 'json', 'yaml'];

/** Renders rows as a boxed table with the given columns. */
export function table(columns: string[], rows: (string | number | boolean | undefined | null)[][]): string {
  const t = new Table({ head: columns, style: { head: [], border: [] }, wordWrap: true });
  for (const r of rows) t.push(r.map((c) => (c === undefined || c === null ? '' : String(c))));
  return t.toString();
}

/** Renders structured data as JSON or YAML. */
export function structured(data: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(data, null, 2) : stringify(data).trimEnd();
}
