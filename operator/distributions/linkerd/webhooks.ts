/**
 * The validating webhooks Linkerd's destination pod serves (service profiles and policy
 * resources), and their serving certificates. The operator issues those certificates (from a
 * webhook CA, never the mesh root) under the names in {@link SERVING_CERTIFICATES}; here they
 * become the TLS Secrets the validators mount and the webhooks' caBundles.
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../runtime/kube.ts';
import type { ServingCertificate } from '../distribution.ts';
import { GATEWAY_ROUTE_RESOURCES } from './rbac.ts';
import { tlsSecret } from './objects.ts';
import { controlPlaneLabels, type LinkerdScope } from './scope.ts';

/** Serving certificates the operator issues for Linkerd, named after the webhook Services. */
export const SERVING_CERTIFICATES = { spValidator: 'linkerd-sp-validator', policyValidator: 'linkerd-policy-validator' } as const;

/** The TLS Secret a validator mounts, by serving certificate name. */
export const tlsSecretName = (certificate: string) => `${certificate}-k8s-tls`;

/** DNS name the API server calls a webhook Service by. */
export const webhookDnsName = (certificate: string, namespace: string) => `${certificate}.${namespace}.svc`;

/** What the operator must issue: one certificate per webhook Service. */
export function servingCertificateRequests(namespace: string): Array<{ name: string; dnsNames: string[] }> {
  return Object.values(SERVING_CERTIFICATES).map((name) => ({ name, dnsNames: [webhookDnsName(name, namespace)] }));
}

/** A webhook's rules and identity. */
interface Validator {
  certificate: string;
  webhookName: string;
  configurationName: string;
  rules: Array<Record<string, unknown>>;
}

const VALIDATORS: readonly Validator[] = [
  {
    certificate: SERVING_CERTIFICATES.spValidator,
    webhookName: 'linkerd-sp-validator.linkerd.io',
    configurationName: 'linkerd-sp-validator-webhook-config',
    rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['linkerd.io'], apiVersions: ['v1alpha1', 'v1alpha2'], resources: ['serviceprofiles'] }],
  },
  {
    certificate: SERVING_CERTIFICATES.policyValidator,
    webhookName: 'linkerd-policy-validator.linkerd.io',
    configurationName: 'linkerd-policy-validator-webhook-config',
    rules: [
      {
        operations: ['CREATE', 'UPDATE'], apiGroups: ['policy.linkerd.io'], apiVersions: ['*'],
        resources: ['authorizationpolicies', 'httplocalratelimitpolicies', 'httproutes', 'networkauthentications', 'meshtlsauthentications', 'serverauthorizations', 'servers', 'egressnetworks'],
      },
      { operations: ['CREATE', 'UPDATE'], apiGroups: ['gateway.networking.k8s.io'], apiVersions: ['*'], resources: [...GATEWAY_ROUTE_RESOURCES] },
    ],
  },
];

function servingCertificate(scope: LinkerdScope, name: string): ServingCertificate | undefined {
  return scope.ca?.serving?.[name];
}

/**
 * The two ValidatingWebhookConfigurations. Without CA material no caBundle is declared (an
 * offline render): declaring an empty one would claim the field and break TLS to the webhook.
 */
export function computeValidatingWebhooks(scope: LinkerdScope): KubeObject[] {
  return VALIDATORS.map((v) => {
    const caBundle = servingCertificate(scope, v.certificate)?.caBundlePem;
    return {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: v.configurationName, labels: controlPlaneLabels(scope, 'destination') },
      webhooks: [{
        name: v.webhookName,
        // Namespaces labelled config.linkerd.io/admission-webhooks=disabled (the control plane's) are skipped.
        namespaceSelector: { matchExpressions: [{ key: 'config.linkerd.io/admission-webhooks', operator: 'NotIn', values: ['disabled'] }] },
        clientConfig: {
          service: { name: v.certificate, namespace: scope.namespace, path: '/' },
          ...(caBundle ? { caBundle: Buffer.from(caBundle, 'utf8').toString('base64') } : {}),
        },
        failurePolicy: scope.webhookFailurePolicy,
        admissionReviewVersions: ['v1', 'v1beta1'],
        rules: v.rules,
        sideEffects: 'None',
      }],
    };
  });
}

/** The validators' TLS Secrets (`kubernetes.io/tls`); only with CA material. */
export function computeWebhookSecrets(scope: LinkerdScope): KubeObject[] {
  return VALIDATORS.flatMap((v) => {
    const certificate = servingCertificate(scope, v.certificate);
    if (!certificate) return [];
    return [tlsSecret(scope, tlsSecretName(v.certificate), 'destination', { 'tls.crt': certificate.certificatePem, 'tls.key': certificate.privateKeyPem })];
  });
}

/**
 * A checksum of the validators' certificates (public parts only), as a pod-template annotation
 * of the destination Deployment: new certificates roll the pod that serves them, as Linkerd does.
 */
export function servingCertificatesChecksum(scope: LinkerdScope): string {
  const hash = createHash('sha256');
  for (const v of VALIDATORS) {
    const certificate = servingCertificate(scope, v.certificate);
    hash.update(`${v.certificate}\n${certificate?.certificatePem ?? ''}\n${certificate?.caBundlePem ?? ''}\n`);
  }
  return hash.digest('hex');
}
