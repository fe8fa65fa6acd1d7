/**
 * Config validation: the ValidatingWebhookConfigurations that send Istio config to istiod's
 * `/validate` endpoint. There is deliberately no MutatingWebhookConfiguration: sidecar injection is
 * served by the operator itself.
 *
 * Ownership: istiod normally patches the `caBundle` in and flips `failurePolicy` to Fail once it is
 * ready, which fights with anyone applying these objects (the GitOps OutOfSync Istio users know).
 * Here istiod's validation controller is off (VALIDATION_WEBHOOK_CONFIG_NAME=""), and the operator
 * declares both fields: the caBundle is the mesh's trust anchors (istiod's serving certificate
 * chains to them), and failurePolicy stays Ignore, so a control plane that is down never blocks
 * config writes (including the operator's own); istiod still rejects invalid config whenever it
 * answers.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { clusterRevisioned, DEFAULT_REVISION, istiodServiceName, meta, partOfIstio, REV_LABEL, type IstioScope } from './scope.ts';

/** The API groups istiod validates. */
const VALIDATED_GROUPS = ['security.istio.io', 'networking.istio.io', 'telemetry.istio.io', 'extensions.istio.io'];

/** Objects whose `istio.io/rev` label has one of `values`, or has none at all. */
type ObjectFilter = { revisions: string[] } | 'unlabelled' | 'all';

/** One webhook sending CREATE/UPDATE of Istio config to this revision's istiod. */
function validationWebhook(scope: IstioScope, name: string, filter: ObjectFilter): Record<string, unknown> {
  const caBundle = scope.ca ? Buffer.from(scope.ca.trustAnchorsPem).toString('base64') : undefined;
  const objectSelector = filter === 'all' ? undefined
    : filter === 'unlabelled' ? { matchExpressions: [{ key: REV_LABEL, operator: 'DoesNotExist' }] }
      : { matchExpressions: [{ key: REV_LABEL, operator: 'In', values: filter.revisions }] };
  return {
    admissionReviewVersions: ['v1'],
    clientConfig: {
      ...(caBundle ? { caBundle } : {}),
      service: { name: istiodServiceName(scope), namespace: scope.namespace, path: '/validate' },
    },
    failurePolicy: 'Ignore',
    name,
    ...(objectSelector ? { objectSelector } : {}),
    rules: [{ apiGroups: VALIDATED_GROUPS, apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['*'] }],
    sideEffects: 'None',
  };
}

/** A ValidatingWebhookConfiguration labelled for istiod of revision `rev`. */
function validatingConfiguration(name: string, rev: string, webhooks: Array<Record<string, unknown>>): KubeObject {
  const labels = { app: 'istiod', ...partOfIstio('istiod'), istio: 'istiod', [REV_LABEL]: rev };
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: meta(name, undefined, labels), webhooks };
}

/**
 * The validating webhooks of this revision.
 *
 * InPlace (unrevisioned): Istio's two objects, `istio-validator-<ns>` for config labelled
 * `istio.io/rev: default` and `istiod-default-validator` for everything else.
 *
 * Canary: one object per revision, `istio-validator-<rev>-<ns>`, whose second webhook also takes
 * the unlabelled config. During a canary both revisions then validate it, which is what we want
 * (both will read it), and no cluster-wide object has to point at one particular revision.
 */
export function computeValidatingWebhooks(scope: IstioScope): KubeObject[] {
  const name = clusterRevisioned(scope, 'istio-validator');
  const revisionScoped = validationWebhook(scope, 'rev.validation.istio.io', { revisions: [scope.revLabel] });
  if (scope.revision) {
    return [validatingConfiguration(name, scope.revision, [revisionScoped, validationWebhook(scope, 'validation.istio.io', 'unlabelled')])];
  }
  return [
    validatingConfiguration(name, DEFAULT_REVISION, [revisionScoped]),
    validatingConfiguration('istiod-default-validator', DEFAULT_REVISION, [validationWebhook(scope, 'validation.istio.io', 'all')]),
  ];
}
