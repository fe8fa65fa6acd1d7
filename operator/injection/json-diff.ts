/**
 * The JSON Patch (RFC 6902) an admission response carries: computed from the pod as the webhook
 * received it and the pod the injector returned. Pure.
 *
 * Objects are compared key by key (removed keys → `remove`, new ones → `add`, changed scalars →
 * `replace`). Lists: elements inserted anywhere into an otherwise unchanged list become `add`s at
 * their index (an injector prepends `istio-init`, appends `istio-proxy`); a list of the same length
 * is compared element by element; any other change replaces the whole list. Replacing is always
 * correct — the API server applies the patch to exactly the object it sent us — but naming only
 * what changed keeps the patch readable in the audit log and small on the wire.
 */
import type { JsonPatchOperation } from '../distributions/json-patch.ts';

/** A JSON Pointer token with `~` and `/` escaped (RFC 6901): annotation keys hold `/`. */
export function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => equal(item, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && equal(a[key], b[key]));
  }
  return false;
}

/** Leading and trailing elements `before` and `after` share (never overlapping in the shorter list). */
function commonEnds(before: readonly unknown[], after: readonly unknown[]): { prefix: number; suffix: number } {
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && equal(before[prefix], after[prefix])) prefix++;
  let suffix = 0;
  while (suffix < before.length - prefix && suffix < after.length - prefix && equal(before[before.length - 1 - suffix], after[after.length - 1 - suffix])) suffix++;
  return { prefix, suffix };
}

function diffArrays(before: readonly unknown[], after: readonly unknown[], path: string, out: JsonPatchOperation[]): void {
  const { prefix, suffix } = commonEnds(before, after);
  if (before.length - prefix - suffix === 0) {
    // Pure insertion: everything after the common prefix and before the common suffix is new.
    for (let i = prefix; i < after.length - suffix; i++) out.push({ op: 'add', path: `${path}/${i}`, value: after[i] });
    return;
  }
  if (before.length === after.length) {
    for (let i = 0; i < before.length; i++) diffValues(before[i], after[i], `${path}/${i}`, out);
    return;
  }
  out.push({ op: 'replace', path, value: after });
}

function diffValues(before: unknown, after: unknown, path: string, out: JsonPatchOperation[]): void {
  // Objects are walked key by key (no deep comparison first: that would visit each subtree once per level above it).
  if (isObject(before) && isObject(after)) {
    for (const key of Object.keys(before)) {
      if (!Object.hasOwn(after, key)) out.push({ op: 'remove', path: `${path}/${pointerToken(key)}` });
    }
    for (const [key, value] of Object.entries(after)) {
      const child = `${path}/${pointerToken(key)}`;
      if (!Object.hasOwn(before, key)) out.push({ op: 'add', path: child, value });
      else diffValues(before[key], value, child, out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) return diffArrays(before, after, path, out);
  if (!equal(before, after)) out.push({ op: 'replace', path, value: after });
}

/**
 * The operations that turn `before` into `after` (both plain JSON documents whose root is an
 * object). Values that JSON cannot carry (`undefined`) are dropped first, as they would be on the
 * wire. Applying the result to `before` gives `after`.
 */
export function jsonPatchBetween(before: unknown, after: unknown): JsonPatchOperation[] {
  const plainBefore = JSON.parse(JSON.stringify(before)) as unknown;
  const plainAfter = JSON.parse(JSON.stringify(after)) as unknown;
  if (!isObject(plainBefore) || !isObject(plainAfter)) throw new Error('a JSON patch between two documents needs objects at their root');
  const out: JsonPatchOperation[] = [];
  diffValues(plainBefore, plainAfter, '', out);
  return out;
}
