// A Site is one OpenStack cloud from clouds.yaml: its transport, its Keystone session and a
// client per service. Ferry always holds two (primary and secondary) and never assumes they
// share anything.
import { loadCloud, type CloudConfig, type LoadOptions } from '../config/clouds.js';
import type { Logger } from '../log.js';
import { Redactor } from '../redact.js';
import { Session, type SessionOptions, type Token } from './auth.js';
import type { ServiceType } from './catalog.js';
import { DEFAULT_MICROVERSIONS, ServiceClient } from './service-client.js';
import { Transport, type ResponseEvent, type RetryPolicy } from './transport.js';

export interface SiteOptions {
  logger?: Logger;
  retry?: Partial<RetryPolicy>;
  /** Per-request timeout (default: the cloud's api_timeout, else 60 s). */
  timeoutMs?: number;
  /** Wanted microversions, over DEFAULT_MICROVERSIONS and the cloud's `<service>_api_version`. */
  microversions?: Partial<Record<ServiceType, string>>;
  session?: SessionOptions;
  maxSockets?: number;
  onResponse?: (e: ResponseEvent) => void;
}

export class Site {
  readonly transport: Transport;
  readonly session: Session;
  readonly identity: ServiceClient;
  readonly compute: ServiceClient;
  readonly blockStorage: ServiceClient;
  readonly image: ServiceClient;
  readonly network: ServiceClient;
  readonly orchestration: ServiceClient;
  readonly objectStore: ServiceClient;
  readonly placement: ServiceClient;

  constructor(
    readonly cloud: CloudConfig,
    opts: SiteOptions = {},
  ) {
    const redactor = new Redactor();
    this.transport = new Transport({
      site: cloud.name,
      verify: cloud.verify,
      cacert: cloud.cacert,
      cert: cloud.cert,
      key: cloud.key,
      timeoutMs: opts.timeoutMs ?? (cloud.api_timeout ? cloud.api_timeout * 1000 : 60_000),
      redactor,
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.maxSockets ? { maxSockets: opts.maxSockets } : {}),
      ...(opts.onResponse ? { onResponse: opts.onResponse } : {}),
    });
    this.session = new Session(this.transport, cloud, opts.session);
    this.transport.useTokens(this.session);
    const ctx = { transport: this.transport, session: this.session, cloud };
    const mv = (t: ServiceType) => opts.microversions?.[t] ?? cloud.api_versions[t] ?? DEFAULT_MICROVERSIONS[t];
    const client = (t: ServiceType) => new ServiceClient(t, ctx, mv(t));
    this.identity = client('identity');
    this.compute = client('compute');
    this.blockStorage = client('block-storage');
    this.image = client('image');
    this.network = client('network');
    this.orchestration = client('orchestration');
    this.objectStore = client('object-store');
    this.placement = client('placement');
  }

  /** Loads a cloud from clouds.yaml (or OS_* variables) and builds its Site. */
  static fromCloud(name?: string, opts: SiteOptions & { load?: LoadOptions } = {}): Site {
    return new Site(loadCloud(name, opts.load), opts);
  }

  get name(): string {
    return this.cloud.name;
  }

  /** Authenticates (or reuses the current token) and returns the token's details. */
  connect(signal?: AbortSignal): Promise<Token> {
    return this.session.tokenInfo(signal);
  }

  /** The client for a service type. */
  service(type: ServiceType): ServiceClient {
    const byType: Record<ServiceType, ServiceClient> = {
      identity: this.identity,
      compute: this.compute,
      'block-storage': this.blockStorage,
      image: this.image,
      network: this.network,
      orchestration: this.orchestration,
      'object-store': this.objectStore,
      placement: this.placement,
    };
    return byType[type];
  }
}
