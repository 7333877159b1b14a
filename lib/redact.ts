// Secrets never reach a log line or an error message. Two nets: header and body keys that
// are secret by name, and the literal secret values a site knows (its password, its
// application-credential secret, its current token), scrubbed from any text.

const SECRET_HEADERS = new Set(['x-auth-token', 'x-subject-token', 'x-service-token', 'authorization', 'cookie', 'set-cookie']);
const SECRET_KEYS = /^(password|secret|token|id_token|access_token|refresh_token|passcode|key|backup_swift_key|auth_token)$/i;

export const REDACTED = '***';

/** Holds the literal secret values to scrub; shared by a site's transport, logs and errors. */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** Registers a value that must never appear in text (ignores short, non-secret-looking values). */
  add(value: string | undefined): void {
    if (value && value.length >= 4) this.secrets.add(value);
  }

  remove(value: string | undefined): void {
    if (value) this.secrets.delete(value);
  }

  /** Replaces every known secret inside `text`. */
  text(text: string): string {
    let out = text;
    for (const s of this.secrets) {
      if (out.includes(s)) out = out.split(s).join(REDACTED);
    }
    return out;
  }

  /** A copy of `headers` with secret headers masked (names compared case-insensitively). */
  headers(headers: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(headers)) {
      out[k] = SECRET_HEADERS.has(k.toLowerCase()) ? REDACTED : typeof v === 'string' ? this.text(v) : v;
    }
    return out;
  }

  /** A deep copy of a JSON value with secret keys masked and secret values scrubbed. */
  value(value: unknown, depth = 0): unknown {
    if (depth > 20) return REDACTED;
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((v) => this.value(v, depth + 1));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        out[k] = SECRET_KEYS.test(k) && (typeof v === 'string' || typeof v === 'number') ? REDACTED : this.value(v, depth + 1);
      }
      return out;
    }
    return value;
  }
}

/** Strips query parameters that carry credentials (temp URLs, tokens) from a URL for display. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:temp_url_sig|token|access_token|signature|X-Auth-Token)=)[^&#]*/gi, `$1${REDACTED}`);
}
