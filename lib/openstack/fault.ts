// The one place that reads an OpenStack error body. Each service has its own shape:
//   Nova, Cinder     {"itemNotFound": {"code": 404, "message": "..."}}  (any single key)
//   Neutron          {"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}
//   Keystone         {"error": {"code": 401, "title": "Unauthorized", "message": "..."}}
//   Heat             {"code": 404, "title": "Not Found", "explanation": "...",
//                     "error": {"type": "EntityNotFound", "message": "...", "traceback": null}}
//   Placement        {"errors": [{"status": 404, "title": "Not Found", "detail": "...", "code": "..."}]}
//   Glance, Swift    text/html or text/plain from webob: "<html>...<h1>404 Not Found</h1>No image ...</html>"
//   WSME services    {"faultstring": "..."}
// Shapes were read from each service's source (nova/api/openstack/wsgi.py Fault,
// neutron/api/v2/base.py, keystone/server/flask/common.py, heat/api/middleware/fault.py,
// placement/util.py json_error_formatter, webob.exc for Glance and Swift).

export interface Fault {
  detail: string;
  type?: string | undefined;
}

const MAX_DETAIL = 1000;

function clip(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > MAX_DETAIL ? `${one.slice(0, MAX_DETAIL)}…` : one;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Strips tags from a webob HTML error page and drops its repeated status title. */
function fromHtml(text: string): string {
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
  let body = text
    .replace(/<head>[\s\S]*?<\/head>/gi, ' ')
    .replace(/<br\s*\/?>/gi, ' ')
    .replace(/<[^>]+>/g, ' ');
  body = body.replace(/\s+/g, ' ').trim();
  if (title && body.startsWith(title)) body = body.slice(title.length).trim();
  return body || title || '';
}

function fromJson(body: unknown): Fault | undefined {
  if (!isRecord(body)) return undefined;
  // Heat: top-level explanation plus an "error" object with type and message.
  if (isRecord(body.error)) {
    const e = body.error;
    const detail = str(e.message) ?? str(body.explanation) ?? str(e.title) ?? '';
    return { detail, type: str(e.type) ?? str(e.title) };
  }
  if (Array.isArray(body.errors) && isRecord(body.errors[0])) {
    const e = body.errors[0];
    return { detail: str(e.detail) ?? str(e.title) ?? '', type: str(e.code) ?? str(e.title) };
  }
  if (isRecord(body.NeutronError)) {
    const e = body.NeutronError;
    return { detail: str(e.message) ?? str(e.detail) ?? '', type: str(e.type) };
  }
  if (str(body.faultstring)) return { detail: str(body.faultstring)! };
  if (str(body.message)) return { detail: str(body.message)!, type: str(body.type) };
  // Nova and Cinder: a single key naming the fault, whose value holds the message.
  const keys = Object.keys(body);
  if (keys.length === 1) {
    const key = keys[0]!;
    const inner = body[key];
    if (isRecord(inner) && (str(inner.message) || str(inner.explanation))) {
      return { detail: str(inner.message) ?? str(inner.explanation)!, type: key };
    }
  }
  return undefined;
}

/**
 * Extracts the human message and error type from an error reply's body, whatever the
 * service. `body` may be a parsed object, a string, a Buffer or undefined.
 */
export function extractFault(body: unknown, contentType = ''): Fault {
  let parsed: unknown = body;
  let text: string | undefined;
  if (Buffer.isBuffer(body)) text = body.toString('utf8');
  else if (typeof body === 'string') text = body;
  if (text !== undefined) {
    const trimmed = text.trim();
    if (trimmed.startsWith('{') || contentType.includes('json')) {
      try {
        parsed = JSON.parse(trimmed);
      } catch {
        parsed = undefined;
      }
    } else {
      parsed = undefined;
    }
  }
  const json = fromJson(parsed);
  // Glance wraps webob's HTML message in JSON: {"message": "No image found<br /><br />", ...}
  if (json) return { detail: clip(/<[a-z/][^>]*>/i.test(json.detail) ? fromHtml(json.detail) : json.detail), type: json.type };
  if (text !== undefined) {
    const isHtml = /<html|<h1|<title/i.test(text);
    return { detail: clip(isHtml ? fromHtml(text) : text) };
  }
  if (parsed !== undefined && parsed !== null && typeof parsed === 'object') {
    return { detail: clip(JSON.stringify(parsed)) };
  }
  return { detail: '' };
}
