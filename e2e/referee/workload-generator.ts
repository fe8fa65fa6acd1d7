/**
 * Seeded workloads for the differential injection test: Pods, Deployments, StatefulSets,
 * DaemonSets and Jobs with random containers, ports, probes, security contexts, init containers,
 * volumes, host networking and the pod annotations Istio's injector honours, with valid and
 * invalid values. The same seed always gives the same workloads; `MESHWRIGHT_DIFF_SEED` and
 * `MESHWRIGHT_DIFF_COUNT` choose them, so the test also runs on inputs nobody has seen before.
 */

/** A generated workload and what went into it (for the summary and the checks). */
export interface GeneratedWorkload {
  index: number;
  object: Record<string, unknown> & { kind: string; metadata: { name: string; namespace: string } };
  /** Annotations given a value Istio documents as invalid. */
  invalidAnnotations: string[];
  /** What the workload exercises (e.g. `hostNetwork`, `probe:httpGet`), for coverage. */
  features: string[];
}

/** The seed and count from the environment, with the defaults `npm test` runs. */
export function diffParameters(env: NodeJS.ProcessEnv = process.env): { seed: number; count: number } {
  const seed = env.MESHWRIGHT_DIFF_SEED === undefined || env.MESHWRIGHT_DIFF_SEED === '' ? 20261127 : Number(env.MESHWRIGHT_DIFF_SEED);
  const count = env.MESHWRIGHT_DIFF_COUNT === undefined || env.MESHWRIGHT_DIFF_COUNT === '' ? 200 : Number(env.MESHWRIGHT_DIFF_COUNT);
  if (!Number.isSafeInteger(seed)) throw new Error(`MESHWRIGHT_DIFF_SEED must be an integer, not ${env.MESHWRIGHT_DIFF_SEED}`);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`MESHWRIGHT_DIFF_COUNT must be a positive integer, not ${env.MESHWRIGHT_DIFF_COUNT}`);
  return { seed, count };
}

/** mulberry32: a small, well-distributed 32-bit PRNG; deterministic for a seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  some<T>(items: readonly T[], p: number): T[] {
    return items.filter(() => this.chance(p));
  }
}

type Values = { valid: () => string; invalid?: () => string };

/** Pod annotations Istio's injector reads, each with a generator of valid values and, where Istio validates it, of invalid ones. */
function annotationValues(r: Random): Record<string, Values> {
  const ports = () => Array.from({ length: r.int(1, 3) }, () => String(r.int(1, 65535))).join(',');
  const cidrs = () => Array.from({ length: r.int(1, 2) }, () => `10.${r.int(0, 255)}.0.0/${r.pick([8, 16, 24])}`).join(',');
  return {
    'sidecar.istio.io/inject': { valid: () => r.pick(['true', 'false']) },
    'sidecar.istio.io/proxyCPU': { valid: () => r.pick(['50m', '100m', '1']) },
    'sidecar.istio.io/proxyMemory': { valid: () => r.pick(['64Mi', '128Mi', '1Gi']) },
    'sidecar.istio.io/proxyCPULimit': { valid: () => r.pick(['500m', '2']) },
    'sidecar.istio.io/proxyMemoryLimit': { valid: () => r.pick(['512Mi', '2Gi']) },
    'sidecar.istio.io/logLevel': { valid: () => r.pick(['debug', 'info', 'warning', 'error']) },
    'sidecar.istio.io/componentLogLevel': { valid: () => r.pick(['misc:error', 'upstream:debug,connection:trace']) },
    'sidecar.istio.io/agentLogLevel': { valid: () => r.pick(['default:debug', 'ads:info']) },
    'sidecar.istio.io/interceptionMode': { valid: () => r.pick(['REDIRECT', 'TPROXY']), invalid: () => 'BOGUS' },
    'sidecar.istio.io/rewriteAppHTTPProbers': { valid: () => r.pick(['true', 'false']) },
    'sidecar.istio.io/enableCoreDump': { valid: () => r.pick(['true', 'false']) },
    'status.sidecar.istio.io/port': { valid: () => String(r.pick([15020, 15021, 0])), invalid: () => '70000' },
    'readiness.status.sidecar.istio.io/initialDelaySeconds': { valid: () => String(r.int(0, 30)), invalid: () => '-1s' },
    'readiness.status.sidecar.istio.io/periodSeconds': { valid: () => String(r.int(1, 30)), invalid: () => 'often' },
    'readiness.status.sidecar.istio.io/failureThreshold': { valid: () => String(r.int(1, 10)), invalid: () => 'x' },
    'traffic.sidecar.istio.io/includeOutboundIPRanges': { valid: () => r.pick(['*', '', cidrs()]), invalid: () => '10.0.0.0/33' },
    'traffic.sidecar.istio.io/excludeOutboundIPRanges': { valid: cidrs, invalid: () => 'not-a-cidr' },
    'traffic.sidecar.istio.io/includeInboundPorts': { valid: () => r.pick(['*', '', ports()]), invalid: () => '99999' },
    'traffic.sidecar.istio.io/excludeInboundPorts': { valid: ports, invalid: () => '-3' },
    'traffic.sidecar.istio.io/excludeOutboundPorts': { valid: ports, invalid: () => 'eighty' },
    'proxy.istio.io/config': { valid: () => r.pick(['holdApplicationUntilProxyStarts: true', 'concurrency: 2', 'terminationDrainDuration: 20s', '{}']) },
    'sidecar.istio.io/nativeSidecar': { valid: () => r.pick(['true', 'false']) },
    'prometheus.io/scrape': { valid: () => r.pick(['true', 'false']) },
    'prometheus.io/port': { valid: () => String(r.pick([8080, 9090])) },
    'prometheus.io/path': { valid: () => r.pick(['/metrics', '/stats']) },
  };
}

function probe(r: Random, port: number, features: string[]): Record<string, unknown> {
  const kind = r.pick(['httpGet', 'tcpSocket', 'exec', 'grpc'] as const);
  features.push(`probe:${kind}`);
  const timing = r.chance(0.5) ? { initialDelaySeconds: r.int(0, 10), periodSeconds: r.int(1, 20), failureThreshold: r.int(1, 5) } : {};
  switch (kind) {
    case 'httpGet': return { httpGet: { path: r.pick(['/', '/healthz', '/ready']), port: r.chance(0.3) ? 'http' : port, ...(r.chance(0.2) ? { scheme: 'HTTPS' } : {}) }, ...timing };
    case 'tcpSocket': return { tcpSocket: { port }, ...timing };
    case 'exec': return { exec: { command: ['cat', '/tmp/healthy'] }, ...timing };
    default: return { grpc: { port }, ...timing };
  }
}

function container(r: Random, name: string, features: string[], init: boolean): Record<string, unknown> {
  const port = r.pick([80, 8080, 9080, 3000, 5000]);
  const c: Record<string, unknown> = { name, image: `registry.example.com/${name}:${r.int(1, 9)}.${r.int(0, 9)}` };
  if (!init && r.chance(0.8)) {
    c.ports = [{ name: 'http', containerPort: port }, ...(r.chance(0.3) ? [{ name: 'metrics', containerPort: 9090 }] : []), ...(r.chance(0.15) ? [{ name: 'dns', containerPort: 53, protocol: 'UDP' }] : [])];
    features.push('ports');
  }
  if (!init) {
    if (r.chance(0.4)) c.readinessProbe = probe(r, port, features);
    if (r.chance(0.3)) c.livenessProbe = probe(r, port, features);
    if (r.chance(0.15)) c.startupProbe = probe(r, port, features);
  }
  if (r.chance(0.3)) {
    c.securityContext = { runAsUser: r.pick([0, 1000, 1337, 65534]), ...(r.chance(0.5) ? { runAsNonRoot: true } : {}), ...(r.chance(0.3) ? { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false } : {}) };
    features.push('securityContext');
  }
  if (r.chance(0.3)) c.resources = { requests: { cpu: r.pick(['10m', '100m']), memory: r.pick(['16Mi', '64Mi']) }, ...(r.chance(0.5) ? { limits: { cpu: r.pick(['1', '2']), memory: '256Mi' } } : {}) };
  if (r.chance(0.25)) c.env = [{ name: 'MODE', value: r.pick(['a', 'b']) }];
  if (init && r.chance(0.2)) {
    c.restartPolicy = 'Always';
    features.push('nativeSidecarInit');
  }
  return c;
}

/** Generates `count` workloads from `seed`. */
export function generateWorkloads(seed: number, count: number): GeneratedWorkload[] {
  const r = new Random(seed);
  const annotations = annotationValues(r);
  const annotationNames = Object.keys(annotations);
  const out: GeneratedWorkload[] = [];
  for (let index = 0; index < count; index++) {
    const features: string[] = [];
    const invalidAnnotations: string[] = [];
    const kind = r.pick(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job'] as const);
    features.push(`kind:${kind}`);
    const name = `w${index}-${kind.toLowerCase()}`;
    const namespace = r.pick(['default', 'apps', 'team-a']);
    const labels = { app: name, ...(r.chance(0.5) ? { version: `v${r.int(1, 3)}` } : {}), ...(r.chance(0.1) ? { 'sidecar.istio.io/inject': r.pick(['true', 'false']) } : {}) };
    const podAnnotations: Record<string, string> = {};
    for (const key of r.some(annotationNames, 0.12)) {
      const values = annotations[key]!;
      if (values.invalid && r.chance(0.25)) {
        podAnnotations[key] = values.invalid();
        invalidAnnotations.push(key);
      } else podAnnotations[key] = values.valid();
      features.push(`annotation:${key}`);
    }
    const containers = Array.from({ length: r.int(1, 3) }, (_, i) => container(r, i === 0 ? 'app' : `side${i}`, features, false));
    const spec: Record<string, unknown> = { containers };
    if (r.chance(0.3)) {
      spec.initContainers = Array.from({ length: r.int(1, 2) }, (_, i) => container(r, `init${i}`, features, true));
      features.push('initContainers');
    }
    if (r.chance(0.3)) {
      spec.volumes = [{ name: 'data', emptyDir: {} }, ...(r.chance(0.5) ? [{ name: 'config', configMap: { name: `${name}-config` } }] : [])];
      (containers[0] as { volumeMounts?: unknown[] }).volumeMounts = [{ name: 'data', mountPath: '/data' }];
      features.push('volumes');
    }
    if (r.chance(0.08)) {
      spec.hostNetwork = true;
      features.push('hostNetwork');
    }
    if (r.chance(0.2)) {
      spec.securityContext = { fsGroup: r.pick([1000, 2000]), ...(r.chance(0.5) ? { runAsUser: 1000 } : {}) };
      features.push('podSecurityContext');
    }
    if (r.chance(0.2)) spec.serviceAccountName = `${name}-sa`;
    if (kind === 'Job') spec.restartPolicy = r.pick(['Never', 'OnFailure']);
    const podMeta = { labels, ...(Object.keys(podAnnotations).length > 0 ? { annotations: podAnnotations } : {}) };
    const apiVersion = kind === 'Pod' ? 'v1' : kind === 'Job' ? 'batch/v1' : 'apps/v1';
    const object = kind === 'Pod'
      ? { apiVersion, kind, metadata: { name, namespace, ...podMeta }, spec }
      : {
        apiVersion, kind, metadata: { name, namespace },
        spec: {
          ...(kind === 'Job' ? {} : { selector: { matchLabels: { app: name } } }),
          ...(kind === 'Deployment' || kind === 'StatefulSet' ? { replicas: r.int(1, 3) } : {}),
          ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
          template: { metadata: podMeta, spec },
        },
      };
    out.push({ index, object, invalidAnnotations, features });
  }
  return out;
}
