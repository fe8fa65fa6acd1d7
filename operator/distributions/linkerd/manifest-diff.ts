/**
 * Structural difference between two sets of Kubernetes objects, for conformance tests against
 * upstream manifests. Mesh-agnostic (a candidate for sharing).
 *
 * Objects pair up by kind, namespace and name. Inside an object, lists whose items all carry a
 * `name` (containers, env, ports, volumes, ...) are compared by name, with their order checked
 * separately; other lists by position. `null` and absent count as equal, as they do for apply.
 * Paths read like `spec.template.spec.containers[identity].env[LINKERD2_PROXY_LOG].value`, with
 * keys that are not plain words quoted: `metadata.labels["linkerd.io/control-plane-ns"]`.
 */
import type { KubeObject } from '../../runtime/kube.ts';

/** One difference; `expected` or `actual` is undefined when that side lacks the value. */
export interface Difference {
  /** `Kind/name` or `Kind/namespace/name`. */
  object: string;
  /** Where in the object, or `<object>` when one side lacks the whole object. */
  path: string;
  expected: unknown;
  actual: unknown;
}

/** Path marker of a difference about a whole object. */
export const WHOLE_OBJECT = '<object>';

/** The identifier of an object in differences. */
export function objectId(object: KubeObject): string {
  const { namespace, name } = object.metadata;
  return namespace ? `${object.kind}/${namespace}/${name}` : `${object.kind}/${name}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const child = (path: string, key: string) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`);
const named = (items: unknown[]): items is Array<{ name: string }> => items.length > 0 && items.every((i) => isRecord(i) && typeof i.name === 'string');

function compare(expected: unknown, actual: unknown, path: string, emit: (path: string, expected: unknown, actual: unknown) => void): void {
  if (expected === null) expected = undefined;
  if (actual === null) actual = undefined;
  if (isRecord(expected) && isRecord(actual)) {
    for (const key of [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort()) compare(expected[key], actual[key], child(path, key), emit);
    return;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (named(expected) && named(actual)) {
      const byName = (items: Array<{ name: string }>) => new Map(items.map((i) => [i.name, i]));
      const [e, a] = [byName(expected), byName(actual)];
      for (const name of [...new Set([...e.keys(), ...a.keys()])]) compare(e.get(name), a.get(name), `${path}[${name}]`, emit);
      const common = (from: Array<{ name: string }>, other: Map<string, unknown>) => from.map((i) => i.name).filter((n) => other.has(n));
      const [eOrder, aOrder] = [common(expected, a), common(actual, e)];
      if (eOrder.join() !== aOrder.join()) emit(`${path}[order]`, eOrder, aOrder);
      return;
    }
    for (let i = 0; i < Math.max(expected.length, actual.length); i++) compare(expected[i], actual[i], `${path}[${i}]`, emit);
    return;
  }
  if (expected !== actual) emit(path, expected, actual);
}

/** Differences between two objects (same identity assumed). */
export function diffObject(expected: KubeObject, actual: KubeObject): Difference[] {
  const out: Difference[] = [];
  const object = objectId(expected);
  compare(expected, actual, '', (path, e, a) => out.push({ object, path, expected: e, actual: a }));
  return out;
}

/** Differences between two sets of objects, and how many objects were present on both sides. */
export function diffObjects(expected: readonly KubeObject[], actual: readonly KubeObject[]): { differences: Difference[]; compared: number } {
  const actualById = new Map(actual.map((o) => [objectId(o), o]));
  const expectedIds = new Set(expected.map(objectId));
  const differences: Difference[] = [];
  let compared = 0;
  for (const e of expected) {
    const a = actualById.get(objectId(e));
    if (!a) {
      differences.push({ object: objectId(e), path: WHOLE_OBJECT, expected: e, actual: undefined });
      continue;
    }
    compared++;
    differences.push(...diffObject(e, a));
  }
  for (const a of actual) {
    if (!expectedIds.has(objectId(a))) differences.push({ object: objectId(a), path: WHOLE_OBJECT, expected: undefined, actual: a });
  }
  return { differences, compared };
}
