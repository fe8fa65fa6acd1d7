/**
 * Linkerd's destination pod: service discovery (destination), the service-profile validator
 * (sp-validator) and the policy controller (policy, which also validates policy resources), with
 * its proxy; the Services in front of them; in HA its disruption budget.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { controlPlaneService } from './objects.ts';
import { proxyContainer, proxyInitContainer, proxyVolumes, serviceAddress } from './proxy.ts';
import { CLUSTER_DOMAIN, CLUSTER_NETWORKS, DEFAULT_OPAQUE_PORTS, type LinkerdScope } from './scope.ts';
import { SERVING_CERTIFICATES, servingCertificatesChecksum, tlsSecretName } from './webhooks.ts';
import {
  adminProbe, computeDisruptionBudget, controllerSecurityContext, controlPlaneDeployment,
  KUBE_API_ACCESS_MOUNT, kubeApiAccessVolume, resourcesField, type Json,
} from './workload.ts';

/** Ports of the destination pod's servers. */
const PORTS = {
  destinationGrpc: 8086, destinationAdmin: 9996,
  spValidator: 8443, spValidatorAdmin: 9997,
  policyGrpc: 8090, policyAdmin: 9990, policyHttps: 9443,
} as const;

/** Where the validators find their serving certificate (`tls.crt`, `tls.key`). */
const TLS_DIR = '/var/run/linkerd/tls';

/** HTTP/2 keep-alive the destination controller asks meshed clients to use (Linkerd's default). */
const MESHED_HTTP2_CLIENT_PARAMS = JSON.stringify({ keep_alive: { interval: { seconds: 10 }, timeout: { seconds: 3 }, while_idle: true } });

function controllerContainer(scope: LinkerdScope, name: string, args: string[], rest: Json): Json {
  return { args, image: scope.images.controller, imagePullPolicy: 'IfNotPresent', ...rest, name, securityContext: controllerSecurityContext() };
}

function destinationContainers(scope: LinkerdScope): Json[] {
  const logLevel = `-log-level=${scope.controlPlane.logLevel}`;
  const destination = controllerContainer(scope, 'destination', [
    'destination',
    `-addr=:${PORTS.destinationGrpc}`,
    `-controller-namespace=${scope.namespace}`,
    '-outbound-transport-mode=transport-header',
    '-enable-h2-upgrade=true',
    logLevel,
    '-log-format=plain',
    '-enable-endpoint-slices=true',
    `-cluster-domain=${CLUSTER_DOMAIN}`,
    `-identity-trust-domain=${scope.trustDomain}`,
    `-default-opaque-ports=${DEFAULT_OPAQUE_PORTS}`,
    '-enable-ipv6=false',
    '-enable-pprof=false',
    `--meshed-http2-client-params=${MESHED_HTTP2_CLIENT_PARAMS}`,
  ], {
    livenessProbe: adminProbe('/ping', PORTS.destinationAdmin, { initialDelaySeconds: 10 }),
    ports: [{ containerPort: PORTS.destinationGrpc, name: 'dest-grpc' }, { containerPort: PORTS.destinationAdmin, name: 'dest-admin' }],
    readinessProbe: adminProbe('/ready', PORTS.destinationAdmin, { failureThreshold: 7 }),
    ...resourcesField(scope, 'destination'),
    volumeMounts: [KUBE_API_ACCESS_MOUNT],
  });
  const spValidator = controllerContainer(scope, 'sp-validator', ['sp-validator', logLevel, '-log-format=plain', '-enable-pprof=false'], {
    livenessProbe: adminProbe('/ping', PORTS.spValidatorAdmin, { initialDelaySeconds: 10, timeoutSeconds: 1 }),
    ports: [{ containerPort: PORTS.spValidator, name: 'sp-validator' }, { containerPort: PORTS.spValidatorAdmin, name: 'spval-admin' }],
    readinessProbe: adminProbe('/ready', PORTS.spValidatorAdmin, { failureThreshold: 7, timeoutSeconds: 1 }),
    ...resourcesField(scope, 'sp-validator'),
    volumeMounts: [{ mountPath: TLS_DIR, name: 'sp-tls', readOnly: true }, KUBE_API_ACCESS_MOUNT],
  });
  const policy = controllerContainer(scope, 'policy', [
    `--admin-addr=0.0.0.0:${PORTS.policyAdmin}`,
    `--control-plane-namespace=${scope.namespace}`,
    `--grpc-addr=0.0.0.0:${PORTS.policyGrpc}`,
    `--server-addr=0.0.0.0:${PORTS.policyHttps}`,
    `--server-tls-key=${TLS_DIR}/tls.key`,
    `--server-tls-certs=${TLS_DIR}/tls.crt`,
    `--cluster-networks=${CLUSTER_NETWORKS}`,
    `--identity-domain=${scope.trustDomain}`,
    `--cluster-domain=${CLUSTER_DOMAIN}`,
    // The mesh-wide default inbound policy (spec.meshConfig.mtls) for pods that set none.
    `--default-policy=${scope.defaultInboundPolicy}`,
    '--log-level=info',
    '--log-format=plain',
    `--default-opaque-ports=${DEFAULT_OPAQUE_PORTS}`,
    '--global-egress-network-namespace=linkerd-egress',
    '--probe-networks=0.0.0.0/0,::/0',
  ], {
    command: ['/linkerd-policy-controller'],
    livenessProbe: adminProbe('/live', 'policy-admin', { initialDelaySeconds: 10 }),
    ports: [
      { containerPort: PORTS.policyGrpc, name: 'policy-grpc' },
      { containerPort: PORTS.policyAdmin, name: 'policy-admin' },
      { containerPort: PORTS.policyHttps, name: 'policy-https' },
    ],
    readinessProbe: adminProbe('/ready', 'policy-admin', { failureThreshold: 7 }),
    ...resourcesField(scope, 'policy'),
    volumeMounts: [{ mountPath: TLS_DIR, name: 'policy-tls', readOnly: true }, KUBE_API_ACCESS_MOUNT],
  });
  return [destination, spValidator, policy];
}

/**
 * The destination pod's containers and init containers. Its proxy must be ready before the
 * controllers start: a native sidecar right after proxy-init where the release defaults to native
 * sidecars (2.20 on), else the first container, held ready by linkerd-await (2.19).
 */
function destinationPodContainers(scope: LinkerdScope): { containers: Array<Record<string, unknown>>; initContainers: Array<Record<string, unknown>> } {
  const native = scope.shape.nativeSidecars;
  const proxy = proxyContainer(scope, {
    inboundPorts: Object.values(PORTS),
    destinationAddress: `localhost.:${PORTS.destinationGrpc}`,
    policyAddress: `localhost.:${PORTS.policyGrpc}`,
    identityAddress: serviceAddress(scope, 'linkerd-identity-headless', 8080),
    nativeSidecar: native,
    await: true,
  });
  return native
    ? { containers: destinationContainers(scope), initContainers: [proxyInitContainer(scope), proxy] }
    : { containers: [proxy, ...destinationContainers(scope)], initContainers: [proxyInitContainer(scope)] };
}

/** Services, disruption budget and Deployment of destination. */
export function computeDestination(scope: LinkerdScope): KubeObject[] {
  const grpc = (port: number) => ({ name: 'grpc', port, targetPort: port });
  return [
    controlPlaneService(scope, 'linkerd-dst', 'destination', grpc(PORTS.destinationGrpc)),
    controlPlaneService(scope, 'linkerd-dst-headless', 'destination', grpc(PORTS.destinationGrpc), true),
    controlPlaneService(scope, SERVING_CERTIFICATES.spValidator, 'destination', { name: 'sp-validator', port: 443, targetPort: 'sp-validator' }),
    controlPlaneService(scope, 'linkerd-policy', 'destination', grpc(PORTS.policyGrpc), true),
    controlPlaneService(scope, SERVING_CERTIFICATES.policyValidator, 'destination', { name: 'policy-https', port: 443, targetPort: 'policy-https' }),
    ...computeDisruptionBudget(scope, 'linkerd-dst', 'destination'),
    controlPlaneDeployment(scope, {
      name: 'linkerd-destination',
      component: 'destination',
      serviceAccountName: 'linkerd-destination',
      leadingPodAnnotations: { 'checksum/config': servingCertificatesChecksum(scope) },
      ...destinationPodContainers(scope),
      volumes: [
        { name: 'sp-tls', secret: { secretName: tlsSecretName(SERVING_CERTIFICATES.spValidator) } },
        { name: 'policy-tls', secret: { secretName: tlsSecretName(SERVING_CERTIFICATES.policyValidator) } },
        kubeApiAccessVolume(),
        ...proxyVolumes(),
      ],
    }),
  ];
}
