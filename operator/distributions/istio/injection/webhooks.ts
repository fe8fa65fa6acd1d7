/**
 * The MutatingWebhookConfigurations that send pods to the operator's Istio injection webhook, and
 * the label that enrols a namespace. Facts from Istio's charts
 * (`istio-discovery/templates/mutatingwebhook.yaml`, `revision-tags-mwc.yaml`); our own rendering.
 *
 * Upstream's selection semantics, as selectors:
 * - `rev.namespace.sidecar-injector.istio.io`: namespaces labelled `istio.io/rev=<revision>` (the
 *   default revision answers to `default`) and not labelled `istio-injection` (which wins over
 *   revision labels);
 * - `rev.object.sidecar-injector.istio.io`: pods labelled `istio.io/rev=<revision>` in namespaces
 *   with neither label (a namespace's revision wins over a pod's);
 * - the default revision only: `namespace.sidecar-injector.istio.io` for namespaces labelled
 *   `istio-injection=enabled`, and `object.sidecar-injector.istio.io` for pods labelled
 *   `sidecar.istio.io/inject=true` (without `istio.io/rev`) in namespaces with neither label;
 * - every webhook leaves out pods labelled `sidecar.istio.io/inject=false` (that always wins; the
 *   injector also honours the annotation, label first).
 *
 * Which installation is the default revision: with strategy InPlace the control plane is
 * unrevisioned and its configuration is upstream's default one (`istio-sidecar-injector`). With
 * strategy Canary the control plane is always revisioned (`istio-sidecar-injector-<revision>`), and
 * the installation also carries the revision tag `default` (`istio-revision-tag-default`, as
 * `istioctl tag set default` creates it), which gives it the default revision's selectors.
 * Object names get a `-<namespace>` suffix outside `istio-system`, as upstream's do.
 *
 * Deliberate differences from upstream: every webhook also leaves out Kubernetes' system
 * namespaces and the control-plane namespace (the injector would skip their pods anyway), so a
 * stopped operator never blocks them; the client config is the operator's endpoint. Everything that
 * reaches the webhook fails closed (`failurePolicy: Fail`), as upstream.
 *
 * Paths on the operator's server (for routing): `/inject/<installation>` for an InPlace
 * installation; `/inject/<installation>/<revision>` for a Canary one's revision and its tags, so
 * that during a canary upgrade each revision's webhook names the revision it injects.
 */
import type { DefaultedMeshInstallation } from '../../../api/meshinstallation.ts';
import type { KubeObject } from '../../../runtime/kube.ts';
import type { ResolvedVersion } from '../../distribution.ts';
import type { WebhookEndpoint } from '../../injection.ts';
import { computeScope, DEFAULT_REVISION, REV_LABEL } from '../scope.ts';
import { LABEL } from './annotations.ts';
import { IGNORED_NAMESPACES } from './selection.ts';

/** The namespace label that turns injection on for the default revision. */
export const INJECTION_LABEL = 'istio-injection';
/** The revision tag every Canary installation carries. */
export const DEFAULT_TAG = 'default';

/** A label selector requirement. */
interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** The label (and value) that enrols a namespace: `istio-injection=enabled` for the default revision, else `istio.io/rev=<revision>`. */
export function istioEnrolmentLabel(installation: DefaultedMeshInstallation, resolved: ResolvedVersion): { key: string; value: string } {
  const scope = computeScope({ installation, resolved });
  return scope.revision ? { key: REV_LABEL, value: scope.revision } : { key: INJECTION_LABEL, value: 'enabled' };
}

/** The webhook path of `installation` on the operator's server (see the module comment). */
export function istioInjectionPath(installation: DefaultedMeshInstallation, revision: string | undefined): string {
  return `/inject/${installation.metadata.name ?? ''}${revision ? `/${revision}` : ''}`;
}

function clientConfig(endpoint: WebhookEndpoint, path: string): Record<string, unknown> {
  const caBundle = Buffer.from(endpoint.caBundlePem).toString('base64');
  if ('url' in endpoint) return { url: `${endpoint.url.replace(/\/+$/, '')}${path}`, caBundle };
  return { service: { ...endpoint.service, path }, caBundle };
}

/** One webhook of a configuration: the common part and its selectors. */
function webhook(prefix: string, client: Record<string, unknown>, namespaceSelector: Requirement[], objectSelector: Requirement[], excluded: Requirement): Record<string, unknown> {
  return {
    name: `${prefix}sidecar-injector.istio.io`,
    admissionReviewVersions: ['v1'],
    clientConfig: client,
    failurePolicy: 'Fail',
    namespaceSelector: { matchExpressions: [...namespaceSelector, excluded] },
    objectSelector: { matchExpressions: objectSelector },
    reinvocationPolicy: 'Never',
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    sideEffects: 'None',
  };
}

const notOptedOut: Requirement = { key: LABEL.inject, operator: 'NotIn', values: ['false'] };

/** The webhooks selecting pods for revision (or tag) `name`; with `asDefault` also the default revision's. */
function webhooksFor(name: string, asDefault: boolean, client: Record<string, unknown>, excluded: Requirement): Array<Record<string, unknown>> {
  const out = [
    webhook('rev.namespace.', client, [{ key: REV_LABEL, operator: 'In', values: [name] }, { key: INJECTION_LABEL, operator: 'DoesNotExist' }], [notOptedOut], excluded),
    webhook('rev.object.', client, [{ key: REV_LABEL, operator: 'DoesNotExist' }, { key: INJECTION_LABEL, operator: 'DoesNotExist' }], [notOptedOut, { key: REV_LABEL, operator: 'In', values: [name] }], excluded),
  ];
  if (asDefault) {
    out.push(
      webhook('namespace.', client, [{ key: INJECTION_LABEL, operator: 'In', values: ['enabled'] }], [notOptedOut], excluded),
      webhook('object.', client, [{ key: INJECTION_LABEL, operator: 'DoesNotExist' }, { key: REV_LABEL, operator: 'DoesNotExist' }], [{ key: LABEL.inject, operator: 'In', values: ['true'] }, { key: REV_LABEL, operator: 'DoesNotExist' }], excluded),
    );
  }
  return out;
}

/** The MutatingWebhookConfigurations for `installation` (see the module comment). Pure. */
export function istioWebhookConfigurations(installation: DefaultedMeshInstallation, resolved: ResolvedVersion, endpoint: WebhookEndpoint): KubeObject[] {
  const scope = computeScope({ installation, resolved });
  const suffix = scope.namespace === 'istio-system' ? '' : `-${scope.namespace}`;
  const client = clientConfig(endpoint, istioInjectionPath(installation, scope.revision));
  const excluded: Requirement = { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...IGNORED_NAMESPACES, scope.namespace] };
  const labels = (extra: Record<string, string> = {}) => ({ app: 'sidecar-injector', 'app.kubernetes.io/name': 'istiod', 'app.kubernetes.io/part-of': 'istio', [REV_LABEL]: scope.revLabel, ...extra });
  const configuration = (name: string, metadataLabels: Record<string, string>, webhooks: Array<Record<string, unknown>>): KubeObject => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name, labels: metadataLabels },
    webhooks,
  } as KubeObject);
  const objects = scope.revision
    ? [
      configuration(`istio-sidecar-injector-${scope.revision}${suffix}`, labels(), webhooksFor(scope.revision, false, client, excluded)),
      configuration(`istio-revision-tag-${DEFAULT_TAG}${suffix}`, labels({ 'istio.io/tag': DEFAULT_TAG }), webhooksFor(DEFAULT_TAG, true, client, excluded)),
    ]
    : [configuration(`istio-sidecar-injector${suffix}`, labels(), webhooksFor(DEFAULT_REVISION, true, client, excluded))];
  // The webhooks share their client config and requirements while built; whoever patches the
  // result (the reconciler) must not change one webhook through another.
  return JSON.parse(JSON.stringify(objects)) as KubeObject[];
}
