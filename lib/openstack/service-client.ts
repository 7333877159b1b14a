// A ServiceClient is one service of one site: it finds its endpoint (catalog or override),
// negotiates its microversion once, and sends requests through the site's transport.
// Resource modules take a ServiceClient and relative paths; they never see URLs or tokens.
import { NotSupportedError } from '../errors.js';
import type { CloudConfig } from '../config/clouds.js';
import type { Session } from './auth.js';
import { findEndpoint, type ServiceType } from './catalog.js';
import { compareVersions, microversionHeaders, MICROVERSION_SERVICES, negotiate, rangeFromDocument, type VersionRange } from './microversion.js';
import type { HttpResponse, Method, RequestOptions, Transport } from './transport.js';

/** The microversions Ferry is written against; negotiation never goes above them. */
export const DEFAULT_MICROVERSIONS: Partial<Record<ServiceType, string>> = {
  compute: '2.79',
  'block-storage': '3.64',
  placement: '1.36',
};

export type CallOptions = Omit<RequestOptions, 'method' | 'url' | 'service'> & {
  /** Use this microversion for this call instead of the negotiated one. */
  microversion?: string | undefined;
};

export interface ServiceClientContext {
  transport: Transport;
  session: Session;
  cloud: CloudConfig;
}

export class ServiceClient {
  private endpointUrl: string | undefined;
  private negotiated: Promise<{ range?: VersionRange; version?: string }> | undefined;

  constructor(
    readonly type: ServiceType,
    private readonly ctx: ServiceClientContext,
    /** Wanted microversion (services that have them), default from DEFAULT_MICROVERSIONS. */
    private readonly wanted: string | undefined = DEFAULT_MICROVERSIONS[type],
  ) {}

  get site(): string {
    return this.ctx.cloud.name;
  }

  get transport(): Transport {
    return this.ctx.transport;
  }

  /** The service's base URL: the clouds.yaml override, else the catalog's. */
  async endpoint(signal?: AbortSignal): Promise<string> {
    if (this.endpointUrl) return this.endpointUrl;
    const override = this.ctx.cloud.endpoint_overrides[this.type];
    let url: string;
    if (override) {
      const token = override.includes('%(project_id)s') || override.includes('$(project_id)s') ? await this.ctx.session.tokenInfo(signal) : undefined;
      const pid = token?.info.project?.id ?? '';
      url = override.replace('%(project_id)s', pid).replace('$(project_id)s', pid).replace(/\/+$/, '');
    } else {
      const token = await this.ctx.session.tokenInfo(signal);
      url = findEndpoint(token.catalog, { type: this.type, region: this.ctx.cloud.region_name, interface: this.ctx.cloud.interface });
    }
    this.endpointUrl = url;
    return url;
  }

  /** Joins the endpoint and a relative path (an absolute URL is used as it is). */
  async url(path: string, signal?: AbortSignal): Promise<string> {
    if (/^https?:\/\//.test(path)) return path;
    const base = await this.endpoint(signal);
    return path ? `${base}/${path.replace(/^\/+/, '')}` : base;
  }

  /** The server's microversion range, read once from the endpoint's version document. */
  async versionRange(signal?: AbortSignal): Promise<VersionRange | undefined> {
    return (await this.negotiate(signal)).range;
  }

  /** The microversion used for calls (undefined for services without microversions). */
  async microversion(signal?: AbortSignal): Promise<string | undefined> {
    return (await this.negotiate(signal)).version;
  }

  /** True when the negotiated microversion is at least `v`. */
  async supports(v: string, signal?: AbortSignal): Promise<boolean> {
    const mv = await this.microversion(signal);
    return mv !== undefined && compareVersions(mv, v) >= 0;
  }

  /** Throws NotSupportedError naming the feature when the server is older than `v`. */
  async require(v: string, feature: string, signal?: AbortSignal): Promise<void> {
    if (!(await this.supports(v, signal))) {
      const range = await this.versionRange(signal);
      throw new NotSupportedError(`${this.type} at site ${this.site}: ${feature} needs microversion ${v}, the server offers ${range ? `${range.min} to ${range.max}` : 'no microversions'}`);
    }
  }

  private negotiate(signal?: AbortSignal): Promise<{ range?: VersionRange; version?: string }> {
    if (!MICROVERSION_SERVICES[this.type] || !this.wanted) return Promise.resolve({});
    this.negotiated ??= this.readVersionDocument(signal).then(
      (range) => {
        if (!range) return {};
        const version = negotiate(this.wanted!, range);
        if (!version) {
          throw new NotSupportedError(`${this.type} at site ${this.site} supports microversions ${range.min} to ${range.max}, which do not include Ferry's ${this.wanted}`);
        }
        return { range, version };
      },
      (err: unknown) => {
        this.negotiated = undefined;
        throw err;
      },
    );
    return this.negotiated;
  }

  private async readVersionDocument(signal?: AbortSignal): Promise<VersionRange | undefined> {
    const endpoint = await this.endpoint(signal);
    const token = await this.ctx.session.tokenInfo(signal);
    const projectId = token.info.project?.id;
    // Cinder (and old Nova) endpoints end in the project ID; the version document is one level up.
    let docUrl = endpoint;
    const last = endpoint.split('/').pop() ?? '';
    if ((projectId && last === projectId) || /^[0-9a-f]{32}$/.test(last)) docUrl = endpoint.slice(0, -(last.length + 1));
    const major = /\/(v\d+(?:\.\d+)?)$/.exec(docUrl)?.[1];
    const res = await this.ctx.transport.request<unknown>({ method: 'GET', url: `${docUrl}/`, ok: [200, 300], service: this.type, signal });
    return rangeFromDocument(res.data, major);
  }

  /** Sends a request to a path of this service with its microversion headers. */
  async request<T = unknown>(method: Method, path: string, opts: CallOptions = {}): Promise<HttpResponse<T>> {
    const { microversion, ...rest } = opts;
    const url = await this.url(path, opts.signal);
    const mv = microversion ?? (await this.microversion(opts.signal));
    return this.ctx.transport.request<T>({
      ...rest,
      method,
      url,
      service: this.type,
      headers: { ...microversionHeaders(this.type, mv), ...rest.headers },
    });
  }

  get<T = unknown>(path: string, opts?: CallOptions): Promise<HttpResponse<T>> {
    return this.request<T>('GET', path, opts);
  }
  head(path: string, opts?: CallOptions): Promise<HttpResponse<undefined>> {
    return this.request<undefined>('HEAD', path, opts);
  }
  post<T = unknown>(path: string, json: unknown, opts?: CallOptions): Promise<HttpResponse<T>> {
    return this.request<T>('POST', path, { ...opts, json });
  }
  put<T = unknown>(path: string, json: unknown, opts?: CallOptions): Promise<HttpResponse<T>> {
    return this.request<T>('PUT', path, json === undefined ? opts : { ...opts, json });
  }
  patch<T = unknown>(path: string, json: unknown, opts?: CallOptions): Promise<HttpResponse<T>> {
    return this.request<T>('PATCH', path, { ...opts, json });
  }
  delete<T = unknown>(path: string, opts?: CallOptions): Promise<HttpResponse<T>> {
    return this.request<T>('DELETE', path, opts);
  }
}
