/**
 * istiod, the control plane: its Deployment, Service, autoscaler and disruption budget.
 *
 * Replicas: with `spec.controlPlane.replicas` set, the Deployment has exactly that many and no
 * HorizontalPodAutoscaler (two owners of one field would fight); unset, the profile decides, and
 * when the profile autoscales the Deployment leaves `spec.replicas` to the HPA.
 *
 * Injection is the operator's own: istiod runs without the `istio-sidecar-injector` ConfigMap
 * (so it skips its injector) and is told not to manage any webhook configuration.
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../runtime/kube.ts';
import { caFiles } from './ca-secret.ts';
import { istiodServiceAccountName } from './istiod-rbac.ts';
import { traceSamplingPercent } from './mesh-config.ts';
import { spreadAffinity, type Autoscale } from './profiles.ts';
import { istiodServiceName, meta, partOfIstio, REV_LABEL, revisioned, type IstioScope } from './scope.ts';
import { fieldEnv, horizontalPodAutoscaler, podDisruptionBudget, ROLLING_UPDATE, serviceAccountToken } from './workloads.ts';

/** How istiod is scaled: a fixed count, or an autoscaler's range. */
export interface IstiodScaling {
  replicas?: number;
  autoscale?: Autoscale;
  /** Fewest pods that normally run; a disruption budget only makes sense above one. */
  minimum: number;
}

/** Replicas or autoscaling of istiod, from the spec or the profile. */
export function istiodScaling(scope: IstioScope): IstiodScaling {
  const explicit = scope.spec.controlPlane?.replicas;
  if (explicit !== undefined) return { replicas: explicit, minimum: explicit };
  const { autoscale, replicas } = scope.profile.istiod;
  return autoscale ? { autoscale, minimum: autoscale.minReplicas } : { replicas, minimum: replicas };
}

/**
 * Labels selecting this revision's istiod pods. Unrevisioned istiod is selected by `istio: pilot`;
 * a revision by its `istio.io/rev`, so the default Service never picks a canary's pods.
 */
export function istiodSelector(scope: IstioScope): Record<string, string> {
  return scope.revision ? { app: 'istiod', [REV_LABEL]: scope.revision } : { istio: 'pilot' };
}

/** Labels on istiod's Deployment, Service, HPA and PDB. */
function istiodLabels(scope: IstioScope): Record<string, string> {
  return { app: 'istiod', ...partOfIstio('istiod'), istio: 'pilot', [REV_LABEL]: scope.revLabel };
}

/** Pod-template annotation of istiod carrying the hash of the trust anchors it loads from `cacerts`. */
export const TRUST_ANCHORS_ANNOTATION = 'meshwright.dev/trust-anchors-sha256';

/**
 * istiod restarts whenever the published trust anchors change (each step of a root rotation), and
 * only then: istiod reads a changed root-cert.pem in place only under ISTIO_MULTIROOT_MESH, and even
 * then only after the kubelet refreshed its mounted Secret, a delay nobody can observe — while
 * the data plane must not be restarted for the new issuer before istiod signs with it. A new
 * istiod pod reads the Secret as it is; the rollout holds restarts until istiod is available
 * again. An issuer renewed under the same root leaves the anchors, and so istiod, alone (istiod
 * reloads the issuer itself). Without CA material (an offline render) there is nothing to hash.
 */
function trustAnchorsAnnotation(scope: IstioScope): Record<string, string> {
  if (!scope.ca) return {};
  return { [TRUST_ANCHORS_ANNOTATION]: createHash('sha256').update(caFiles(scope.ca)['root-cert.pem']!).digest('hex') };
}

/** Environment of the discovery container. */
function istiodEnv(scope: IstioScope): Array<Record<string, unknown>> {
  const literal = (name: string, value: string) => ({ name, value });
  return [
    literal('REVISION', scope.revLabel),
    literal('PILOT_CERT_PROVIDER', 'istiod'),
    fieldEnv('POD_NAME', 'metadata.name', true),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace', true),
    fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName', true),
    literal('KUBECONFIG', '/var/run/secrets/remote/config'),
    literal('CA_TRUSTED_NODE_ACCOUNTS', `${scope.namespace}/ztunnel`),
    literal('PILOT_TRACE_SAMPLING', String(traceSamplingPercent(scope))),
    literal('PILOT_ENABLE_ANALYSIS', 'false'),
    literal('CLUSTER_ID', 'Kubernetes'),
    { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { divisor: '1', resource: 'limits.cpu' } } },
    literal('PLATFORM', ''),
    // Empty names switch off istiod's webhook patchers: injection is the operator's, and the
    // operator keeps the validating webhooks' caBundle and failurePolicy itself (no tug of war).
    literal('INJECTION_WEBHOOK_CONFIG_NAME', ''),
    literal('VALIDATION_WEBHOOK_CONFIG_NAME', ''),
    ...Object.entries(scope.release.istiodEnv).map(([name, value]) => literal(name, value)),
  ];
}

/** The discovery container. */
function discoveryContainer(scope: IstioScope): Record<string, unknown> {
  const mount = (name: string, mountPath: string, readOnly = true) => ({ mountPath, name, ...(readOnly ? { readOnly } : {}) });
  return {
    args: [
      'discovery', '--monitoringAddr=:15014', '--log_output_level=default:info', '--domain', scope.clusterDomain,
      '--keepaliveMaxServerConnectionAge', '30m',
    ],
    env: istiodEnv(scope),
    image: scope.resolved.images.pilot,
    name: 'discovery',
    ports: [
      { containerPort: 8080, name: 'http-debug', protocol: 'TCP' },
      { containerPort: 15010, name: 'grpc-xds', protocol: 'TCP' },
      { containerPort: 15012, name: 'tls-xds', protocol: 'TCP' },
      { containerPort: 15017, name: 'https-webhooks', protocol: 'TCP' },
      { containerPort: 15014, name: 'http-monitoring', protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/ready', port: 8080 }, initialDelaySeconds: 1, periodSeconds: 3, timeoutSeconds: 5 },
    resources: scope.spec.controlPlane?.resources ?? scope.profile.istiod.resources,
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true },
    volumeMounts: [
      mount('istio-token', '/var/run/secrets/tokens'),
      mount('local-certs', '/var/run/secrets/istio-dns', false),
      mount('cacerts', '/etc/cacerts'),
      mount('istio-kubeconfig', '/var/run/secrets/remote'),
      mount('istio-csr-dns-cert', '/var/run/secrets/istiod/tls'),
      mount('istio-csr-ca-configmap', '/var/run/secrets/istiod/ca'),
    ],
  };
}

/** Volumes of the istiod pod: the plug-in CA Secret `cacerts` among them. */
function istiodVolumes(): Array<Record<string, unknown>> {
  const optionalSecret = (name: string, secretName: string) => ({ name, secret: { optional: true, secretName } });
  return [
    { emptyDir: { medium: 'Memory' }, name: 'local-certs' },
    serviceAccountToken(),
    optionalSecret('cacerts', 'cacerts'),
    optionalSecret('istio-kubeconfig', 'istio-kubeconfig'),
    optionalSecret('istio-csr-dns-cert', 'istiod-tls'),
    { configMap: { defaultMode: 420, name: 'istio-ca-root-cert', optional: true }, name: 'istio-csr-ca-configmap' },
  ];
}

/** The istiod Deployment. */
export function computeIstiodDeployment(scope: IstioScope): KubeObject {
  const cp = scope.spec.controlPlane;
  const scaling = istiodScaling(scope);
  const selector = istiodSelector(scope);
  const podLabels = {
    app: 'istiod', ...partOfIstio('istiod'),
    // A canary's pods must not carry `istio: pilot`, which the default Service selects.
    istio: scope.revision ? 'istiod' : 'pilot',
    'istio.io/dataplane-mode': 'none', [REV_LABEL]: scope.revLabel, 'sidecar.istio.io/inject': 'false',
  };
  const affinity = cp?.affinity ?? (scope.profile.istiod.spread ? spreadAffinity(selector) : undefined);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(revisioned(scope, 'istiod'), scope.namespace, istiodLabels(scope)),
    spec: {
      ...(scaling.replicas === undefined ? {} : { replicas: scaling.replicas }),
      selector: { matchLabels: selector },
      strategy: ROLLING_UPDATE,
      template: {
        metadata: {
          annotations: { 'prometheus.io/port': '15014', 'prometheus.io/scrape': 'true', 'sidecar.istio.io/inject': 'false', ...trustAnchorsAnnotation(scope) },
          labels: podLabels,
        },
        spec: {
          ...(affinity ? { affinity } : {}),
          containers: [discoveryContainer(scope)],
          ...(cp?.nodeSelector ? { nodeSelector: cp.nodeSelector } : {}),
          ...(cp?.priorityClassName ? { priorityClassName: cp.priorityClassName } : {}),
          serviceAccountName: istiodServiceAccountName(scope),
          // Runs before the CNI node agent is ready: istiod is not in the mesh.
          tolerations: [{ key: 'cni.istio.io/not-ready', operator: 'Exists' }, ...(cp?.tolerations ?? [])],
          volumes: istiodVolumes(),
        },
      },
    },
  };
}

/** The istiod Service: xDS, CA (15012), webhooks (443 → 15017) and monitoring. */
export function computeIstiodService(scope: IstioScope): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(istiodServiceName(scope), scope.namespace, istiodLabels(scope)),
    spec: {
      ports: [
        { name: 'grpc-xds', port: 15010, protocol: 'TCP' },
        { name: 'https-dns', port: 15012, protocol: 'TCP' },
        { name: 'https-webhook', port: 443, protocol: 'TCP', targetPort: 15017 },
        { name: 'http-monitoring', port: 15014, protocol: 'TCP' },
      ],
      selector: { app: 'istiod', ...istiodSelector(scope) },
    },
  };
}

/** istiod's workload objects: Deployment, Service, and HPA / PDB where they apply. */
export function computeIstiod(scope: IstioScope): KubeObject[] {
  const scaling = istiodScaling(scope);
  const name = revisioned(scope, 'istiod');
  const labels = istiodLabels(scope);
  const objects = [computeIstiodDeployment(scope), computeIstiodService(scope)];
  if (scaling.autoscale) objects.push(horizontalPodAutoscaler(name, scope.namespace, { app: 'istiod', ...partOfIstio('istiod'), [REV_LABEL]: scope.revLabel }, scaling.autoscale));
  // With a single pod a budget of one would block every node drain.
  if (scaling.minimum > 1) objects.push(podDisruptionBudget(name, scope.namespace, labels, { app: 'istiod', ...istiodSelector(scope) }, { minAvailable: 1 }));
  return objects;
}

