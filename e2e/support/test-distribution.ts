/**
 * A small mesh distribution for testing the runtime and reconcile loop on a real cluster: a few
 * objects of several kinds, namespaced and cluster-scoped, one workload kwok makes available, and
 * a webhook configuration. `profile: demo` adds two objects, so switching back prunes them; each
 * of spec.gateways is a Deployment on the version's gateway image (for the upgrade's Gateways stage);
 * under `strategy: Canary` the controller Deployment carries the revision in its name.
 */
import type { DefaultedMeshInstallation } from '../../operator/api/meshinstallation.ts';
import { InjectionError, trustBundleSha256, withInjectionRecord, type SidecarInjector, type WebhookEndpoint } from '../../operator/distributions/injection.ts';
import { deploymentsHealth, UnsupportedSpecError, type MeshDistribution, type RenderInput, type ResolvedVersion } from '../../operator/distributions/distribution.ts';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import type { KubeClient, KubeObject } from '../../operator/runtime/kube.ts';

const catalog = ['1.1.0', '1.0.0'] as const;

/** Renders the test mesh; `mesh: istio` so that the CRD's validation accepts the specs. */
export const testDistribution: MeshDistribution = {
  mesh: 'istio',
  catalog,
  ownedTypes: [
    { apiVersion: 'v1', kind: 'Namespace' },
    { apiVersion: 'v1', kind: 'ServiceAccount' },
    { apiVersion: 'v1', kind: 'ConfigMap' },
    { apiVersion: 'v1', kind: 'Service' },
    { apiVersion: 'apps/v1', kind: 'Deployment' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
    { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' },
  ],

  resolve(installation: DefaultedMeshInstallation): ResolvedVersion {
    const version = installation.spec.version;
    if (!(catalog as readonly string[]).includes(version)) {
      throw new UnsupportedSpecError('VersionNotInCatalog', `version ${version} is not in the catalog of mesh ${installation.spec.mesh}; supported versions: ${catalog.join(', ')}`);
    }
    return { version, revision: version.replaceAll('.', '-'), images: { controller: `registry.example/test-mesh/controller:${version}` } };
  },

  render({ installation, resolved }: RenderInput): KubeObject[] {
    const ns = installation.spec.namespace;
    const name = installation.metadata.name!;
    const labels = { app: 'test-mesh-controller' };
    const replicas = installation.spec.controlPlane?.replicas;
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'controller', namespace: ns } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mesh-config', namespace: ns }, data: { trustDomain: installation.spec.meshConfig.trustDomain ?? 'cluster.local', version: resolved.version } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `test-mesh-${name}` },
        rules: [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `test-mesh-${name}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `test-mesh-${name}` },
        subjects: [{ kind: 'ServiceAccount', name: 'controller', namespace: ns }],
      },
      {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'controller', namespace: ns },
        spec: { selector: labels, ports: [{ name: 'grpc', port: 15010, targetPort: 15010, protocol: 'TCP' }] },
      },
      {
        // Named after the revision under strategy Canary, as Istio names istiod-<rev>: a version bump then renames it.
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: installation.spec.upgrade.strategy === 'Canary' ? `controller-${resolved.revision}` : 'controller', namespace: ns, labels },
        spec: {
          // Replicas only when the spec sets them: otherwise an autoscaler (or a person) owns them.
          ...(replicas === undefined ? {} : { replicas }),
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { serviceAccountName: 'controller', containers: [{ name: 'discovery', image: resolved.images.controller!, args: ['discovery', '--log-level=info'], ports: [{ containerPort: 15010, protocol: 'TCP' }] }] },
          },
        },
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: `test-mesh-${name}` },
        webhooks: [{
          name: 'validation.test-mesh.meshwright.dev',
          admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Ignore', timeoutSeconds: 2,
          // No caBundle declared: whoever injects it owns it, and we must not fight over it.
          clientConfig: { url: 'https://127.0.0.1:1/validate' },
          // Matches nothing, so the unreachable URL never slows the cluster down.
          objectSelector: { matchLabels: { 'test-mesh.meshwright.dev/never': 'true' } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
        }],
      },
    ];
    // One Deployment per spec.gateways entry (in the mesh namespace unless it names another, which it then renders), on the version's gateway image.
    for (const gateway of installation.spec.gateways ?? []) {
      const namespace = gateway.namespace ?? ns;
      const gatewayLabels = { app: `test-mesh-gateway-${gateway.name}` };
      if (namespace !== ns) objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
      objects.push({
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: gateway.name, namespace, labels: gatewayLabels },
        spec: {
          replicas: gateway.replicas ?? 1,
          selector: { matchLabels: gatewayLabels },
          template: { metadata: { labels: gatewayLabels }, spec: { containers: [{ name: 'proxy', image: `registry.example/test-mesh/gateway:${resolved.version}` }] } },
        },
      });
    }
    if (installation.spec.profile === 'demo') {
      objects.push(
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'demo-extras', namespace: ns }, data: { verbose: 'true' } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `test-mesh-${name}-demo` }, rules: [{ apiGroups: [''], resources: ['events'], verbs: ['get'] }] },
      );
    }
    return objects;
  },

  componentHealth: deploymentsHealth,
};

/**
 * The test mesh with a CA: the operator creates root and issuer (ECDSA unless the spec says
 * otherwise) and the render publishes them Istio-style in a `cacerts` Secret.
 */
export const testDistributionWithCa: MeshDistribution = {
  ...testDistribution,
  ownedTypes: [...testDistribution.ownedTypes, { apiVersion: 'v1', kind: 'Secret' }],
  certificateAuthority: (installation) => ({
    root: { organization: 'meshwright test', commonName: `root.${installation.spec.meshConfig.trustDomain}` },
    issuer: { organization: 'meshwright test', commonName: `issuer.${installation.spec.meshConfig.trustDomain}` },
    defaultKeyAlgorithm: 'ECDSAP256',
    keyAlgorithms: ['ECDSAP256', 'RSA2048'],
    published: { trustAnchors: [{ kind: 'Secret', name: 'cacerts', key: 'root-cert.pem' }], keyHolders: [{ kind: 'Secret', name: 'cacerts' }] },
  }),
  render(input: RenderInput): KubeObject[] {
    const objects = testDistribution.render(input);
    if (input.ca) {
      const b64 = (text: string) => Buffer.from(text).toString('base64');
      objects.push({
        apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: input.installation.spec.namespace }, type: 'Opaque',
        data: {
          'ca-cert.pem': b64(input.ca.issuerChainPem), 'ca-key.pem': b64(input.ca.issuerKeyPem),
          'root-cert.pem': b64(input.ca.trustAnchorsPem), 'cert-chain.pem': b64(input.ca.issuerChainPem + input.ca.trustAnchorsPem),
        },
      } as KubeObject);
    }
    return objects;
  },
};

/**
 * Removes a test-mesh installation whatever state a test left it in: the installation without
 * waiting for its finalizer, the cluster-scoped objects the test mesh renders, and its namespace.
 */
export async function removeTestMesh(client: KubeClient, name: string, namespace: string): Promise<void> {
  const ignore = () => undefined;
  await client.patch({ apiVersion: API_VERSION, kind: KIND }, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(ignore);
  await client.delete({ apiVersion: API_VERSION, kind: KIND }, name).catch(ignore);
  for (const suffix of ['', '-demo']) await client.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' }, `test-mesh-${name}${suffix}`).catch(ignore);
  await client.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' }, `test-mesh-${name}`).catch(ignore);
  await client.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' }, `test-mesh-${name}`).catch(ignore);
  await client.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(ignore);
}

/** The namespace label that enrols a namespace in a test-mesh installation's injection (valued with the installation's name). */
export const TEST_INJECT_LABEL = 'test-mesh.meshwright.dev/inject';
/** A pod annotation the test injector refuses (InjectionError), to see a refusal travel through the API server. */
export const TEST_REFUSE_ANNOTATION = 'test-mesh.meshwright.dev/refuse';
/** The container the test injector adds. */
export const TEST_PROXY_CONTAINER = 'test-proxy';

/** The name of the MutatingWebhookConfiguration the test injector renders for `installation`. */
export const testInjectionWebhookName = (installation: string) => `test-mesh-inject-${installation}`;

/**
 * A small injector for testing the webhook server, not a mesh: adds one container (the version's
 * proxy image) and records itself; skips a pod that has it already; refuses a pod carrying
 * {@link TEST_REFUSE_ANNOTATION}. Its webhook configuration sends pods of namespaces labelled
 * {@link TEST_INJECT_LABEL}=<installation> to `/inject/<installation>`, failing closed.
 */
export const testInjector: SidecarInjector = {
  inject({ pod, installation, resolved, trustAnchorsPem }) {
    if (pod.spec.containers.some((c) => c.name === TEST_PROXY_CONTAINER)) return { injected: false, reason: 'AlreadyInjected', message: `the pod has a ${TEST_PROXY_CONTAINER} container already` };
    const refusal = pod.metadata.annotations?.[TEST_REFUSE_ANNOTATION];
    if (refusal !== undefined) throw new InjectionError(`the test mesh refuses this pod: ${TEST_REFUSE_ANNOTATION}=${refusal}`);
    const record = { mesh: installation.spec.mesh, installation: installation.metadata.name!, revision: resolved.revision, proxyVersion: resolved.version, trustBundleSha256: trustBundleSha256(trustAnchorsPem) };
    const injected = { ...pod, spec: { ...pod.spec, containers: [...pod.spec.containers, { name: TEST_PROXY_CONTAINER, image: `registry.example/test-mesh/proxy:${resolved.version}` }] } };
    return { injected: true, pod: withInjectionRecord(injected, record), record };
  },
  webhookConfigurations(installation: DefaultedMeshInstallation, resolved: ResolvedVersion, endpoint: WebhookEndpoint): KubeObject[] {
    const name = installation.metadata.name!;
    const canary = installation.spec.upgrade.strategy === 'Canary';
    // Under Canary, as Istio: a configuration per revision (its own label value) and a `default` tag one for the unrevisioned label.
    const path = canary ? `/inject/${name}/${resolved.revision}` : `/inject/${name}`;
    const caBundle = Buffer.from(endpoint.caBundlePem).toString('base64');
    const clientConfig = 'url' in endpoint ? { url: `${endpoint.url}${path}`, caBundle } : { service: { ...endpoint.service, path }, caBundle };
    const configuration = (objectName: string, value: string, labels?: Record<string, string>): KubeObject => ({
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: objectName, ...(labels ? { labels } : {}) },
      webhooks: [{
        name: 'inject.test-mesh.meshwright.dev',
        admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5, reinvocationPolicy: 'Never',
        clientConfig,
        namespaceSelector: { matchLabels: { [TEST_INJECT_LABEL]: value } },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
      }],
    } as KubeObject);
    if (!canary) return [configuration(testInjectionWebhookName(name), name)];
    return [
      configuration(`${testInjectionWebhookName(name)}-${resolved.revision}`, `${name}-${resolved.revision}`),
      configuration(testInjectionWebhookName(name), name, { 'istio.io/tag': 'default' }),
    ];
  },
  // Under Canary a revision's own value (`<installation>-<revision>`, as Istio's istio.io/rev=<revision>); the bare name is the `default` tag's.
  enrolmentLabel: (installation, resolved) => ({ key: TEST_INJECT_LABEL, value: installation.spec.upgrade.strategy === 'Canary' ? `${installation.metadata.name!}-${resolved.revision}` : installation.metadata.name! }),
};

/** The test mesh with {@link testInjector}. */
export const testDistributionWithInjector: MeshDistribution = { ...testDistribution, injector: testInjector };

/**
 * The test mesh with a CA in the `cacerts` layout and {@link testInjector}: an External CA whose
 * Secret is `cacerts` in the mesh namespace, in that very layout, is read in place.
 */
export const testDistributionWithCaAndInjector: MeshDistribution = { ...testDistributionWithCa, injector: testInjector };

/**
 * `distribution` with a bad release: the proxy it injects for `version` has an image whose
 * reference contains `crash-loop`, so kwok's pod-crash-loop stage (e2e/cluster/stages/pod.yaml)
 * makes every pod injected for that version crash-loop, while pods of the other versions run.
 */
export function withCrashingProxy(distribution: MeshDistribution, version: string): MeshDistribution {
  const injector = distribution.injector!;
  return {
    ...distribution,
    injector: {
      ...injector,
      inject(input) {
        const result = injector.inject(input);
        if (!result.injected || input.resolved.version !== version) return result;
        const containers = result.pod.spec.containers.map((c) => c.name === TEST_PROXY_CONTAINER ? { ...c, image: `registry.example/test-mesh/proxy-crash-loop:${version}` } : c);
        return { ...result, pod: { ...result.pod, spec: { ...result.pod.spec, containers } } };
      },
    },
  };
}
