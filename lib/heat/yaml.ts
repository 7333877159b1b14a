// The YAML writer of generated stacks. Generated documents are plain JSON values (objects,
// arrays, strings, numbers, booleans, null), so a small writer does, and it is about thirty
// times faster than a general YAML library on a 5,000-server stack (13 MB of template).
//
// Heat reads YAML with PyYAML, which follows YAML 1.1: `on`, `yes`, `~`, `0777` or `1:30`
// there are not strings. So a string is written plain only when it cannot be anything but a
// string in YAML 1.1 and 1.2 (it starts with a letter, `_` or `/`, holds only letters,
// digits and `_ . / : @ + -`, does not end with `:` and is no boolean or null word); any
// other string is written as a JSON string, which YAML reads as a double-quoted scalar.
// Intrinsic function calls (`{get_param: [server_x_data, name]}`) are written on one line,
// as people write HOT.

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./:@+-]*$/;
const NOT_YAML_PRINTABLE = /[\u007f-\u009f\u2028\u2029\ufffe\uffff]/g;
const YAML11_WORDS = new Set(['y', 'yes', 'n', 'no', 'true', 'false', 'on', 'off', 'null']);
/** Maps written in flow style when they are a call of one of these. */
const FLOW_FUNCTIONS = new Set(['get_param', 'get_attr', 'get_resource', 'list_join', 'custom_constraint']);

/** A string as a YAML scalar that every YAML 1.1 and 1.2 reader takes as that string. */
export function yamlString(s: string): string {
  if (PLAIN.test(s) && !s.endsWith(':') && !s.includes('://') && !YAML11_WORDS.has(s.toLowerCase())) return s;
  // JSON leaves DEL, the C1 controls and U+2028/2029 raw: YAML reads some as line breaks and refuses the others.
  return JSON.stringify(s).replace(NOT_YAML_PRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Keys and names repeat thousands of times in a big stack: each is checked once per document. */
let seen: Map<string, string> | undefined;
function str(s: string): string {
  if (!seen) return yamlString(s);
  let out = seen.get(s);
  if (out === undefined) {
    out = yamlString(s);
    seen.set(s, out);
  }
  return out;
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`cannot write ${v} to YAML`);
    // YAML 1.1 floats need a dot: 1e+21 would be a string to PyYAML, 1.0e+21 is a number.
    const text = String(v);
    return /e/.test(text) && !text.includes('.') ? text.replace('e', '.0e') : text;
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) return 'null';
  throw new TypeError(`cannot write a ${typeof v} to YAML`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isCall(v: Record<string, unknown>): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && FLOW_FUNCTIONS.has(keys[0]!);
}

function flow(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`;
  if (isObject(v)) return `{${Object.entries(v).map(([k, x]) => `${str(k)}: ${flow(x)}`).join(', ')}}`;
  return scalar(v);
}

/** The value after `key:` or `-`: inline (scalar, empty, flow call) or undefined for a block below. */
function inline(v: unknown): string | undefined {
  if (Array.isArray(v)) return v.length === 0 ? '[]' : undefined;
  if (isObject(v)) {
    if (Object.keys(v).length === 0) return '{}';
    return isCall(v) ? flow(v) : undefined;
  }
  return scalar(v);
}

/**
 * Writes a list or mapping as block lines. `first` replaces the indentation of the first line
 * (`- ` for a mapping that is a list item, whose first key sits on the dash's line).
 */
function block(v: unknown, indent: string, out: string[], first = indent): void {
  let lead = first;
  if (Array.isArray(v)) {
    for (const item of v) {
      const one = inline(item);
      if (one !== undefined) out.push(`${lead}- ${one}`);
      else if (Array.isArray(item)) {
        out.push(`${lead}-`);
        block(item, `${indent}  `, out);
      } else block(item, `${indent}  `, out, `${lead}- `);
      lead = indent;
    }
    return;
  }
  for (const k in v as Record<string, unknown>) {
    const x = (v as Record<string, unknown>)[k];
    const key = str(k);
    const one = inline(x);
    if (one !== undefined) out.push(`${lead}${key}: ${one}`);
    else {
      out.push(`${lead}${key}:`);
      block(x, `${indent}  `, out);
    }
    lead = indent;
  }
}

/** A JSON value as a YAML document (a mapping or a list at the top). */
export function toYaml(value: unknown): string {
  seen = new Map();
  try {
    const top = inline(value);
    if (top !== undefined) return `${top}\n`;
    const out: string[] = [];
    block(value, '', out);
    return `${out.join('\n')}\n`;
  } finally {
    seen = undefined;
  }
}
