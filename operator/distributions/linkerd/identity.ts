/**
 * Linkerd's identity service: the issuer Secret it signs workload certificates with, its Services,
 * its Deployment (controller plus proxy), and in HA its disruption budget.
 *
 * The issuer uses Linkerd's `kubernetes.io/tls` scheme (the layout cert-manager writes): the
 * Secret holds `tls.crt` (issuer chain), `tls.key` and `ca.crt` (trust anchors), and identity reads
 * the first two from its mount. The operator owns and renews this Secret.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { ISSUER_SCHEME, ISSUER_SECRET, TRUST_ROOTS } from './config.ts';
import { proxyContainer, proxyInitContainer, proxyVolumes, serviceAddress } from './proxy.ts';
import { controlPlaneService, tlsSecret } from './objects.ts';
import type { LinkerdScope } from './scope.ts';
import {
  adminProbe, computeDisruptionBudget, controllerSecurityContext, controlPlaneDeployment,
  KUBE_API_ACCESS_MOUNT, kubeApiAccessVolume, resourcesField,
} from './workload.ts';

/** Port of the identity gRPC service, and of identity's admin server. */
const GRPC_PORT = 8080;
const ADMIN_PORT = 9990;

/** The issuer Secret; only with CA material (an offline render carries no key). */
export function computeIssuerSecret(scope: LinkerdScope): KubeObject[] {
  if (!scope.ca) return [];
  const { issuerChainPem, issuerKeyPem, trustAnchorsPem } = scope.ca;
  return [tlsSecret(scope, ISSUER_SECRET, 'identity', { 'tls.crt': issuerChainPem, 'tls.key': issuerKeyPem, 'ca.crt': trustAnchorsPem })];
}

function identityContainer(scope: LinkerdScope): Record<string, unknown> {
  return {
    args: [
      'identity',
      `-log-level=${scope.controlPlane.logLevel}`,
      '-log-format=plain',
      `-controller-namespace=${scope.namespace}`,
      `-identity-trust-domain=${scope.trustDomain}`,
      '-identity-issuance-lifetime=24h0m0s',
      '-identity-clock-skew-allowance=20s',
      `-identity-scheme=${ISSUER_SCHEME}`,
      '-enable-pprof=false',
      '-kube-apiclient-qps=100',
      '-kube-apiclient-burst=200',
    ],
    // Tells the proxy's startup hook not to wait: the proxy waits for identity, not the reverse.
    env: [{ name: 'LINKERD_DISABLED', value: 'linkerd-await cannot block the identity controller' }],
    image: scope.images.controller,
    imagePullPolicy: 'IfNotPresent',
    livenessProbe: adminProbe('/ping', ADMIN_PORT, { initialDelaySeconds: 10 }),
    name: 'identity',
    ports: [{ containerPort: GRPC_PORT, name: 'ident-grpc' }, { containerPort: ADMIN_PORT, name: 'ident-admin' }],
    readinessProbe: adminProbe('/ready', ADMIN_PORT, { failureThreshold: 7 }),
    ...resourcesField(scope, 'identity'),
    securityContext: controllerSecurityContext(),
    volumeMounts: [
      { mountPath: '/var/run/linkerd/identity/issuer', name: 'identity-issuer' },
      { mountPath: '/var/run/linkerd/identity/trust-roots/', name: 'trust-roots' },
      KUBE_API_ACCESS_MOUNT,
    ],
  };
}

/** Services, disruption budget and Deployment of identity. */
export function computeIdentity(scope: LinkerdScope): KubeObject[] {
  const grpc = { name: 'grpc', port: GRPC_PORT, targetPort: GRPC_PORT };
  return [
    controlPlaneService(scope, 'linkerd-identity', 'identity', grpc),
    controlPlaneService(scope, 'linkerd-identity-headless', 'identity', grpc, true),
    ...computeDisruptionBudget(scope, 'linkerd-identity', 'identity'),
    controlPlaneDeployment(scope, {
      name: 'linkerd-identity',
      component: 'identity',
      serviceAccountName: 'linkerd-identity',
      containers: [
        identityContainer(scope),
        proxyContainer(scope, {
          inboundPorts: [GRPC_PORT, ADMIN_PORT],
          // Certificates are only handed out over TLS (proxies without one yet still get TLS, unauthenticated).
          requireTlsPorts: [GRPC_PORT],
          destinationAddress: serviceAddress(scope, 'linkerd-dst-headless', 8086),
          policyAddress: serviceAddress(scope, 'linkerd-policy', 8090),
          identityAddress: `localhost.:${GRPC_PORT}`,
          nativeSidecar: false,
        }),
      ],
      initContainers: [proxyInitContainer(scope)],
      volumes: [
        { name: 'identity-issuer', secret: { secretName: ISSUER_SECRET } },
        { configMap: { name: TRUST_ROOTS.name }, name: 'trust-roots' },
        kubeApiAccessVolume(),
        ...proxyVolumes(),
      ],
    }),
  ];
}
