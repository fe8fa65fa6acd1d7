import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch } from '../distributions/json-patch.ts';
import type { MeshDistribution } from '../distributions/distribution.ts';
import { InjectionError, RECORD_ANNOTATIONS, trustBundleSha256, withInjectionRecord, type InjectionRequest, type PodObject, type SidecarInjector } from '../distributions/injection.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { answerAdmission, installationOfPath, type AdmissionSources } from './admission.ts';

const ANCHORS = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/** A small injector: adds a `proxy` container with the proxy version in its image, unless the pod opts out or asks for the impossible. */
const seen: InjectionRequest[] = [];
const injector: SidecarInjector = {
  inject(request) {
    seen.push(request);
    const { pod } = request;
    if (pod.metadata.labels?.inject === 'false') return { injected: false, reason: 'OptedOut', message: 'label inject=false' };
    if (pod.metadata.annotations?.bad) throw new InjectionError(`annotation bad=${pod.metadata.annotations.bad} is not a valid value: use true or false`);
    if (pod.metadata.annotations?.crash) throw new TypeError('cannot read properties of undefined');
    const injected: PodObject = { ...pod, spec: { ...pod.spec, containers: [...pod.spec.containers, { name: 'proxy', image: `proxy:${request.resolved.version}` }] } };
    const record = { mesh: 'istio' as const, installation: request.installation.metadata.name!, revision: request.resolved.revision, proxyVersion: request.resolved.version, trustBundleSha256: trustBundleSha256(request.trustAnchorsPem) };
    return {
      injected: true,
      pod: withInjectionRecord(injected, record),
      record,
      warnings: pod.metadata.annotations?.warn ? ['ignored annotation warn'] : undefined,
    };
  },
  webhookConfigurations: () => [],
  enrolmentLabel: () => ({ key: 'inject', value: 'enabled' }),
};

const distribution = {
  mesh: 'istio',
  catalog: ['1.1.0', '1.0.0'],
  ownedTypes: [],
  resolve(installation) {
    const version = installation.spec.version;
    if (!['1.1.0', '1.0.0'].includes(version)) throw new Error(`version ${version} is not in the catalog`);
    return { version, revision: version.replaceAll('.', '-'), images: {} };
  },
  render: () => [],
  componentHealth: () => [],
  certificateAuthority: () => ({
    root: { commonName: 'r' }, issuer: { commonName: 'i' }, defaultKeyAlgorithm: 'ECDSAP256', keyAlgorithms: ['ECDSAP256'],
    published: { trustAnchors: [{ kind: 'ConfigMap', name: 'ca-root', key: 'root.pem', writtenBy: 'controlPlane' }, { kind: 'Secret', name: 'cacerts', key: 'root-cert.pem' }], keyHolders: [] },
  }),
  injector,
} satisfies MeshDistribution;

const installation = (extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh', generation: 2 },
  spec: { mesh: 'istio', version: '1.1.0', namespace: 'mesh-system' }, ...extra,
});

function sources(overrides: Partial<{ installation: KubeObject | undefined; anchors: boolean; namespace: boolean }> = {}): AdmissionSources {
  const mi = 'installation' in overrides ? overrides.installation : installation();
  return {
    installation: (name) => (mi && name === mi.metadata.name ? mi : undefined),
    namespace: (name) => (overrides.namespace === false ? undefined : { name, labels: { inject: 'enabled' }, annotations: {} }),
    distribution: (mesh) => (mesh === 'istio' ? distribution : undefined),
    owned: (kind, namespace, name) => (overrides.anchors !== false && kind === 'Secret' && namespace === 'mesh-system' && name === 'cacerts'
      ? { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, data: { 'root-cert.pem': Buffer.from(ANCHORS).toString('base64') } }
      : undefined),
  };
}

const pod = (metadata: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-', labels: { app: 'web' }, ...metadata }, spec: { containers: [{ name: 'web', image: 'nginx' }] },
});

const reviewOf = (object: unknown, request: Record<string, unknown> = {}) => JSON.stringify({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'shop', operation: 'CREATE', object, ...request },
});

interface Response { uid: string; allowed: boolean; patchType?: string; patch?: string; status?: { code: number; reason: string; message: string }; warnings?: string[] }
const responseOf = (body: string) => (JSON.parse(body) as { apiVersion: string; kind: string; response: Response });

test('installationOfPath: /inject/<installation> and sub-paths; anything else names none', () => {
  const rows: Array<[string, string | undefined]> = [
    ['/inject/mesh', 'mesh'], ['/inject/mesh/', 'mesh'], ['/inject/mesh/1-31-1', 'mesh'], ['/inject/my.mesh/tag/default', 'my.mesh'],
    ['/inject/', undefined], ['/inject', undefined], ['/mutate/mesh', undefined], ['/inject/Mesh', undefined], ['/inject/-x', undefined],
  ];
  for (const [path, expected] of rows) assert.equal(installationOfPath(path), expected, path);
});

test('an injected pod: allowed with a JSON patch that turns the pod into the injector\'s, the request built from the caches', () => {
  seen.length = 0;
  const answer = answerAdmission('/inject/mesh', reviewOf(pod()), sources());
  assert.equal(answer.httpStatus, 200);
  assert.equal(answer.outcome, 'injected');
  const { apiVersion, kind, response } = responseOf(answer.body);
  assert.equal(apiVersion, 'admission.k8s.io/v1');
  assert.equal(kind, 'AdmissionReview');
  assert.equal(response.uid, 'u-1');
  assert.equal(response.allowed, true);
  assert.equal(response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(response.patch!, 'base64').toString()) as never;
  const patched = applyJsonPatch(pod(), patch) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { containers: Array<{ name: string; image: string }> } };
  assert.deepEqual(patched.spec.containers.map((c) => `${c.name}=${c.image}`), ['web=nginx', 'proxy=proxy:1.1.0']);
  assert.equal(patched.metadata.labels['meshwright.dev/injected-by'], 'mesh');
  assert.equal(patched.metadata.annotations[RECORD_ANNOTATIONS.trustBundleSha256], trustBundleSha256(ANCHORS));
  // The patch is relative to the object as sent: the namespace the request carries is not patched in.
  assert.ok(!(patch as Array<{ path: string }>).some((op) => op.path.startsWith('/metadata/namespace')));
  const [request] = seen;
  assert.equal(request!.namespace.name, 'shop');
  assert.deepEqual(request!.namespace.labels, { inject: 'enabled' });
  assert.equal(request!.trustAnchorsPem, ANCHORS, 'anchors from the Secret the renderer writes, not the ConfigMap the control plane writes');
  assert.equal(request!.installation.spec.profile, 'default', 'the spec is defaulted');
});

test('the version comes from the spec last served (status.served.spec), not a newer one that was refused', () => {
  seen.length = 0;
  const mi = installation({ spec: { mesh: 'istio', version: '9.9.9', namespace: 'mesh-system' }, status: { served: { generation: 1, spec: { mesh: 'istio', version: '1.0.0', namespace: 'mesh-system' } } } });
  const answer = answerAdmission('/inject/mesh', reviewOf(pod()), sources({ installation: mi }));
  assert.equal(answer.outcome, 'injected', answer.message);
  assert.equal(seen[0]!.resolved.version, '1.0.0');
});

test('warnings of the injector reach the response', () => {
  const { response } = responseOf(answerAdmission('/inject/mesh', reviewOf(pod({ annotations: { warn: 'x' } })), sources()).body);
  assert.deepEqual(response.warnings, ['ignored annotation warn']);
});

/** An installation whose External CA Secret is the very cacerts the mesh reads (used in place). */
const inPlace = installation({ spec: { mesh: 'istio', version: '1.1.0', namespace: 'mesh-system', certificateAuthority: { type: 'External', secretRef: { namespace: 'mesh-system', name: 'cacerts' } } } });
const USER_ANCHORS = '-----BEGIN CERTIFICATE-----\nUSER\n-----END CERTIFICATE-----\n';

test('the user\'s Secret read in place: its trust anchors come from the referenced-secrets cache, not an owned object', () => {
  seen.length = 0;
  const asked: string[] = [];
  const answer = answerAdmission('/inject/mesh', reviewOf(pod()), {
    ...sources(), installation: () => inPlace,
    referenced: (namespace, name) => {
      asked.push(`${namespace}/${name}`);
      return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, data: { 'root-cert.pem': Buffer.from(USER_ANCHORS).toString('base64') } };
    },
  });
  assert.equal(answer.outcome, 'injected', answer.message);
  assert.deepEqual(asked, ['mesh-system/cacerts']);
  assert.equal(seen[0]!.trustAnchorsPem, USER_ANCHORS, 'the user\'s root-cert.pem, not the owned cacerts the sources also hold');
});

const denials: Array<{ name: string; path?: string; body: string; sources?: AdmissionSources; outcome: string; code: number; reason: string; message: RegExp }> = [
  { name: 'the injector refuses the pod (InjectionError)', body: reviewOf(pod({ annotations: { bad: 'maybe' } })), outcome: 'refused', code: 400, reason: 'InjectionRefused', message: /annotation bad=maybe is not a valid value/ },
  { name: 'the injector fails unexpectedly', body: reviewOf(pod({ annotations: { crash: 'y' } })), outcome: 'denied', code: 500, reason: 'InjectionFailed', message: /injecting the pod failed: cannot read properties/ },
  { name: 'an installation the operator does not know', path: '/inject/other', body: reviewOf(pod()), outcome: 'denied', code: 503, reason: 'InstallationUnknown', message: /MeshInstallation "other" is not known/ },
  { name: 'a namespace not in the cache yet', body: reviewOf(pod()), sources: sources({ namespace: false }), outcome: 'denied', code: 503, reason: 'NamespaceUnknown', message: /namespace "shop" is not in the operator's cache/ },
  { name: 'trust anchors not published yet', body: reviewOf(pod()), sources: sources({ anchors: false }), outcome: 'denied', code: 503, reason: 'TrustAnchorsNotPublished', message: /Secret mesh-system\/cacerts \(key root-cert\.pem\)/ },
  { name: 'the user\'s Secret read in place, not cached yet', body: reviewOf(pod()), sources: { ...sources(), installation: () => inPlace }, outcome: 'denied', code: 503, reason: 'TrustAnchorsNotPublished', message: /Secret mesh-system\/cacerts \(key root-cert\.pem, your External CA Secret\)/ },
  { name: 'a served spec whose version is no longer in the catalog', body: reviewOf(pod()), sources: sources({ installation: installation({ spec: { mesh: 'istio', version: '0.1.0', namespace: 'mesh-system' } }) }), outcome: 'denied', code: 500, reason: 'InjectionFailed', message: /version 0\.1\.0 is not in the catalog/ },
  { name: 'a request for another kind', body: reviewOf({ kind: 'Deployment', metadata: {}, spec: {} }, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), outcome: 'invalid', code: 400, reason: 'NotAPod', message: /admits Pods only, got apps\/Deployment/ },
  { name: 'a Pod without containers', body: reviewOf({ kind: 'Pod', metadata: {}, spec: {} }), outcome: 'invalid', code: 400, reason: 'NotAPod', message: /no spec\.containers/ },
  { name: 'no object', body: reviewOf(undefined), outcome: 'invalid', code: 400, reason: 'NotAPod', message: /carries no object/ },
  { name: 'a path without an installation', path: '/inject/', body: reviewOf(pod()), outcome: 'invalid', code: 400, reason: 'NoInstallationInPath', message: /serves \/inject\/<installation>/ },
];

for (const row of denials) {
  test(`denied with a reason a person can act on: ${row.name}`, () => {
    const answer = answerAdmission(row.path ?? '/inject/mesh', row.body, row.sources ?? sources());
    assert.equal(answer.httpStatus, 200);
    assert.equal(answer.outcome, row.outcome);
    const { response } = responseOf(answer.body);
    assert.equal(response.uid, 'u-1');
    assert.equal(response.allowed, false);
    assert.equal(response.patch, undefined);
    assert.equal(response.status?.code, row.code);
    assert.equal(response.status?.reason, row.reason);
    assert.match(response.status?.message ?? '', row.message);
  });
}

test('skipped by the injector, or not a CREATE: allowed without a patch', () => {
  for (const body of [reviewOf(pod({ labels: { inject: 'false' } })), reviewOf(pod(), { operation: 'UPDATE' })]) {
    const answer = answerAdmission('/inject/mesh', body, sources());
    assert.equal(answer.outcome, 'skipped');
    const { response } = responseOf(answer.body);
    assert.equal(response.allowed, true);
    assert.equal(response.patch, undefined);
    assert.equal(response.patchType, undefined);
  }
});

const invalidBodies: Array<[string, string, RegExp]> = [
  ['not JSON', '{"apiVersion":', /not JSON/],
  ['a JSON array', '[]', /not a JSON object/],
  ['the v1beta1 review', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }), /expected apiVersion admission\.k8s\.io\/v1 and kind AdmissionReview, got apiVersion "admission\.k8s\.io\/v1beta1"/],
  ['another kind', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }), /kind "Pod"/],
  ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), /has no request/],
  ['no uid', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { object: pod() } }), /has no uid/],
];

for (const [name, body, message] of invalidBodies) {
  test(`an invalid AdmissionReview (${name}) gets HTTP 400 with the reason, no review`, () => {
    const answer = answerAdmission('/inject/mesh', body, sources());
    assert.equal(answer.httpStatus, 400);
    assert.equal(answer.outcome, 'invalid');
    assert.match(answer.contentType, /^text\/plain/);
    assert.match(answer.body, message);
  });
}

test('the installation is prepared (defaulted) once per cached version, and afresh when the cache holds a new one', () => {
  seen.length = 0;
  const first = installation();
  const same = sources({ installation: first });
  answerAdmission('/inject/mesh', reviewOf(pod()), same);
  answerAdmission('/inject/mesh', reviewOf(pod()), same);
  const updated = installation({ spec: { mesh: 'istio', version: '1.0.0', namespace: 'mesh-system' } });
  answerAdmission('/inject/mesh', reviewOf(pod()), sources({ installation: updated }));
  assert.equal(seen.length, 3);
  assert.equal(seen[0]!.installation, seen[1]!.installation, 'the same prepared installation for the same cached object');
  assert.notEqual(seen[2]!.installation, seen[0]!.installation);
  assert.equal(seen[2]!.resolved.version, '1.0.0', 'a new cached version is read');
});

test('Canary: a pod gets the revision its namespace points at (the default tag for the default label); its own istio.io/rev in a namespace naming none; the served spec otherwise', () => {
  // A revision-aware injector, like Istio's: istio.io/rev=<revision> under Canary, inject=enabled otherwise.
  const revisioned = {
    ...distribution,
    injector: { ...injector, enrolmentLabel: (mi: { spec: { upgrade?: { strategy?: string }; version: string } }, resolved: { revision: string }) => (mi.spec.upgrade?.strategy === 'Canary' ? { key: 'istio.io/rev', value: resolved.revision } : { key: 'inject', value: 'enabled' }) },
  } as unknown as MeshDistribution;
  const canary = (upgrade: Record<string, unknown>) => installation({
    spec: { mesh: 'istio', version: '1.1.0', namespace: 'mesh-system', upgrade: { strategy: 'Canary' } },
    status: { served: { spec: { mesh: 'istio', version: '1.1.0', namespace: 'mesh-system', upgrade: { strategy: 'Canary' } } }, upgrade: { strategy: 'Canary', from: '1.0.0', to: '1.1.0', ...upgrade } },
  });
  const inStep = canary({ phase: 'DataPlane', step: 3, totalSteps: 7 });
  const tagMoved = canary({ phase: 'Promoting', step: 6, totalSteps: 7 });
  const proxyOf = (mi: KubeObject, labels: Record<string, string>, podLabels: Record<string, string> = {}, path = '/inject/mesh') => {
    const src: AdmissionSources = { ...sources({ installation: mi }), distribution: () => revisioned, namespace: (name) => ({ name, labels, annotations: {} }) };
    const answer = answerAdmission(path, reviewOf(pod({ labels: { app: 'web', ...podLabels } })), src);
    assert.equal(answer.outcome, 'injected', answer.message);
    const patched = applyJsonPatch(pod({ labels: { app: 'web', ...podLabels } }), JSON.parse(Buffer.from(responseOf(answer.body).response.patch!, 'base64').toString('utf8'))) as unknown as PodObject;
    return [patched.metadata.annotations?.[RECORD_ANNOTATIONS.revision], patched.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion]];
  };
  const rows: Array<[string, KubeObject, Record<string, string>, Record<string, string>, string, string[]]> = [
    ['a namespace moved to the new revision', inStep, { 'istio.io/rev': '1-1-0' }, {}, '/inject/mesh/1-0-0', ['1-1-0', '1.1.0']],
    ['a namespace not moved yet: the old revision, whatever path the API server called', inStep, { 'istio.io/rev': '1-0-0' }, {}, '/inject/mesh/1-1-0', ['1-0-0', '1.0.0']],
    ['the default label before the tag moved: old', inStep, { inject: 'enabled' }, {}, '/inject/mesh/1-1-0', ['1-0-0', '1.0.0']],
    ['the default label once the tag moved: new', tagMoved, { inject: 'enabled' }, {}, '/inject/mesh/1-0-0', ['1-1-0', '1.1.0']],
    ['the namespace wins over the pod\'s label', inStep, { 'istio.io/rev': '1-1-0' }, { 'istio.io/rev': '1-0-0' }, '/inject/mesh', ['1-1-0', '1.1.0']],
    ['a namespace naming none: the pod\'s own label', inStep, {}, { 'istio.io/rev': '1-0-0' }, '/inject/mesh', ['1-0-0', '1.0.0']],
    ['nothing names a revision: the path', inStep, {}, {}, '/inject/mesh/1-0-0', ['1-0-0', '1.0.0']],
    ['nothing at all: the spec last served', inStep, {}, {}, '/inject/mesh', ['1-1-0', '1.1.0']],
  ];
  for (const [name, mi, labels, podLabels, path, want] of rows) assert.deepEqual(proxyOf(mi, labels, podLabels, path), want, name);
});
