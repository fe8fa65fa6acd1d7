/**
 * Container resources (requests and limits) as the distributions combine them: a profile's
 * values, then what the spec says, quantity by quantity.
 */
import { parseQuantity } from '../runtime/quantity.ts';
import { UnsupportedSpecError } from './distribution.ts';

/** Container resources as rendered: quantities as strings. */
export interface Resources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/** Container resources as the spec writes them (the API also admits bare numbers such as `cpu: 1`). */
export interface SpecResources {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}

/** A quantity map with every value as a string; undefined stays undefined. */
function asStrings(map: Record<string, string | number> | undefined): Record<string, string> | undefined {
  return map && Object.fromEntries(Object.entries(map).map(([name, quantity]) => [name, String(quantity)]));
}

/** Spec resources with every quantity as a string; only the sections the spec has. */
export function quantitiesAsStrings(resources: SpecResources | undefined): Resources | undefined {
  if (!resources) return undefined;
  const requests = asStrings(resources.requests);
  const limits = asStrings(resources.limits);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

/**
 * `override` merged over `base` quantity by quantity (requests.cpu, requests.memory, limits.cpu,
 * limits.memory, ...): a spec that sets only requests keeps the profile's limits, as the meshes'
 * own Helm values merge. A fresh object; undefined when neither declares anything.
 */
export function mergeResources(base: SpecResources | undefined, override: SpecResources | undefined): Resources | undefined {
  if (!base && !override) return undefined;
  const section = (key: 'requests' | 'limits') => {
    const merged = { ...asStrings(base?.[key]), ...asStrings(override?.[key]) };
    return Object.keys(merged).length > 0 ? { [key]: merged } : {};
  };
  return { ...section('requests'), ...section('limits') };
}

/** Where a spec's resources sit and which profile they are merged over, for messages. */
export interface ResourcesOrigin {
  /** The spec field, e.g. `meshConfig.proxy.resources`. */
  field: string;
  /** The profile whose values are merged under the spec's. */
  profile: string;
}

/**
 * {@link mergeResources}, refusing a result whose request of some resource is above its limit
 * (the API server would refuse every pod carrying it). The CRD's CEL rules refuse that within the
 * spec; only here can the spec's request meet the profile's limit, or the profile's request the
 * spec's limit. Throws UnsupportedSpecError naming both values and where each comes from.
 */
export function mergeResourcesWithinLimits(base: SpecResources | undefined, override: SpecResources | undefined, origin: ResourcesOrigin): Resources | undefined {
  const merged = mergeResources(base, override);
  const problems = Object.entries(merged?.requests ?? {}).flatMap(([name, request]) => {
    const limit = merged?.limits?.[name];
    const [requested, allowed] = [parseQuantity(request), limit === undefined ? undefined : parseQuantity(limit)];
    // Unparseable quantities are the schema's to refuse; a rounding error is not an excess.
    if (requested === undefined || allowed === undefined || requested - allowed <= Math.abs(allowed) * 1e-12) return [];
    const from = (key: 'requests' | 'limits', value: string) => override?.[key]?.[name] !== undefined
      ? `${origin.field}.${key}.${name} (${value})`
      : `the ${key === 'requests' ? 'request' : 'limit'} of profile ${origin.profile} (${name}: ${value})`;
    const fix = override?.requests?.[name] !== undefined && override?.limits?.[name] === undefined
      ? `set ${origin.field}.limits.${name} too, or request at most ${limit}`
      : override?.limits?.[name] !== undefined && override?.requests?.[name] === undefined
        ? `set ${origin.field}.requests.${name} too, or allow at least ${request}`
        : `lower ${origin.field}.requests.${name} or raise ${origin.field}.limits.${name}`;
    return [`${from('requests', request)} exceeds ${from('limits', limit!)}: ${fix}`];
  });
  if (problems.length > 0) {
    throw new UnsupportedSpecError('ResourceRequestAboveLimit', `${problems.join('. ')}. The API server refuses a pod whose request is above its limit.`);
  }
  return merged;
}
