/**
 * Deciding whether an owned object needs a server-side apply, and the order in which objects are
 * applied and deleted.
 *
 * A pass that changes nothing must send nothing, so before applying we ask whether everything we
 * declare is already true of the live object. Fields we do not declare (defaults, status, fields
 * another controller owns such as an HPA's replicas or an injected caBundle) are not compared,
 * which is also how we avoid fighting over them.
 */
import type { KubeObject, TypeRef } from './kube.ts';
import { isQuantityField, sameQuantity } from './quantity.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Keys that identify an element of a Kubernetes associative list, in order of preference. */
const listMapKeys = ['name', 'containerPort', 'port', 'mountPath', 'devicePath', 'type', 'key', 'ip', 'topologyKey'];

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}


/**
 * Identity of a list element under `key`. Ports are told apart by protocol too, and a port that
 * declares none is TCP, as the API server defaults it.
 */
function elementId(item: Record<string, Json>, key: string): string {
  const isPort = item.port !== undefined || item.containerPort !== undefined;
  return JSON.stringify([item[key], item.protocol ?? (isPort ? 'TCP' : null)]);
}

/** The key field shared by every element of `list` and unique among them, if the list is associative. */
function associativeKey(list: Json[]): string | undefined {
  if (list.length === 0 || !list.every(isObject)) return undefined;
  const items = list as Array<Record<string, Json>>;
  return listMapKeys.find((key) => items.every((item) => item[key] !== undefined) && new Set(items.map((item) => elementId(item, key))).size === items.length);
}

/**
 * Whether `desired` is semantically contained in `live`: every field of `desired` is present in
 * `live` with an equal value. Objects compare field by field (extra live fields are fine); lists
 * whose elements share a key field (name, port, ...) compare by key, so elements another writer
 * added are not our concern; other lists must match element for element, since server-side apply
 * owns them atomically. `path` is where `desired` sits in its object (keys from the root, list
 * indexes left out): fields that hold quantities compare by amount, every other string by spelling.
 */
export function isSubset(desired: unknown, live: unknown, path: readonly string[] = []): boolean {
  if (isObject(desired)) {
    if (!isObject(live)) return false;
    return Object.entries(desired).every(([key, value]) => {
      // An explicit null in an apply means "absent".
      if (value === null) return live[key] === undefined || live[key] === null;
      return isSubset(value, live[key], [...path, key]);
    });
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return desired.length === 0 && live === undefined;
    const key = associativeKey(desired as Json[]);
    if (key && associativeKey(live as Json[]) === key) {
      const byKey = new Map((live as Array<Record<string, Json>>).map((item) => [elementId(item, key), item]));
      return (desired as Array<Record<string, Json>>).every((item) => isSubset(item, byKey.get(elementId(item, key)), path));
    }
    return desired.length === live.length && desired.every((item, i) => isSubset(item, live[i], path));
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
 * differs. Only `metadata.labels`/`annotations` of metadata are ours to compare.
 */
export function needsApply(desired: KubeObject, live: KubeObject | undefined): boolean {
  if (!live) return true;
  const { metadata, apiVersion: _apiVersion, kind: _kind, ...body } = desired;
  if (!isSubset({ labels: metadata.labels ?? {}, annotations: metadata.annotations ?? {} }, { labels: live.metadata.labels ?? {}, annotations: live.metadata.annotations ?? {} })) return true;
  const { metadata: _liveMetadata, apiVersion: _a, kind: _k, ...liveBody } = live;
  return !isSubset(body, liveBody);
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
