/**
 * Linkerd's injection vectors (`../shared/reference/linkerd/{inject-cli,proxy-injector}`) with the
 * settings upstream's tests injected each with, mapped to meshwright's: facts from
 * `cli/cmd/inject_test.go` (TestUninjectAndInject, TestRunInjectCmd, TestInjectFilePath) and
 * `controller/proxy-injector/webhook_test.go` (TestGetPodPatch, TestGetAnnotationPatch) at
 * linkerd2 `b24cd4059841` (edge-26.8.3).
 *
 * How upstream's settings map:
 * - The image tags of the tests' values (`test-inject-proxy-version`, `dev-undefined`, ...) are
 *   request image overrides; `linkerd.io/proxy-version` follows the proxy image's tag, as in Linkerd.
 * - `linkerd inject --manual` injects whatever it is given; in meshwright a pod is injected because
 *   its namespace is enrolled, so those vectors run in a namespace labelled `linkerd.io/inject=enabled`.
 * - A CLI flag that differs from the installed configuration is written by the CLI onto the pod as a
 *   `config.linkerd.io/*` annotation and applied as an override: the same as a namespace annotation
 *   the pod inherits, which is how they are given here (`admin-port`, `skip-*-ports`,
 *   `enable-debug-sidecar`). Install values are the MeshInstallation's (`accessLog`,
 *   `proxy.resources`); the annotations the CLI then records are named differences.
 * - The webhook tests call `GetPodPatch` directly (no `linkerd.io/created-by`, owner from a fake
 *   lookup returning `Deployment/owner-deployment`): named differences where that shows.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { sharedReferenceDir, type InjectVector, type InjectVectorTable, type NamedDifference } from '../../inject-conformance.ts';

const own = (file: string) => fileURLToPath(new URL(`./inject/${file}`, import.meta.url));

const ENROLLED = { labels: { 'linkerd.io/inject': 'enabled' } };
const images = (proxyTag: string, debugTag: string) => ({
  images: { proxy: `cr.l5d.io/linkerd/proxy:${proxyTag}`, debug: `cr.l5d.io/linkerd/debug:${debugTag}` },
});
/** `linkerd inject` with TestUninjectAndInject's defaultConfig(). */
const CLI = { namespace: ENROLLED, request: images('test-inject-proxy-version', 'test-inject-debug-version') };

/** Where a pod template sits in a workload, for named-difference paths. */
const TEMPLATE = 'spec.template.metadata';
const createdByCli = (at: string): NamedDifference => ({
  path: `${at}.annotations["linkerd.io/created-by"]`,
  why: 'Linkerd\'s CLI writes "linkerd/cli <version>"; meshwright writes "meshwright <version>", as on everything it renders for Linkerd',
});
const emptyWorkloadNamespace = (at: string): NamedDifference => ({
  path: `${at}.labels["linkerd.io/workload-ns"]`,
  why: 'the CLI labels with the manifest\'s metadata.namespace, empty in this input; a pod in the cluster always has a namespace (here `default`)',
});
const createdByWebhookTest: NamedDifference = {
  path: 'metadata.annotations["linkerd.io/created-by"]',
  why: 'upstream\'s test calls GetPodPatch directly, skipping the handler that adds linkerd.io/created-by; meshwright always writes it',
};
const fakeOwner: NamedDifference = {
  path: 'metadata.labels["linkerd.io/proxy-deployment"]',
  why: 'upstream\'s test resolves the owner with a fake lookup returning Deployment/owner-deployment; the input pod has no ownerReferences, so meshwright (pure, reading ownerReferences) finds no owner',
};
const recordedFlag = (at: string, annotation: string, flag: string): NamedDifference => ({
  path: `${at}.annotations["${annotation}"]`,
  why: `the CLI records the install value ${flag} that differs from its default as a pod annotation; meshwright takes it from the MeshInstallation and records nothing`,
});
const WEBHOOK_OPAQUE_PORTS = 'Linkerd\'s webhook records the default opaque ports the pod exposes (6379) as config.linkerd.io/opaque-ports and its proxy then treats only those as opaque; the CLI does neither. meshwright injects as the webhook does';
const ANNOTATE_ONLY = 'linkerd inject without --manual only annotates the workload (linkerd.io/inject: enabled and config overrides) for Linkerd\'s own injector; meshwright enrols namespaces instead, so there is no counterpart';

const cliVectors: InjectVector[] = [
  { name: 'cli/deployment', input: 'inject-cli/inject_emojivoto_deployment.input.yml', expected: 'inject-cli/inject_emojivoto_deployment.golden.yml', ...CLI, namedDifferences: [createdByCli(TEMPLATE)] },
  { name: 'cli/deployment-overridden-noinject', outOfScope: ANNOTATE_ONLY, covers: ['inject-cli/inject_emojivoto_deployment_overridden_noinject.golden.yml'] },
  {
    name: 'cli/deployment-overridden-admin-port', input: 'inject-cli/inject_emojivoto_deployment.input.yml', expected: 'inject-cli/inject_emojivoto_deployment_overridden.golden.yml',
    ...CLI, namespace: { ...ENROLLED, annotations: { 'config.linkerd.io/admin-port': '1234' } }, namedDifferences: [createdByCli(TEMPLATE)],
  },
  {
    name: 'cli/deployment-access-log', input: 'inject-cli/inject_emojivoto_deployment.input.yml', expected: 'inject-cli/inject_emojivoto_deployment_access_log.golden.yml',
    ...CLI, spec: { meshConfig: { accessLog: { enabled: true, encoding: 'TEXT' } } } as InjectVector['spec'],
    namedDifferences: [createdByCli(TEMPLATE), recordedFlag(TEMPLATE, 'config.linkerd.io/access-log', 'proxy.accessLog=apache')],
  },
  { name: 'cli/list', input: 'inject-cli/inject_emojivoto_list.input.yml', expected: 'inject-cli/inject_emojivoto_list.golden.yml', ...CLI, namedDifferences: [createdByCli('items[0].spec.template.metadata'), createdByCli('items[1].spec.template.metadata')] },
  // Upstream's golden for this case is its input file itself.
  { name: 'cli/deployment-inject-disabled', input: 'inject-cli/inject_emojivoto_deployment_injectDisabled.input.yml', expectedUnchanged: true, ...CLI },
  {
    name: 'cli/deployment-controller-name',
    outOfScope: 'its second Deployment is in the control-plane namespace (linkerd), which meshwright never injects (its pods carry their own proxies; selection.test.ts shows the skip); linkerd inject --manual injects anything it is given. The first Deployment is the shape of cli/deployment',
    covers: ['inject-cli/inject_emojivoto_deployment_controller_name.input.yml', 'inject-cli/inject_emojivoto_deployment_controller_name.golden.yml'],
  },
  { name: 'cli/statefulset', input: 'inject-cli/inject_emojivoto_statefulset.input.yml', expected: 'inject-cli/inject_emojivoto_statefulset.golden.yml', ...CLI, namedDifferences: [createdByCli(TEMPLATE)] },
  { name: 'cli/cronjob', outOfScope: ANNOTATE_ONLY, covers: ['inject-cli/inject_emojivoto_cronjob.input.yml', 'inject-cli/inject_emojivoto_cronjob.golden.yml'] },
  { name: 'cli/cronjob-nometa', outOfScope: ANNOTATE_ONLY, covers: ['inject-cli/inject_emojivoto_cronjob_nometa.input.yml', 'inject-cli/inject_emojivoto_cronjob_nometa.golden.yml'] },
  { name: 'cli/pod', input: 'inject-cli/inject_emojivoto_pod.input.yml', expected: 'inject-cli/inject_emojivoto_pod.golden.yml', ...CLI, namedDifferences: [createdByCli('metadata')] },
  {
    name: 'cli/pod-with-requests', input: 'inject-cli/inject_emojivoto_pod_with_requests.input.yml', expected: 'inject-cli/inject_emojivoto_pod_with_requests.golden.yml',
    ...CLI, spec: { meshConfig: { proxy: { resources: { requests: { cpu: '110m', memory: '100Mi' }, limits: { cpu: '160m', memory: '150Mi' } } } } } as InjectVector['spec'],
    namedDifferences: [
      createdByCli('metadata'),
      recordedFlag('metadata', 'config.linkerd.io/proxy-cpu-limit', 'proxy.resources.cpu.limit'),
      recordedFlag('metadata', 'config.linkerd.io/proxy-cpu-request', 'proxy.resources.cpu.request'),
      recordedFlag('metadata', 'config.linkerd.io/proxy-memory-limit', 'proxy.resources.memory.limit'),
      recordedFlag('metadata', 'config.linkerd.io/proxy-memory-request', 'proxy.resources.memory.request'),
    ],
  },
  { name: 'cli/deployment-udp', input: 'inject-cli/inject_emojivoto_deployment_udp.input.yml', expected: 'inject-cli/inject_emojivoto_deployment_udp.golden.yml', ...CLI, namedDifferences: [createdByCli(TEMPLATE)] },
  { name: 'cli/contour', input: 'inject-cli/inject_contour.input.yml', expected: 'inject-cli/inject_contour.golden.yml', ...CLI, namedDifferences: [createdByCli(TEMPLATE)] },
  {
    name: 'cli/deployment-empty-resources', input: 'inject-cli/inject_emojivoto_deployment_empty_resources.input.yml', expected: 'inject-cli/inject_emojivoto_deployment_empty_resources.golden.yml',
    ...CLI, namedDifferences: [createdByCli(TEMPLATE)],
  },
  {
    name: 'cli/list-empty-resources', input: 'inject-cli/inject_emojivoto_list_empty_resources.input.yml', expected: 'inject-cli/inject_emojivoto_list_empty_resources.golden.yml',
    ...CLI, namedDifferences: [createdByCli('items[0].spec.template.metadata'), createdByCli('items[1].spec.template.metadata')],
  },
  {
    name: 'cli/deployment-cni-no-init-container',
    outOfScope: 'cniEnabled: meshwright installs no Linkerd CNI plugin, so an injected pod always gets proxy-init (the vector expects linkerd-network-validator instead)',
    covers: ['inject-cli/inject_emojivoto_deployment_no_init_container.golden.yml'],
  },
  {
    name: 'cli/deployment-config-overrides', input: 'inject-cli/inject_emojivoto_deployment_config_overrides.input.yml', expected: 'inject-cli/inject_emojivoto_deployment_config_overrides.golden.yml',
    // The test's values carry proxy version "override", which the pod's annotation also names.
    ...CLI, request: images('override', 'test-inject-debug-version'), namedDifferences: [createdByCli(TEMPLATE)],
  },
  {
    name: 'cli/deployment-debug', input: 'inject-cli/inject_emojivoto_deployment.input.yml', expected: 'inject-cli/inject_emojivoto_deployment_debug.golden.yml',
    ...CLI, namespace: { ...ENROLLED, annotations: { 'config.linkerd.io/enable-debug-sidecar': 'true' } }, namedDifferences: [createdByCli(TEMPLATE)],
  },
  {
    name: 'cli/tap-deployment-debug',
    outOfScope: 'the input already carries an old Linkerd proxy, which the CLI removes (uninject) before injecting again; an admission webhook never sees such a pod twice, and meshwright leaves a pod with a proxy as it is (AlreadyInjected)',
    covers: ['inject-cli/inject_tap_deployment.input.yml', 'inject-cli/inject_tap_deployment_debug.golden.yml'],
  },
  { name: 'cli/namespace-annotated', outOfScope: `${ANNOTATE_ONLY} (this one annotates a Namespace; neither its input nor its golden is in the reference copy)` },
  { name: 'cli/namespace-overridden-annotated', outOfScope: `${ANNOTATE_ONLY} (this one annotates a Namespace; its input file is not in the reference copy)`, covers: ['inject-cli/inject_emojivoto_namespace_overidden_good.golden.yml'] },
  {
    name: 'cli/deployment-proxy-ignores', input: 'inject-cli/inject_emojivoto_deployment.input.yml', expected: 'inject-cli/inject_emojivoto_deployment_proxyignores.golden.yml',
    ...CLI, namespace: { ...ENROLLED, annotations: { 'config.linkerd.io/skip-inbound-ports': '22,8100-8102', 'config.linkerd.io/skip-outbound-ports': '5432' } },
    namedDifferences: [createdByCli(TEMPLATE)],
  },
  {
    name: 'cli/pod-ingress', input: 'inject-cli/inject_emojivoto_pod.input.yml', expected: 'inject-cli/inject_emojivoto_pod_ingress.golden.yml',
    // The CLI writes proxy.isIngress as the pod annotation linkerd.io/inject: ingress; a namespace
    // annotation gives the pod the same one.
    ...CLI, namespace: { ...ENROLLED, annotations: { 'linkerd.io/inject': 'ingress' } }, namedDifferences: [createdByCli('metadata')],
  },
  { name: 'cli/deployment-default-inbound-policy', outOfScope: ANNOTATE_ONLY, covers: ['inject-cli/inject_emojivoto_deployment_default_inbound_policy.golden.yml'] },
  { name: 'cli/pod-default-inbound-policy', outOfScope: ANNOTATE_ONLY, covers: ['inject-cli/inject_emojivoto_pod_default_inbound_policy.golden.yml'] },
  {
    name: 'cli/deployment-native-sidecar', input: 'inject-cli/inject_emojivoto_deployment.input.yml', expected: 'inject-cli/inject_emojivoto_deployment_native_sidecar.golden.yml',
    ...CLI, request: { ...CLI.request, nativeSidecars: true }, namedDifferences: [createdByCli(TEMPLATE)],
  },
  {
    name: 'cli/deployment-proxy-params',
    outOfScope: 'proxy.inbound/outbound protocol parameters (LINKERD2_PROXY_{INBOUND,OUTBOUND}_<scope>_<proto>_<param>) have no MeshInstallation setting',
    covers: ['inject-cli/inject_emojivoto_deployment_params.golden.yml'],
  },
  // TestRunInjectCmd (testInstallValues() with proxy version "testinjectversion").
  {
    name: 'cli/bad-yaml', outOfScope: 'the input is not YAML: parsing is `meshwright inject`\'s (tested there, exit code 2), not the injector\'s',
    covers: ['inject-cli/inject_gettest_deployment.bad.input.yml', 'inject-cli/inject_gettest_deployment.bad.golden', 'inject-cli/inject_gettest_deployment.bad.golden.verbose'],
  },
  {
    name: 'cli/tap-deployment-without-manual', outOfScope: `${ANNOTATE_ONLY} (upstream refuses it for a control-plane component)`,
    covers: ['inject-cli/inject_tap_deployment.bad.golden', 'inject-cli/inject_tap_deployment.bad.golden.verbose'],
  },
  {
    name: 'cli/deployment-automount-token-false', input: 'inject-cli/inject_emojivoto_deployment_automountServiceAccountToken_false.input.yml',
    expected: 'inject-cli/inject_emojivoto_deployment_automountServiceAccountToken_false.golden.yml',
    namespace: ENROLLED, request: images('testinjectversion', 'install-debug-version'), namedDifferences: [createdByCli(TEMPLATE), emptyWorkloadNamespace(TEMPLATE)],
  },
  {
    name: 'cli/deployment-automount-token-false-no-projection',
    outOfScope: 'identity.serviceAccountTokenProjection=false: meshwright always gives the proxy a projected identity token (no setting turns it off)',
    covers: ['inject-cli/inject_emojivoto_deployment_automountServiceAccountToken_false_volumeProjection_disabled.golden.yml'],
  },
  // The CLI fails on these two and prints nothing (their goldens are empty); Linkerd's webhook
  // admits such pods unchanged, which is what an injector does.
  {
    name: 'cli/deployment-with-istio-sidecar', input: 'inject-cli/inject_emojivoto_istio.input.yml', expectedUnchanged: true, namespace: ENROLLED,
    request: images('testinjectversion', 'install-debug-version'), covers: ['inject-cli/inject_emojivoto_istio.golden.yml'],
  },
  {
    name: 'cli/deployment-host-network', input: 'inject-cli/inject_emojivoto_deployment_hostNetwork_true.input.yml', expectedUnchanged: true, namespace: ENROLLED,
    request: images('testinjectversion', 'install-debug-version'), covers: ['inject-cli/inject_emojivoto_deployment_hostNetwork_true.golden.yml'],
  },
  // TestInjectFilePath (testInstallValues()).
  {
    name: 'cli/filepath-nginx', input: 'inject-cli/inject-filepath/resources/nginx.yaml', expected: 'inject-cli/inject-filepath/expected/injected_nginx.yaml',
    namespace: ENROLLED, request: images('install-proxy-version', 'install-debug-version'), namedDifferences: [createdByCli(TEMPLATE), emptyWorkloadNamespace(TEMPLATE)],
  },
  {
    name: 'cli/filepath-redis', input: 'inject-cli/inject-filepath/resources/db/redis.yaml', expected: 'inject-cli/inject-filepath/expected/injected_redis.yaml',
    namespace: ENROLLED, request: images('install-proxy-version', 'install-debug-version'),
    namedDifferences: [
      createdByCli(TEMPLATE), emptyWorkloadNamespace(TEMPLATE),
      { path: `${TEMPLATE}.annotations["config.linkerd.io/opaque-ports"]`, why: WEBHOOK_OPAQUE_PORTS },
      { path: 'spec.template.spec.initContainers[linkerd-proxy].env[LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION].value', why: WEBHOOK_OPAQUE_PORTS },
    ],
  },
  {
    name: 'cli/filepath-folder',
    outOfScope: 'reading a folder of manifests is the CLI\'s input handling; its two files are compared singly (cli/filepath-nginx, cli/filepath-redis)',
    covers: ['inject-cli/inject-filepath/expected/injected_nginx_redis.yaml'],
  },
  // uninject_test.go: removing a proxy is not injection.
  {
    name: 'cli/uninject',
    outOfScope: 'linkerd uninject (removing the proxy) has no counterpart: meshwright takes a pod out of the mesh by leaving it uninjected at creation',
    covers: ['inject-cli/inject_emojivoto_deployment_uninjected.input.yml', 'inject-cli/inject_emojivoto_namespace_uninjected_good.golden.yml'],
  },
  // The injected pod of uninject_test.go, given to the injector again: left as it is.
  {
    name: 'cli/pod-native-sidecar-already-injected', input: 'inject-cli/inject_emojivoto_pod_nativesidecar.golden.yml', expectedUnchanged: true, ...CLI,
  },
];

/** TestGetPodPatch's values: linkerd2.NewValues() (tags dev-undefined), trust anchors "IdentityTrustAnchorsPEM". */
const WEBHOOK = { request: { ...images('dev-undefined', 'dev-undefined'), trustAnchorsFile: own('webhook-trust-anchors.txt') } };
const WEBHOOK_DIFFERENCES = [createdByWebhookTest, fakeOwner];
/**
 * The tests' enabled namespace (namespace-inject-enabled.yaml, annotated linkerd.io/inject=enabled)
 * is given as meshwright's enrolment label: the tests call GetPodPatch directly, which copies no
 * namespace annotation onto the pod, and the label is how meshwright enrols a namespace.
 */
const WEBHOOK_NS_ENABLED = { namespace: ENROLLED, covers: ['proxy-injector/namespace-inject-enabled.yaml'] };
/** The tests' "disabled" namespace (namespace-inject-disabled.yaml) carries no annotation at all. */
const WEBHOOK_NS_DISABLED = { covers: ['proxy-injector/namespace-inject-disabled.yaml'] };
const ANNOTATION_PATCH = 'an annotation-only patch (default opaque ports) for a Service or a pod that is not injected: meshwright\'s webhook receives only pods to inject and leaves others unchanged';

const webhookVectors: InjectVector[] = [
  { name: 'webhook/pod-inject-empty-ns-enabled', input: 'proxy-injector/pod-inject-empty.yaml', expectedPatch: 'proxy-injector/pod.patch.json', ...WEBHOOK_NS_ENABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  { name: 'webhook/pod-inject-enabled-ns-enabled', input: 'proxy-injector/pod-inject-enabled.yaml', expectedPatch: 'proxy-injector/pod.patch.json', ...WEBHOOK_NS_ENABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  { name: 'webhook/pod-inject-enabled-ns-disabled', input: 'proxy-injector/pod-inject-enabled.yaml', expectedPatch: 'proxy-injector/pod.patch.json', ...WEBHOOK_NS_DISABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  { name: 'webhook/pod-debug-disabled', input: 'proxy-injector/pod-with-debug-disabled.yaml', expectedPatch: 'proxy-injector/pod.patch.json', ...WEBHOOK_NS_DISABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  { name: 'webhook/pod-debug-enabled', input: 'proxy-injector/pod-with-debug-enabled.yaml', expectedPatch: 'proxy-injector/pod-with-debug.patch.json', ...WEBHOOK_NS_ENABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  { name: 'webhook/pod-custom-debug-tag', input: 'proxy-injector/pod-with-custom-debug-tag.yaml', expectedPatch: 'proxy-injector/pod-with-custom-debug.patch.json', ...WEBHOOK_NS_ENABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  { name: 'webhook/pod-log-level', input: 'proxy-injector/pod-inject-enabled-log-level.yaml', expectedPatch: 'proxy-injector/pod-log-level.json', ...WEBHOOK_NS_ENABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  { name: 'webhook/pod-cpu-ratio', input: 'proxy-injector/pod-inject-enabled-cpu-ratio.yaml', expectedPatch: 'proxy-injector/pod-cpu-ratio.json', ...WEBHOOK_NS_ENABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  {
    name: 'webhook/pod-inherits-namespace-config', input: 'proxy-injector/pod-inject-enabled.yaml', expectedPatch: 'proxy-injector/pod-with-ns-annotations.patch.json',
    namespace: { ...ENROLLED, annotations: { 'config.linkerd.io/skip-outbound-ports': '34567', 'config.alpha.linkerd.io/proxy-wait-before-exit-seconds': '300', 'config.linkerd.io/invalid-key': 'invalid-value' } },
    ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES,
  },
  {
    name: 'webhook/deployment-with-injected-proxy',
    outOfScope: 'upstream only checks that GetPodPatch returns some bytes for a configuration it never parsed; there is no expected output to compare',
    covers: ['proxy-injector/deployment-with-injected-proxy.yaml'],
  },
  { name: 'webhook/pod-with-native-sidecar', input: 'proxy-injector/pod-nativesidecar-inject-enabled.yaml', expectedPatch: 'proxy-injector/pod.nativesidecar.patch.json', ...WEBHOOK_NS_DISABLED, ...WEBHOOK, namedDifferences: WEBHOOK_DIFFERENCES },
  { name: 'webhook/annotation-service-without-opaque-ports-ns-with', outOfScope: ANNOTATION_PATCH, covers: ['proxy-injector/service-without-opaque-ports.yaml', 'proxy-injector/namespace-with-opaque-ports.yaml', 'proxy-injector/annotation.patch.json'] },
  { name: 'webhook/annotation-service-with-opaque-ports-ns-with', outOfScope: ANNOTATION_PATCH, covers: ['proxy-injector/service-with-opaque-ports.yaml'] },
  { name: 'webhook/annotation-service-with-opaque-ports-ns-without', outOfScope: ANNOTATION_PATCH },
  { name: 'webhook/annotation-service-without-opaque-ports-ns-without', outOfScope: ANNOTATION_PATCH },
  { name: 'webhook/annotation-pod-without-opaque-ports-ns-with', outOfScope: ANNOTATION_PATCH, covers: ['proxy-injector/pod-without-opaque-ports.yaml'] },
  { name: 'webhook/annotation-pod-with-opaque-ports-ns-with', outOfScope: ANNOTATION_PATCH, covers: ['proxy-injector/pod-with-opaque-ports.yaml'] },
  { name: 'webhook/annotation-pod-with-opaque-ports-ns-without', outOfScope: ANNOTATION_PATCH },
  { name: 'webhook/annotation-pod-without-opaque-ports-ns-without', outOfScope: ANNOTATION_PATCH },
  { name: 'webhook/annotation-service-opaque-ports-filtered', outOfScope: ANNOTATION_PATCH, covers: ['proxy-injector/filter-service-opaque-ports.yaml', 'proxy-injector/filtered-service-opaque-ports.json'] },
  { name: 'webhook/annotation-pod-opaque-ports-filtered', outOfScope: ANNOTATION_PATCH, covers: ['proxy-injector/filter-pod-opaque-ports.yaml', 'proxy-injector/filtered-pod-opaque-ports.json'] },
  // Fixtures in the folder that no upstream test reads at this commit.
  { name: 'webhook/deployment-inject-disabled', input: 'proxy-injector/deployment-inject-disabled.yaml', expectedUnchanged: true, namespace: ENROLLED, ...WEBHOOK },
  {
    name: 'webhook/fixture-init-container-spec', outOfScope: 'inject-init-container-spec.yaml is an unused fixture (a bare container spec of an old proxy-init), read by no upstream test',
    covers: ['proxy-injector/inject-init-container-spec.yaml'],
  },
  {
    name: 'webhook/fixture-secrets-volume-spec', outOfScope: 'inject-linkerd-secrets-volume-spec.yaml is an unused fixture (a bare volume), read by no upstream test',
    covers: ['proxy-injector/inject-linkerd-secrets-volume-spec.yaml'],
  },
];

/** The Linkerd table of the injection conformance test. */
export const injectVectors: InjectVectorTable = {
  mesh: 'linkerd',
  baseDir: join(sharedReferenceDir(), 'linkerd'),
  trustAnchorsFile: own('cli-trust-anchors.pem'),
  // The CLI goldens went through Go's omitempty (an input's `strategy: {}` is gone, a probe's 0 too).
  expectedOmitsEmpty: true,
  vectors: [...cliVectors, ...webhookVectors],
};
