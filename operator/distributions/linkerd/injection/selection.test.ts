/**
 * Which pods the Linkerd injector takes, as a table: Linkerd's linkerd.io/inject rules on namespace
 * and pod (pod wins), meshwright's enrolment label counted like the namespace annotation (the
 * annotation wins), and the pods never injected (host network, already injected, control-plane and
 * system namespaces, namespaces with admission webhooks disabled). Each row goes through the
 * injector itself, so the table shows what `inject` does, not only the helper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NamespaceView, PodObject } from '../../injection.ts';
import { installation } from '../test-support.ts';
import { linkerdDistribution } from '../index.ts';
import { injectLinkerdProxy } from './inject.ts';

interface Row {
  name: string;
  namespace?: Partial<NamespaceView>;
  podAnnotations?: Record<string, string>;
  podLabels?: Record<string, string>;
  hostNetwork?: boolean;
  extraContainer?: Record<string, unknown>;
  extraInitContainer?: Record<string, unknown>;
  /** `enabled` / `ingress`: injected in that mode; otherwise the skip reason. */
  expect: 'enabled' | 'ingress' | string;
}

const ns = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}, name = 'apps'): Partial<NamespaceView> => ({ name, labels, annotations });
const INJECT = 'linkerd.io/inject';

const ROWS: Row[] = [
  // Linkerd's rules, with the namespace annotation.
  { name: 'namespace annotation enabled, pod silent', namespace: ns({}, { [INJECT]: 'enabled' }), expect: 'enabled' },
  { name: 'namespace annotation enabled, pod disabled', namespace: ns({}, { [INJECT]: 'enabled' }), podAnnotations: { [INJECT]: 'disabled' }, expect: 'OptedOut' },
  { name: 'namespace annotation ingress, pod silent', namespace: ns({}, { [INJECT]: 'ingress' }), expect: 'ingress' },
  { name: 'namespace annotation ingress, pod enabled: the pod decides the mode', namespace: ns({}, { [INJECT]: 'ingress' }), podAnnotations: { [INJECT]: 'enabled' }, expect: 'enabled' },
  { name: 'namespace annotation enabled, pod ingress', namespace: ns({}, { [INJECT]: 'enabled' }), podAnnotations: { [INJECT]: 'ingress' }, expect: 'ingress' },
  { name: 'namespace annotation disabled, pod enabled: the pod wins', namespace: ns({}, { [INJECT]: 'disabled' }), podAnnotations: { [INJECT]: 'enabled' }, expect: 'enabled' },
  { name: 'namespace silent, pod enabled', podAnnotations: { [INJECT]: 'enabled' }, expect: 'enabled' },
  { name: 'namespace silent, pod silent', expect: 'NotEnabled' },
  { name: 'namespace silent, pod disabled', podAnnotations: { [INJECT]: 'disabled' }, expect: 'NotEnabled' },
  { name: 'namespace annotation invalid', namespace: ns({}, { [INJECT]: 'yes' }), podAnnotations: { [INJECT]: 'enabled' }, expect: 'InvalidInjectValue' },
  { name: 'pod annotation invalid', namespace: ns({}, { [INJECT]: 'enabled' }), podAnnotations: { [INJECT]: 'true' }, expect: 'InvalidInjectValue' },
  // meshwright's enrolment label counts like the annotation; the annotation wins.
  { name: 'namespace label enabled (enrolment), pod silent', namespace: ns({ [INJECT]: 'enabled' }), expect: 'enabled' },
  { name: 'namespace label enabled, pod disabled', namespace: ns({ [INJECT]: 'enabled' }), podAnnotations: { [INJECT]: 'disabled' }, expect: 'OptedOut' },
  { name: 'namespace label enabled, annotation disabled: the annotation wins', namespace: ns({ [INJECT]: 'enabled' }, { [INJECT]: 'disabled' }), expect: 'NotEnabled' },
  { name: 'namespace label disabled, annotation enabled: the annotation wins', namespace: ns({ [INJECT]: 'disabled' }, { [INJECT]: 'enabled' }), expect: 'enabled' },
  // The pod opt-in label (what the second webhook selects); the pod annotation wins.
  { name: 'namespace silent, pod label enabled', podLabels: { [INJECT]: 'enabled' }, expect: 'enabled' },
  { name: 'namespace silent, pod label enabled, pod annotation disabled', podLabels: { [INJECT]: 'enabled' }, podAnnotations: { [INJECT]: 'disabled' }, expect: 'NotEnabled' },
  // Never injected.
  { name: 'host network', namespace: ns({ [INJECT]: 'enabled' }), hostNetwork: true, expect: 'HostNetwork' },
  { name: 'already injected: linkerd-proxy container', namespace: ns({ [INJECT]: 'enabled' }), extraContainer: { name: 'linkerd-proxy', image: 'x' }, expect: 'AlreadyInjected' },
  { name: 'already injected: native linkerd-proxy init container', namespace: ns({ [INJECT]: 'enabled' }), extraInitContainer: { name: 'linkerd-proxy', image: 'x', restartPolicy: 'Always' }, expect: 'AlreadyInjected' },
  { name: 'already injected: Linkerd proxy image under another name', namespace: ns({ [INJECT]: 'enabled' }), extraContainer: { name: 'sidecar', image: 'cr.l5d.io/linkerd/proxy:edge-26.8.3' }, expect: 'AlreadyInjected' },
  { name: 'already injected: Istio proxy', namespace: ns({ [INJECT]: 'enabled' }), extraContainer: { name: 'istio-proxy', image: 'x' }, expect: 'AlreadyInjected' },
  { name: 'control-plane namespace, even enrolled', namespace: ns({ [INJECT]: 'enabled' }, {}, 'linkerd'), podAnnotations: { [INJECT]: 'enabled' }, expect: 'ControlPlaneNamespace' },
  { name: 'kube-system', namespace: ns({}, {}, 'kube-system'), podAnnotations: { [INJECT]: 'enabled' }, expect: 'SystemNamespace' },
  { name: 'cert-manager', namespace: ns({}, {}, 'cert-manager'), podAnnotations: { [INJECT]: 'enabled' }, expect: 'SystemNamespace' },
  {
    name: 'namespace labelled config.linkerd.io/admission-webhooks=disabled',
    namespace: ns({ [INJECT]: 'enabled', 'config.linkerd.io/admission-webhooks': 'disabled' }), podAnnotations: { [INJECT]: 'enabled' }, expect: 'AdmissionWebhooksDisabled',
  },
];

function pod(row: Row): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'app', namespace: row.namespace?.name ?? 'apps', labels: { app: 'app', ...row.podLabels }, ...(row.podAnnotations ? { annotations: row.podAnnotations } : {}) },
    spec: {
      ...(row.hostNetwork ? { hostNetwork: true } : {}),
      ...(row.extraInitContainer ? { initContainers: [row.extraInitContainer] } : {}),
      containers: [{ name: 'app', image: 'app:1' }, ...(row.extraContainer ? [row.extraContainer] : [])],
    },
  };
}

test('selection table: linkerd.io/inject on namespace (annotation or enrolment label) and pod, and the pods never injected', () => {
  const mi = installation();
  const resolved = linkerdDistribution.resolve(mi);
  const failures: string[] = [];
  for (const row of ROWS) {
    const namespace: NamespaceView = { name: 'apps', labels: {}, annotations: {}, ...row.namespace };
    const outcome = injectLinkerdProxy({ pod: pod(row), namespace, installation: mi, resolved, trustAnchorsPem: 'anchors' });
    let got: string;
    if (!outcome.injected) got = outcome.reason;
    else {
      const proxy = [...((outcome.pod.spec.initContainers ?? []) as Array<{ name: string; env: Array<{ name: string }> }>)].find((c) => c.name === 'linkerd-proxy');
      got = proxy?.env.some((e) => e.name === 'LINKERD2_PROXY_INGRESS_MODE') ? 'ingress' : 'enabled';
    }
    if (got !== row.expect) failures.push(`${row.name}: expected ${row.expect}, got ${got}`);
  }
  assert.deepEqual(failures, []);
});

test('a skipped pod says why in a sentence naming the value and what is accepted', () => {
  const mi = installation();
  const outcome = injectLinkerdProxy({
    pod: pod({ name: '', podAnnotations: { [INJECT]: 'yes please' }, expect: '' }),
    namespace: { name: 'apps', labels: {}, annotations: {} },
    installation: mi, resolved: linkerdDistribution.resolve(mi), trustAnchorsPem: 'anchors',
  });
  assert.equal(outcome.injected, false);
  assert.equal(!outcome.injected && outcome.message, 'pod has linkerd.io/inject="yes please"; accepted values: enabled, ingress, disabled');
});
