/**
 * How an object is marked as ours: the installation label (what pruning and the label-selected
 * caches go by) and the hash of what we declared (what tells a spec change from a foreign edit).
 * The reconciler and `meshwright render` both mark objects here, so offline output is what is applied.
 */
import { createHash } from 'node:crypto';
import type { MeshDistribution, RenderInput } from '../distributions/distribution.ts';
import { renderInstallation } from '../distributions/render.ts';
import type { KubeObject } from '../runtime/kube.ts';

/** Label on every object we own; its value is the MeshInstallation's name. */
export const INSTALLATION_LABEL = 'meshwright.dev/installation';
/** Annotation with the hash of what we last declared: tells a spec change from a foreign edit. */
export const DESIRED_HASH_ANNOTATION = 'meshwright.dev/desired-hash';
/**
 * Annotation on every workload we render with the mesh version it runs: `status.version` is read
 * back from the live workloads, so it says what runs, not what the spec asks for.
 */
export const VERSION_ANNOTATION = 'meshwright.dev/version';

/**
 * Annotation key prefix recording each owner of an object several installations share (mesh CRDs,
 * a default-revision webhook): `owner.meshwright.dev/<installation>`. The object goes only with
 * its last owner; the one whose {@link INSTALLATION_LABEL} it carries writes its content.
 */
export const OWNER_ANNOTATION_PREFIX = 'owner.meshwright.dev/';

/** The annotation recording `installation` as an owner of a shared object. */
export function ownerAnnotation(installation: string): string {
  return `${OWNER_ANNOTATION_PREFIX}${installation}`;
}

/** The installations recorded as owners of a shared object, sorted. */
export function ownersOf(object: KubeObject): string[] {
  return Object.keys(object.metadata.annotations ?? {}).filter((key) => key.startsWith(OWNER_ANNOTATION_PREFIX)).map((key) => key.slice(OWNER_ANNOTATION_PREFIX.length)).sort();
}

/**
 * The label value an object kept on deletion (`meshwright.dev/keep-on-delete`) carries once its
 * installation is gone: created by meshwright, owned by no installation, free for the next one to
 * adopt. `_` cannot occur in an installation's name, so this never names one.
 */
export function releasedLabel(installation: string): string {
  return `released_${installation}`.slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
}

/** Whether a value of {@link INSTALLATION_LABEL} marks a released object (see {@link releasedLabel}). */
export function isReleasedLabel(value: string | undefined): boolean {
  return value?.startsWith('released_') ?? false;
}

/** Whether installations may share `object` in `distribution`: every mesh's CRDs, and what the mesh says. */
export function isSharedObject(distribution: MeshDistribution, object: KubeObject): boolean {
  return object.kind === 'CustomResourceDefinition' || (distribution.isShared?.(object) ?? false);
}

/** Kinds whose pods run a mesh component (and so carry {@link VERSION_ANNOTATION}). */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

/** Stable JSON (sorted keys), so equal objects hash equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A copy of a rendered object with our ownership label and the hash of what we declare. */
export function markOwned(object: KubeObject, installation: string): KubeObject {
  const labelled: KubeObject = { ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, [INSTALLATION_LABEL]: installation, 'app.kubernetes.io/managed-by': 'meshwright' } } };
  const hash = createHash('sha256').update(canonicalJson(labelled)).digest('hex').slice(0, 16);
  labelled.metadata.annotations = { ...labelled.metadata.annotations, [DESIRED_HASH_ANNOTATION]: hash };
  return labelled;
}

/**
 * The objects the operator applies for `input`, as both the reconciler and `meshwright render`
 * produce them: the distribution's render with overlays, each object marked as owned by the
 * installation, workloads annotated with the version they run.
 */
export function renderOwned(distribution: MeshDistribution, input: RenderInput): KubeObject[] {
  const installation = input.installation.metadata.name!;
  return renderInstallation(distribution, input).map((object) => {
    const annotations = {
      ...object.metadata.annotations,
      ...(WORKLOAD_KINDS.has(object.kind) ? { [VERSION_ANNOTATION]: input.resolved.version } : {}),
      ...(isSharedObject(distribution, object) ? { [ownerAnnotation(installation)]: 'true' } : {}),
    };
    return markOwned({ ...object, metadata: { ...object.metadata, annotations } }, installation);
  });
}
