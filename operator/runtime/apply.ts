/**
 * Deciding whether an owned object needs a server-side apply, and the order in which objects are
 * applied and deleted.
 *
 * A pass that changes nothing must send nothing, so before applying we ask whether everything we
 * declare is already true of the live object, comparing each field as server-side apply merges it
 * (the API server's list and map types, list-semantics.ts): an element someone added to a list we
 * own whole (a subject on our ClusterRoleBinding) is drift, and the apply that follows replaces
 * the list. Fields we do not declare (defaults, status, fields another controller owns such as an
 * HPA's replicas or an injected caBundle) are not compared, which is how we avoid fighting over them.
 * What another writer adds where an object is ours whole (a sidecar, an env var, a port: elements
 * of keyed lists, which an apply never removes) is the drift rule's to find and remove, by who
 * wrote it (drift-rule.ts).
 */
import type { KubeObject, TypeRef } from './kube.ts';
import { fieldSchema, isFreeFormMap, itemSchema, listTypeOf, UNKNOWN_SCHEMA, type SchemaNode } from './list-semantics.ts';
import { isQuantityField, sameQuantity } from './quantity.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether `desired` is semantically contained in `live`, judged by the schema of the field
 * (`schema`, see list-semantics.ts; unknown when not given, which makes every list atomic).
 * Objects compare field by field: fields we do not declare are defaults or another writer's, not
 * ours to compare. Lists compare as server-side apply merges them:
 * - an atomic list is ours whole once we declare it: the same number of elements, in order, each
 *   containing ours (an element another writer added, such as a subject on our ClusterRoleBinding,
 *   is drift; fields the API server defaults inside an element, such as a webhook rule's `scope`
 *   or a container's `terminationMessagePath`, are still not ours to compare);
 * - a map list compares element by element under the schema's keys (a key field we leave out
 *   counts as its default, e.g. a port's protocol TCP): elements with other keys are other fields,
 *   possibly another writer's; a key declared twice in the live list is drift (apply removes the
 *   copy that would hide ours, e.g. a second env var of the same name);
 * - a set contains each of our values, in any order.
 * Inside an atomic list or map (`x-kubernetes-map-type: atomic`, e.g. a Service's selector) the
 * whole value is ours: nested lists are atomic and maps with free keys hold exactly our keys.
 * `path` is where `desired` sits in its object (keys from the root, list indexes left out): fields
 * that hold quantities compare by amount, every other string by spelling.
 */
export function isSubset(desired: unknown, live: unknown, schema: SchemaNode = UNKNOWN_SCHEMA, path: readonly string[] = []): boolean {
  return contains(desired, live, schema, path, false);
}

/** {@link isSubset}, knowing whether the value lies inside an atomic list or map (`whole`). */
function contains(desired: unknown, live: unknown, schema: SchemaNode, path: readonly string[], whole: boolean): boolean {
  if (isObject(desired)) {
    if (!isObject(live)) return false;
    const inWhole = whole || schema.mapType === 'atomic';
    // A map with free keys that is one value: a key someone else added is a change to it.
    if (inWhole && isFreeFormMap(schema) && Object.keys(live).some((key) => desired[key] === undefined || desired[key] === null)) return false;
    return Object.entries(desired).every(([key, value]) => {
      // An explicit null in an apply means "absent".
      if (value === null) return live[key] === undefined || live[key] === null;
      return contains(value, live[key], fieldSchema(schema, key), [...path, key], inWhole);
    });
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return desired.length === 0 && live === undefined;
    const items = itemSchema(schema);
    const list = whole ? { type: 'atomic' as const } : listTypeOf(schema);
    if (list.type === 'map' && desired.every(isObject) && live.every(isObject)) {
      const id = (item: Record<string, Json>) => JSON.stringify(list.keys.map((key) => item[key] ?? fieldSchema(items, key).default ?? null));
      const byKey = new Map<string, Array<Record<string, Json>>>();
      for (const item of live as Array<Record<string, Json>>) byKey.set(id(item), [...(byKey.get(id(item)) ?? []), item]);
      return (desired as Array<Record<string, Json>>).every((item) => {
        const matches = byKey.get(id(item)) ?? [];
        return matches.length === 1 && contains(item, matches[0], items, path, false);
      });
    }
    if (list.type === 'set') return desired.every((item) => live.some((candidate) => contains(item, candidate, items, path, false)));
    return desired.length === live.length && desired.every((item, i) => contains(item, live[i], items, path, true));
  }
  // Go's omitempty: the API server drops empty strings, false and 0 of non-pointer fields, so a
  // declared zero value reads back as absent (e.g. an env var with value "").
  if (live === undefined && (desired === '' || desired === false || desired === 0)) return true;
  // An int-or-string (a targetPort, a quantity) written as a number may read back as a string.
  const declared = typeof desired === 'number' && typeof live === 'string' ? String(desired) : desired;
  if (declared === live) return true;
  // Quantities come back in canonical form (2048Mi as 2Gi), but only where the field is one.
  return typeof declared === 'string' && typeof live === 'string' && isQuantityField(path) && sameQuantity(declared, live);
}

/**
 * Whether `desired` must be applied over `live`: it does not exist yet, or something we declare
 * differs, judged by the kind's schema (`schema`; by default the one the operator loaded from the
 * API server, see schema-registry.ts, or unknown). Only `metadata.labels`/`annotations` of
 * metadata are ours to compare.
 */
export function needsApply(desired: KubeObject, live: KubeObject | undefined, schema: SchemaNode = UNKNOWN_SCHEMA): boolean {
  if (!live) return true;
  const { metadata, apiVersion: _apiVersion, kind: _kind, ...body } = desired;
  if (!isSubset({ labels: metadata.labels ?? {}, annotations: metadata.annotations ?? {} }, { labels: live.metadata.labels ?? {}, annotations: live.metadata.annotations ?? {} })) return true;
  const { metadata: _liveMetadata, apiVersion: _a, kind: _k, ...liveBody } = live;
  return !isSubset(body, liveBody, schema);
}

/**
 * Apply order by kind: what others depend on first (namespaces, CRDs, identities, RBAC, config),
 * then workloads, and admission webhooks last — a webhook registered before its server runs would
 * block the API calls that start it.
 */
const applyRank: Record<string, number> = {
  Namespace: 0,
  CustomResourceDefinition: 1,
  PriorityClass: 2,
  ServiceAccount: 3,
  ClusterRole: 4,
  Role: 4,
  ClusterRoleBinding: 5,
  RoleBinding: 5,
  Secret: 6,
  ConfigMap: 6,
  Service: 7,
  Deployment: 8,
  DaemonSet: 8,
  StatefulSet: 8,
  CronJob: 8,
  Job: 8,
  HorizontalPodAutoscaler: 9,
  PodDisruptionBudget: 9,
  MutatingWebhookConfiguration: 11,
  ValidatingWebhookConfiguration: 11,
};
const defaultRank = 10; // custom resources and anything else: after the workloads they configure

/** Sorts objects into apply order (stable within a rank). */
export function applyOrder<T extends TypeRef>(objects: readonly T[]): T[] {
  return [...objects].sort((a, b) => (applyRank[a.kind] ?? defaultRank) - (applyRank[b.kind] ?? defaultRank));
}

/**
 * Objects grouped by apply rank, in apply order: nothing in a stage depends on another object of
 * the same stage, so a stage may be applied concurrently once the previous one is done.
 */
export function applyStages<T extends TypeRef>(objects: readonly T[]): T[][] {
  const stages = new Map<number, T[]>();
  for (const object of applyOrder(objects)) {
    const rank = applyRank[object.kind] ?? defaultRank;
    stages.set(rank, [...(stages.get(rank) ?? []), object]);
  }
  return [...stages.values()];
}

/**
 * Sorts objects into delete order: webhooks first, so no pod creation or config change is blocked
 * by a webhook whose server is going away, then the reverse of apply order (CRDs and namespaces
 * last, since deleting them takes everything inside with them).
 */
export function deleteOrder<T extends TypeRef>(objects: readonly T[]): T[] {
  const rank = (t: T) => {
    const r = applyRank[t.kind] ?? defaultRank;
    return r === applyRank.MutatingWebhookConfiguration ? -Infinity : -r;
  };
  return [...objects].sort((a, b) => rank(a) - rank(b));
}
