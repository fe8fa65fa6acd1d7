/**
 * The referee proves itself first: Istio's own injection test vectors, shipped in the module,
 * run through meshwright's harness (Istio's `IntoResourceFile` with the module's own templates)
 * and must reproduce upstream's expected files byte for byte (the injector's version stamp in
 * `sidecar.istio.io/status` aside, as upstream strips it too). Then the harness's webhook mode
 * (Istio's real `inject.NewWebhook` handler fed an AdmissionReview) must produce, for a pod, the
 * same pod the expected file holds. Upstream's OpenShift vectors are checked as upstream checks
 * them, through the webhook only: the platform set to OpenShift, the namespace's UID-range
 * annotations in the fake cluster, and the patched pod compared with the expected file's pod
 * (the status annotation and Go's zero-value artefacts aside, as upstream's comparison does).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { applyJsonPatch, type JsonPatchOperation } from '../../operator/distributions/json-patch.ts';
import { structuralDiff } from './compare.ts';
import { podCreatedFrom, withoutSerializerArtefacts } from './differential.ts';
import { chartSettings, ensureIstioReferee, injectResources, reviewThroughWebhook, type InjectorSettings } from './istio-referee.ts';
import { upstreamVectors, type MeshObject, type Vector } from './upstream-vectors.ts';

const referee = ensureIstioReferee();
const { vectors, unused } = upstreamVectors(referee.vectors);

/** Upstream's own normalisation: the injector's version in the status annotation is blanked. */
const stripVersion = (yaml: string) => yaml.replace(/sidecar\.istio\.io\/status: '\{"version":"([0-9a-f]+)",/g, 'sidecar.istio.io/status: \'{"version":"",');

async function settingsFor(vector: Vector): Promise<{ settings: InjectorSettings; meshExact: boolean }> {
  const base = await chartSettings(referee, vector.sets ?? [], vector.overlay ? [join(referee.vectors, vector.overlay)] : []);
  if (!vector.mesh) return { settings: base, meshExact: false };
  const mesh = parse(base.mesh) as MeshObject;
  vector.mesh(mesh);
  return { settings: { ...base, mesh: stringify(mesh) }, meshExact: true };
}

describe(`Istio's injection vectors (istio.io/istio ${referee.version}) through the referee`, () => {
  test('the vector table is complete: every expected file of the module is checked by a vector', () => {
    assert.ok(vectors.length >= 100, `only ${vectors.length} vectors found in ${referee.vectors}`);
    assert.deepEqual(unused, []);
  });

  for (const [i, vector] of vectors.entries()) {
    const name = `[${String(i).padStart(3, '0')}] ${vector.input} -> ${vector.want ?? `refused (${vector.error})`}`;
    if (vector.webhookOnly) {
      test(`${name} (through the webhook, as upstream checks it)`, async () => {
        const { settings } = await settingsFor(vector);
        const doc = parse(readFileSync(join(referee.vectors, vector.input), 'utf8')) as { metadata: { namespace?: string } };
        const pod = podCreatedFrom(doc as Parameters<typeof podCreatedFrom>[0]) as unknown as Pod;
        const namespace = doc.metadata.namespace ?? 'default';
        assert.ok(vector.namespaceAnnotations?.[namespace], `the vector's namespace ${namespace} is in the fake cluster`);
        const answer = await reviewThroughWebhook(referee, settings, {
          apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
          request: { uid: `vector-${i}`, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace, object: pod },
        }, { nativeSidecars: vector.nativeSidecars ?? 'auto', env: vector.env, namespaceAnnotations: vector.namespaceAnnotations });
        assert.equal(answer.response?.allowed, true, answer.response?.result?.message);
        const patch = JSON.parse(Buffer.from(answer.response!.patch!, 'base64').toString('utf8')) as JsonPatchOperation[];
        const expected = podCreatedFrom(parseAllDocuments(readFileSync(join(referee.vectors, vector.want!), 'utf8'))[0]!.toJS() as Parameters<typeof podCreatedFrom>[0]) as unknown as Pod;
        const comparable = (p: Pod) => {
          const { metadata = {}, spec } = withoutSerializerArtefacts(p) as Pod;
          const annotations = { ...(metadata.annotations as Record<string, string> | undefined) };
          delete annotations['sidecar.istio.io/status'];
          return { labels: metadata.labels, annotations, ownerReferences: (metadata as Record<string, unknown>).ownerReferences, spec };
        };
        const patched = applyJsonPatch(pod, patch) as Pod;
        assert.deepEqual(structuralDiff(comparable(expected), comparable(patched)), [], 'the patched pod is the expected file\'s pod');
        // What the vectors are about: the proxy runs as the last UID of the namespace's range (as root with TPROXY).
        const proxy = [...patched.spec.containers, ...(patched.spec.initContainers ?? [])].find((c) => c.name === 'istio-proxy') as { securityContext?: { runAsUser?: number } } | undefined;
        assert.equal(proxy?.securityContext?.runAsUser, vector.input.includes('tproxy') ? 0 : 1000629999);
      });
      continue;
    }
    test(name, async () => {
      const { settings, meshExact } = await settingsFor(vector);
      const input = readFileSync(join(referee.vectors, vector.input), 'utf8');
      const run = await injectResources(referee, settings, input, { meshExact, nativeSidecars: vector.nativeSidecars ?? 'auto', env: vector.env });
      if (vector.error) {
        assert.equal(run.ok, false, 'the injector refuses the input');
        assert.match(run.stderr.toLowerCase(), new RegExp(vector.error));
        return;
      }
      assert.ok(run.ok, run.stderr.slice(-2000));
      if (vector.log) assert.ok(run.stderr.includes(vector.log), `the injector warns: ${vector.log}`);
      assert.equal(stripVersion(run.stdout), readFileSync(join(referee.vectors, vector.want!), 'utf8'));
    });
  }
});

type Pod = { metadata?: Record<string, unknown> & { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: Array<{ name: string; image?: string; args?: string[] }>; initContainers?: Array<{ name: string; image?: string; args?: string[] }> } };

describe('Istio\'s real webhook handler (inject.NewWebhook) through the referee', () => {
  for (const [input, want] of [['pod.yaml', 'pod.yaml.injected'], ['hello.yaml', 'hello.yaml.injected'], ['hello.yaml', 'hello-old-version.yaml.injected']] as const) {
    test(`an AdmissionReview for ${input}'s pod is answered with a patch that gives ${want}'s pod`, async () => {
      const settings = await chartSettings(referee);
      const doc = parse(readFileSync(join(referee.vectors, input), 'utf8')) as { kind: string; metadata: { namespace?: string }; spec: { template?: Pod } } & Pod;
      const pod = doc.kind === 'Pod' ? { apiVersion: 'v1', kind: 'Pod', metadata: doc.metadata, spec: doc.spec } : { apiVersion: 'v1', kind: 'Pod', ...doc.spec.template };
      const answer = await reviewThroughWebhook(referee, settings, {
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        request: { uid: 'e2e-uid-1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace: doc.metadata.namespace ?? 'default', object: pod },
      }, { nativeSidecars: want.includes('old-version') ? 'false' : 'auto' });
      assert.equal(answer.response?.uid, 'e2e-uid-1');
      assert.equal(answer.response?.allowed, true);
      assert.equal(answer.response?.patchType, 'JSONPatch');
      const patch = JSON.parse(Buffer.from(answer.response!.patch!, 'base64').toString('utf8')) as JsonPatchOperation[];
      const patched = applyJsonPatch(pod, patch) as Pod;
      const expectedDoc = parseAllDocuments(readFileSync(join(referee.vectors, want), 'utf8'))[0]!.toJS() as { kind: string; spec: { template?: Pod } } & Pod;
      const expected = expectedDoc.kind === 'Pod' ? expectedDoc : expectedDoc.spec.template!;
      const shape = (p: Pod) => ({
        containers: p.spec.containers.map((c) => ({ name: c.name, image: c.image, args: c.args })),
        initContainers: (p.spec.initContainers ?? []).map((c) => ({ name: c.name, image: c.image, args: c.args })),
      });
      assert.deepEqual(shape(patched), shape(expected));
    });
  }
});
