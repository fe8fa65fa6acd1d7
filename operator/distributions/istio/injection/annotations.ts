/**
 * The pod annotations and labels Istio's injector reads, and the validation it applies to their
 * values before injecting (an invalid value refuses the pod, naming every bad annotation).
 * Names and accepted values are Istio's (istio.io/api `annotation` package, `pkg/kube/inject`).
 */
import { parse as parseYaml } from 'yaml';
import { parseQuantity } from '../../../runtime/quantity.ts';
import { InjectionError } from '../../injection.ts';
import { parseProxyConfigOverride } from './proxy-config.ts';

/** Annotation and label names. */
export const ANNOTATION = {
  inject: 'sidecar.istio.io/inject',
  status: 'sidecar.istio.io/status',
  nativeSidecar: 'sidecar.istio.io/nativeSidecar',
  interceptionMode: 'sidecar.istio.io/interceptionMode',
  proxyImage: 'sidecar.istio.io/proxyImage',
  proxyImageType: 'sidecar.istio.io/proxyImageType',
  proxyCPU: 'sidecar.istio.io/proxyCPU',
  proxyMemory: 'sidecar.istio.io/proxyMemory',
  proxyCPULimit: 'sidecar.istio.io/proxyCPULimit',
  proxyMemoryLimit: 'sidecar.istio.io/proxyMemoryLimit',
  logLevel: 'sidecar.istio.io/logLevel',
  componentLogLevel: 'sidecar.istio.io/componentLogLevel',
  agentLogLevel: 'sidecar.istio.io/agentLogLevel',
  rewriteAppHTTPProbers: 'sidecar.istio.io/rewriteAppHTTPProbers',
  bootstrapOverride: 'sidecar.istio.io/bootstrapOverride',
  userVolume: 'sidecar.istio.io/userVolume',
  userVolumeMount: 'sidecar.istio.io/userVolumeMount',
  capNetBindService: 'sidecar.istio.io/capNetBindService',
  injectTemplates: 'inject.istio.io/templates',
  proxyOverrides: 'proxy.istio.io/overrides',
  statusPort: 'status.sidecar.istio.io/port',
  readinessInitialDelaySeconds: 'readiness.status.sidecar.istio.io/initialDelaySeconds',
  readinessPeriodSeconds: 'readiness.status.sidecar.istio.io/periodSeconds',
  readinessFailureThreshold: 'readiness.status.sidecar.istio.io/failureThreshold',
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  includeInboundPorts: 'traffic.sidecar.istio.io/includeInboundPorts',
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
  includeOutboundPorts: 'traffic.sidecar.istio.io/includeOutboundPorts',
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  excludeInterfaces: 'traffic.sidecar.istio.io/excludeInterfaces',
  kubevirtInterfaces: 'traffic.sidecar.istio.io/kubevirtInterfaces',
  rerouteVirtualInterfaces: 'istio.io/reroute-virtual-interfaces',
  prometheusMergeMetrics: 'prometheus.istio.io/merge-metrics',
  proxyConfig: 'proxy.istio.io/config',
  rev: 'istio.io/rev',
  defaultContainer: 'kubectl.kubernetes.io/default-container',
  defaultLogsContainer: 'kubectl.kubernetes.io/default-logs-container',
} as const;

/** Labels Istio's injector reads or writes on pods. */
export const LABEL = {
  inject: 'sidecar.istio.io/inject',
  tlsMode: 'security.istio.io/tlsMode',
  canonicalName: 'service.istio.io/canonical-name',
  canonicalRevision: 'service.istio.io/canonical-revision',
  workloadName: 'service.istio.io/workload-name',
  network: 'topology.istio.io/network',
} as const;

/** Go's strconv.ParseUint(v, 10, bits): digits only, within range. */
function parseUnsigned(value: string, bits: 16 | 32): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n <= 2 ** bits - 1 ? n : undefined;
}

/** Go's strconv.ParseBool. */
export function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/** An IPv4 or IPv6 prefix as Go's netip.ParsePrefix accepts it (no leading zeros, no zone). */
function isPrefix(text: string): boolean {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const bitsText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || (bitsText.length > 1 && bitsText.startsWith('0'))) return false;
  const bits = Number(bitsText);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) {
    return address.split('.').every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255) && bits <= 32;
  }
  if (!address.includes(':') || address.includes('%')) return false;
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  let count = head.length + tail.length;
  const last = (tail.length ? tail : head).at(-1);
  if (last?.includes('.')) count += 1; // an embedded IPv4 address takes two groups
  const valid = [...head, ...tail].every((g, i, all) => /^[0-9a-fA-F]{1,4}$/.test(g) || (i === all.length - 1 && /^\d+\.\d+\.\d+\.\d+$/.test(g)));
  return valid && (halves.length === 2 ? count < 8 : count === 8) && bits <= 128;
}

function cidrList(kind: string) {
  return (value: string): string | undefined => {
    if (value.length === 0) return undefined;
    const bad = value.split(',').find((cidr) => !isPrefix(cidr));
    return bad === undefined ? undefined : `${kind} invalid: failed parsing cidr '${bad}'`;
  };
}

function portList(kind: string) {
  return (value: string): string | undefined => {
    const trimmed = value.trim();
    if (trimmed.length === 0) return undefined;
    const bad = trimmed.split(',').find((port) => parseUnsigned(port.trim(), 16) === undefined);
    return bad === undefined ? undefined : `${kind} invalid: failed parsing port '${bad}'`;
  };
}

/** Linux interface names: non-empty, at most 15 bytes, no '/', no whitespace, not '.' or '..'. */
function interfaceList(value: string): string | undefined {
  if (value.length === 0) return undefined;
  const bad = value.split(',').map((n) => n.trim()).find((n) => !n || n.length > 15 || /[/\s:]/.test(n) || n === '.' || n === '..');
  return bad === undefined ? undefined : `invalid interface name '${bad}'`;
}

const VALIDATORS: Record<string, (value: string) => string | undefined> = {
  [ANNOTATION.interceptionMode]: (v) => (['REDIRECT', 'TPROXY', 'NONE'].includes(v) ? undefined : `interceptionMode invalid, use REDIRECT,TPROXY,NONE: ${v}`),
  [ANNOTATION.statusPort]: (v) => (parseUnsigned(v.trim(), 16) === undefined ? `excludeInboundPorts invalid: failed parsing port '${v}'` : undefined),
  [ANNOTATION.readinessInitialDelaySeconds]: (v) => (parseUnsigned(v, 32) === undefined ? `not an unsigned 32-bit integer: '${v}'` : undefined),
  [ANNOTATION.readinessPeriodSeconds]: (v) => (parseUnsigned(v, 32) === undefined ? `not an unsigned 32-bit integer: '${v}'` : undefined),
  [ANNOTATION.readinessFailureThreshold]: (v) => (parseUnsigned(v, 32) === undefined ? `not an unsigned 32-bit integer: '${v}'` : undefined),
  [ANNOTATION.includeOutboundIPRanges]: (v) => (v === '*' ? undefined : cidrList('includeIPRanges')(v)),
  [ANNOTATION.excludeOutboundIPRanges]: cidrList('excludeIPRanges'),
  [ANNOTATION.includeInboundPorts]: (v) => (v === '*' ? undefined : portList('includeInboundPorts')(v)),
  [ANNOTATION.excludeInboundPorts]: portList('excludeInboundPorts'),
  [ANNOTATION.excludeOutboundPorts]: portList('excludeOutboundPorts'),
  [ANNOTATION.excludeInterfaces]: interfaceList,
  [ANNOTATION.kubevirtInterfaces]: interfaceList,
  [ANNOTATION.rerouteVirtualInterfaces]: interfaceList,
  [ANNOTATION.prometheusMergeMetrics]: (v) => (parseGoBool(v) === undefined ? `not a boolean: '${v}'` : undefined),
  [ANNOTATION.proxyConfig]: (v) => {
    try {
      parseProxyConfigOverride(v);
      return undefined;
    } catch (error) {
      return `failed to apply proxy config: ${(error as Error).message}`;
    }
  },
  [ANNOTATION.proxyCPU]: quantity,
  [ANNOTATION.proxyMemory]: quantity,
  [ANNOTATION.proxyCPULimit]: quantity,
  [ANNOTATION.proxyMemoryLimit]: quantity,
};

function quantity(value: string): string | undefined {
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'value contains control characters';
  return parseQuantity(value) === undefined ? `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'` : undefined;
}

/**
 * Checks every annotation Istio validates; throws one InjectionError naming each invalid one, in
 * Istio's words ("invalid value 'X' for annotation 'Y': why"), so the person who wrote it can fix it.
 */
export function validateAnnotations(annotations: Readonly<Record<string, string>>): void {
  const problems = Object.entries(annotations)
    .filter(([name]) => VALIDATORS[name] !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([name, value]) => {
      const why = VALIDATORS[name]!(value);
      return why === undefined ? [] : [`invalid value '${value}' for annotation '${name}': ${why}`];
    });
  if (problems.length > 0) {
    throw new InjectionError(`failed to run injection template: ${problems.length} error${problems.length > 1 ? 's' : ''} occurred:\n${problems.map((p) => `\t* ${p}`).join('\n')}`);
  }
}

/** The annotation's value, else `fallback` (Istio's `annotation` template function). */
export function annotationOr(annotations: Readonly<Record<string, string>>, name: string, fallback: string | number): string {
  return Object.hasOwn(annotations, name) ? annotations[name]! : String(fallback);
}

/** A JSON annotation (userVolume, userVolumeMount) as an object of named entries; undefined if absent or not JSON. */
export function jsonAnnotation(annotations: Readonly<Record<string, string>>, name: string): Record<string, unknown> | undefined {
  const value = annotations[name];
  if (value === undefined) return undefined;
  try {
    const parsed = parseYaml(value) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
