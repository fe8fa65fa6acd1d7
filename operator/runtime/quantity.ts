/**
 * Kubernetes resource quantities (`500m`, `2Gi`, `1e3`), parsed only to compare them: the API
 * server stores a canonical form (`2048Mi` comes back as `2Gi`), so a declared quantity must be
 * compared by value, not by spelling, or every pass would see a difference and write. Only fields
 * that are quantities are canonicalised, so only those compare by value ({@link isQuantityField}):
 * elsewhere `"01"` and `"1"` are different strings (an env var, ConfigMap data).
 */
const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

const SUFFIX: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

/** The value of a quantity string, or undefined when `text` is not one. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const [, number, exponent, suffix] = match;
  return Number(number) * (exponent ? 10 ** Number(exponent.slice(1)) : 1) * (suffix ? SUFFIX[suffix]! : 1);
}

/** Whether two quantity strings denote the same amount (false when either is not a quantity). */
export function sameQuantity(a: string, b: string): boolean {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  return x !== undefined && y !== undefined && Math.abs(x - y) <= Math.abs(x) * 1e-12;
}

/**
 * Fields of Kubernetes objects whose values are quantities, as dotted key paths (list elements
 * are transparent; `*` is any key). A path matches the end of a field's path, or its whole path
 * when it starts with `^` (for names too common to trust anywhere, such as `hard`).
 */
const QUANTITY_FIELDS: ReadonlyArray<{ anchored: boolean; keys: string[] }> = [
  // Containers, pod-level resources, PersistentVolumeClaims and volume claim templates.
  'resources.requests.*', 'resources.limits.*',
  // Pod overhead and RuntimeClass overhead.
  'spec.overhead.*', 'overhead.podFixed.*',
  'emptyDir.sizeLimit',
  'resourceFieldRef.divisor',
  // LimitRange.
  'spec.limits.max.*', 'spec.limits.min.*', 'spec.limits.default.*', 'spec.limits.defaultRequest.*', 'spec.limits.maxLimitRequestRatio.*',
  // ResourceQuota, PersistentVolume capacity.
  '^spec.hard.*', '^status.hard.*', '^status.used.*', '^spec.capacity.*', '^status.capacity.*',
  // HorizontalPodAutoscaler (autoscaling/v2) metric targets.
  'target.value', 'target.averageValue',
].map((pattern) => ({ anchored: pattern.startsWith('^'), keys: pattern.replace(/^\^/, '').split('.') }));

/** Whether the field at `path` (object keys from the object's root, list indexes left out) holds a quantity. */
export function isQuantityField(path: readonly string[]): boolean {
  return QUANTITY_FIELDS.some(({ anchored, keys }) => {
    if (anchored ? path.length !== keys.length : path.length < keys.length) return false;
    const tail = path.slice(path.length - keys.length);
    return keys.every((key, i) => key === '*' || key === tail[i]);
  });
}
