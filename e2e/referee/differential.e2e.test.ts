/**
 * Istio's injector judges ours (differential test). Generated workloads (seed and count from
 * MESHWRIGHT_DIFF_SEED and MESHWRIGHT_DIFF_COUNT; `npm test` runs 200, `npm run conformance`
 * 1,000) are injected by the referee with the settings our rendered installation implies, and by
 * the operator's injector, and compared structurally; the goal is >= 99 % agreement, every
 * remaining difference a named exception (differential.ts).
 *
 * The same workloads also go the admission way, the path the operator's webhook serves: each
 * becomes the pod its controller would create (owner reference, generated name), Istio's real
 * webhook handler answers its AdmissionReview with a patch, and our injector injects the pod as
 * the webhook server calls it (no workload given: it is derived from the owner reference).
 *
 * Also: the generator is deterministic by seed and covers what it promises, the referee injects
 * every generated workload (refusing only ones carrying an invalid annotation), and the comparison
 * finds a difference planted in an injected workload, at its path, and honours the exception table.
 * Both sides pass through `withoutSerializerArtefacts` (what Go's typed serialiser adds or drops
 * for zero values) and ours without the meshwright injection record, nothing else.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, stringify } from 'yaml';
import { ISTIO_ALL_OPTIONS } from '../../operator/distributions/istio/testdata/golden-specs.ts';
import { formatSummary, structuralDiff, summarise } from './compare.ts';
import { applyJsonPatch, type JsonPatchOperation } from '../../operator/distributions/json-patch.ts';
import { InjectionError, INJECTED_BY_LABEL, RECORD_ANNOTATIONS, type PodObject } from '../../operator/distributions/injection.ts';
import { istioDistribution } from '../../operator/distributions/istio/index.ts';
import { INJECTION_EXCEPTIONS, installationOf, operatorInjector, podCreatedFrom, refereeConfigurationFor, withoutSerializerArtefacts } from './differential.ts';
import { ensureIstioReferee, injectEach, startRefereeWebhook, type EachResult } from './istio-referee.ts';
import { diffParameters, generateWorkloads } from './workload-generator.ts';

const referee = ensureIstioReferee();
const { seed, count } = diffParameters();
const workloads = generateWorkloads(seed, count);

type Container = { name: string; image: string; env?: Array<{ name: string; value?: string }> };
type Pod = { containers: Container[]; initContainers?: Container[] };
const podSpecOf = (object: unknown): Pod => {
  const o = object as { kind: string; spec: Pod & { template?: { spec: Pod } } };
  return o.kind === 'Pod' ? o.spec : o.spec.template!.spec;
};

describe(`differential injection: ${count} workloads of seed ${seed} (MESHWRIGHT_DIFF_SEED, MESHWRIGHT_DIFF_COUNT)`, () => {
  test('the generator is deterministic by seed, and another seed gives other workloads', () => {
    assert.deepEqual(generateWorkloads(seed, count), workloads);
    const other = generateWorkloads(seed + 1, count);
    assert.notDeepEqual(other.map((w) => w.object), workloads.map((w) => w.object));
    assert.deepEqual(generateWorkloads(seed, 5), workloads.slice(0, 5), 'a prefix of a larger run is the smaller run');
  });

  test('the generator covers every kind, probes, security contexts, init containers, volumes, host networking and valid and invalid annotations', { skip: count < 100 ? 'fewer than 100 workloads: coverage is not expected' : false }, () => {
    const features = new Set(workloads.flatMap((w) => w.features));
    for (const f of ['kind:Pod', 'kind:Deployment', 'kind:StatefulSet', 'kind:DaemonSet', 'kind:Job', 'probe:httpGet', 'probe:tcpSocket', 'probe:exec', 'probe:grpc', 'securityContext', 'podSecurityContext', 'initContainers', 'volumes', 'hostNetwork', 'ports']) {
      assert.ok(features.has(f), `some workload has ${f}`);
    }
    assert.ok([...features].filter((f) => f.startsWith('annotation:')).length >= 15, 'most of the annotations Istio honours appear');
    assert.ok(workloads.some((w) => w.invalidAnnotations.length > 0), 'some annotations are invalid');
    assert.ok(workloads.some((w) => w.invalidAnnotations.length === 0), 'most are valid');
  });

  let refereeResults: EachResult[] = [];
  test('the referee (Istio\'s injector with the settings our all-options render implies) injects every valid workload; only invalid annotations are refused', async () => {
    const configuration = await refereeConfigurationFor(referee, installationOf(ISTIO_ALL_OPTIONS));
    const started = Date.now();
    refereeResults = await injectEach(referee, configuration.settings, workloads.map((w) => JSON.stringify(w.object)).join('\n---\n'), { revision: configuration.revision === 'default' ? undefined : configuration.revision });
    const took = Date.now() - started;
    assert.equal(refereeResults.length, workloads.length, 'one result per workload');
    const refused = refereeResults.filter((r) => r.error !== undefined);
    const wronglyRefused = refused.filter((r) => workloads[r.index]!.invalidAnnotations.length === 0);
    assert.deepEqual(wronglyRefused.map((r) => `${workloads[r.index]!.object.metadata.name}: ${r.error}`), [], 'a workload with only valid annotations is never refused');
    let injected = 0;
    for (const r of refereeResults.filter((x) => x.output !== undefined)) {
      const before = podSpecOf(workloads[r.index]!.object);
      const after = podSpecOf(parse(r.output!.replace(/\n---\n$/, '')));
      if ([...after.containers, ...(after.initContainers ?? [])].some((c) => c.name === 'istio-proxy')) {
        injected++;
        // The referee used our settings: the proxy image comes from our hub and tag.
        const proxy = [...after.containers, ...(after.initContainers ?? [])].find((c) => c.name === 'istio-proxy')!;
        assert.match(proxy.image, new RegExp(`^${ISTIO_ALL_OPTIONS.registry!.replace(/\./g, '\\.')}/proxyv2:1\\.31\\.1$`));
      } else {
        assert.deepEqual(after.containers.map((c) => c.name), before.containers.map((c) => c.name), 'a workload left alone keeps its containers');
      }
    }
    assert.ok(injected > workloads.length / 2, `most workloads are injected (${injected}/${workloads.length})`);
    process.stderr.write(`[referee] ${workloads.length} workloads in ${took} ms: ${injected} injected, ${refused.length} refused (all carrying an invalid annotation), ${refereeResults.length - injected - refused.length} left alone\n`);
  });

  test('the comparison finds a difference planted in an injected workload, at its path, and honours the exception table', () => {
    const sample = refereeResults.find((r) => r.output && podSpecOf(parse(r.output.replace(/\n---\n$/, ''))).containers.some((c) => c.name === 'istio-proxy'));
    assert.ok(sample, 'an injected workload to alter');
    const original = parse(sample.output!.replace(/\n---\n$/, '')) as unknown;
    assert.deepEqual(structuralDiff(original, parse(stringify(original))), [], 'a workload agrees with itself');
    const altered = parse(stringify(original)) as unknown;
    const proxy = podSpecOf(altered).containers.find((c) => c.name === 'istio-proxy')!;
    proxy.image = 'example.com/not-istio:0';
    proxy.env = (proxy.env ?? []).filter((e) => e.name !== 'ISTIO_META_WORKLOAD_NAME');
    const differences = structuralDiff(original, altered);
    const paths = differences.map((d) => d.path);
    assert.ok(paths.some((p) => /containers\[istio-proxy\]\.image$/.test(p)), `the image difference is found: ${paths.join(', ')}`);
    assert.ok(paths.some((p) => /containers\[istio-proxy\]\.env\[ISTIO_META_WORKLOAD_NAME\]$/.test(p)), `the missing env var is found: ${paths.join(', ')}`);
    const summary = summarise([{ index: sample.index, referee: original, ours: altered }, { index: -1, referee: original, ours: original }], []);
    assert.equal(summary.agree, 1);
    assert.equal(summary.disagreeing.length, 1);
    assert.equal(summary.differingFields['spec.template.spec.containers[].image'] ?? summary.differingFields['spec.containers[].image'], 1);
    const withException = summarise([{ index: sample.index, referee: original, ours: altered }], [{ name: 'planted', path: /containers\[istio-proxy\]\.(image|env\[ISTIO_META_WORKLOAD_NAME\])$/, reason: 'the test planted them' }]);
    assert.equal(withException.agree, 1);
    assert.deepEqual(withException.excepted, { planted: 1 });
    // Reordered containers are a difference of their own.
    const reordered = parse(stringify(original)) as unknown;
    podSpecOf(reordered).containers.reverse();
    assert.ok(structuralDiff(original, reordered).some((d) => d.path.endsWith('containers#order')) || podSpecOf(original).containers.length === 1);
  });

  test('the operator\'s injector agrees with Istio\'s on >= 99 % of the workloads', async () => {
    const ourInjector = operatorInjector(installationOf(ISTIO_ALL_OPTIONS));
    const ours = await ourInjector.inject(workloads.map((w) => w.object));
    assert.equal(ours.length, refereeResults.length, 'one result per workload on each side');
    const pairs = refereeResults.map((r) => ({
      index: r.index,
      referee: r.error !== undefined ? { error: true } : withoutSerializerArtefacts(parse(r.output!.replace(/\n---\n$/, ''))),
      ours: 'error' in ours[r.index]! ? { error: true } : withoutSerializerArtefacts((ours[r.index] as { output: unknown }).output),
    }));
    const summary = summarise(pairs, INJECTION_EXCEPTIONS);
    process.stderr.write(`[referee] ${ourInjector.name} vs Istio ${referee.version}: ${formatSummary(summary)}\n`);
    const injectedByUs = pairs.filter((p) => JSON.stringify(p.ours).includes('"istio-proxy"')).length;
    assert.ok(injectedByUs > workloads.length / 2, `most workloads are injected by ours too (${injectedByUs}/${workloads.length})`);
    assert.ok(summary.agree / summary.total >= 0.99, formatSummary(summary));
  });

  test('through the admission path (Istio\'s real webhook handler, pods as their controllers create them), the operator\'s injector agrees on >= 99 %', async () => {
    const installation = installationOf(ISTIO_ALL_OPTIONS);
    const resolved = istioDistribution.resolve(installation);
    const configuration = await refereeConfigurationFor(referee, installation);
    const webhook = await startRefereeWebhook(referee, configuration.settings, { revision: configuration.revision === 'default' ? undefined : configuration.revision });
    const pairs: Array<{ index: number; referee: unknown; ours: unknown }> = [];
    let patched = 0;
    try {
      for (const w of workloads) {
        const pod = podCreatedFrom(w.object as Parameters<typeof podCreatedFrom>[0]);
        const namespace = pod.metadata.namespace ?? 'default';
        const answer = await webhook.review({
          apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
          request: { uid: `w${w.index}`, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace, object: pod },
        });
        assert.equal(answer.response?.uid, `w${w.index}`);
        let refereePod: unknown = { error: true };
        if (answer.response?.allowed) {
          // The patch is relative to the pod as Go serialises it (every container with resources).
          const asGo = structuredClone(pod) as PodObject & { spec: { initContainers?: Array<Record<string, unknown>> } };
          for (const c of [...asGo.spec.containers, ...(asGo.spec.initContainers ?? [])]) c.resources ??= {};
          refereePod = answer.response.patch ? applyJsonPatch(asGo, JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')) as JsonPatchOperation[]) : pod;
          if (answer.response.patch) patched++;
        }
        let ours: unknown;
        try {
          const outcome = istioDistribution.injector!.inject({ pod: structuredClone(pod), namespace: { name: namespace, labels: {}, annotations: {} }, installation, resolved, trustAnchorsPem: '', nativeSidecars: true });
          if (outcome.injected) {
            const injected = structuredClone(outcome.pod);
            delete injected.metadata.labels![INJECTED_BY_LABEL];
            for (const key of Object.values(RECORD_ANNOTATIONS)) delete injected.metadata.annotations![key];
            ours = injected;
          } else ours = pod;
        } catch (error) {
          if (!(error instanceof InjectionError)) throw error;
          ours = { error: true };
        }
        pairs.push({ index: w.index, referee: withoutSerializerArtefacts(refereePod), ours: withoutSerializerArtefacts(ours) });
      }
    } finally {
      await webhook.close();
    }
    const summary = summarise(pairs, INJECTION_EXCEPTIONS);
    process.stderr.write(`[referee] admission path: meshwright's Istio injector vs Istio's webhook handler ${referee.version}: ${formatSummary(summary)}\n`);
    assert.ok(patched > workloads.length / 2, `most pods are patched by the referee (${patched}/${workloads.length})`);
    assert.ok(summary.agree / summary.total >= 0.99, formatSummary(summary));
  });

  test('another installation agrees too: a Canary revision (1-30-4, demo profile, its own proxy memory limit) with classic sidecars', async () => {
    const installation = installationOf({ version: '1.30.4', profile: 'demo', upgrade: { strategy: 'Canary' }, meshConfig: { proxy: { resources: { limits: { memory: '2Gi' } } } } } as never);
    const configuration = await refereeConfigurationFor(referee, installation);
    assert.equal(configuration.revision, '1-30-4');
    const results = await injectEach(referee, configuration.settings, workloads.map((w) => JSON.stringify(w.object)).join('\n---\n'), { revision: configuration.revision, nativeSidecars: 'false' });
    const ourInjector = operatorInjector(installation, false);
    const ours = await ourInjector.inject(workloads.map((w) => w.object));
    const pairs = results.map((r) => ({
      index: r.index,
      referee: r.error !== undefined ? { error: true } : withoutSerializerArtefacts(parse(r.output!.replace(/\n---\n$/, ''))),
      ours: 'error' in ours[r.index]! ? { error: true } : withoutSerializerArtefacts((ours[r.index] as { output: unknown }).output),
    }));
    const summary = summarise(pairs, INJECTION_EXCEPTIONS);
    process.stderr.write(`[referee] ${ourInjector.name}, classic sidecars: ${formatSummary(summary)}\n`);
    const canaryProxies = pairs.filter((p) => JSON.stringify(p.ours).includes('istiod-1-30-4.istio-system.svc:15012')).length;
    assert.ok(canaryProxies > workloads.length / 2, `most proxies talk to the canary istiod (${canaryProxies}/${workloads.length})`);
    assert.ok(summary.agree / summary.total >= 0.99, formatSummary(summary));
  });
});
