/**
 * An informer: lists a kind once, then watches it, keeping a cache the reconcilers read instead of
 * asking the API server. Handlers only learn *that* something changed (they enqueue keys); the
 * reconcile reads current state from the cache.
 *
 * A failed watch or list is retried with exponential backoff; `410 Gone` (our resourceVersion was
 * compacted away) relists, and the relist's differences are delivered as events so that nothing
 * deleted meanwhile goes unnoticed.
 *
 * A kind the API server does not serve (404: a CRD not installed yet, e.g. a mesh's own kinds
 * before that mesh is installed) is not a failure to wait for: there are no such objects, so the
 * cache is complete as it is, empty. The informer says so ({@link Informer.isNotServed}), lets
 * start() resolve, and keeps retrying with backoff until the kind appears
 * ({@link Informer.retryNow} ends the wait when we install the CRD ourselves).
 */
import { ExponentialBackoff } from './backoff.ts';
import { systemClock, type Clock, type Timer } from './clock.ts';
import { isNotFound, KubeApiError, namespacedName, type KubeClient, type KubeObject, type TypeRef } from './kube.ts';

/** What happened to an object. */
export type InformerEventType = 'add' | 'update' | 'delete';

/** A change handler; `old` is the previous cached version on update. */
export type InformerHandler = (type: InformerEventType, object: KubeObject, old?: KubeObject) => void;

/** Settings of {@link Informer}. */
export interface InformerOptions {
  client: KubeClient;
  type: TypeRef;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  clock?: Clock;
  backoff?: ExponentialBackoff;
  /** Called with every list/watch failure before the retry. */
  onError?: (error: unknown, retryInMs: number) => void;
  /**
   * Applied to each object before it is cached. The default drops `metadata.managedFields`, which
   * nothing here reads and which often doubles an object's size.
   */
  transform?: (object: KubeObject) => KubeObject;
}

const dropManagedFields = (object: KubeObject): KubeObject => {
  delete object.metadata.managedFields;
  return object;
};

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; message?: string };
}

/** A cached, watched view of one kind (optionally label/field selected). */
export class Informer {
  readonly type: TypeRef;
  private readonly cache = new Map<string, KubeObject>();
  private changeCount = 0;
  private readonly handlers: InformerHandler[] = [];
  private readonly clock: Clock;
  private readonly backoff: ExponentialBackoff;
  private readonly transform: (object: KubeObject) => KubeObject;
  private resourceVersion = '';
  private abort?: AbortController;
  private retry?: { timer: Timer; wake: () => void };
  private stopped = true;
  private synced = false;
  private notServed = false;
  private failure: string | undefined;
  private syncWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private loop?: Promise<void>;

  constructor(private readonly options: InformerOptions) {
    this.type = options.type;
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? new ExponentialBackoff({ baseMs: 500, maxMs: 30_000 });
    this.transform = options.transform ?? dropManagedFields;
  }

  /** Registers a change handler (before or after start). */
  on(handler: InformerHandler): void {
    this.handlers.push(handler);
  }

  /** The cached object, if any. */
  get(name: string, namespace?: string): KubeObject | undefined {
    return this.cache.get(namespacedName(namespace, name));
  }

  /** Cached objects, optionally of one namespace. */
  list(namespace?: string): KubeObject[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  /**
   * How many times the cache changed so far (each add, update and delete it reported): two equal
   * readings mean the cache held the same objects in between, so what was computed from it holds.
   */
  changes(): number {
    return this.changeCount;
  }

  /** Whether a list has completed: the cache holds what the API server had (then keeps it current). */
  hasSynced(): boolean {
    return this.synced;
  }

  /**
   * True while the API server does not serve this kind (the last list attempt got 404). The cache
   * is then empty, and rightly so; the informer keeps retrying until the kind is served.
   */
  isNotServed(): boolean {
    return this.notServed;
  }

  /** The last list or watch failure since the last successful list, to tell why a cache has not synced. */
  lastError(): string | undefined {
    return this.failure;
  }

  /**
   * Starts listing and watching; resolves once the cache holds the first complete list, or once
   * the kind turns out not to be served (an empty cache is then complete).
   */
  start(): Promise<void> {
    if (!this.stopped) return this.synced || this.notServed ? Promise.resolve() : new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
    this.stopped = false;
    const synced = new Promise<void>((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
    this.loop = this.run();
    return synced;
  }

  /** Stops watching; the cache keeps its last state. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.retry?.timer.cancel();
    this.retry?.wake();
    for (const waiter of this.syncWaiters.splice(0)) waiter.reject(new Error(`informer for ${this.type.kind} stopped before it synced`));
    await this.loop;
  }

  /**
   * Ends a backoff wait at once: for a kind whose API just appeared (we installed its CRD), waiting
   * out a backoff of up to 30 s would leave its cache empty for no reason.
   */
  retryNow(): void {
    if (this.stopped || !this.retry) return;
    this.retry.timer.cancel();
    this.retry.wake();
  }

  private emit(type: InformerEventType, object: KubeObject, old?: KubeObject): void {
    this.changeCount++;
    for (const handler of this.handlers) handler(type, object, old);
  }

  /** Replaces the cache with a fresh list and emits the differences. */
  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.options.client.list(this.type, this.options);
    const seen = new Set<string>();
    for (const raw of items) {
      const object = this.transform(raw);
      const key = namespacedName(object.metadata.namespace, object.metadata.name);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, object);
      if (!old) this.emit('add', object);
      else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) this.emit('update', object, old);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = resourceVersion;
    this.notServed = false;
    this.failure = undefined;
    this.synced = true;
    for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
  }

  /**
   * The API server answered 404 for this kind: nothing of it exists. Whatever the cache held is
   * gone (its CRD was deleted) and is reported as deleted; the next attempt lists afresh.
   */
  private markNotServed(): void {
    this.resourceVersion = '';
    this.notServed = true;
    for (const [key, old] of this.cache) {
      this.cache.delete(key);
      this.emit('delete', old);
    }
    for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
  }

  private apply(event: WatchEvent): void {
    if (event.type === 'BOOKMARK') {
      this.resourceVersion = event.object.metadata.resourceVersion ?? this.resourceVersion;
      return;
    }
    if (event.type === 'ERROR') {
      const status = event.object;
      throw new KubeApiError(status.code ?? 500, 'WatchError', status.message ?? 'watch error');
    }
    const object = this.transform(event.object);
    const key = namespacedName(object.metadata.namespace, object.metadata.name);
    this.resourceVersion = object.metadata.resourceVersion ?? this.resourceVersion;
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', object);
    } else {
      this.cache.set(key, object);
      this.emit(old ? 'update' : 'add', object, old);
    }
  }

  /** Watches from the current resourceVersion until the server closes the stream. */
  private async watch(): Promise<void> {
    // stop() may have run while the list was in flight: it aborted no watch, so none may start.
    if (this.stopped) return;
    this.abort = new AbortController();
    // Like client-go: the server ends each watch after 5-10 minutes, spreading reconnects.
    const timeoutSeconds = String(300 + Math.floor(Math.random() * 300));
    const path = await this.options.client.path(this.type, this.options.namespace, undefined, {
      watch: 'true', allowWatchBookmarks: 'true', resourceVersion: this.resourceVersion, timeoutSeconds,
      labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector,
    });
    const body = await this.options.client.stream(path, this.abort.signal);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim()) this.apply(JSON.parse(line) as WatchEvent);
      }
      // Events arrived: the connection is healthy again.
      this.backoff.forget('watch');
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        await this.watch();
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof KubeApiError && error.status === 410) {
          this.resourceVersion = ''; // compacted: relist at once
          continue;
        }
        if (isNotFound(error)) this.markNotServed();
        else this.failure = error instanceof Error ? error.message : String(error);
        const delay = this.backoff.next('watch');
        this.options.onError?.(error, delay);
        await new Promise<void>((resolve) => {
          this.retry = { timer: this.clock.setTimer(delay, resolve), wake: resolve };
        });
        this.retry = undefined;
      }
    }
  }
}
