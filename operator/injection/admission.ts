/**
 * One admission, from the request body to the response body: decode the `admission.k8s.io/v1`
 * AdmissionReview, look up what the injection depends on (installation, namespace, trust anchors)
 * through {@link AdmissionSources} — the operator's informer caches, never the API server — call
 * the mesh's pure injector and answer with a JSON patch, allowed-without-patch, or a denial.
 *
 * No I/O here, so the whole decision is unit-tested; server.ts only moves bytes and counts.
 *
 * What is refused, and how:
 * - a body that is no AdmissionReview (not JSON, another kind or version, no request or uid):
 *   HTTP 400 with a plain-text reason (there is no uid to answer a review with);
 * - a review the webhook cannot serve (not a Pod, an installation or namespace it does not know, a
 *   spec that no longer resolves, trust anchors not published yet): denied (allowed=false) with
 *   a message saying why — enrolled namespaces fail closed, as upstream's injectors do;
 * - a pod the injector refuses ({@link InjectionError}): denied with code 400 and its message.
 */
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { MeshDistribution } from '../distributions/distribution.ts';
import { publishedTrustAnchors } from '../distributions/published-trust-anchors.ts';
import { InjectionError, type InjectionOutcome, type NamespaceView, type PodObject } from '../distributions/injection.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { jsonPatchBetween } from './json-diff.ts';
import { defaultTagRevision, injectionRevision, namespaceRevision, type Label } from '../upgrade/canary-namespaces.ts';

/** The path prefix of the injection webhook; the installation's name follows. */
export const INJECT_PATH_PREFIX = '/inject/';

/** What an admission may read: all from informer caches (no API request per admission). */
export interface AdmissionSources {
  /** A MeshInstallation by name, as cached. */
  installation(name: string): KubeObject | undefined;
  /** A namespace by name, as the namespace cache keeps it. */
  namespace(name: string): NamespaceView | undefined;
  /** The distribution of a mesh. */
  distribution(mesh: string): MeshDistribution | undefined;
  /** An object the operator owns (label-selected caches), where meshes publish their trust anchors. */
  owned(kind: 'Secret' | 'ConfigMap', namespace: string, name: string): KubeObject | undefined;
  /**
   * The user's Secret an External CA names, as the referenced-secrets cache keeps it (public
   * certificate entries only): where the trust anchors are when the mesh reads that Secret in place.
   */
  referenced?(namespace: string, name: string): KubeObject | undefined;
}

/** How an admission ended, as `meshwright_webhook_admissions_total{outcome}` counts it. */
export type AdmissionOutcome = 'injected' | 'skipped' | 'refused' | 'denied' | 'invalid';

/** The HTTP answer to one admission request, and what it was about. */
export interface AdmissionAnswer {
  httpStatus: number;
  contentType: string;
  body: string;
  outcome: AdmissionOutcome;
  /** The installation named by the path (undefined when the path names none). */
  installation?: string;
  /** Why it was refused or denied, or why the injector skipped the pod. */
  message?: string;
  /** The injector's skip reason, or the denial's reason. */
  reason?: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The installation an injection path names: `/inject/<installation>` or a sub-path under it
 * (`/inject/<installation>/<revision>`, as a mesh's webhook configurations may route). Undefined
 * for any other path.
 */
export function installationOfPath(path: string): string | undefined {
  if (!path.startsWith(INJECT_PATH_PREFIX)) return undefined;
  const name = path.slice(INJECT_PATH_PREFIX.length).split('/')[0] ?? '';
  return name.length > 0 && name.length <= 253 && DNS_SUBDOMAIN.test(name) ? name : undefined;
}

interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  namespace?: string;
  operation?: string;
  object?: unknown;
  dryRun?: boolean;
}

/** A body that is not an AdmissionReview the webhook can answer: plain text, HTTP 400. */
function invalid(message: string, installation?: string): AdmissionAnswer {
  return { httpStatus: 400, contentType: 'text/plain; charset=utf-8', body: `${message}\n`, outcome: 'invalid', installation, message };
}

function review(uid: string, response: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...response } });
}

const json = 'application/json';

function denied(uid: string, installation: string, code: number, reason: string, message: string, outcome: AdmissionOutcome = 'denied'): AdmissionAnswer {
  return { httpStatus: 200, contentType: json, body: review(uid, { allowed: false, status: { code, reason, message } }), outcome, installation, message, reason };
}

/** Decodes and checks the envelope; a string is why it is not one we can answer. */
export function decodeAdmissionReview(body: string): AdmissionRequest | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    return `the request body is not JSON (${(error as Error).message}); expected an admission.k8s.io/v1 AdmissionReview`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'the request body is not a JSON object; expected an admission.k8s.io/v1 AdmissionReview';
  const { apiVersion, kind, request } = parsed as { apiVersion?: unknown; kind?: unknown; request?: unknown };
  if (apiVersion !== 'admission.k8s.io/v1' || kind !== 'AdmissionReview') {
    return `expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got apiVersion ${JSON.stringify(apiVersion ?? null)} and kind ${JSON.stringify(kind ?? null)} (the webhook configuration must list admissionReviewVersions ["v1"])`;
  }
  if (typeof request !== 'object' || request === null) return 'the AdmissionReview has no request';
  const uid = (request as { uid?: unknown }).uid;
  if (typeof uid !== 'string' || uid === '') return 'the AdmissionReview request has no uid';
  return request as AdmissionRequest;
}

/**
 * The installation as injection reads it, made once per cached version (the informer replaces the
 * object on every change, so its identity keys the memo): defaulting a spec takes milliseconds,
 * which an admission on the API server's critical path should not spend each time.
 */
const preparedInstallations = new WeakMap<KubeObject, { installation: DefaultedMeshInstallation; revisions?: RevisionTable }>();

function prepared(cached: KubeObject): { installation: DefaultedMeshInstallation; revisions?: RevisionTable } {
  let entry = preparedInstallations.get(cached);
  if (!entry) {
    // The spec the installation is served with: the last one applied in full while a newer one is refused.
    const served = (cached.status as { served?: { spec?: Record<string, unknown> } } | undefined)?.served?.spec;
    entry = { installation: { ...cached, spec: withSpecDefaults((served ?? cached.spec) as never) } as unknown as DefaultedMeshInstallation };
    preparedInstallations.set(cached, entry);
  }
  return entry;
}

/**
 * The revisions a Canary installation runs, for choosing the one a pod gets: each known revision's
 * version and enrolment label, the default label (which follows the `default` tag) and where the
 * tag points. Built once per cached installation, like {@link prepared}.
 */
export interface RevisionTable {
  versions: ReadonlyMap<string, string>;
  labels: ReadonlyArray<{ revision: string; label: Label }>;
  defaultLabel?: Label;
  defaultTag?: string;
}

type CanaryStatus = { served?: { spec?: { version?: unknown } }; upgrade?: { from?: string; to?: string; strategy?: string; phase?: string; step?: number; totalSteps?: number }; revisions?: Array<{ name?: string; version?: string }> };

/**
 * The revision table of `cached` (see {@link RevisionTable}); undefined unless it is served with
 * strategy Canary. The versions it knows: spec.version, the spec last served, an upgrade's from and
 * to, and status.revisions — every revision that can still be rendered.
 */
export function revisionTable(cached: KubeObject, installation: DefaultedMeshInstallation, distribution: MeshDistribution): RevisionTable | undefined {
  const injector = distribution.injector;
  if (!injector || installation.spec.upgrade.strategy !== 'Canary') return undefined;
  const status = (cached.status ?? {}) as CanaryStatus;
  const wanted = (cached as KubeObject & { spec?: { version?: unknown } }).spec?.version;
  const candidates = [installation.spec.version, wanted, status.served?.spec?.version, status.upgrade?.from, status.upgrade?.to, ...(status.revisions ?? []).map((r) => r.version)]
    .filter((v): v is string => typeof v === 'string');
  const versions = new Map<string, string>();
  const labels: Array<{ revision: string; label: Label }> = [];
  const revisionOf = new Map<string, string>();
  for (const version of new Set(candidates)) {
    try {
      const at = { ...installation, spec: { ...installation.spec, version } };
      const resolved = distribution.resolve(at);
      revisionOf.set(version, resolved.revision);
      if (versions.has(resolved.revision)) continue;
      versions.set(resolved.revision, version);
      labels.push({ revision: resolved.revision, label: injector.enrolmentLabel(at, resolved) });
    } catch {
      // A version the catalog no longer has cannot be injected: not offered.
    }
  }
  let defaultLabel: Label | undefined;
  try {
    // The default label is the unrevisioned installation's (Istio's istio-injection=enabled).
    const unrevisioned = { ...installation, spec: { ...installation.spec, upgrade: { ...installation.spec.upgrade, strategy: 'InPlace' as const, canary: undefined } } };
    defaultLabel = injector.enrolmentLabel(unrevisioned, distribution.resolve(unrevisioned));
  } catch {
    defaultLabel = undefined;
  }
  const { upgrade } = status;
  const from = upgrade?.from !== undefined ? revisionOf.get(upgrade.from) : undefined;
  const to = upgrade?.to !== undefined ? revisionOf.get(upgrade.to) : undefined;
  const defaultTag = upgrade?.strategy === 'Canary' && upgrade.to === wanted && from && to
    ? defaultTagRevision(upgrade as never, { old: from, new: to })
    : revisionOf.get(installation.spec.version);
  return { versions, labels, defaultLabel, defaultTag };
}

/**
 * The installation as a pod in `namespace` is injected: at the version of the revision its
 * namespace (or, in a namespace naming none, its own `istio.io/rev` label, or the webhook path
 * `/inject/<installation>/<revision>` the API server called) points at during a canary; the spec
 * last served when nothing names a known revision.
 */
export function installationForPod(entry: { installation: DefaultedMeshInstallation; revisions?: RevisionTable }, path: string, namespace: NamespaceView, pod: PodObject): DefaultedMeshInstallation {
  const table = entry.revisions;
  if (!table) return entry.installation;
  const known = [...table.versions.keys()];
  const fromPath = path.slice(INJECT_PATH_PREFIX.length).split('/')[1];
  const revision = injectionRevision({
    namespaceRevision: namespaceRevision(namespace.labels, table.labels, table.defaultLabel, table.defaultTag),
    podLabels: pod.metadata.labels, known, defaultTag: table.defaultTag,
  }) ?? (fromPath !== undefined && known.includes(fromPath) ? fromPath : undefined);
  const version = revision !== undefined ? table.versions.get(revision) : undefined;
  if (version === undefined || version === entry.installation.spec.version) return entry.installation;
  return { ...entry.installation, spec: { ...entry.installation.spec, version } };
}

/** Whether `object` has the shape of a Pod the injector can work on. */
function asPod(object: unknown): PodObject | string {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) return 'the request carries no object';
  const pod = object as { kind?: unknown; metadata?: unknown; spec?: { containers?: unknown } };
  if (pod.kind !== undefined && pod.kind !== 'Pod') return `the object is a ${String(pod.kind)}, not a Pod`;
  if (typeof pod.metadata !== 'object' || pod.metadata === null) return 'the Pod has no metadata';
  if (typeof pod.spec !== 'object' || pod.spec === null || !Array.isArray(pod.spec.containers)) return 'the Pod has no spec.containers';
  return object as PodObject;
}

/** The trust anchors the mesh publishes (see distributions/published-trust-anchors.ts), or why they are missing. */
function trustAnchorsOf(distribution: MeshDistribution, installation: DefaultedMeshInstallation, sources: AdmissionSources): { pem: string } | { missing: string } {
  const published = publishedTrustAnchors(distribution, installation, sources);
  if (!published) return { pem: '' };
  if ('pem' in published) return published;
  const where = published.missing.join(' or ') || 'none declared';
  return { missing: `the trust anchors of installation "${installation.metadata.name}" are not published yet (${where}); the mesh is still being installed, retry once it is` };
}

/**
 * Answers one request to the injection webhook at `path` with `body`. Never throws: anything
 * unexpected from an injector is a denial naming it (code 500), so a bug refuses one pod instead
 * of crashing the server.
 */
export function answerAdmission(path: string, body: string, sources: AdmissionSources): AdmissionAnswer {
  const name = installationOfPath(path);
  const decoded = decodeAdmissionReview(body);
  if (typeof decoded === 'string') return invalid(decoded, name);
  const { uid } = decoded;
  if (!name) return denied(uid, '', 400, 'NoInstallationInPath', `no installation in the path ${JSON.stringify(path)}; the injection webhook serves ${INJECT_PATH_PREFIX}<installation>`, 'invalid');
  const requested = decoded.kind;
  if (requested && (requested.group !== '' || requested.kind !== 'Pod')) {
    return denied(uid, name, 400, 'NotAPod', `the injection webhook admits Pods only, got ${requested.group ? `${requested.group}/` : ''}${requested.kind ?? 'an unknown kind'}; the webhook configuration's rules must select pods`, 'invalid');
  }
  const pod = asPod(decoded.object);
  if (typeof pod === 'string') return denied(uid, name, 400, 'NotAPod', `${pod}; the injection webhook admits Pods only`, 'invalid');
  // Injection happens once, at creation; a pod is never changed by an update's admission.
  if (decoded.operation !== undefined && decoded.operation !== 'CREATE') {
    return { httpStatus: 200, contentType: json, body: review(uid, { allowed: true }), outcome: 'skipped', installation: name, reason: 'NotACreate', message: `operation ${decoded.operation}` };
  }
  const cached = sources.installation(name);
  if (!cached) return denied(uid, name, 503, 'InstallationUnknown', `MeshInstallation "${name}" is not known to this operator (deleted, or managed by another operator); the pod is refused because its namespace is enrolled in it`);
  const namespaceName = decoded.namespace ?? pod.metadata.namespace;
  const namespace = namespaceName ? sources.namespace(namespaceName) : undefined;
  if (!namespace) return denied(uid, name, 503, 'NamespaceUnknown', `namespace ${JSON.stringify(namespaceName ?? '')} is not in the operator's cache yet; retry`);
  const entry = prepared(cached);
  const distribution = sources.distribution(entry.installation.spec.mesh);
  if (!distribution?.injector) return denied(uid, name, 500, 'NoInjector', `mesh ${entry.installation.spec.mesh} of installation "${name}" has no sidecar injector in this operator`);
  if (!('revisions' in entry)) entry.revisions = revisionTable(cached, entry.installation, distribution);
  const before: PodObject = { ...pod, metadata: { ...pod.metadata, namespace: namespace.name } };
  // During a canary each namespace's pods get the revision it points at (upgrade/canary-namespaces.ts).
  const installation = installationForPod(entry, path, namespace, before);
  let outcome: InjectionOutcome;
  try {
    const resolved = distribution.resolve(installation);
    const anchors = trustAnchorsOf(distribution, installation, sources);
    if ('missing' in anchors) return denied(uid, name, 503, 'TrustAnchorsNotPublished', anchors.missing);
    outcome = distribution.injector.inject({ pod: structuredClone(before), namespace, installation, resolved, trustAnchorsPem: anchors.pem });
  } catch (error) {
    if (error instanceof InjectionError) return denied(uid, name, 400, 'InjectionRefused', error.message, 'refused');
    const message = error instanceof Error ? error.message : String(error);
    return denied(uid, name, 500, 'InjectionFailed', `injecting the pod failed: ${message}`);
  }
  if (!outcome.injected) {
    return { httpStatus: 200, contentType: json, body: review(uid, { allowed: true }), outcome: 'skipped', installation: name, reason: outcome.reason, message: outcome.message };
  }
  const patch = jsonPatchBetween(before, outcome.pod);
  const warnings = outcome.warnings?.length ? { warnings: outcome.warnings } : {};
  const response = patch.length === 0
    ? { allowed: true, ...warnings }
    : { allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64'), ...warnings };
  return { httpStatus: 200, contentType: json, body: review(uid, response), outcome: 'injected', installation: name };
}
