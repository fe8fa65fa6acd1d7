/**
 * Probe rewriting: with mTLS the kubelet cannot reach an application's HTTP, TCP or gRPC probes,
 * so Istio points them at the agent's status port (`/app-health/<container>/<readyz|livez|startupz>`,
 * lifecycle hooks at `/app-lifecycle/<container>/<prestopz|poststartz>`) and tells the agent the
 * original probes in `ISTIO_KUBE_APP_PROBERS` (named ports resolved). Facts from Istio's
 * `pkg/kube/inject/app_probe.go`.
 */
import { ANNOTATION, parseGoBool } from './annotations.ts';
import { PROXY_CONTAINER, type Json } from './sidecar.ts';

/** The agent's environment variable holding the original probes. */
export const KUBE_APP_PROBERS_ENV = 'ISTIO_KUBE_APP_PROBERS';

/** Whether probes are rewritten: the pod's `sidecar.istio.io/rewriteAppHTTPProbers` (if a boolean), else the installation's setting. */
export function shouldRewriteProbes(annotations: Readonly<Record<string, string>>, fallback: boolean): boolean {
  const value = annotations[ANNOTATION.rewriteAppHTTPProbers];
  return (value === undefined ? undefined : parseGoBool(value)) ?? fallback;
}

const PROBES = [['readinessProbe', 'app-health', 'readyz'], ['livenessProbe', 'app-health', 'livez'], ['startupProbe', 'app-health', 'startupz']] as const;
const HOOKS = [['preStop', 'app-lifecycle', 'prestopz'], ['postStart', 'app-lifecycle', 'poststartz']] as const;

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Go's JSON of a corev1.HTTPGetAction (field order path, port, host, scheme, httpHeaders; empties left out). */
function httpGetJson(action: Json): Json {
  const out: Json = {};
  if (action.path) out.path = action.path;
  out.port = action.port ?? 0;
  if (action.host) out.host = action.host;
  if (action.scheme) out.scheme = action.scheme;
  if (Array.isArray(action.httpHeaders) && action.httpHeaders.length) out.httpHeaders = (action.httpHeaders as Json[]).map((h) => ({ name: h.name, value: h.value }));
  return out;
}

/** The agent's view of one probe or hook (Istio's `Prober`), or undefined when the agent does not take it over. */
function prober(handler: Json | undefined, portsByName: ReadonlyMap<string, number>, statusPort: number, withTimeout: boolean): Json | undefined {
  if (!handler) return undefined;
  const timeout = withTimeout && typeof handler.timeoutSeconds === 'number' && handler.timeoutSeconds !== 0 ? { timeoutSeconds: handler.timeoutSeconds } : {};
  if (isRecord(handler.httpGet) || isRecord(handler.tcpSocket)) {
    const http = isRecord(handler.httpGet);
    const action = (http ? handler.httpGet : handler.tcpSocket) as Json;
    let port = action.port;
    if (typeof port === 'string' && !/^\d+$/.test(port)) {
      const resolved = portsByName.get(port);
      if (resolved === undefined) return undefined;
      port = resolved;
    } else if (Number(port) === statusPort) {
      return undefined; // already points at the agent
    }
    if (http) return { httpGet: httpGetJson({ ...action, port }), ...timeout };
    return { tcpSocket: { port, ...(action.host ? { host: action.host } : {}) }, ...timeout };
  }
  if (isRecord(withTimeout ? handler.grpc : undefined)) {
    const grpc = handler.grpc as Json;
    return { grpc: { port: grpc.port, service: grpc.service ?? null }, ...timeout };
  }
  return undefined;
}

/** The handler pointed at the agent: an HTTP GET of `path` on `statusPort` (HTTPS becomes HTTP; TCP and gRPC become HTTP). */
function redirected(handler: Json, path: string, statusPort: number, isProbe: boolean): Json | undefined {
  const kinds = isProbe ? ['httpGet', 'tcpSocket', 'grpc'] : ['httpGet', 'tcpSocket'];
  const kind = kinds.find((k) => isRecord(handler[k]));
  if (!kind) return undefined;
  const out: Json = { ...handler };
  const original = kind === 'httpGet' ? (handler.httpGet as Json) : {};
  delete out.tcpSocket;
  delete out.grpc;
  out.httpGet = { ...original, path, port: statusPort, ...(original.scheme === 'HTTPS' ? { scheme: 'HTTP' } : {}) };
  return out;
}

/**
 * The JSON of `ISTIO_KUBE_APP_PROBERS` for `containers` (init and regular, the proxy left out), or
 * undefined when no probe is taken over. Keys sorted, as Go writes a map.
 */
export function appProbers(containers: readonly Json[], statusPort: number): string | undefined {
  const out: Record<string, Json> = {};
  for (const c of containers) {
    if (c.name === PROXY_CONTAINER) continue;
    const portsByName = new Map<string, number>();
    for (const p of (c.ports as Json[] | undefined) ?? []) if (p.name) portsByName.set(String(p.name), Number(p.containerPort));
    for (const [field, prefix, suffix] of PROBES) {
      const p = prober(c[field] as Json | undefined, portsByName, statusPort, true);
      if (p) out[`/${prefix}/${c.name}/${suffix}`] = p;
    }
    const lifecycle = c.lifecycle as Json | undefined;
    for (const [hook, prefix, suffix] of HOOKS) {
      const p = prober(lifecycle?.[hook] as Json | undefined, portsByName, statusPort, false);
      if (p) out[`/${prefix}/${c.name}/${suffix}`] = p;
    }
  }
  const keys = Object.keys(out).sort();
  return keys.length ? JSON.stringify(Object.fromEntries(keys.map((k) => [k, out[k]]))) : undefined;
}

/** `container` with its probes and HTTP/TCP lifecycle hooks pointed at the agent's status port. */
export function rewriteProbes(container: Json, statusPort: number): Json {
  if (container.name === PROXY_CONTAINER) return container;
  const out: Json = { ...container };
  for (const [field, prefix, suffix] of PROBES) {
    const probe = container[field] as Json | undefined;
    const rewritten = probe && redirected(probe, `/${prefix}/${container.name}/${suffix}`, statusPort, true);
    if (rewritten) out[field] = rewritten;
  }
  if (isRecord(container.lifecycle)) {
    const lifecycle: Json = { ...container.lifecycle };
    for (const [hook, prefix, suffix] of HOOKS) {
      const handler = lifecycle[hook] as Json | undefined;
      const rewritten = handler && redirected(handler, `/${prefix}/${container.name}/${suffix}`, statusPort, false);
      if (rewritten) lifecycle[hook] = rewritten;
    }
    out.lifecycle = lifecycle;
  }
  return out;
}
