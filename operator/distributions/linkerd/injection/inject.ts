/**
 * Linkerd's proxy injection, pure: what Linkerd's proxy injector gives a pod for the same input and
 * settings (`pkg/inject`, `controller/proxy-injector`, the `patch` chart), with the values of the
 * MeshInstallation instead of linkerd-config, and the trust anchors the operator hands over.
 *
 * The pod gets, in Linkerd's places: `linkerd-init` (proxy-init) and `linkerd-proxy` as the first
 * init containers when the proxy runs as a native sidecar (Linkerd's default in every catalog
 * version), else proxy-init appended to the init containers and the proxy first among the
 * containers (last when it does not hold the application back); the xtables-lock, certificate and
 * identity-token volumes; `linkerd.io/proxy-version`, `linkerd.io/trust-root-sha256`,
 * `linkerd.io/created-by`, the namespace's `config.linkerd.io/*` annotations it lacks, the default
 * opaque ports it exposes; the control-plane, workload-namespace and owner labels. The container
 * itself is built by the same code as the control plane's proxies (../proxy.ts).
 *
 * `linkerd.io/created-by` says `meshwright <version>`, as on everything meshwright renders for
 * Linkerd, where Linkerd writes `linkerd/proxy-injector <version>` (or `linkerd/cli <version>`).
 */
import { InjectionError, trustBundleSha256, withInjectionRecord, type InjectionOutcome, type InjectionRecord, type InjectionRequest, type PodObject } from '../../injection.ts';
import { imageRepository, imageTag, shapeOf } from '../catalog.ts';
import { PROXY_INIT_IGNORED_PORTS } from '../config.ts';
import {
  baseProxyValues, identityVolumes, linkerdProxyContainer, linkerdProxyInitContainer, serviceAddress, xtablesLockVolume, type ProxyValues,
} from '../proxy.ts';
import { CREATED_BY, DEFAULT_OPAQUE_PORTS, linkerdScope } from '../scope.ts';
import {
  applyOverrides, CONFIG, NAMESPACE_INHERITED_ANNOTATIONS, OWNER_LABELS, POD_ANNOTATIONS, POD_LABELS, type PodProxyValues,
} from './annotations.ts';
import { selectPod } from './selection.ts';

/** The mesh revision every Linkerd pod records: Linkerd has one control plane per cluster. */
export const LINKERD_REVISION = 'default';

/** Where the application's service-account token is mounted (Linkerd repeats this mount in its containers). */
const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

type Container = Record<string, unknown> & {
  name?: string;
  ports?: Array<{ containerPort?: number; name?: string; protocol?: string }>;
  readinessProbe?: { httpGet?: { port?: unknown } };
  livenessProbe?: { httpGet?: { port?: unknown } };
  securityContext?: { capabilities?: { add?: string[]; drop?: string[] } | null };
  volumeMounts?: Array<{ mountPath?: string; name?: string; readOnly?: boolean }>;
};

/**
 * Whether a proxy of `version` runs as a native sidecar unless the pod or the request says
 * otherwise: the release's `proxy.nativeSidecar` default (true from 2.20, false in 2.19).
 */
export function nativeSidecarByDefault(version: string): boolean {
  return shapeOf(version).nativeSidecars;
}

/**
 * `LINKERD2_PROXY_INBOUND_PORTS`: every container port, and every HTTP probe's numeric port, in
 * Linkerd's order — sorted as strings (`10000` before `80`), which is what Linkerd writes.
 */
export function podInboundPorts(spec: PodObject['spec']): string {
  const ports = new Set<string>();
  for (const c of [...((spec.initContainers ?? []) as Container[]), ...(spec.containers as Container[])]) {
    for (const p of c.ports ?? []) if (typeof p.containerPort === 'number') ports.add(String(p.containerPort));
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      if (typeof probe?.httpGet?.port === 'number') ports.add(String(probe.httpGet.port));
    }
  }
  return [...ports].sort().join(',');
}

/** Container port names to numbers (init containers and containers), for `opaque-ports` names. */
function namedPorts(spec: PodObject['spec']): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of [...((spec.initContainers ?? []) as Container[]), ...(spec.containers as Container[])]) {
    for (const p of c.ports ?? []) if (p.name && typeof p.containerPort === 'number') out.set(p.name, p.containerPort);
  }
  return out;
}

/** The default opaque ports the pod exposes (what Linkerd's webhook records on it), or undefined. */
function exposedDefaultOpaquePorts(spec: PodObject['spec'], defaults: string): string | undefined {
  const list = defaults.split(',');
  const exposed: string[] = [];
  for (const c of [...((spec.initContainers ?? []) as Container[]), ...(spec.containers as Container[])]) {
    for (const p of c.ports ?? []) if (typeof p.containerPort === 'number' && list.includes(String(p.containerPort))) exposed.push(String(p.containerPort));
  }
  return exposed.length ? exposed.join(',') : undefined;
}

/**
 * The pod's owner label: the kind and name of what created it. A ReplicaSet whose name is the
 * pod's `pod-template-hash` away from a Deployment's is the Deployment's (Linkerd looks the
 * ReplicaSet's owner up in the API; the injector is pure, and Deployments name ReplicaSets so).
 * `request.workload` (a template injected outside admission) names the owner directly.
 */
function ownerLabel(request: InjectionRequest): Record<string, string> {
  const workload = request.workload;
  if (workload) {
    const label = OWNER_LABELS[workload.kind];
    return label ? { [label]: workload.name } : {};
  }
  const owners = (request.pod.metadata.ownerReferences ?? []) as Array<{ kind?: string; name?: string }>;
  if (owners.length !== 1 || !owners[0]!.kind || !owners[0]!.name) return {};
  let { kind, name } = owners[0] as { kind: string; name: string };
  const hash = request.pod.metadata.labels?.['pod-template-hash'];
  if (kind === 'ReplicaSet' && hash && name.endsWith(`-${hash}`)) {
    kind = 'Deployment';
    name = name.slice(0, -hash.length - 1);
  }
  const label = OWNER_LABELS[kind];
  return label ? { [label]: name } : {};
}

/** The values a pod starts from: the installation's, before its annotations. */
function installationValues(request: InjectionRequest): PodProxyValues {
  const { installation, resolved } = request;
  const scope = linkerdScope({ installation, resolved });
  const base = baseProxyValues(scope);
  const proxy: ProxyValues = {
    ...base,
    destinationAddress: serviceAddress(scope, 'linkerd-dst-headless', 8086),
    policyAddress: serviceAddress(scope, 'linkerd-policy', 8090),
    identityAddress: serviceAddress(scope, 'linkerd-identity-headless', 8080),
    podInboundPorts: '',
    trustAnchors: { pem: request.trustAnchorsPem },
    nativeSidecar: request.nativeSidecars ?? nativeSidecarByDefault(resolved.version),
  };
  return {
    proxy,
    proxyImage: { name: imageRepository(scope.images.proxy), version: imageTag(scope.images.proxy) },
    init: { ...(scope.images.proxyInit ? { image: scope.images.proxyInit } : {}), ignoreInboundPorts: PROXY_INIT_IGNORED_PORTS, ignoreOutboundPorts: PROXY_INIT_IGNORED_PORTS },
    debug: { enabled: false, name: imageRepository(scope.images.debug), version: imageTag(scope.images.debug), pullPolicy: 'IfNotPresent' },
  };
}

/** The debug sidecar (`config.linkerd.io/enable-debug-sidecar`). */
function debugContainer(debug: PodProxyValues['debug']): Record<string, unknown> {
  return {
    image: `${debug.name}:${debug.version}`,
    imagePullPolicy: debug.pullPolicy,
    livenessProbe: { exec: { command: ['true'] } },
    name: 'linkerd-debug',
    readinessProbe: { exec: { command: ['true'] } },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** Injects one pod (see the module comment); pure. */
export function injectLinkerdProxy(request: InjectionRequest): InjectionOutcome {
  const { pod, namespace, installation, resolved } = request;
  const controlPlaneNamespace = installation.spec.namespace;
  const selection = selectPod(pod, namespace, controlPlaneNamespace);
  if (!selection.inject) return { injected: false, reason: selection.reason, message: selection.message };

  const spec = pod.spec;
  const podAnnotations = pod.metadata.annotations ?? {};
  // The namespace's settings the pod does not set itself are copied onto it, and apply.
  const inherited: Record<string, string> = {};
  for (const key of NAMESPACE_INHERITED_ANNOTATIONS) {
    const value = namespace.annotations[key];
    if (value !== undefined && podAnnotations[key] === undefined) inherited[key] = value;
  }
  const added: Record<string, string> = { ...inherited };
  if (podAnnotations[CONFIG.opaquePorts] === undefined && inherited[CONFIG.opaquePorts] === undefined) {
    const exposed = exposedDefaultOpaquePorts(spec, DEFAULT_OPAQUE_PORTS);
    if (exposed) added[CONFIG.opaquePorts] = exposed;
  }
  const effective = { ...podAnnotations, ...added };

  const values = applyOverrides(installationValues(request), effective, namedPorts(spec), { namespace: namespace.annotations, pod: podAnnotations });
  if (values.closeWaitTimeoutSeconds) {
    throw new InjectionError(`annotation ${CONFIG.closeWaitTimeout}: proxy-init would have to run as root to change the conntrack close-wait timeout, which meshwright does not allow; remove the annotation`);
  }
  const proxy = values.proxy;
  proxy.isIngress = selection.mode === 'ingress';
  proxy.podInboundPorts = podInboundPorts(spec);

  // The first container's capabilities and service-account token mount are repeated in the
  // proxy and proxy-init, as Linkerd does (so pod security policies admit them alike).
  const first = spec.containers[0] as Container | undefined;
  const capabilities = first?.securityContext?.capabilities;
  if (capabilities) proxy.capabilities = { add: [...(capabilities.add ?? [])], drop: [...(capabilities.drop ?? [])] };
  const saMount = first?.volumeMounts?.find((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH);
  if (saMount?.name) proxy.serviceAccountMount = { mountPath: SERVICE_ACCOUNT_MOUNT_PATH, name: saMount.name, ...(saMount.readOnly !== undefined ? { readOnly: saMount.readOnly } : {}) };
  const init = { ...values.init, ...(capabilities ? { capabilities: proxy.capabilities } : {}), ...(proxy.serviceAccountMount ? { serviceAccountMount: proxy.serviceAccountMount } : {}) };

  const scope = linkerdScope({ installation, resolved });
  const proxyContainer = linkerdProxyContainer(scope, proxy);
  const initContainer = linkerdProxyInitContainer(proxy, init);
  const { endEntity, token } = identityVolumes();

  let initContainers = [...((spec.initContainers ?? []) as Record<string, unknown>[])];
  let containers = [...(spec.containers as Record<string, unknown>[])];
  if (values.debug.enabled) containers.push(debugContainer(values.debug));
  if (proxy.nativeSidecar) {
    // proxy-init first, the proxy right after: later init containers' traffic is proxied.
    initContainers = [initContainer, proxyContainer, ...initContainers];
  } else {
    initContainers = [...initContainers, initContainer];
    containers = proxy.await ? [proxyContainer, ...containers] : [...containers, proxyContainer];
  }

  // Linkerd hashes the bundle exactly as given to the proxy, which is also what the record hashes.
  const trustRootSha256 = trustBundleSha256(request.trustAnchorsPem);
  const injected: PodObject = {
    ...pod,
    metadata: {
      ...pod.metadata,
      annotations: {
        ...podAnnotations,
        ...added,
        [POD_ANNOTATIONS.createdBy]: `${CREATED_BY} ${resolved.version}`,
        [POD_ANNOTATIONS.proxyVersion]: values.proxyImage.version,
        [POD_ANNOTATIONS.trustRootSha256]: trustRootSha256,
      },
      labels: {
        ...pod.metadata.labels,
        [POD_LABELS.controlPlaneNs]: controlPlaneNamespace,
        ...ownerLabel(request),
        [POD_LABELS.workloadNs]: namespace.name,
      },
    },
    spec: {
      ...spec,
      initContainers,
      containers,
      volumes: [...((spec.volumes ?? []) as unknown[]), xtablesLockVolume(), endEntity, token],
    },
  };
  const record: InjectionRecord = {
    mesh: 'linkerd',
    installation: installation.metadata.name ?? '',
    revision: LINKERD_REVISION,
    proxyVersion: resolved.version,
    trustBundleSha256: trustRootSha256,
  };
  return { injected: true, pod: withInjectionRecord(injected, record), record };
}
