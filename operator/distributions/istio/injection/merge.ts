/**
 * Merging the rendered template into a pod as Istio does (a Kubernetes strategic merge patch):
 * maps merge key by key, lists of containers, volumes, env vars, ports and volume mounts merge by
 * their keys (new entries appended), other lists are replaced, `null` removes a field. Then the
 * containers are ordered as Istio orders them.
 */
import type { Json } from './sidecar.ts';
import { INIT_CONTAINER, PROXY_CONTAINER } from './sidecar.ts';

/** Merge keys of the pod lists Istio's template touches (from the Kubernetes API's patch strategy). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  volumes: 'name',
  env: 'name',
  ports: 'containerPort',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
};

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `patch` merged over `base` (new objects; neither input changes). */
export function strategicMerge(base: unknown, patch: unknown, key?: string): unknown {
  if (isRecord(base) && isRecord(patch)) {
    const out: Json = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in base ? strategicMerge(base[k], v, k) : structuredClone(v);
    }
    return out;
  }
  const mergeKey = key ? MERGE_KEYS[key] : undefined;
  if (mergeKey && Array.isArray(base) && Array.isArray(patch)) {
    // The patch's items (merged with the pod's of the same key) keep the patch's order; the pod's
    // other items are slotted in where the pod had them relative to patched items it also had, so
    // items new to the pod come first (Kubernetes' mergeSortedSlice).
    const keyOf = (e: unknown) => (isRecord(e) ? e[mergeKey] : undefined);
    const serverIndex = (e: unknown) => base.findIndex((b) => keyOf(b) === keyOf(e));
    const patched = patch.map((item) => {
      const index = serverIndex(item);
      return index >= 0 ? strategicMerge(base[index], item) : structuredClone(item);
    });
    const serverOnly = base.filter((b) => !patch.some((p) => keyOf(p) === keyOf(b))).map((b) => structuredClone(b) as unknown);
    const out: unknown[] = [];
    let i = 0;
    let j = 0;
    while (i < serverOnly.length || j < patched.length) {
      if (j >= patched.length) out.push(serverOnly[i++]);
      else if (i >= serverOnly.length) out.push(patched[j++]);
      else {
        const li = serverIndex(serverOnly[i]);
        const ri = serverIndex(patched[j]);
        out.push(li >= 0 && ri >= 0 && li < ri ? serverOnly[i++] : patched[j++]);
      }
    }
    return out;
  }
  return structuredClone(patch);
}

/** `list` with the element named `name` moved first or last (unchanged when absent). */
function moveNamed(list: readonly Json[], name: string, where: 'first' | 'last'): Json[] {
  const match = list.find((c) => c.name === name);
  if (!match) return [...list];
  const rest = list.filter((c) => c !== match);
  return where === 'first' ? [match, ...rest] : [...rest, match];
}

/**
 * Istio's container order: the proxy last among containers (first when it holds the application
 * until it starts); as a native sidecar, `istio-init` then the proxy before every other init
 * container (so they are in the mesh); otherwise `istio-init` after every other init container
 * (so they run before traffic is captured).
 */
export function orderContainers(spec: Json, holdApplication: boolean): Json {
  const containers = moveNamed((spec.containers as Json[] | undefined) ?? [], PROXY_CONTAINER, holdApplication ? 'first' : 'last');
  let init = (spec.initContainers as Json[] | undefined) ?? [];
  if (init.some((c) => c.name === PROXY_CONTAINER)) {
    for (const name of ['enable-core-dump', PROXY_CONTAINER, 'istio-validation', INIT_CONTAINER]) init = moveNamed(init, name, 'first');
  } else {
    init = moveNamed(init, 'istio-validation', 'first');
    init = moveNamed(init, INIT_CONTAINER, 'last');
    init = moveNamed(init, 'enable-core-dump', 'last');
  }
  return { ...spec, containers, ...(spec.initContainers !== undefined || init.length ? { initContainers: init } : {}) };
}
