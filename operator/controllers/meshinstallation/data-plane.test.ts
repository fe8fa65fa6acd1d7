/**
 * The data plane in status (data-plane.ts): counting injected pods, judging them against what the
 * installation wants, DataPlaneReady's reason, the trimmed pod cache and the published trust
 * anchors the wanted hash is taken from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSpecDefaults } from '../../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS, trustBundleSha256 } from '../../distributions/injection.ts';
import { caFiles } from '../../distributions/istio/ca-secret.ts';
import { istioDistribution } from '../../distributions/istio/index.ts';
import { renderInstallation } from '../../distributions/render.ts';
import { linkerdDistribution } from '../../distributions/linkerd/index.ts';
import { testCertificateAuthority } from '../../distributions/linkerd/test-support.ts';
import { certificateFingerprints } from '../../pki/x509.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { dataPlanePodView, proxyOutdated, publishedTrustAnchorsPem, runsProxyOf, summarizeDataPlane, wantedProxy } from './data-plane.ts';

const current = trustBundleSha256('root-2\n');
const old = trustBundleSha256('root-1\n');

function pod(name: string, record: { version?: string; hash?: string; installation?: string } = {}, extra: { phase?: string; deleting?: boolean } = {}): KubeObject {
  const annotations: Record<string, string> = { [RECORD_ANNOTATIONS.mesh]: 'istio', [RECORD_ANNOTATIONS.revision]: 'default' };
  if (record.version) annotations[RECORD_ANNOTATIONS.proxyVersion] = record.version;
  if (record.hash) annotations[RECORD_ANNOTATIONS.trustBundleSha256] = record.hash;
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'shop', labels: { [INJECTED_BY_LABEL]: record.installation ?? 'mesh' }, annotations, ...(extra.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    status: { phase: extra.phase ?? 'Running' },
  };
}

const summarize = (pods: KubeObject[], enrolledNamespaces: number, wanted = { version: '1.31.1', trustBundleSha256: current }) =>
  summarizeDataPlane({ pods, wanted, enrolledNamespaces, generation: 4 });

test('which pods run a proxy of the installation: its label, not terminating, not finished', () => {
  const rows: Array<[KubeObject, boolean]> = [
    [pod('a'), true],
    [pod('b', { installation: 'other' }), false],
    [pod('c', {}, { deleting: true }), false],
    [pod('d', {}, { phase: 'Succeeded' }), false],
    [pod('e', {}, { phase: 'Failed' }), false],
    [pod('f', {}, { phase: 'Pending' }), true],
  ];
  for (const [p, expected] of rows) assert.equal(runsProxyOf(p, 'mesh'), expected, p.metadata.name);
});

test('counts, proxy versions and DataPlaneReady, row by row', () => {
  const rows: Array<{ title: string; pods: KubeObject[]; enrolled: number; summary: Record<string, unknown>; status: string; reason: string; message: RegExp }> = [
    {
      title: 'nothing enrolled, nothing injected', pods: [], enrolled: 0,
      summary: { enrolledNamespaces: 0, injectedPods: 0, outdatedPods: 0, proxyVersions: {} },
      status: 'True', reason: 'NoNamespacesEnrolled', message: /no namespace is enrolled.*spec\.injection\.namespaces/,
    },
    {
      title: 'enrolled, no pods yet', pods: [], enrolled: 2,
      summary: { enrolledNamespaces: 2, injectedPods: 0, outdatedPods: 0, proxyVersions: {} },
      status: 'True', reason: 'ProxiesCurrent', message: /^0 pods in 2 enrolled namespaces run proxy 1\.31\.1 with the current trust bundle$/,
    },
    {
      title: 'every pod current', pods: [pod('a', { version: '1.31.1', hash: current }), pod('b', { version: '1.31.1', hash: current })], enrolled: 1,
      summary: { enrolledNamespaces: 1, injectedPods: 2, outdatedPods: 0, proxyVersions: { '1.31.1': 2 } },
      status: 'True', reason: 'ProxiesCurrent', message: /^2 pods in 1 enrolled namespace run proxy 1\.31\.1/,
    },
    {
      title: 'an old proxy version', pods: [pod('a', { version: '1.31.1', hash: current }), pod('b', { version: '1.30.4', hash: current }), pod('c', { version: '1.30.4', hash: current })], enrolled: 1,
      summary: { enrolledNamespaces: 1, injectedPods: 3, outdatedPods: 2, proxyVersions: { '1.31.1': 1, '1.30.4': 2 } },
      status: 'False', reason: 'ProxiesOutdated', message: /^2 of 3 pods run an outdated proxy: 2 pods not at proxy version 1\.31\.1 \(1\.30\.4: 2\); restart/,
    },
    {
      title: 'an old trust bundle', pods: [pod('a', { version: '1.31.1', hash: old }), pod('b', { version: '1.31.1', hash: current })], enrolled: 1,
      summary: { enrolledNamespaces: 1, injectedPods: 2, outdatedPods: 1, proxyVersions: { '1.31.1': 2 } },
      status: 'False', reason: 'ProxiesOutdated', message: /^1 of 2 pods run an outdated proxy: 1 pod with a trust bundle other than the one the mesh publishes;/,
    },
    {
      title: 'both causes on one pod count it once', pods: [pod('a', { version: '1.30.4', hash: old })], enrolled: 1,
      summary: { enrolledNamespaces: 1, injectedPods: 1, outdatedPods: 1, proxyVersions: { '1.30.4': 1 } },
      status: 'False', reason: 'ProxiesOutdated', message: /^1 of 1 pod run an outdated proxy: 1 pod not at proxy version .*; 1 pod with a trust bundle/,
    },
    {
      title: 'an incomplete record cannot be shown current', pods: [pod('a', { hash: current })], enrolled: 1,
      summary: { enrolledNamespaces: 1, injectedPods: 1, outdatedPods: 1, proxyVersions: { unknown: 1 } },
      status: 'False', reason: 'ProxiesOutdated', message: /unknown: 1/,
    },
    {
      title: 'pods in a namespace no longer enrolled still count', pods: [pod('a', { version: '1.31.1', hash: current })], enrolled: 0,
      summary: { enrolledNamespaces: 0, injectedPods: 1, outdatedPods: 0, proxyVersions: { '1.31.1': 1 } },
      status: 'True', reason: 'ProxiesCurrent', message: /^1 pod in 0 enrolled namespaces/,
    },
  ];
  for (const row of rows) {
    const { summary, condition } = summarize(row.pods, row.enrolled);
    assert.deepEqual(summary, row.summary, row.title);
    assert.equal(condition.type, 'DataPlaneReady', row.title);
    assert.equal(condition.status, row.status, row.title);
    assert.equal(condition.reason, row.reason, row.title);
    assert.equal(condition.observedGeneration, 4, row.title);
    assert.match(condition.message, row.message, row.title);
  }
});

test('without a CA the operator manages, only the proxy version is judged', () => {
  const { summary, condition } = summarize([pod('a', { version: '1.31.1', hash: old })], 1, { version: '1.31.1' } as never);
  assert.equal(summary.outdatedPods, 0);
  assert.equal(condition.reason, 'ProxiesCurrent');
  assert.doesNotMatch(condition.message, /trust bundle/);
});

test('an operator serving no injection webhook says so while namespaces are enrolled', () => {
  const off = (enrolledNamespaces: number) => summarizeDataPlane({ pods: [], wanted: { version: '1.31.1' }, enrolledNamespaces, webhookOff: true, generation: 1 }).condition;
  assert.match(off(1).message, /^0 pods in 1 enrolled namespace run proxy 1\.31\.1; the injection webhook is off in this operator \(start it with --webhook-url or --webhook-service\), so pods created now are not injected$/);
  assert.equal(off(1).status, 'True', 'what runs is current; the note is about what comes');
  assert.doesNotMatch(off(0).message, /webhook/, 'nothing enrolled, nothing to say');
});

test('namespaces left as a person labelled them are in the summary and the message', () => {
  const notEnrolled = [{ namespace: 'legacy', reason: 'LabelSetByUser' as const, message: 'legacy has istio-injection=disabled' }];
  const { summary, condition } = summarizeDataPlane({ pods: [], wanted: { version: '1.31.1' }, enrolledNamespaces: 0, namespacesNotEnrolled: notEnrolled, generation: 1 });
  assert.deepEqual(summary.namespacesNotEnrolled, notEnrolled);
  assert.match(condition.message, /not enrolled: legacy \(LabelSetByUser\)$/);
});

test('the pod cache keeps only what the data plane reads', () => {
  const full: KubeObject = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'a', namespace: 'shop', uid: 'u', resourceVersion: '9', labels: { app: 'a', [INJECTED_BY_LABEL]: 'mesh' },
      annotations: { [RECORD_ANNOTATIONS.proxyVersion]: '1.31.1', [RECORD_ANNOTATIONS.trustBundleSha256]: current, 'sidecar.istio.io/status': '{"huge":true}', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
      managedFields: [{ manager: 'kubelet' }], ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r', uid: 'x' }],
    },
    spec: { containers: [{ name: 'app', image: 'app' }, { name: 'istio-proxy', image: 'proxy' }] },
    status: { phase: 'Running', podIP: '10.0.0.1', conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }], containerStatuses: [{}] },
  };
  assert.deepEqual(dataPlanePodView(full), {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'a', namespace: 'shop', uid: 'u', resourceVersion: '9', labels: { app: 'a', [INJECTED_BY_LABEL]: 'mesh' }, annotations: { [RECORD_ANNOTATIONS.proxyVersion]: '1.31.1', [RECORD_ANNOTATIONS.trustBundleSha256]: current } },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
});

test('the pod cache keeps the controller reference and only the containers in trouble, for the rollout', () => {
  const crashing: KubeObject = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'b', namespace: 'shop', labels: { [INJECTED_BY_LABEL]: 'mesh' }, annotations: {},
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'n' }, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9', uid: 'rs', controller: true, blockOwnerDeletion: true }],
    },
    status: {
      phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }],
      containerStatuses: [
        { name: 'app', ready: false, restartCount: 5, image: 'app', imageID: 'sha', lastState: { terminated: { exitCode: 1 } }, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } } },
        { name: 'istio-proxy', ready: true, restartCount: 0, image: 'proxy', state: { running: { startedAt: 'now' } } },
      ],
      initContainerStatuses: [{ name: 'init', ready: true, restartCount: 0, state: { terminated: { exitCode: 0 } } }],
    },
  };
  const view = dataPlanePodView(crashing);
  assert.deepEqual(view.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9', uid: 'rs', controller: true }]);
  assert.deepEqual(view.status, {
    phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }],
    containerStatuses: [{ name: 'app', ready: false, restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } } }],
  });
});

test('Canary: a pod on another revision\'s proxy is outdated; without Canary the revision is not compared', () => {
  const onRevision = (revision: string) => ({ ...pod('a', { version: '1.31.1', hash: current }), metadata: { ...pod('a', { version: '1.31.1', hash: current }).metadata, annotations: { ...pod('a', { version: '1.31.1', hash: current }).metadata.annotations, [RECORD_ANNOTATIONS.revision]: revision } } });
  assert.equal(proxyOutdated(onRevision('1-30-4'), { version: '1.31.1', trustBundleSha256: current, revision: '1-31-1' }), true);
  assert.equal(proxyOutdated(onRevision('1-31-1'), { version: '1.31.1', trustBundleSha256: current, revision: '1-31-1' }), false);
  assert.equal(proxyOutdated(onRevision('default'), { version: '1.31.1', trustBundleSha256: current }), false);
  const { summary, condition } = summarizeDataPlane({ pods: [onRevision('1-30-4')], wanted: { version: '1.31.1', trustBundleSha256: current, revision: '1-31-1' }, enrolledNamespaces: 1, generation: 1 });
  assert.equal(summary.outdatedPods, 1);
  assert.match(condition.message, /1 pod not on revision 1-31-1/);
});

test('the wanted trust bundle is what each mesh\'s renderer publishes', () => {
  const ca = testCertificateAuthority();
  for (const [distribution, version] of [[istioDistribution, '1.31.1'], [linkerdDistribution, 'edge-26.8.3']] as const) {
    const installation = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec: withSpecDefaults({ mesh: distribution.mesh, version, namespace: 'mesh-system' }) } as DefaultedMeshInstallation;
    const resolved = distribution.resolve(installation);
    const objects = distribution.render({ installation, resolved, ca });
    const published = publishedTrustAnchorsPem(distribution, installation, objects);
    // The roots themselves, as the renderer wrote them (Linkerd's ConfigMap drops the final newline).
    assert.deepEqual(certificateFingerprints(published ?? ''), certificateFingerprints(ca.trustAnchorsPem), distribution.mesh);
    assert.deepEqual(wantedProxy(distribution, installation, resolved.version, objects), { version: resolved.version, trustBundleSha256: trustBundleSha256(published!) }, distribution.mesh);
    // Before the CA exists (an offline render) nothing is published: the hash is not judged.
    assert.equal(publishedTrustAnchorsPem(distribution, installation, distribution.render({ installation, resolved })), undefined, distribution.mesh);
  }
});

test('the wanted trust bundle of an Istio installation whose External cacerts is read in place: the user\'s root-cert.pem from the referenced cache', () => {
  const ca = testCertificateAuthority();
  const spec = withSpecDefaults({ mesh: 'istio', version: '1.31.1', namespace: 'istio-system', certificateAuthority: { type: 'External', secretRef: { namespace: 'istio-system', name: 'cacerts' } } } as never);
  const installation = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec } as DefaultedMeshInstallation;
  const resolved = istioDistribution.resolve(installation);
  // The render path leaves out its own cacerts: the user's stands in for it.
  const objects = renderInstallation(istioDistribution, { installation, resolved, ca: { ...ca, usedInPlace: { namespace: 'istio-system', name: 'cacerts' } } });
  assert.ok(!objects.some((o) => o.kind === 'Secret' && o.metadata.name === 'cacerts'));
  const root = caFiles(ca)['root-cert.pem']!;
  const cached: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'istio-system' }, data: { 'root-cert.pem': Buffer.from(root).toString('base64') } };
  const referenced = (namespace: string, name: string) => (namespace === 'istio-system' && name === 'cacerts' ? cached : undefined);
  assert.equal(publishedTrustAnchorsPem(istioDistribution, installation, objects, referenced), root);
  assert.deepEqual(wantedProxy(istioDistribution, installation, resolved.version, objects, referenced), { version: resolved.version, trustBundleSha256: trustBundleSha256(root) });
  // Not cached (yet): nothing to compare against, rather than a wrong hash.
  assert.deepEqual(wantedProxy(istioDistribution, installation, resolved.version, objects, () => undefined), { version: resolved.version });
});
