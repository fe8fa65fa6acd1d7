/**
 * The bench's own watches: informers (the operator's implementation, so both sides parse watch
 * streams the same way) on several kinds, with waiters that resolve at the moment a matching watch
 * event is delivered. That moment (`performance.now()`) is what the latencies are measured to.
 */
import { performance } from 'node:perf_hooks';
import { Informer, type InformerEventType } from '../../operator/runtime/informer.ts';
import type { KubeClient, KubeObject, TypeRef } from '../../operator/runtime/kube.ts';

/** An object's identity. */
export interface ObjectRef extends TypeRef {
  namespace?: string;
  name: string;
}

/** Decides whether a watch event is the one waited for. */
export type EventPredicate = (type: InformerEventType, object: KubeObject) => boolean;

interface Waiter {
  ref: ObjectRef;
  predicate: EventPredicate;
  resolve: (at: number) => void;
}

const typeKey = (type: TypeRef) => `${type.apiVersion}/${type.kind}`;

/** Label-selected watches on a set of kinds. */
export class Watches {
  private readonly informers = new Map<string, Informer>();
  private waiters: Waiter[] = [];

  constructor(client: KubeClient, types: readonly TypeRef[], selector: { labelSelector?: string; fieldSelector?: string }) {
    for (const type of types) {
      const informer = new Informer({ client, type, ...selector });
      informer.on((event, object) => this.deliver(event, object, performance.now()));
      this.informers.set(typeKey(type), informer);
    }
  }

  private deliver(type: InformerEventType, object: KubeObject, at: number): void {
    this.waiters = this.waiters.filter((waiter) => {
      const { ref } = waiter;
      if (ref.kind !== object.kind || ref.apiVersion !== object.apiVersion || ref.name !== object.metadata.name || (ref.namespace ?? '') !== (object.metadata.namespace ?? '')) return true;
      if (!waiter.predicate(type, object)) return true;
      waiter.resolve(at);
      return false;
    });
  }

  /** Lists and starts watching every kind. */
  async start(): Promise<void> {
    await Promise.all([...this.informers.values()].map((informer) => informer.start()));
  }

  /** The cached object. */
  get(ref: ObjectRef): KubeObject | undefined {
    return this.informers.get(typeKey(ref))?.get(ref.name, ref.namespace);
  }

  /**
   * Resolves with the delivery time of the first watch event from now on for `ref` that satisfies
   * `predicate`; register it before the write whose effect it waits for.
   */
  next(ref: ObjectRef, predicate: EventPredicate, timeoutMs = 30_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        ref, predicate, resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching watch event for ${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Stops every watch. */
  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
  }
}
