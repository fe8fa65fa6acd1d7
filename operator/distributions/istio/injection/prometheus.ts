/**
 * Prometheus metrics merging: when a pod is scraped (no `prometheus.io/scrape: "false"`) and
 * merging is on (`prometheus.istio.io/merge-metrics`, else the mesh's `enablePrometheusMerge`), the
 * agent serves the application's and Envoy's metrics together on its status port, so the pod's
 * `prometheus.io/*` annotations are pointed at it and the original ones handed to the agent in
 * `ISTIO_PROMETHEUS_ANNOTATIONS`. Facts from Istio's `applyPrometheusMerge`.
 */
import { InjectionError } from '../../injection.ts';
import { ANNOTATION, parseGoBool } from './annotations.ts';

/** The agent's environment variable holding the application's own scrape settings. */
export const PROMETHEUS_ANNOTATIONS_ENV = 'ISTIO_PROMETHEUS_ANNOTATIONS';

/** Ports the Istio data plane owns, with why (a scrape target there is refused). */
const RESERVED_PORTS: Record<string, string> = {
  15000: 'Envoy admin',
  15001: 'outbound traffic capture',
  15004: 'pilot debug',
  15006: 'inbound traffic capture',
  15008: 'HBONE tunnel',
  15020: 'pilot-agent status / merged Prometheus',
  15021: 'Envoy health',
  15053: 'DNS proxy',
  15090: 'Envoy Prometheus (already merged)',
};

/** Annotation keys compare as Prometheus label names (anything outside [a-zA-Z0-9_] as `_`), as Istio compares them. */
const sanitized = (key: string) => key.replace(/[^a-zA-Z0-9_]/g, '_');
const SCRAPE = 'prometheus_io_scrape';
const PORT = 'prometheus_io_port';
const PATH = 'prometheus_io_path';
const TARGETS = 'prometheus_istio_io_scrape_targets';

/** What merging does to a pod: the annotations it ends with and the env var for the proxy, if any. */
export interface PrometheusMerge {
  annotations: Record<string, string>;
  env?: { name: string; value: string };
}

/** Applies metrics merging to `annotations` (a new map); `statusPort` is the agent's (the mesh's). Throws InjectionError on a bad scrape port. */
export function applyPrometheusMerge(annotations: Readonly<Record<string, string>>, meshMerge: boolean, statusPort: number): PrometheusMerge {
  const entries = Object.entries(annotations);
  const scrapeValue = entries.find(([k, v]) => sanitized(k) === SCRAPE && parseGoBool(v) !== undefined)?.[1];
  const scrape = scrapeValue === undefined ? true : parseGoBool(scrapeValue)!;
  const mergeAnnotation = annotations[ANNOTATION.prometheusMergeMetrics];
  const merge = (mergeAnnotation === undefined ? undefined : parseGoBool(mergeAnnotation)) ?? meshMerge;
  if (!scrape || !merge) return { annotations: { ...annotations } };
  const target = String(statusPort);
  if (entries.find(([k]) => sanitized(k) === PORT)?.[1] === target) return { annotations: { ...annotations } };
  const config: { scrape: string; path: string; port: string; targets?: Array<{ port: string; path: string }> } = { scrape: '', path: '', port: '' };
  for (const [k, v] of entries) {
    const key = sanitized(k);
    if (key === PORT) config.port = v;
    else if (key === SCRAPE) config.scrape = v;
    else if (key === PATH) config.path = v;
    else if (key === TARGETS) {
      const targets = v.split(',').map((t) => t.trim()).filter(Boolean).map((t) => {
        const [port, path] = t.split(/:(.*)/s);
        return { port: port!.trim(), path: path?.trim() || '/metrics' };
      });
      if (targets.every((t) => t.port)) config.targets = targets;
    }
  }
  const checkPort = (port: string, what: string) => {
    const n = /^[+-]?\d+$/.test(port) ? Number(port) : NaN;
    if (!(n >= 1 && n <= 65535)) throw new InjectionError(`invalid prometheus scrape ${what}: invalid ${what === 'targets' ? 'target ' : ''}port "${port}"`);
    const canonical = String(n);
    if (canonical === target) throw new InjectionError(`invalid prometheus scrape ${what}: ${what === 'targets' ? 'target ' : ''}port ${port} conflicts with agent port`);
    if (RESERVED_PORTS[canonical]) throw new InjectionError(`invalid prometheus scrape ${what}: ${what === 'targets' ? 'target ' : ''}port ${port} is reserved for Istio (${RESERVED_PORTS[canonical]}) and cannot be scraped`);
  };
  if (config.targets?.length) {
    config.port = config.targets[0]!.port;
    config.path = config.targets[0]!.path;
    for (const t of config.targets) checkPort(t.port, 'targets');
  } else if (config.port !== '') {
    checkPort(config.port, 'configuration');
  }
  const out = Object.fromEntries(entries.filter(([k]) => ![SCRAPE, PORT, PATH, TARGETS].includes(sanitized(k))));
  out['prometheus.io/port'] = target;
  out['prometheus.io/path'] = '/stats/prometheus';
  out['prometheus.io/scrape'] = 'true';
  const empty = !config.scrape && !config.path && !config.port && !config.targets?.length;
  return { annotations: out, ...(empty ? {} : { env: { name: PROMETHEUS_ANNOTATIONS_ENV, value: JSON.stringify(config) } }) };
}
