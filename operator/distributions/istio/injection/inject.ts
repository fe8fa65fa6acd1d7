/**
 * One Istio injection, from pod to injected pod, in Istio's order: validate the annotations, merge
 * the pod's `proxy.istio.io/config` over the mesh's proxy config, render the sidecar template,
 * merge it into the pod (a user's own `istio-proxy` container overriding what it sets), then
 * metrics merging, probe rewriting, the `sidecar.istio.io/status` annotation and container order.
 * Pure: the same request always gives the same pod.
 */
import { InjectionError, trustBundleSha256, withInjectionRecord, type InjectionOutcome, type InjectionRequest, type PodObject } from '../../injection.ts';
import { ANNOTATION, validateAnnotations } from './annotations.ts';
import { goOrdered } from './go-json.ts';
import { orderContainers, strategicMerge } from './merge.ts';
import { appProbers, KUBE_APP_PROBERS_ENV, rewriteProbes, shouldRewriteProbes } from './probes.ts';
import { applyPrometheusMerge } from './prometheus.ts';
import { holdsApplication, mergeProxyConfig, parseProxyConfigOverride, type ProxyConfig } from './proxy-config.ts';
import { skipReason } from './selection.ts';
import { injectionSettings, ISTIO_PROXY_DEFAULTS, type IstioInjectionSettings } from './settings.ts';
import { PROXY_CONTAINER, renderSidecarTemplate, type Json, type SidecarTemplate } from './sidecar.ts';
import { workloadOfPod, type WorkloadIdentity } from './workload.ts';

/** The `sidecar.istio.io/status` value: what the template added, so a later injection can find it (Istio's SidecarInjectionStatus JSON). */
export function injectionStatus(template: SidecarTemplate, revision: string): string {
  const names = (list: readonly Json[]) => (list.length ? list.map((c) => String(c.name)) : null);
  return JSON.stringify({
    initContainers: names(template.initContainers),
    containers: names(template.containers),
    volumes: names(template.volumes),
    imagePullSecrets: null,
    revision: revision || 'default',
  });
}

/**
 * A user's istio-proxy container that sets its own user or group: iptables must exempt that user
 * (`-u`), and a validation container runs as it (Istio's `adjustInitContainerUser`). In TPROXY mode
 * the proxy keeps running as root.
 */
function adjustInitContainerUser(spec: Json, original: Json & { containers: Json[] }, proxyConfig: ProxyConfig, annotations: Readonly<Record<string, string>>): Json {
  const all = [...original.containers, ...((original.initContainers as Json[] | undefined) ?? [])];
  const user = all.find((c) => c.name === PROXY_CONTAINER)?.securityContext as { runAsUser?: number; runAsGroup?: number } | undefined;
  if (!user || (user.runAsUser === undefined && user.runAsGroup === undefined)) return spec;
  const init = ((spec.initContainers as Json[] | undefined) ?? []).map((c) => ({ ...c }));
  const target = init.find((c) => c.name === 'istio-init') ?? init.find((c) => c.name === 'istio-validation');
  if (!target) return spec;
  const tproxy = proxyConfig.interceptionMode === 'TPROXY' || annotations[ANNOTATION.interceptionMode] === 'TPROXY';
  let containers = spec.containers as Json[];
  if (tproxy && user.runAsUser !== undefined) {
    const setRoot = (c: Json) => (c.name === PROXY_CONTAINER ? { ...c, securityContext: { ...(c.securityContext as Json), runAsUser: 0 } } : c);
    containers = containers.map(setRoot);
    init.splice(0, init.length, ...init.map(setRoot));
  }
  if (!tproxy && target.name === 'istio-validation') {
    target.securityContext = { ...(target.securityContext as Json), ...(user.runAsUser !== undefined ? { runAsUser: user.runAsUser } : {}), ...(user.runAsGroup !== undefined ? { runAsGroup: user.runAsGroup } : {}) };
  }
  if (user.runAsUser && Array.isArray(target.args)) {
    const args = [...(target.args as string[])];
    const at = args.indexOf('-u');
    if (at >= 0 && at + 1 < args.length) args[at + 1] = String(user.runAsUser);
    target.args = args;
  }
  return { ...spec, containers, initContainers: init };
}

/** Whether the pod runs the proxy as a native sidecar: its annotation, else the request, else the version's default. */
export function usesNativeSidecar(annotations: Readonly<Record<string, string>>, requested: boolean | undefined, settings: IstioInjectionSettings): boolean {
  const fallback = requested ?? settings.nativeSidecarDefault;
  // The template treats every value but "false" as on when the annotation is set.
  const annotation = annotations[ANNOTATION.nativeSidecar];
  return annotation === undefined || annotation === '' ? fallback : annotation !== 'false';
}

/** The proxy config this pod gets: the mesh's, with its `proxy.istio.io/config` annotation merged on top. */
export function podProxyConfig(annotations: Readonly<Record<string, string>>, meshDefault: ProxyConfig): ProxyConfig {
  const override = annotations[ANNOTATION.proxyConfig];
  if (override === undefined) return meshDefault;
  try {
    return mergeProxyConfig(meshDefault, parseProxyConfigOverride(override));
  } catch (error) {
    throw new InjectionError(`invalid value for annotation '${ANNOTATION.proxyConfig}': ${(error as Error).message}`);
  }
}

/** Injects `pod` with explicit settings (the injector's entry point derives them from the installation). */
export function injectPodWith(pod: PodObject, namespace: string, settings: IstioInjectionSettings, options: { nativeSidecars?: boolean; workload?: WorkloadIdentity } = {}): PodObject {
  const annotations = pod.metadata.annotations ?? {};
  const labels = pod.metadata.labels ?? {};
  validateAnnotations(annotations);
  const proxyConfig = podProxyConfig(annotations, settings.proxyConfig);
  const native = usesNativeSidecar(annotations, options.nativeSidecars, settings);
  const workload = options.workload ?? workloadOfPod(pod, namespace);
  const spec = pod.spec as Json & { containers: Json[] };
  const template = renderSidecarTemplate({
    settings, labels, annotations, proxyConfig, native, workload,
    containers: spec.containers,
    ...(typeof spec.serviceAccountName === 'string' ? { serviceAccountName: spec.serviceAccountName } : {}),
  });

  // A user's own istio-proxy container (customised injection) stays where the template puts the proxy.
  let podSpec: Json = { ...spec };
  const userProxy = spec.containers.find((c) => c.name === PROXY_CONTAINER);
  if (native && userProxy) {
    podSpec = { ...podSpec, containers: spec.containers.filter((c) => c !== userProxy), initContainers: [...((spec.initContainers as Json[] | undefined) ?? []), userProxy] };
  }
  const patch: Json = { containers: template.containers, volumes: template.volumes };
  if (template.initContainers.length) patch.initContainers = template.initContainers;
  podSpec = strategicMerge(podSpec, patch) as Json;
  let podAnnotations: Record<string, string> = { ...annotations, ...template.annotations };
  const podLabels = { ...labels, ...template.labels };

  // The user's containers that the template also defines win over it, field by field, and are
  // recorded in an annotation (Istio's `proxy.istio.io/overrides`).
  const original = pod.spec as Json & { containers: Json[] };
  const originalInit = (original.initContainers as Json[] | undefined) ?? [];
  const overrides: { containers?: Json[]; initContainers?: Json[] } = {};
  for (const list of ['containers', 'initContainers'] as const) {
    for (const ours of template[list]) {
      const match = original.containers.find((c) => c.name === ours.name) ?? (list === 'initContainers' ? originalInit.find((c) => c.name === ours.name) : undefined);
      if (!match) continue;
      const overlay = goOrdered(match.image === 'auto' ? { ...match, image: undefined } : match, 'Container');
      podSpec = strategicMerge(podSpec, { [list]: [overlay] }) as Json;
      (overrides[list] ??= []).push(overlay);
    }
  }
  if (overrides.containers || overrides.initContainers) podAnnotations[ANNOTATION.proxyOverrides] = JSON.stringify(overrides);
  podSpec = adjustInitContainerUser(podSpec, original, proxyConfig, podAnnotations);

  // Metrics merging, then probes, as Istio's post-processing does.
  const statusPort = Number(proxyConfig.statusPort ?? ISTIO_PROXY_DEFAULTS.statusPort);
  const prometheus = applyPrometheusMerge(podAnnotations, settings.enablePrometheusMerge, statusPort);
  podAnnotations = prometheus.annotations;
  const extraEnv: Json[] = prometheus.env ? [prometheus.env] : [];
  if (shouldRewriteProbes(podAnnotations, ISTIO_PROXY_DEFAULTS.rewriteAppHTTPProbe)) {
    const all = [...((podSpec.initContainers as Json[] | undefined) ?? []), ...((podSpec.containers as Json[] | undefined) ?? [])];
    const probers = appProbers(all, statusPort);
    if (probers !== undefined) extraEnv.push({ name: KUBE_APP_PROBERS_ENV, value: probers });
    const rewritePort = annotations[ANNOTATION.statusPort] !== undefined ? Number.parseInt(annotations[ANNOTATION.statusPort]!, 10) || 0 : statusPort;
    for (const list of ['containers', 'initContainers'] as const) {
      if (Array.isArray(podSpec[list])) podSpec[list] = (podSpec[list] as Json[]).map((c) => rewriteProbes(c, rewritePort));
    }
  }
  if (extraEnv.length) {
    for (const list of ['containers', 'initContainers'] as const) {
      podSpec[list] = ((podSpec[list] as Json[] | undefined) ?? []).map((c) => (c.name === PROXY_CONTAINER ? { ...c, env: [...((c.env as Json[] | undefined) ?? []), ...extraEnv] } : c));
      if (!(podSpec[list] as Json[]).length && !(pod.spec as Json)[list]) delete podSpec[list];
    }
  }
  podAnnotations[ANNOTATION.status] = injectionStatus(template, settings.revision);
  podSpec = orderContainers(podSpec, holdsApplication(proxyConfig));
  return { ...pod, metadata: { ...pod.metadata, labels: podLabels, annotations: podAnnotations }, spec: podSpec as PodObject['spec'] };
}

/** The Istio injector's `inject`: selection, then injection with the installation's settings, then the pod's record. */
export function injectIstio(request: InjectionRequest): InjectionOutcome {
  const { pod, installation, resolved } = request;
  const namespace = pod.metadata.namespace ?? request.namespace.name;
  const settings = injectionSettings(installation, resolved);
  const skipped = skipReason(pod, namespace, settings.controlPlaneNamespace);
  if (skipped) return skipped;
  const workload = request.workload ? { ...request.workload, namespace: request.workload.namespace ?? '' } : undefined;
  const injected = injectPodWith(pod, namespace, settings, { ...(request.nativeSidecars !== undefined ? { nativeSidecars: request.nativeSidecars } : {}), ...(workload ? { workload } : {}) });
  const record = {
    mesh: 'istio' as const,
    installation: settings.installationName,
    revision: settings.revision,
    proxyVersion: resolved.version,
    trustBundleSha256: trustBundleSha256(request.trustAnchorsPem),
  };
  return { injected: true, pod: withInjectionRecord(injected, record), record };
}
