/**
 * A small JSON client for the Kubernetes API. Its credentials come from credentials.ts: read
 * directly for a service account or a plain kubeconfig, else through client-node's KubeConfig
 * (exec plugins, auth providers, ...), which is loaded only then.
 *
 * Why not client-node's generic KubernetesObjectApi: it turns known kinds into model classes
 * (Dates, unknown fields dropped) while watches deliver plain JSON, and it opens a new TLS
 * connection for every request. Here every object stays plain JSON exactly as the API server sent
 * it, keep-alive connection pools serve requests and watches, and every request carries our user
 * agent so the API server's metrics and audit log attribute it to us.
 */
import { Readable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { defaultCredentials, kubeConfigCredentials, type ClusterCredentials, type TlsSettings } from './credentials.ts';
import { ConnectionPool } from './transport.ts';

/**
 * HTTP methods of the API (the same strings as client-node's enum, which callers may pass too):
 * our own, so that using the client does not load client-node.
 */
export const HttpMethod = { GET: 'GET', POST: 'POST', PUT: 'PUT', PATCH: 'PATCH', DELETE: 'DELETE' } as const;
/** One of {@link HttpMethod}. */
export type HttpMethod = (typeof HttpMethod)[keyof typeof HttpMethod];

/** Any Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>;
    managedFields?: unknown[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** The group/version/kind of a type. */
export interface TypeRef {
  apiVersion: string;
  kind: string;
}

/** Where a type lives in the REST API. */
export interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

/** An API error with the HTTP status and the API server's message. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** The API server's own message (the Status object's `message`), without the request line. */
    readonly apiMessage: string = message,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** True for a 404 from the API server. */
export const isNotFound = (error: unknown) => error instanceof KubeApiError && error.status === 404;
/** True for a 409 Conflict (optimistic concurrency or an apply conflict). */
export const isConflict = (error: unknown) => error instanceof KubeApiError && error.status === 409;

/** The user agent meshwright sends. */
export const userAgent = 'meshwright-operator/0.1.0';

/** Connections the request pool opens to the API server at most (watches have a pool of their own). */
export const REQUEST_CONNECTIONS = 32;

/** The field manager for server-side apply. */
export const fieldManager = 'meshwright';

/** Options of a list call. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
}

/** A JSON client for any kind, with discovery of plural names and scope. */
export class KubeClient {
  private requests?: Promise<ConnectionPool>;
  private watches?: Promise<ConnectionPool>;
  private tls?: Promise<TlsSettings>;
  private readonly server: string;
  private readonly discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();
  /** Where this client's credentials came from. */
  readonly credentials: ClusterCredentials;
  /** The KubeConfig it was built from, when it was built from one. */
  readonly kc?: KubeConfig;

  constructor(
    source: KubeConfig | ClusterCredentials,
    private readonly agent = userAgent,
  ) {
    const fromKubeConfig = 'getCurrentCluster' in source;
    if (fromKubeConfig) this.kc = source;
    this.credentials = fromKubeConfig ? kubeConfigCredentials(source) : source;
    this.server = this.credentials.server;
  }

  /**
   * Two keep-alive pools: one of at most {@link REQUEST_CONNECTIONS} connections for requests, and
   * one without a limit for watches. Why apart: a watch holds its HTTP/1.1 connection for minutes,
   * so in one bounded pool enough informers (every owned kind, namespaces, pods, each referenced
   * Secret — or two operators sharing a client) take every connection, and requests then wait until
   * a watch times out: passes stalled for five minutes. The TLS material is resolved once (from files
   * or inline data); auth headers are taken fresh per request, because tokens rotate.
   */
  private pool(use: 'request' | 'watch' = 'request'): Promise<ConnectionPool> {
    this.tls ??= this.credentials.tls();
    const make = async (connections?: number) => new ConnectionPool(this.server, await this.tls!, connections);
    if (use === 'watch') return (this.watches ??= make());
    return (this.requests ??= make(REQUEST_CONNECTIONS));
  }

  /**
   * Builds a client from the default kubeconfig resolution (KUBECONFIG, ~/.kube/config, in-cluster)
   * through client-node, for commands that use the KubeConfig itself (contexts, namespaces).
   */
  static async fromDefault(): Promise<KubeClient> {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new KubeClient(kc);
  }

  /** The operator's client: the same resolution, without loading client-node unless it is needed (credentials.ts). */
  static async forOperator(): Promise<KubeClient> {
    return new KubeClient(await defaultCredentials());
  }

  /**
   * A client to the same API server with the same credentials and connection pools of its own:
   * for requests that must not queue behind this client's (the leader lease's renewals, whose
   * deadline is seconds, behind a pass's bursts of writes on a busy API server).
   */
  separate(): KubeClient {
    return new KubeClient(this.kc ?? this.credentials, this.agent);
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await Promise.all([this.requests, this.watches].map(async (pool) => (pool ? (await pool).close() : undefined)));
  }

  private async headers(url: string, method: string): Promise<Record<string, string>> {
    return { ...(await this.credentials.headers(url, method)), 'User-Agent': this.agent, Accept: 'application/json' };
  }

  /** Sends one request and returns the parsed JSON body; throws KubeApiError on a non-2xx status. */
  async request<T = unknown>(method: HttpMethod | `${HttpMethod}`, path: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<T> {
    const url = `${this.server}${path}`;
    const headers = await this.headers(url, method);
    if (body !== undefined) headers['Content-Type'] = contentType;
    const response = await (await this.pool()).send({ method, url, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    const text = response.text;
    if (response.status < 200 || response.status >= 300) {
      let reason = response.statusText;
      let message = text;
      try {
        const status = JSON.parse(text) as { reason?: string; message?: string };
        reason = status.reason ?? reason;
        message = status.message ?? message;
      } catch { /* not a Status object */ }
      throw new KubeApiError(response.status, reason, `${method} ${path}: ${response.status} ${reason}: ${message}`, message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Opens a streaming request (for watches); the caller reads the body. */
  async stream(path: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const url = `${this.server}${path}`;
    const headers = await this.headers(url, HttpMethod.GET);
    const response = await (await this.pool('watch')).stream({ method: 'GET', url, headers, signal });
    if (response.status !== 200) {
      const text = await response.text();
      throw new KubeApiError(response.status, response.statusText, `watch ${path}: ${response.status}: ${text}`);
    }
    return Readable.toWeb(response.body) as ReadableStream<Uint8Array>;
  }

  /** Plural name and scope of a type, from API discovery (cached per group/version). */
  async resourceInfo(type: TypeRef): Promise<ResourceInfo> {
    const load = async (): Promise<Map<string, ResourceInfo>> => {
      const path = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
      const list = await this.request<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>(HttpMethod.GET, path);
      return new Map(list.resources.filter((r) => !r.name.includes('/')).map((r) => [r.kind, { plural: r.name, namespaced: r.namespaced }]));
    };
    // A kind missing from a cached group/version may be a CRD installed since: rediscover once.
    for (const refresh of [false, true]) {
      if (refresh) this.discovery.delete(type.apiVersion);
      let cached = this.discovery.get(type.apiVersion);
      if (!cached) {
        cached = load();
        this.discovery.set(type.apiVersion, cached);
        // A failed discovery (e.g. a CRD not installed yet) must be retried later, not cached.
        cached.catch(() => this.discovery.delete(type.apiVersion));
      }
      const info = (await cached).get(type.kind);
      if (info) return info;
    }
    throw new KubeApiError(404, 'NotFound', `the API server does not serve ${type.kind} in ${type.apiVersion}`);
  }

  /** The REST path of a collection (namespace ignored for cluster-scoped types) or of one object. */
  async path(type: TypeRef, namespace?: string, name?: string, query?: Record<string, string | undefined>): Promise<string> {
    const info = await this.resourceInfo(type);
    const base = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
    const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    const object = name ? `/${encodeURIComponent(name)}` : '';
    const params = new URLSearchParams(Object.entries(query ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
    const qs = params.toString();
    return `${base}${ns}/${info.plural}${object}${qs ? `?${qs}` : ''}`;
  }

  /** Lists objects of a type. */
  async list<T extends KubeObject = KubeObject>(type: TypeRef, options: ListOptions = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const path = await this.path(type, options.namespace, undefined, { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, resourceVersion: options.resourceVersion });
    const list = await this.request<{ items: T[]; metadata: { resourceVersion: string } }>(HttpMethod.GET, path);
    // List items carry no apiVersion/kind: put them back so every cached object is self-describing.
    for (const item of list.items) {
      item.apiVersion = type.apiVersion;
      item.kind = type.kind;
    }
    return { items: list.items, resourceVersion: list.metadata.resourceVersion };
  }

  /** Reads one object; throws KubeApiError 404 when absent. */
  async get<T extends KubeObject = KubeObject>(type: TypeRef, name: string, namespace?: string): Promise<T> {
    return this.request<T>(HttpMethod.GET, await this.path(type, namespace, name));
  }

  /** Server-side apply of `object` with our field manager; `force` takes over conflicting fields. */
  async apply<T extends KubeObject = KubeObject>(object: KubeObject, options: { force?: boolean; subresource?: 'status'; manager?: string } = {}): Promise<T> {
    const base = await this.path(object, object.metadata.namespace, object.metadata.name);
    const path = `${base.replace(/\?.*$/, '')}${options.subresource ? `/${options.subresource}` : ''}?${new URLSearchParams({ fieldManager: options.manager ?? fieldManager, ...(options.force ? { force: 'true' } : {}) })}`;
    return this.request<T>(HttpMethod.PATCH, path, object, 'application/apply-patch+yaml');
  }

  /** A JSON merge patch or JSON patch of one object (optionally its status). */
  async patch<T extends KubeObject = KubeObject>(type: TypeRef, name: string, namespace: string | undefined, patch: unknown, kind: 'merge' | 'json' = 'merge', subresource?: 'status'): Promise<T> {
    const path = `${await this.path(type, namespace, name)}${subresource ? `/${subresource}` : ''}`;
    return this.request<T>(HttpMethod.PATCH, path, patch, kind === 'merge' ? 'application/merge-patch+json' : 'application/json-patch+json');
  }

  /** Creates an object. */
  async create<T extends KubeObject = KubeObject>(object: KubeObject): Promise<T> {
    return this.request<T>(HttpMethod.POST, await this.path(object, object.metadata.namespace), object);
  }

  /** Replaces an object (optimistic concurrency on metadata.resourceVersion). */
  async replace<T extends KubeObject = KubeObject>(object: KubeObject): Promise<T> {
    return this.request<T>(HttpMethod.PUT, await this.path(object, object.metadata.namespace, object.metadata.name), object);
  }

  /** Deletes an object; resolves false when it was already gone. */
  async delete(type: TypeRef, name: string, namespace?: string, propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background'): Promise<boolean> {
    try {
      await this.request(HttpMethod.DELETE, await this.path(type, namespace, name), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }
}

/**
 * A Kubernetes `MicroTime` (Lease and Event times) for epoch milliseconds: RFC 3339 with exactly
 * six fractional digits, the layout the API server parses these fields with (`RFC3339Micro`).
 */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** `namespace/name` or `name` for cluster-scoped objects: the cache and queue key of an object. */
export function namespacedName(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
