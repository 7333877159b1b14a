// YAML files read by Ferry (clouds.yaml, plan files) keep their source positions, so an error
// can say "clouds.yaml:12:7 clouds.lab-a.auth.password" and not just "invalid".
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import { ConfigError } from '../errors.js';

export interface YamlSource {
  file: string;
  data: unknown;
  /** "file:line:col" of the node at `path` (or of its nearest existing parent). */
  locate(path: (string | number)[]): string;
  /** "file:line:col" of the key of the entry at `path` (for unknown fields); else like locate(). */
  locateKey(path: (string | number)[]): string;
}

/** Parses YAML text; syntax errors become ConfigError with file:line:column. */
export function parseYamlText(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    throw new ConfigError(`invalid YAML: ${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, where, undefined, 'fix the YAML syntax at that position');
  }
  const locate = (path: (string | number)[]): string => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        const { line, col } = lineCounter.linePos(node.range[0]);
        return `${file}:${line}:${col}`;
      }
    }
    return file;
  };
  const locateKey = (path: (string | number)[]): string => {
    const parent = doc.getIn(path.slice(0, -1), true);
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
      if (pair && isNode(pair.key) && pair.key.range) {
        const { line, col } = lineCounter.linePos(pair.key.range[0]);
        return `${file}:${line}:${col}`;
      }
    }
    return locate(path);
  };
  return { file, data: doc.toJS(), locate, locateKey };
}

/** Reads and parses a YAML file; a missing or unreadable file is a ConfigError naming it. */
export function readYamlFile(file: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read file (${code})`, file, undefined, 'check the path and its permissions');
  }
  if (file.endsWith('.json')) {
    try {
      return { file, data: JSON.parse(text) as unknown, locate: () => file, locateKey: () => file };
    } catch (err) {
      throw new ConfigError(`invalid JSON: ${(err as Error).message}`, file);
    }
  }
  return parseYamlText(text, file);
}
