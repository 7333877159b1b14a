// An in-memory Swift container behind nock: listing with prefix, delimiter, marker and limit as
// swift/container/server.py does; GET/HEAD/PUT/DELETE objects with MD5 Etags as
// swift/proxy/controllers/obj.py. Requests are counted as "METHOD name" for assertions.
import { createHash } from 'node:crypto';
import nock from 'nock';
import { PROJECT_ID, SWIFT } from './fake-cloud.js';

const account = `/v1/AUTH_${PROJECT_ID}`;
const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');
const notFound = '<html><h1>Not Found</h1><p>The resource could not be found.</p></html>';

/** A Swift container in memory. Requests are counted as "METHOD name" for assertions. */
export class FakeSwift {
  readonly objects = new Map<string, string>();
  readonly requests: string[] = [];

  constructor(readonly container = 'ferry-bank') {
    const base = `${account}/${container}`;
    const nameOf = (uri: string) => decodeURIComponent(new URL(uri, SWIFT).pathname.slice(base.length + 1));
    const isObject = (uri: string) => uri.startsWith(`${base}/`);
    nock(SWIFT)
      .persist()
      .put(base)
      .reply(201, '')
      .get((uri) => uri.split('?')[0] === base)
      .query(true)
      .reply(200, (uri) => {
        const q = new URL(uri, SWIFT).searchParams;
        this.requests.push(`LIST ${q.get('prefix') ?? ''}`);
        return this.list(q.get('prefix') ?? '', q.get('delimiter') ?? undefined, q.get('marker') ?? '', Number(q.get('limit') ?? 10000));
      })
      .get(isObject)
      .reply((uri) => {
        const name = nameOf(uri);
        this.requests.push(`GET ${name}`);
        const body = this.objects.get(name);
        return body === undefined ? [404, notFound] : [200, body, { Etag: md5(body), 'Content-Length': String(Buffer.byteLength(body)) }];
      })
      .head(isObject)
      .reply((uri) => {
        const name = nameOf(uri);
        this.requests.push(`HEAD ${name}`);
        const body = this.objects.get(name);
        return body === undefined ? [404, ''] : [200, '', { Etag: md5(body), 'Content-Length': String(Buffer.byteLength(body)) }];
      })
      .put(isObject)
      .reply((uri, body) => {
        const name = nameOf(uri);
        this.requests.push(`PUT ${name}`);
        // nock hands JSON bodies over parsed; the bank writes JSON.stringify(doc, null, 2) + '\n'.
        const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
        this.objects.set(name, text);
        return [201, '', { Etag: md5(text) }];
      })
      .delete(isObject)
      .reply((uri) => {
        const name = nameOf(uri);
        this.requests.push(`DELETE ${name}`);
        return this.objects.delete(name) ? [204, ''] : [404, notFound];
      });
  }

  private list(prefix: string, delimiter: string | undefined, marker: string, limit: number) {
    const out: ({ subdir: string } | { name: string; hash: string; bytes: number; content_type: string; last_modified: string })[] = [];
    for (const name of [...this.objects.keys()].sort()) {
      if (!name.startsWith(prefix)) continue;
      const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
      const shown = cut >= 0 ? name.slice(0, cut + 1) : name;
      if (shown <= marker) continue;
      if (cut >= 0) {
        if (!out.some((e) => 'subdir' in e && e.subdir === shown)) out.push({ subdir: shown });
      } else {
        const body = this.objects.get(name)!;
        out.push({ name, hash: md5(body), bytes: Buffer.byteLength(body), content_type: 'application/json', last_modified: '2026-11-27T03:05:00.000000' });
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  gets(suffix: string): number {
    return this.requests.filter((r) => r.startsWith('GET ') && r.endsWith(suffix)).length;
  }
}
