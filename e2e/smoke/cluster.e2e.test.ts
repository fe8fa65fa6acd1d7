/**
 * Smoke tests of the local control plane: what later tests rely on really happens here —
 * kwok walks pods to Ready (or into a crash loop), the API server calls a webhook served by this
 * process, and the garbage collector follows ownerReferences.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { V1Deployment } from '@kubernetes/client-node';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { createSelfSigned, issueCertificate } from '../../operator/pki/x509.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { clients, createTestNamespace, eventually, statusCode } from '../support/kube.ts';

const { kc, core, apps } = clients();
let namespace: string;

before(async () => {
  namespace = await createTestNamespace(core, 'smoke');
});
after(async () => {
  await core.deleteNamespace({ name: namespace });
});

function deployment(name: string, replicas: number, podLabels: Record<string, string>, image: string): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      progressDeadlineSeconds: 5,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...podLabels } },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
  };
}

describe('local control plane', () => {
  test("a Deployment's pods become Ready", async () => {
    await apps.createNamespacedDeployment({ namespace, body: deployment('healthy', 3, {}, 'registry.example/app:1.0') });
    const status = await eventually('3 ready replicas', async () => {
      const d = await apps.readNamespacedDeployment({ namespace, name: 'healthy' });
      return d.status?.readyReplicas === 3 && d.status?.availableReplicas === 3 ? d.status : undefined;
    }, 60_000);
    assert.equal(status.updatedReplicas, 3);
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=healthy' });
    assert.equal(pods.items.length, 3);
    for (const pod of pods.items) {
      assert.equal(pod.status?.phase, 'Running');
      assert.ok(pod.spec?.nodeName?.startsWith('kwok-node-'), 'scheduled on a fake node');
      assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    }
  });

  for (const [how, labels, image] of [
    ['labelled', { 'meshwright.dev/kwok-crash-loop': 'true' }, 'registry.example/app:1.0'],
    ['by image', {}, 'registry.example/crash-loop/app:1.0'],
  ] as const) {
    test(`a pod marked for crash-looping (${how}) never becomes Ready and its Deployment makes no progress`, async () => {
      const name = `crashing-${how === 'labelled' ? 'label' : 'image'}`;
      await apps.createNamespacedDeployment({ namespace, body: deployment(name, 1, labels, image) });
      const condition = await eventually('Progressing=False (ProgressDeadlineExceeded)', async () => {
        const d = await apps.readNamespacedDeployment({ namespace, name });
        const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
        return progressing?.status === 'False' ? progressing : undefined;
      }, 60_000);
      assert.equal(condition.reason, 'ProgressDeadlineExceeded');
      const d = await apps.readNamespacedDeployment({ namespace, name });
      assert.equal(d.status?.readyReplicas ?? 0, 0);
      const [pod] = (await core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items;
      assert.ok(pod, 'the pod exists');
      assert.equal(pod.status?.phase, 'Running');
      assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
      const container = pod.status?.containerStatuses?.[0];
      assert.equal(container?.state?.waiting?.reason, 'CrashLoopBackOff');
      assert.ok((container?.restartCount ?? 0) > 0, 'restarts are counted');
    });
  }

  test('the API server calls a mutating webhook served by this process, and its patch shows on the pod', async () => {
    const now = new Date(Date.now() - 60_000);
    const later = new Date(Date.now() + 3600_000);
    const ca = await createSelfSigned({ subject: 'CN=smoke-webhook-ca', notBefore: now, notAfter: later, keyAlgorithm: 'ECDSAP256', isCA: true });
    const serving = await issueCertificate({ subject: 'CN=127.0.0.1', notBefore: now, notAfter: later, keyAlgorithm: 'ECDSAP256', ipAddresses: ['127.0.0.1'], usages: ['serverAuth'] }, ca);
    const reviewed: string[] = [];
    const server: Server = createServer({ cert: serving.certificatePem, key: serving.privateKeyPem }, (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const review = JSON.parse(body) as { request: { uid: string; object: { metadata: { name?: string; generateName?: string } } } };
        reviewed.push(review.request.object.metadata.name ?? review.request.object.metadata.generateName ?? '?');
        const patch = [{ op: 'add', path: '/metadata/annotations', value: { 'smoke.meshwright.dev/mutated': 'yes' } }];
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({
          apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
          response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
        }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const webhookName = `smoke-${namespace}`;
    try {
      await admission.createMutatingWebhookConfiguration({
        body: {
          metadata: { name: webhookName },
          webhooks: [{
            name: 'smoke.meshwright.dev',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            timeoutSeconds: 5,
            clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(ca.certificatePem).toString('base64') },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
          }],
        },
      });
      // The API server picks up new webhook configurations asynchronously: retry until it calls us.
      const pod = await eventually('a pod created through the webhook', async () => {
        const created = await core.createNamespacedPod({ namespace, body: { metadata: { generateName: 'mutated-' }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] } } });
        if (created.metadata?.annotations?.['smoke.meshwright.dev/mutated']) return created;
        await core.deleteNamespacedPod({ namespace, name: created.metadata!.name! });
        return undefined;
      }, 30_000, 500);
      assert.equal(pod.metadata?.annotations?.['smoke.meshwright.dev/mutated'], 'yes');
      assert.ok(reviewed.length > 0, 'the webhook received an AdmissionReview');
      const stored = await core.readNamespacedPod({ namespace, name: pod.metadata!.name! });
      assert.equal(stored.metadata?.annotations?.['smoke.meshwright.dev/mutated'], 'yes', 'the patch is persisted');
    } finally {
      await admission.deleteMutatingWebhookConfiguration({ name: webhookName }).catch(() => undefined);
      server.close();
    }
  });

  test('the garbage collector deletes an object whose owner is deleted', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' }, data: { role: 'owner' } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: { name: 'dependent', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }] },
        data: { role: 'dependent' },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace, name: 'owner', propagationPolicy: 'Background' });
    await eventually('the dependent ConfigMap to be collected', async () => {
      try {
        await core.readNamespacedConfigMap({ namespace, name: 'dependent' });
        return false;
      } catch (error) {
        if (statusCode(error) === 404) return true;
        throw error;
      }
    }, 60_000);
  });

  test('the API server audit log records every request, so tests can count what a client sent', async () => {
    const since = new Date(Date.now() - 1000);
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'audited' }, data: { a: '1' } } });
    await core.readNamespacedConfigMap({ namespace, name: 'audited' });
    await core.readNamespacedConfigMap({ namespace, name: 'audited' });
    const mine = (e: { objectRef?: { namespace?: string; name?: string } }) => e.objectRef?.namespace === namespace && e.objectRef?.name === 'audited';
    // Blocking audit mode writes the event before the response, so it is on disk already.
    const events = auditEvents(since, mine);
    assert.deepEqual(events.map((e) => e.verb), ['create', 'get', 'get']);
    assert.equal(events.filter((e) => writeVerbs.has(e.verb)).length, 1);
    assert.match(events[0]!.userAgent ?? '', /kubernetes-client-javascript/);
  });
});
