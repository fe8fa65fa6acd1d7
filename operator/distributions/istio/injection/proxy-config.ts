/**
 * Istio's ProxyConfig as the injector uses it: the mesh's `defaultConfig` over Istio's own
 * defaults, with a pod's `proxy.istio.io/config` annotation merged on top, and its `PROXY_CONFIG`
 * form (JSON of the fields that differ from Istio's defaults, in the proto's field order, durations
 * as protobuf JSON writes them).
 *
 * Held as a plain object keyed by the proto's JSON names; only the fields the injector reads have
 * accessors here.
 */
import { parse as parseYaml } from 'yaml';

/** A ProxyConfig, keyed by JSON field name. */
export type ProxyConfig = Record<string, unknown>;

/** Istio's `mesh.DefaultProxyConfig()` (the values `cleanProxyConfig` leaves out of PROXY_CONFIG). */
export const DEFAULT_PROXY_CONFIG: Readonly<ProxyConfig> = Object.freeze({
  configPath: './etc/istio/proxy',
  binaryPath: '/usr/local/bin/envoy',
  serviceCluster: 'istio-proxy',
  drainDuration: '45s',
  terminationDrainDuration: '5s',
  proxyAdminPort: 15000,
  controlPlaneAuthPolicy: 'MUTUAL_TLS',
  discoveryAddress: 'istiod.istio-system.svc:15012',
  statNameLength: 189,
  statusPort: 15020,
});

/** Fields PROXY_CONFIG drops when equal to the default (Istio's `cleanProxyConfig`). */
const CLEANED = ['configPath', 'binaryPath', 'controlPlaneAuthPolicy', 'serviceCluster', 'drainDuration', 'terminationDrainDuration', 'discoveryAddress', 'envoyMetricsService', 'envoyAccessLogService', 'tracing', 'proxyAdminPort', 'statNameLength', 'statusPort', 'concurrency'];

/** ProxyConfig's fields in the proto's declaration order: protobuf JSON writes them in this order. */
const FIELD_ORDER = [
  'configPath', 'binaryPath', 'serviceCluster', 'tracingServiceName', 'drainDuration', 'discoveryAddress', 'discoveryRefreshDelay',
  'zipkinAddress', 'statsdUdpAddress', 'envoyMetricsServiceAddress', 'proxyAdminPort', 'availabilityZone', 'controlPlaneAuthPolicy',
  'customConfigFile', 'statNameLength', 'concurrency', 'proxyBootstrapTemplatePath', 'interceptionMode', 'tracing', 'sds',
  'envoyAccessLogService', 'envoyMetricsService', 'proxyMetadata', 'runtimeValues', 'statusPort', 'extraStatTags', 'gatewayTopology',
  'terminationDrainDuration', 'meshId', 'readinessProbe', 'proxyStatsMatcher', 'holdApplicationUntilProxyStarts', 'caCertificatesPem',
  'image', 'privateKeyProvider', 'proxyHeaders', 'fileFlushInterval', 'fileFlushMinSizeKb', 'statsCompression', 'connectionSettings',
];
const KNOWN = new Set(FIELD_ORDER);

/** Fields that are wrapper or message types in the proto: present even when zero (e.g. `concurrency: 0`). */
const PRESENCE_FIELDS = new Set(['drainDuration', 'discoveryRefreshDelay', 'concurrency', 'tracing', 'sds', 'envoyAccessLogService', 'envoyMetricsService', 'gatewayTopology', 'terminationDrainDuration', 'readinessProbe', 'proxyStatsMatcher', 'holdApplicationUntilProxyStarts', 'image', 'privateKeyProvider', 'proxyHeaders', 'fileFlushInterval', 'statsCompression', 'connectionSettings', 'tracingServiceName']);
const DURATION_FIELDS = new Set(['drainDuration', 'discoveryRefreshDelay', 'terminationDrainDuration', 'fileFlushInterval']);
const MAP_FIELDS = new Set(['proxyMetadata', 'runtimeValues']);
/** Enum fields and the value that is the proto's zero (left out of JSON). */
const ENUM_ZERO: Record<string, string> = { interceptionMode: 'REDIRECT', controlPlaneAuthPolicy: 'NONE', tracingServiceName: 'APP_LABEL_AND_NAMESPACE' };
const ENUM_VALUES: Record<string, readonly string[]> = {
  interceptionMode: ['REDIRECT', 'TPROXY', 'NONE'],
  controlPlaneAuthPolicy: ['NONE', 'MUTUAL_TLS', 'INHERIT'],
  tracingServiceName: ['APP_LABEL_AND_NAMESPACE', 'CANONICAL_NAME_ONLY', 'CANONICAL_NAME_AND_NAMESPACE'],
};
const NUMBER_FIELDS = new Set(['proxyAdminPort', 'statNameLength', 'concurrency', 'statusPort', 'fileFlushMinSizeKb']);
const BOOL_FIELDS = new Set(['holdApplicationUntilProxyStarts', 'statsCompression']);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A protobuf JSON duration (`"1.5s"`) in protobuf's canonical output form: whole seconds, or 3, 6
 * or 9 fractional digits. Throws on anything else (Istio refuses `1m`, for instance).
 */
export function canonicalDuration(value: unknown): string {
  const match = typeof value === 'string' ? /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(value) : null;
  if (!match) throw new Error(`bad Duration: ${JSON.stringify(value)} (a duration is written in seconds, e.g. "5s" or "1.5s")`);
  const fraction = (match[3] ?? '').replace(/0+$/, '');
  const digits = fraction.length === 0 ? 0 : fraction.length <= 3 ? 3 : fraction.length <= 6 ? 6 : 9;
  const seconds = String(Number(match[2]));
  return `${match[1]}${seconds}${digits ? `.${fraction.padEnd(digits, '0')}` : ''}s`;
}

/** Normalises one field's value as protobuf JSON would read it; throws naming the field if it cannot. */
function normaliseField(key: string, value: unknown): unknown {
  if (!KNOWN.has(key)) return value; // unknown fields are ignored upstream (AllowUnknownFields)
  if (value === null) return undefined;
  if (DURATION_FIELDS.has(key)) return canonicalDuration(value);
  if (NUMBER_FIELDS.has(key)) {
    const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new Error(`${key}: ${JSON.stringify(value)} is not an integer`);
    return n;
  }
  if (BOOL_FIELDS.has(key)) {
    if (typeof value !== 'boolean') throw new Error(`${key}: ${JSON.stringify(value)} is not a boolean`);
    return value;
  }
  if (ENUM_VALUES[key]) {
    if (!ENUM_VALUES[key]!.includes(String(value))) throw new Error(`${key}: ${JSON.stringify(value)} is not one of ${ENUM_VALUES[key]!.join(', ')}`);
    return String(value);
  }
  if (MAP_FIELDS.has(key)) {
    if (!isRecord(value)) throw new Error(`${key}: must be a map of strings`);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  }
  return value;
}

/** Parses a `proxy.istio.io/config` value (YAML or JSON) into normalised fields; throws with the reason when it is not a valid ProxyConfig. */
export function parseProxyConfigOverride(text: string): ProxyConfig {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new Error(`not YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isRecord(parsed)) throw new Error('a ProxyConfig must be a map of fields');
  const out: ProxyConfig = {};
  for (const [key, value] of Object.entries(parsed)) {
    const normalised = normaliseField(key, value);
    if (normalised !== undefined) out[key] = normalised;
  }
  if (typeof out.concurrency === 'number' && out.concurrency < 0) throw new Error('concurrency must be greater than or equal to 0');
  if (typeof out.statusPort === 'number' && (out.statusPort < 0 || out.statusPort > 65535)) throw new Error('statusPort must be a port number');
  return out;
}

/**
 * `override` merged over `base` as Istio merges a proxy config (protobuf JSON into an existing
 * message): fields replace, messages merge field by field, `proxyMetadata` maps merge key by key.
 */
export function mergeProxyConfig(base: ProxyConfig, override: ProxyConfig): ProxyConfig {
  const out: ProxyConfig = structuredClone(base);
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    if (isRecord(current) && isRecord(value) && !DURATION_FIELDS.has(key)) out[key] = mergeProxyConfig(current, value);
    else out[key] = structuredClone(value);
  }
  return out;
}

/** The effective ProxyConfig of a mesh config's `defaultConfig` (Istio's defaults underneath). */
export function meshProxyConfig(defaultConfig: ProxyConfig | undefined): ProxyConfig {
  const normalised: ProxyConfig = {};
  for (const [key, value] of Object.entries(defaultConfig ?? {})) {
    const v = normaliseField(key, value);
    if (v !== undefined) normalised[key] = v;
  }
  return mergeProxyConfig({ ...DEFAULT_PROXY_CONFIG }, normalised);
}

/** Whether protobuf JSON would leave this field out (a proto3 scalar at its zero value, an empty map). */
function omitted(key: string, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (PRESENCE_FIELDS.has(key)) return false;
  if (ENUM_ZERO[key] !== undefined) return value === ENUM_ZERO[key];
  if (MAP_FIELDS.has(key) || key === 'extraStatTags' || key === 'caCertificatesPem') return isRecord(value) ? Object.keys(value).length === 0 : Array.isArray(value) && value.length === 0;
  return value === '' || value === 0 || value === false;
}

/** Keys of an object sorted (protobuf JSON writes map entries in key order). */
function sortedMap(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]));
}

/** The `PROXY_CONFIG` environment value: the fields that differ from Istio's defaults, as JSON (Istio's `protoToJSON`). */
export function proxyConfigJson(config: ProxyConfig): string {
  const out: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) {
    const value = config[key];
    if (CLEANED.includes(key) && JSON.stringify(value) === JSON.stringify(DEFAULT_PROXY_CONFIG[key])) continue;
    if (omitted(key, value)) continue;
    out[key] = MAP_FIELDS.has(key) && isRecord(value) ? sortedMap(value) : value;
  }
  return JSON.stringify(out);
}

/** `holdApplicationUntilProxyStarts` of a ProxyConfig (false when unset). */
export function holdsApplication(config: ProxyConfig): boolean {
  return config.holdApplicationUntilProxyStarts === true;
}

/** The proxy's metadata (env vars the template adds to the proxy and init containers), sorted by name. */
export function proxyMetadata(config: ProxyConfig): Array<[string, string]> {
  const metadata = isRecord(config.proxyMetadata) ? config.proxyMetadata : {};
  return Object.keys(metadata).sort().map((k) => [k, String(metadata[k])]);
}
