/**
 * The Linkerd injection webhook configuration: a golden snapshot (in-cluster Service endpoint), and
 * what its selectors mean, checked by evaluating them as the API server does against namespaces and
 * pods: enrolled namespaces reach the fail-closed webhook, others never do except pods that opt in by
 * label (fail-open), and Linkerd's exclusions hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { assertGolden } from '../../golden.ts';
import { installation, testdataPath } from '../test-support.ts';
import { linkerdDistribution } from '../index.ts';
import { linkerdInjector } from './index.ts';
import { NAMESPACE_WEBHOOK, POD_OPT_IN_WEBHOOK } from './webhook.ts';

const CA = '-----BEGIN CERTIFICATE-----\nTEST-WEBHOOK-CA\n-----END CERTIFICATE-----\n';

type Expression = { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] };
type Webhook = {
  name: string; failurePolicy: string; namespaceSelector: { matchExpressions: Expression[] }; objectSelector: { matchExpressions: Expression[] };
  clientConfig: Record<string, unknown>;
};

/** A label selector's matchExpressions against labels, as Kubernetes evaluates them. */
function matches(expressions: Expression[], labels: Record<string, string>): boolean {
  return expressions.every(({ key, operator, values = [] }) => {
    const has = key in labels;
    switch (operator) {
      case 'In': return has && values.includes(labels[key]!);
      case 'NotIn': return !has || !values.includes(labels[key]!);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
    }
  });
}

function webhooks(endpoint: Parameters<typeof linkerdInjector.webhookConfigurations>[2]) {
  const mi = installation();
  const objects = linkerdInjector.webhookConfigurations(mi, linkerdDistribution.resolve(mi), endpoint);
  return { objects, hooks: (objects[0] as unknown as { webhooks: Webhook[] }).webhooks };
}

/** Which webhooks a pod with `podLabels` in a namespace named `name` with `nsLabels` is sent to. */
function routedTo(hooks: Webhook[], name: string, nsLabels: Record<string, string>, podLabels: Record<string, string> = {}): string[] {
  const namespaceLabels = { 'kubernetes.io/metadata.name': name, ...nsLabels };
  return hooks.filter((h) => matches(h.namespaceSelector.matchExpressions, namespaceLabels) && matches(h.objectSelector.matchExpressions, podLabels)).map((h) => `${h.name} (${h.failurePolicy})`);
}

test('golden: the Linkerd injection MutatingWebhookConfiguration for an in-cluster endpoint', () => {
  const { objects } = webhooks({ service: { namespace: 'meshwright-system', name: 'meshwright-webhook', port: 443 }, caBundlePem: CA });
  assertGolden(testdataPath('inject/webhook-configuration.golden.yaml'), objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
});

test('a URL endpoint gets the installation\'s path under it and the CA bundle base64-encoded', () => {
  const { hooks } = webhooks({ url: 'https://127.0.0.1:9443/', caBundlePem: CA });
  for (const h of hooks) {
    assert.deepEqual(h.clientConfig, { url: 'https://127.0.0.1:9443/inject/linkerd', caBundle: Buffer.from(CA).toString('base64') });
  }
});

test('routing: enrolled namespaces fail closed, others never reach the webhook unless a pod opts in by label (fail open), Linkerd\'s exclusions hold', () => {
  const { hooks } = webhooks({ url: 'https://127.0.0.1:9443', caBundlePem: CA });
  const enrolled = { 'linkerd.io/inject': 'enabled' };
  const ns = `${NAMESPACE_WEBHOOK} (Fail)`;
  const pod = `${POD_OPT_IN_WEBHOOK} (Ignore)`;
  const table: Array<[string, string[], string[]]> = [
    ['enrolled namespace, plain pod', routedTo(hooks, 'apps', enrolled), [ns]],
    ['enrolled namespace, pod opting in by label too (sent once)', routedTo(hooks, 'apps', enrolled, { 'linkerd.io/inject': 'enabled' }), [ns]],
    ['namespace labelled ingress', routedTo(hooks, 'apps', { 'linkerd.io/inject': 'ingress' }), [ns]],
    ['namespace not enrolled, plain pod', routedTo(hooks, 'apps', {}), []],
    ['namespace labelled disabled, plain pod', routedTo(hooks, 'apps', { 'linkerd.io/inject': 'disabled' }), []],
    ['namespace not enrolled, pod label enabled', routedTo(hooks, 'apps', {}, { 'linkerd.io/inject': 'enabled' }), [pod]],
    ['namespace not enrolled, pod label disabled', routedTo(hooks, 'apps', {}, { 'linkerd.io/inject': 'disabled' }), []],
    ['enrolled but admission webhooks disabled', routedTo(hooks, 'apps', { ...enrolled, 'config.linkerd.io/admission-webhooks': 'disabled' }), []],
    ['kube-system, pod opting in', routedTo(hooks, 'kube-system', {}, { 'linkerd.io/inject': 'enabled' }), []],
    ['cert-manager, enrolled', routedTo(hooks, 'cert-manager', enrolled), []],
    ['control-plane namespace, enrolled', routedTo(hooks, 'linkerd', enrolled), []],
    ['control-plane component pod in an enrolled namespace', routedTo(hooks, 'apps', enrolled, { 'linkerd.io/control-plane-component': 'destination' }), []],
    ['CNI pod opting in', routedTo(hooks, 'apps', {}, { 'linkerd.io/inject': 'enabled', 'linkerd.io/cni-resource': 'true' }), []],
  ];
  assert.deepEqual(table.filter(([, got, want]) => JSON.stringify(got) !== JSON.stringify(want)).map(([what, got, want]) => `${what}: got ${got}, want ${want}`), []);
});

test('the enrolment label is Linkerd\'s opt-in, linkerd.io/inject=enabled, which the namespace webhook selects', () => {
  const mi = installation();
  const resolved = linkerdDistribution.resolve(mi);
  const label = linkerdInjector.enrolmentLabel(mi, resolved);
  assert.deepEqual(label, { key: 'linkerd.io/inject', value: 'enabled' });
  const { hooks } = webhooks({ url: 'https://127.0.0.1:9443', caBundlePem: CA });
  assert.deepEqual(routedTo(hooks, 'apps', { [label.key]: label.value }), [`${NAMESPACE_WEBHOOK} (Fail)`]);
});
