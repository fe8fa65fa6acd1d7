/**
 * Istio's injection selection end to end in pure form: the webhook configurations' selectors (which
 * pods the API server sends to which revision's webhook) and then the injector's own pod-level
 * decision, judged on a table of namespaces and pods against upstream's precedence rules. Plus
 * golden snapshots of the configurations (InPlace, Canary with its `default` tag, another
 * control-plane namespace, a Service endpoint).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { withSpecDefaults } from '../../../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../../../api/meshinstallation.ts';
import type { MeshInstallationSpec } from '../../../api/spec.ts';
import type { KubeObject } from '../../../runtime/kube.ts';
import { assertGolden } from '../../golden.ts';
import type { PodObject, WebhookEndpoint } from '../../injection.ts';
import { resolveIstioVersion } from '../catalog.ts';
import { istioInjector } from './index.ts';

const installation = (name: string, spec: Partial<MeshInstallationSpec>): DefaultedMeshInstallation =>
  ({ apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name }, spec: withSpecDefaults({ mesh: 'istio', version: '1.31.1', namespace: 'istio-system', ...spec } as MeshInstallationSpec) }) as DefaultedMeshInstallation;

const URL_ENDPOINT: WebhookEndpoint = { url: 'https://127.0.0.1:9443', caBundlePem: '-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n' };
const SERVICE_ENDPOINT: WebhookEndpoint = { service: { namespace: 'meshwright-system', name: 'meshwright-webhook', port: 443 }, caBundlePem: URL_ENDPOINT.caBundlePem };

const inPlace = installation('mesh', {});
const canary = installation('canary', { version: '1.30.4', upgrade: { strategy: 'Canary' } as MeshInstallationSpec['upgrade'] });

type Requirement = { key: string; operator: string; values?: string[] };
type Webhook = { name: string; clientConfig: { url?: string }; namespaceSelector: { matchExpressions: Requirement[] }; objectSelector: { matchExpressions: Requirement[] } };

/** Kubernetes' label selector semantics for matchExpressions. */
function matches(requirements: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.operator) {
      case 'In': return has && r.values!.includes(labels[r.key]!);
      case 'NotIn': return !has || !r.values!.includes(labels[r.key]!);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
      default: throw new Error(`operator ${r.operator}`);
    }
  });
}

interface Case {
  title: string;
  namespace: Record<string, string>;
  namespaceName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
  /** The webhook configuration object that injects it (undefined: none), and the revision the pod then records. */
  injectedBy?: string;
  revision?: string;
  /** The injector's skip reason when the pod reaches a webhook but is not injected. */
  skipped?: string;
}

/** What happens to a pod in a cluster with `installations`' webhook configurations. */
function admit(installations: ReadonlyArray<{ mi: DefaultedMeshInstallation; keep?: (o: KubeObject) => boolean }>, c: Case): { by: string[]; revision?: string; skipped?: string } {
  const namespaceName = c.namespaceName ?? 'apps';
  const nsLabels = { 'kubernetes.io/metadata.name': namespaceName, ...c.namespace };
  const by: string[] = [];
  let outcome: { revision?: string; skipped?: string } = {};
  for (const { mi, keep } of installations) {
    const resolved = resolveIstioVersion(mi);
    for (const configuration of istioInjector.webhookConfigurations(mi, resolved, URL_ENDPOINT).filter(keep ?? (() => true))) {
      const webhooks = (configuration as unknown as { webhooks: Webhook[] }).webhooks;
      const hit = webhooks.filter((w) => matches(w.namespaceSelector.matchExpressions, nsLabels) && matches(w.objectSelector.matchExpressions, c.labels ?? {}));
      if (hit.length > 1) throw new Error(`${configuration.metadata.name}: webhooks ${hit.map((w) => w.name).join(', ')} overlap`);
      if (!hit.length) continue;
      by.push(configuration.metadata.name);
      const pod: PodObject = { metadata: { name: 'p', namespace: namespaceName, labels: c.labels ?? {}, annotations: c.annotations ?? {} }, spec: { containers: [{ name: 'app', image: 'app:1' }], ...(c.hostNetwork ? { hostNetwork: true } : {}) } };
      const result = istioInjector.inject({ pod, namespace: { name: namespaceName, labels: nsLabels, annotations: {} }, installation: mi, resolved, trustAnchorsPem: 'ROOT' });
      outcome = result.injected ? { revision: result.pod.metadata.annotations!['istio.io/rev'] } : { skipped: result.reason };
    }
  }
  return { by, ...outcome };
}

/** InPlace `mesh` is the default revision; `canary` runs revision 1-30-4 beside it (its default tag left with the default revision, as during a canary upgrade). */
const cluster = [{ mi: inPlace }, { mi: canary, keep: (o: KubeObject) => !o.metadata.name.startsWith('istio-revision-tag-') }];

const CASES: Case[] = [
  { title: 'namespace istio-injection=enabled: the default revision', namespace: { 'istio-injection': 'enabled' }, injectedBy: 'istio-sidecar-injector', revision: 'default' },
  { title: 'namespace istio-injection=disabled: nobody', namespace: { 'istio-injection': 'disabled' } },
  { title: 'no namespace label: nobody', namespace: {} },
  { title: 'namespace istio.io/rev=default: the default revision', namespace: { 'istio.io/rev': 'default' }, injectedBy: 'istio-sidecar-injector', revision: 'default' },
  { title: 'namespace istio.io/rev=<revision>: that revision', namespace: { 'istio.io/rev': '1-30-4' }, injectedBy: 'istio-sidecar-injector-1-30-4', revision: '1-30-4' },
  { title: 'namespace istio.io/rev of an unknown revision: nobody', namespace: { 'istio.io/rev': 'nope' } },
  { title: 'istio-injection wins over a namespace revision label', namespace: { 'istio-injection': 'enabled', 'istio.io/rev': '1-30-4' }, injectedBy: 'istio-sidecar-injector', revision: 'default' },
  { title: 'istio-injection=disabled wins over a namespace revision label', namespace: { 'istio-injection': 'disabled', 'istio.io/rev': '1-30-4' } },
  { title: 'the namespace revision wins over the pod revision', namespace: { 'istio.io/rev': '1-30-4' }, labels: { 'istio.io/rev': 'default' }, injectedBy: 'istio-sidecar-injector-1-30-4', revision: '1-30-4' },
  { title: 'pod istio.io/rev in an unlabelled namespace: that revision', namespace: {}, labels: { 'istio.io/rev': '1-30-4' }, injectedBy: 'istio-sidecar-injector-1-30-4', revision: '1-30-4' },
  { title: 'pod sidecar.istio.io/inject=true label in an unlabelled namespace: the default revision', namespace: {}, labels: { 'sidecar.istio.io/inject': 'true' }, injectedBy: 'istio-sidecar-injector', revision: 'default' },
  { title: 'pod inject=true with a pod revision: that revision only', namespace: {}, labels: { 'sidecar.istio.io/inject': 'true', 'istio.io/rev': '1-30-4' }, injectedBy: 'istio-sidecar-injector-1-30-4', revision: '1-30-4' },
  { title: 'pod inject annotation alone cannot opt in (selectors see labels only)', namespace: {}, annotations: { 'sidecar.istio.io/inject': 'true' } },
  { title: 'pod label inject=false always wins: enabled namespace', namespace: { 'istio-injection': 'enabled' }, labels: { 'sidecar.istio.io/inject': 'false' } },
  { title: 'pod label inject=false always wins: revision namespace', namespace: { 'istio.io/rev': '1-30-4' }, labels: { 'sidecar.istio.io/inject': 'false' } },
  { title: 'pod label inject=false always wins: pod revision', namespace: {}, labels: { 'sidecar.istio.io/inject': 'false', 'istio.io/rev': '1-30-4' } },
  { title: 'pod annotation inject=false: reaches the webhook, the injector opts it out', namespace: { 'istio-injection': 'enabled' }, annotations: { 'sidecar.istio.io/inject': 'false' }, injectedBy: 'istio-sidecar-injector', skipped: 'OptedOut' },
  { title: 'label over annotation: label true, annotation false is injected', namespace: { 'istio-injection': 'enabled' }, labels: { 'sidecar.istio.io/inject': 'true' }, annotations: { 'sidecar.istio.io/inject': 'false' }, injectedBy: 'istio-sidecar-injector', revision: 'default' },
  { title: 'a value other than true/false falls back to the default (injected)', namespace: { 'istio-injection': 'enabled' }, annotations: { 'sidecar.istio.io/inject': 'maybe' }, injectedBy: 'istio-sidecar-injector', revision: 'default' },
  { title: 'host networking: reaches the webhook, never injected', namespace: { 'istio-injection': 'enabled' }, hostNetwork: true, injectedBy: 'istio-sidecar-injector', skipped: 'HostNetwork' },
  { title: 'kube-system, even labelled: never reaches the webhook', namespaceName: 'kube-system', namespace: { 'istio-injection': 'enabled' } },
  { title: 'local-path-storage, even labelled: never reaches the webhook', namespaceName: 'local-path-storage', namespace: { 'istio.io/rev': 'default' } },
  { title: 'the control-plane namespace: never reaches the webhook', namespaceName: 'istio-system', namespace: { 'istio-injection': 'enabled' } },
  { title: 'already injected: reaches the webhook, left as it is', namespace: { 'istio-injection': 'enabled' }, annotations: { 'sidecar.istio.io/status': '{}' }, injectedBy: 'istio-sidecar-injector', skipped: 'AlreadyInjected' },
];

describe('Istio injection selection (webhook selectors, then the injector), an InPlace default revision beside a Canary revision', () => {
  for (const c of CASES) {
    test(c.title, () => {
      const result = admit(cluster, c);
      assert.deepEqual(result.by, c.injectedBy ? [c.injectedBy] : [], 'the webhook configurations that receive the pod');
      if (c.injectedBy) assert.deepEqual({ revision: result.revision, skipped: result.skipped }, { revision: c.revision, skipped: c.skipped });
    });
  }

  test('a Canary installation alone is the default revision through its `default` tag', () => {
    const alone = [{ mi: canary }];
    assert.deepEqual(admit(alone, { title: '', namespace: { 'istio-injection': 'enabled' } }), { by: ['istio-revision-tag-default'], revision: '1-30-4' });
    assert.deepEqual(admit(alone, { title: '', namespace: { 'istio.io/rev': 'default' } }), { by: ['istio-revision-tag-default'], revision: '1-30-4' });
    assert.deepEqual(admit(alone, { title: '', namespace: {}, labels: { 'sidecar.istio.io/inject': 'true' } }), { by: ['istio-revision-tag-default'], revision: '1-30-4' });
    assert.deepEqual(admit(alone, { title: '', namespace: { 'istio.io/rev': '1-30-4' } }), { by: ['istio-sidecar-injector-1-30-4'], revision: '1-30-4' });
  });

  test('the enrolment label is istio-injection=enabled for the default revision, istio.io/rev=<revision> for a Canary one', () => {
    assert.deepEqual(istioInjector.enrolmentLabel(inPlace, resolveIstioVersion(inPlace)), { key: 'istio-injection', value: 'enabled' });
    assert.deepEqual(istioInjector.enrolmentLabel(canary, resolveIstioVersion(canary)), { key: 'istio.io/rev', value: '1-30-4' });
  });
});

describe('Istio injection webhook configurations (golden)', () => {
  const golden = (name: string) => new URL(`./testdata/webhooks-${name}.yaml`, import.meta.url);
  const render = (mi: DefaultedMeshInstallation, endpoint: WebhookEndpoint) => istioInjector.webhookConfigurations(mi, resolveIstioVersion(mi), endpoint).map((o) => stringify(o)).join('---\n');
  test('InPlace installation, URL endpoint', () => assertGolden(golden('in-place'), render(inPlace, URL_ENDPOINT)));
  test('Canary installation: its revision and the default tag, URL endpoint', () => assertGolden(golden('canary'), render(canary, URL_ENDPOINT)));
  test('another control-plane namespace, Service endpoint', () => assertGolden(golden('other-namespace-service'), render(installation('mesh', { namespace: 'mesh-system' }), SERVICE_ENDPOINT)));
  test('every webhook fails closed, sends only pod creations, answers v1 reviews, on its installation\'s path, with the endpoint\'s CA', () => {
    for (const [mi, path] of [[inPlace, '/inject/mesh'], [canary, '/inject/canary/1-30-4']] as const) {
      for (const configuration of istioInjector.webhookConfigurations(mi, resolveIstioVersion(mi), URL_ENDPOINT)) {
        for (const w of (configuration as unknown as { webhooks: Array<Record<string, unknown>> }).webhooks) {
          assert.equal(w.failurePolicy, 'Fail');
          assert.equal(w.sideEffects, 'None');
          assert.equal(w.reinvocationPolicy, 'Never');
          assert.deepEqual(w.admissionReviewVersions, ['v1']);
          assert.deepEqual(w.rules, [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }]);
          assert.deepEqual(w.clientConfig, { url: `https://127.0.0.1:9443${path}`, caBundle: Buffer.from(URL_ENDPOINT.caBundlePem).toString('base64') });
        }
      }
    }
  });
});
