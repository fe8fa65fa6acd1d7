/**
 * Kubernetes Events (`events.k8s.io/v1`) for the major transitions of what the operator manages —
 * what `kubectl describe` and `kubectl events` show a person.
 *
 * - Repeats are folded the way client-go folds them: the same (object, type, reason, action, note)
 *   seen again within the window updates the existing Event's `series` (count, lastObservedTime)
 *   instead of creating another Event. Writes for one such key never overlap; repeats that arrive
 *   while a write is in flight are folded into the next write.
 * - A note never carries key material: it passes through the one redaction (runtime/redact.ts)
 *   before anything leaves the process.
 * - Recording never fails the caller: errors are logged and the returned promise always resolves.
 *   A reconcile may therefore `await` an event, or fire it with `void`.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.ts';
import { isNotFound, microTime, type KubeClient, type KubeObject } from './kube.ts';
import { createLogger } from './logger.ts';
import { redactKeyMaterial } from './redact.ts';

/** The Event type: `Normal` for expected transitions, `Warning` for what a person should look at. */
export type EventType = 'Normal' | 'Warning';

/** A reference to a Kubernetes object, as an Event's `regarding` and `related` carry it. */
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

/** A Kubernetes object as read, by any client: what an event can be about. */
export interface ObjectWithMetadata {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** The object an event is about: a Kubernetes object as read, or a reference to one. */
export type EventSubject = ObjectWithMetadata | ObjectReference;

/** An `events.k8s.io/v1` Event as plain JSON; times are MicroTime strings ({@link microTime}). */
export interface EventObject extends KubeObject {
  metadata: KubeObject['metadata'] & { namespace: string };
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  note: string;
  type: EventType;
  regarding: ObjectReference;
  related?: ObjectReference;
  series?: { count: number; lastObservedTime: string };
}

/** The Event type, for {@link KubeClient} calls. */
const EVENT_TYPE = { apiVersion: 'events.k8s.io/v1', kind: 'Event' } as const;

/** One event to record. */
export interface EventSpec {
  regarding: EventSubject;
  /** A second object involved (e.g. the Secret a rotation wrote). */
  related?: EventSubject;
  type: EventType;
  /** Why, in UpperCamelCase (e.g. `CertificateRotated`); at most 128 characters. */
  reason: string;
  /** What the operator did or failed to do, in UpperCamelCase (e.g. `Rotate`); at most 128 characters. */
  action: string;
  /** Human-readable detail; key material is redacted and it is cut to 1024 bytes. */
  note: string;
}

/** The API server's limits on Event fields (k8s.io/kubernetes pkg/apis/core/validation/events.go). */
const NOTE_LIMIT_BYTES = 1024;
const FIELD_LIMIT = 128;

/** The default `reportingController` of our events. */
export const REPORTING_CONTROLLER = 'meshwright.dev/operator';

/** Where events about cluster-scoped objects go (the API server accepts only `default` or `kube-system`). */
const CLUSTER_SCOPED_EVENT_NAMESPACE = 'default';

function truncateBytes(text: string, limit: number): string {
  if (Buffer.byteLength(text) <= limit) return text;
  const ellipsis = '…';
  let cut = Buffer.from(text).subarray(0, limit - Buffer.byteLength(ellipsis)).toString();
  // A multi-byte character split at the cut decodes as U+FFFD: drop it.
  cut = cut.replace(/\uFFFD$/, '');
  return cut + ellipsis;
}

/** A note fit for an Event: key material redacted (before it is cut, so no key survives half-cut), at most 1024 bytes. */
export function sanitizeNote(note: string): string {
  return truncateBytes(redactKeyMaterial(note), NOTE_LIMIT_BYTES);
}

/** The object reference of `subject` (including uid and resourceVersion when known). Throws when kind or name is missing. */
export function referenceTo(subject: EventSubject): ObjectReference {
  const ref: ObjectReference =
    'metadata' in subject && subject.metadata
      ? {
          apiVersion: subject.apiVersion,
          kind: subject.kind,
          name: subject.metadata.name,
          namespace: subject.metadata.namespace,
          uid: subject.metadata.uid,
          resourceVersion: subject.metadata.resourceVersion,
        }
      : { ...(subject as ObjectReference) };
  if (!ref.kind || !ref.name) throw new Error(`an event needs the kind and name of the object it is about; got ${JSON.stringify({ kind: ref.kind, name: ref.name })}`);
  for (const key of Object.keys(ref) as Array<keyof ObjectReference>) if (ref[key] === undefined || ref[key] === '') delete ref[key];
  return ref;
}

/** Raised by an {@link EventSink} when the event to update no longer exists (events expire after an hour by default). */
export class EventGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventGoneError';
  }
}

/** Where events are written; {@link kubernetesEventSink} is the real one. */
export interface EventSink {
  /** Creates the event and returns its name. */
  create(namespace: string, event: EventObject): Promise<string>;
  /** Sets the event's series; {@link EventGoneError} when the event is gone. */
  updateSeries(namespace: string, name: string, series: { count: number; lastObservedTime: Date }): Promise<void>;
}

/** An {@link EventSink} on the `events.k8s.io/v1` API through our {@link KubeClient} (its connection pool and user agent). */
export function kubernetesEventSink(client: KubeClient): EventSink {
  return {
    async create(namespace, event) {
      const created = await client.create<EventObject>({ ...event, metadata: { ...event.metadata, namespace } });
      return created.metadata.name;
    },
    async updateSeries(namespace, name, series) {
      try {
        await client.patch(EVENT_TYPE, name, namespace, { series: { count: series.count, lastObservedTime: microTime(series.lastObservedTime.getTime()) } }, 'merge');
      } catch (error) {
        if (isNotFound(error)) throw new EventGoneError(`event ${namespace}/${name} is gone`);
        throw error;
      }
    },
  };
}

/** Settings of {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Cluster access; ignored when `sink` is given. One of the two is required. */
  client?: KubeClient;
  /** Where events go (tests pass an in-memory one). */
  sink?: EventSink;
  /** This process's identity, written as `reportingInstance` (at most 128 characters). */
  identity: string;
  /** Written as `reportingController`. Default `meshwright.dev/operator`. */
  reportingController?: string;
  /** A repeat later than this after the previous occurrence starts a new Event. Default 10 minutes. */
  dedupWindowMs?: number;
  /** How many distinct events to remember for folding repeats. Default 4096. */
  maxCachedEvents?: number;
  clock?: Clock;
  log?: Logger;
}

interface CachedEvent {
  namespace: string;
  /** The Event's name once created. */
  name: string | undefined;
  event: EventObject;
  count: number;
  lastObservedAt: number;
  /** An occurrence not yet written. */
  dirty: boolean;
  /** The write loop running for this event, if any. */
  writing: Promise<void> | undefined;
}

/** Records Kubernetes Events, folding repeats into series; see the module comment. */
export class EventRecorder {
  private readonly sink: EventSink;
  private readonly identity: string;
  private readonly reportingController: string;
  private readonly windowMs: number;
  private readonly maxCached: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly cache = new Map<string, CachedEvent>();
  private readonly inFlight = new Set<Promise<void>>();
  private sequence = 0;

  constructor(options: EventRecorderOptions) {
    if (!options.sink && !options.client) throw new Error('event recorder: either client or sink is required');
    this.sink = options.sink ?? kubernetesEventSink(options.client!);
    this.identity = options.identity.slice(0, FIELD_LIMIT);
    this.reportingController = options.reportingController ?? REPORTING_CONTROLLER;
    this.windowMs = options.dedupWindowMs ?? 10 * 60_000;
    this.maxCached = options.maxCachedEvents ?? 4096;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? createLogger({ name: 'events' });
  }

  /** Records a `Normal` event. Never rejects. */
  normal(regarding: EventSubject, reason: string, action: string, note: string): Promise<void> {
    return this.record({ regarding, type: 'Normal', reason, action, note });
  }

  /** Records a `Warning` event. Never rejects. */
  warning(regarding: EventSubject, reason: string, action: string, note: string): Promise<void> {
    return this.record({ regarding, type: 'Warning', reason, action, note });
  }

  /** Records an event, or folds it into the series of an identical recent one. Never rejects: failures are logged. */
  record(spec: EventSpec): Promise<void> {
    const done = this.recordOrThrow(spec).catch((error: unknown) => {
      let regarding: string | undefined;
      try {
        const ref = referenceTo(spec.regarding);
        regarding = `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
      } catch {
        regarding = undefined;
      }
      this.log.warn({ err: error, regarding, reason: spec.reason, type: spec.type }, 'could not record event');
    });
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    return done;
  }

  /** Resolves once every event recorded so far has been written (or has failed); for graceful shutdown. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async recordOrThrow(spec: EventSpec): Promise<void> {
    const regarding = referenceTo(spec.regarding);
    const related = spec.related ? referenceTo(spec.related) : undefined;
    if (spec.type !== 'Normal' && spec.type !== 'Warning') throw new Error(`event type must be Normal or Warning, not ${JSON.stringify(spec.type)}`);
    for (const [field, value] of [['reason', spec.reason], ['action', spec.action]] as const) {
      if (!value || value.length > FIELD_LIMIT) throw new Error(`event ${field} must have 1 to ${FIELD_LIMIT} characters; got ${JSON.stringify(value)}`);
    }
    const note = sanitizeNote(spec.note);
    const namespace = regarding.namespace ?? CLUSTER_SCOPED_EVENT_NAMESPACE;
    const key = JSON.stringify([regarding.uid ?? '', regarding.apiVersion ?? '', regarding.kind, regarding.namespace ?? '', regarding.name, related?.uid ?? related?.name ?? '', spec.type, spec.reason, spec.action, note]);
    const now = this.clock.now();

    let entry = this.cache.get(key);
    if (entry && now - entry.lastObservedAt > this.windowMs) {
      this.cache.delete(key);
      entry = undefined;
    }
    if (entry) {
      entry.count += 1;
      entry.lastObservedAt = now;
      entry.dirty = true;
      // Move to the end: the map's order is least recently seen first.
      this.cache.delete(key);
      this.cache.set(key, entry);
    } else {
      const event: EventObject = {
        ...EVENT_TYPE,
        metadata: { name: this.eventName(regarding.name!, now), namespace },
        eventTime: microTime(now),
        reportingController: this.reportingController,
        reportingInstance: this.identity,
        action: spec.action,
        reason: spec.reason,
        note,
        type: spec.type,
        regarding,
        ...(related ? { related } : {}),
      };
      entry = { namespace, name: undefined, event, count: 1, lastObservedAt: now, dirty: true, writing: undefined };
      this.cache.set(key, entry);
      this.evict();
    }
    await this.flush(key, entry);
  }

  /** Writes what `entry` has not written yet: the Event itself, then its series; one loop per entry. */
  private flush(key: string, entry: CachedEvent): Promise<void> {
    entry.writing ??= (async () => {
      try {
        while (entry.dirty) {
          entry.dirty = false;
          if (entry.name === undefined) {
            entry.name = await this.sink.create(entry.namespace, entry.event);
            continue;
          }
          try {
            await this.sink.updateSeries(entry.namespace, entry.name, { count: entry.count, lastObservedTime: new Date(entry.lastObservedAt) });
          } catch (error) {
            if (!(error instanceof EventGoneError)) throw error;
            // Expired or deleted: start over with a fresh Event.
            entry.name = undefined;
            entry.count = 1;
            entry.event = { ...entry.event, metadata: { ...entry.event.metadata, name: this.eventName(entry.event.regarding.name!, entry.lastObservedAt) }, eventTime: microTime(entry.lastObservedAt) };
            entry.dirty = true;
          }
        }
      } catch (error) {
        // Never created: forget it, so the next occurrence tries to create it again.
        if (entry.name === undefined && this.cache.get(key) === entry) this.cache.delete(key);
        throw error;
      } finally {
        entry.writing = undefined;
      }
    })();
    return entry.writing;
  }

  /** client-go's naming, `<object>.<hex nanoseconds>`, made unique within this process and a valid DNS subdomain. */
  private eventName(objectName: string, now: number): string {
    const nanos = BigInt(now) * 1_000_000n + BigInt(this.sequence++ % 1_000_000);
    const suffix = `.${nanos.toString(16)}`;
    const base = objectName.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 253 - suffix.length).replace(/[^a-z0-9]+$/, '');
    return `${base || 'object'}${suffix}`;
  }

  private evict(): void {
    for (const [key, entry] of this.cache) {
      if (this.cache.size <= this.maxCached) break;
      if (entry.writing) continue;
      this.cache.delete(key);
    }
  }
}
