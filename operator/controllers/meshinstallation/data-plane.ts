/**
 * The data plane as status shows it: which pods carry this installation's proxy (the record the
 * injection webhook writes on every pod it injects, see distributions/injection.ts), which of them
 * run a proxy the installation no longer wants — another proxy version, or a trust bundle other
 * than the trust anchors the mesh now publishes — and `DataPlaneReady` from that.
 *
 * {@link summarizeDataPlane} is pure and table-tested; the pod cache it reads is trimmed by
 * {@link dataPlanePodView} to the few fields it needs, since every injected pod is cached.
 */
import { ConditionType, type ConditionUpdate } from '../../api/conditions.ts';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import type { MeshDistribution } from '../../distributions/distribution.ts';
import { publishedTrustAnchors, type TrustAnchorSources } from '../../distributions/published-trust-anchors.ts';
import { injectionRecordOf, INJECTED_BY_LABEL, RECORD_ANNOTATIONS, trustBundleSha256 } from '../../distributions/injection.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { controllerOf, troubledContainerStatuses } from '../../rollout/workloads.ts';
import type { PassContext } from './context.ts';
import { EnrolmentReason, SYSTEM_NAMESPACES, type NamespaceNotEnrolled } from './enrolment.ts';
import type { PassScope } from './scope.ts';

/** Reasons of DataPlaneReady when the mesh injects proxies. */
export const DataPlaneInjectionReason = {
  /** No namespace carries the mesh's enrolment label and no pod runs its proxy. */
  NoNamespacesEnrolled: 'NoNamespacesEnrolled',
  /** Some injected pods run a proxy version or trust bundle the installation no longer wants; the message counts them. */
  ProxiesOutdated: 'ProxiesOutdated',
  /** Every injected pod runs the wanted proxy version with the current trust bundle. */
  ProxiesCurrent: 'ProxiesCurrent',
} as const;

/** What the installation wants every proxy to run. */
export interface WantedProxy {
  /** The resolved mesh version (the proxy image's). */
  version: string;
  /** SHA-256 of the trust anchors the mesh publishes; undefined when the mesh has no CA the operator manages (not compared). */
  trustBundleSha256?: string;
  /** The control-plane revision proxies must connect to; set only when the installation runs Canary revisions (not compared otherwise). */
  revision?: string;
}

/** Whether `pod`'s proxy is not the one `wanted` describes: another version, trust bundle or (Canary) revision, or no record to tell. */
export function proxyOutdated(pod: KubeObject, wanted: WantedProxy): boolean {
  const record = injectionRecordOf(pod);
  return record?.proxyVersion !== wanted.version
    || (wanted.trustBundleSha256 !== undefined && record.trustBundleSha256 !== wanted.trustBundleSha256)
    || (wanted.revision !== undefined && record.revision !== wanted.revision);
}

/** The data plane as status.dataPlane holds it. */
export interface DataPlaneSummary {
  enrolledNamespaces: number;
  injectedPods: number;
  outdatedPods: number;
  proxyVersions: Record<string, number>;
  namespacesNotEnrolled?: NamespaceNotEnrolled[];
}

/** Key of {@link DataPlaneSummary.proxyVersions} for a pod whose record lacks its proxy version. */
export const UNKNOWN_PROXY_VERSION = 'unknown';

/** Phases in which a pod's containers, its proxy among them, no longer run. */
const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);

/**
 * Whether a pod runs a proxy of `installation`: labelled as injected by it, not on its way out
 * and not finished (a completed Job's pod holds no proxy any more).
 */
export function runsProxyOf(pod: KubeObject, installation: string): boolean {
  if (pod.metadata.labels?.[INJECTED_BY_LABEL] !== installation || pod.metadata.deletionTimestamp) return false;
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return !phase || !FINISHED_PHASES.has(phase);
}

/**
 * The pods running this installation's proxy (see {@link runsProxyOf}) as the pod cache shows them
 * when a step of the pass first asks: one scan of the cache per pass instead of one per step (the
 * rollout, the data-plane status, a canary each scanned every pod of the mesh), and one view of
 * the pods for all of them.
 */
export function proxyPodsOf(scope: PassScope, context: PassContext): readonly KubeObject[] {
  let pods = proxyPodsOfPass.get(scope);
  if (!pods) proxyPodsOfPass.set(scope, pods = (context.pods?.list() ?? []).filter((pod) => runsProxyOf(pod, scope.name)));
  return pods;
}

const proxyPodsOfPass = new WeakMap<PassScope, readonly KubeObject[]>();

/**
 * Counts the proxies among `pods` (all injected by this installation and running: see
 * {@link runsProxyOf}) and judges them against `wanted`. A pod whose record is incomplete (no
 * proxy version) cannot be shown current, so it counts as outdated under {@link UNKNOWN_PROXY_VERSION}.
 */
export function summarizeDataPlane(input: {
  pods: readonly KubeObject[];
  wanted: WantedProxy;
  enrolledNamespaces: number;
  namespacesNotEnrolled?: readonly NamespaceNotEnrolled[];
  /** This operator serves no injection webhook (started without --webhook-url/--webhook-service): said, as new pods go uninjected. */
  webhookOff?: boolean;
  generation: number;
}): { summary: DataPlaneSummary; condition: ConditionUpdate } {
  const { wanted, generation } = input;
  const proxyVersions: Record<string, number> = {};
  let outdatedVersion = 0;
  let outdatedBundle = 0;
  let outdatedRevision = 0;
  let outdated = 0;
  for (const pod of input.pods) {
    const record = injectionRecordOf(pod);
    const version = record?.proxyVersion ?? UNKNOWN_PROXY_VERSION;
    proxyVersions[version] = (proxyVersions[version] ?? 0) + 1;
    const versionOff = record?.proxyVersion !== wanted.version;
    const bundleOff = wanted.trustBundleSha256 !== undefined && record?.trustBundleSha256 !== wanted.trustBundleSha256;
    const revisionOff = wanted.revision !== undefined && record?.revision !== wanted.revision;
    if (versionOff) outdatedVersion++;
    if (bundleOff) outdatedBundle++;
    if (revisionOff) outdatedRevision++;
    if (versionOff || bundleOff || revisionOff) outdated++;
  }
  const injected = input.pods.length;
  const notEnrolled = input.namespacesNotEnrolled ?? [];
  const summary: DataPlaneSummary = {
    enrolledNamespaces: input.enrolledNamespaces, injectedPods: injected, outdatedPods: outdated, proxyVersions,
    // Bounded as the schema bounds it; the condition's message names them all.
    ...(notEnrolled.length > 0 ? { namespacesNotEnrolled: notEnrolled.slice(0, 64) } : {}),
  };
  const webhookNote = input.webhookOff && input.enrolledNamespaces > 0
    ? '; the injection webhook is off in this operator (start it with --webhook-url or --webhook-service), so pods created now are not injected' : '';
  const leftAlone = `${webhookNote}${notEnrolled.length === 0 ? '' : `; not enrolled: ${notEnrolled.map((n) => `${n.namespace} (${n.reason})`).join(', ')}`}`;
  const base = { type: ConditionType.DataPlaneReady, observedGeneration: generation };
  const pods = (n: number) => `${n} ${n === 1 ? 'pod' : 'pods'}`;
  const namespaces = (n: number) => `${n} enrolled ${n === 1 ? 'namespace' : 'namespaces'}`;
  if (outdated > 0) {
    const why = [
      outdatedVersion > 0 ? `${pods(outdatedVersion)} not at proxy version ${wanted.version} (${Object.entries(proxyVersions).filter(([v]) => v !== wanted.version).map(([v, n]) => `${v}: ${n}`).join(', ')})` : '',
      outdatedBundle > 0 ? `${pods(outdatedBundle)} with a trust bundle other than the one the mesh publishes` : '',
      outdatedRevision > 0 ? `${pods(outdatedRevision)} not on revision ${wanted.revision}` : '',
    ].filter(Boolean).join('; ');
    return { summary, condition: { ...base, status: 'False', reason: DataPlaneInjectionReason.ProxiesOutdated, message: `${outdated} of ${pods(injected)} run an outdated proxy: ${why}; restart their workloads to pick up the current proxy${leftAlone}` } };
  }
  if (injected === 0 && input.enrolledNamespaces === 0) {
    return { summary, condition: { ...base, status: 'True', reason: DataPlaneInjectionReason.NoNamespacesEnrolled, message: `no namespace is enrolled for injection and no pod runs the mesh proxy; enrol namespaces with spec.injection.namespaces or namespaceSelector${leftAlone}` } };
  }
  return { summary, condition: { ...base, status: 'True', reason: DataPlaneInjectionReason.ProxiesCurrent, message: `${pods(injected)} in ${namespaces(input.enrolledNamespaces)} run proxy ${wanted.version}${wanted.trustBundleSha256 ? ' with the current trust bundle' : ''}${leftAlone}` } };
}

/**
 * The trust anchors (PEM) the mesh publishes, as the operator itself writes them: the first
 * location of the CA profile the renderer writes (not the control plane), read from `objects`
 * (the rendered set of the pass), or from `referenced` (the referenced-secrets cache) when the
 * location is the user's External CA Secret the mesh reads in place. Undefined for a mesh without
 * a CA the operator manages, or before the CA exists. The lookup is the injection webhook's
 * (distributions/published-trust-anchors.ts), so the hashes compare.
 */
export function publishedTrustAnchorsPem(distribution: MeshDistribution, installation: DefaultedMeshInstallation, objects: readonly KubeObject[], referenced?: TrustAnchorSources['referenced']): string | undefined {
  const published = publishedTrustAnchors(distribution, installation, {
    owned: (kind, namespace, name) => objects.find((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace),
    referenced,
  });
  return published && 'pem' in published ? published.pem : undefined;
}

/** The proxy `installation` wants now: its resolved version and the hash of the published trust anchors. */
export function wantedProxy(distribution: MeshDistribution, installation: DefaultedMeshInstallation, version: string, rendered: readonly KubeObject[], referenced?: TrustAnchorSources['referenced'], revision?: string): WantedProxy {
  const pem = publishedTrustAnchorsPem(distribution, installation, rendered, referenced);
  return { version, ...(pem ? { trustBundleSha256: trustBundleSha256(pem) } : {}), ...(revision !== undefined ? { revision } : {}) };
}

/**
 * The proxy the pass's installation wants: {@link wantedProxy} for the pass's target, with the
 * revision when the installation runs Canary revisions (where a pod on another revision's proxy
 * is outdated too). Undefined before the pass knows its rendered set.
 */
export function wantedProxyOfPass(scope: PassScope, context: PassContext): WantedProxy | undefined {
  const target = scope.target;
  if (!target || !scope.desired) return undefined;
  const revision = scope.mi.spec.upgrade.strategy === 'Canary' ? target.resolved.revision : undefined;
  return wantedProxy(target.distribution, scope.mi, target.resolved.version, scope.desired, context.referencedSecret, revision);
}

/**
 * A pod as the data-plane cache keeps it: identity, labels, the record annotations, deletion and
 * phase. Everything else (spec, most of status, managedFields) is dropped before caching: with
 * thousands of injected pods, the cache would otherwise hold every container spec.
 */
export function dataPlanePodView(object: KubeObject): KubeObject {
  const { name, namespace, labels, annotations, resourceVersion, uid, deletionTimestamp } = object.metadata;
  const record = Object.fromEntries(Object.values(RECORD_ANNOTATIONS).filter((key) => annotations?.[key] !== undefined).map((key) => [key, annotations![key]!]));
  const status = object.status as { phase?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: unknown[]; initContainerStatuses?: unknown[] } | undefined;
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  // The workload that owns the pod (rollout/workloads.ts ownerOfPod), and only containers in trouble (podCrashLooping).
  const controller = controllerOf(object);
  const containers = troubledContainerStatuses(status?.containerStatuses as never);
  const initContainers = troubledContainerStatuses(status?.initContainerStatuses as never);
  return {
    apiVersion: object.apiVersion ?? 'v1',
    kind: object.kind ?? 'Pod',
    metadata: {
      name, namespace, resourceVersion, uid, ...(labels ? { labels } : {}), annotations: record, ...(deletionTimestamp ? { deletionTimestamp } : {}),
      ...(controller ? { ownerReferences: [{ apiVersion: controller.apiVersion, kind: controller.kind, name: controller.name, uid: controller.uid, controller: true }] } : {}),
    },
    status: {
      ...(status?.phase ? { phase: status.phase } : {}), ...(ready ? { conditions: [{ type: 'Ready', status: ready.status }] } : {}),
      ...(containers.length > 0 ? { containerStatuses: containers } : {}), ...(initContainers.length > 0 ? { initContainerStatuses: initContainers } : {}),
    },
  };
}

/**
 * The data-plane step of the status: sets status.dataPlane and returns DataPlaneReady for a mesh
 * that injects proxies. Undefined when there is nothing to judge by — a mesh without an injector
 * (status.dataPlane is dropped), or a pass that failed before it knew the rendered set and so the
 * published trust anchors (the previous status stands rather than a half-judged one).
 */
export function observeDataPlane(scope: PassScope, context: PassContext): ConditionUpdate | undefined {
  const target = scope.target;
  if (!target?.distribution.injector) {
    delete scope.status.dataPlane;
    return undefined;
  }
  if (!scope.desired) return undefined;
  const label = target.distribution.injector.enrolmentLabel(scope.mi, target.resolved);
  // Without this pass's enrolment (paused, or a failure before it), what the cache shows.
  const enrolled = scope.enrolment?.enrolled ?? (context.namespaces?.list() ?? [])
    .filter((ns) => ns.metadata.labels?.[label.key] === label.value && !SYSTEM_NAMESPACES.includes(ns.metadata.name) && ns.metadata.name !== scope.mi.spec.namespace)
    .map((ns) => ns.metadata.name);
  const notEnrolled = scope.enrolment?.notEnrolled ?? (scope.installation.status?.dataPlane?.namespacesNotEnrolled ?? []) as NamespaceNotEnrolled[];
  const pods = proxyPodsOf(scope, context);
  const { summary, condition } = summarizeDataPlane({
    pods, wanted: wantedProxyOfPass(scope, context)!,
    enrolledNamespaces: enrolled.length, namespacesNotEnrolled: notEnrolled, generation: scope.generation,
    // Only an operator that wires the webhook can say it is off (an embedded one may have none to wire).
    webhookOff: context.webhookEndpoint !== undefined && context.webhookEndpoint() === undefined,
  });
  // The rollout as this pass planned it (none when no proxy runs and no restart is in flight); a
  // pass that did not get to plan it keeps the last one shown while proxies run.
  const rollout = scope.rollout ? scope.rollout.status : pods.length > 0 ? scope.installation.status?.dataPlane?.rollout : undefined;
  // No pod, no proxyVersions: server-side apply sends an empty map as null, which the API server
  // refuses for an object field (kubernetes/kubernetes#135841) — and with it every later status write.
  const { proxyVersions, ...counts } = summary;
  const shown = Object.keys(proxyVersions).length > 0 ? { ...counts, proxyVersions } : counts;
  scope.status.dataPlane = rollout ? { ...shown, rollout } : shown;
  announceNotEnrolled(scope, context, notEnrolled);
  return scope.rollout?.condition ? { ...condition, ...scope.rollout.condition } : condition;
}

/** A Warning Event for each namespace newly left out of enrolment (not on every pass: only when it first appears). */
function announceNotEnrolled(scope: PassScope, context: PassContext, notEnrolled: readonly NamespaceNotEnrolled[]): void {
  const before = new Set((scope.installation.status?.dataPlane?.namespacesNotEnrolled ?? []).map((n) => `${n.namespace}/${n.reason}`));
  for (const entry of notEnrolled) {
    if (before.has(`${entry.namespace}/${entry.reason}`)) continue;
    // A system namespace a broad selector matches is worth knowing, not a problem.
    context.hooks.onEvent?.(scope.installation, entry.reason === EnrolmentReason.NamespaceExcluded ? 'Normal' : 'Warning', entry.reason, entry.message);
  }
}
