/**
 * The real istiod on what the operator installs. For every Istio spec behind a golden render
 * (each profile, every option, the canary revision layout) the operator installs the mesh, then
 * Istio's own `pilot-discovery`, built from its module, runs as a local process the way a kubelet
 * would run the rendered Deployment (see istiod-process.ts), authenticated as the rendered
 * ServiceAccount (so the rendered RBAC is what it has). Asserted: istiod becomes ready; it loaded
 * our plug-in CA; the mesh config it serves holds everything our ConfigMap says; the
 * `istio-ca-root-cert` it publishes is our root; a CSR sent to its CA service as istio-agent sends
 * one comes back as a chain to our root, for the identity in our trust domain. Then a `cacerts`
 * whose root did not issue its issuer: istiod refuses to start and writes nothing, and the
 * operator's External-CA check refuses the same material first.
 *
 * istiod writes into every namespace and would answer for a control plane, so this file runs on
 * a cluster of its own (started here, whatever cluster the other tests use), where no other
 * istiod exists; what istiod writes is found in the audit log by its identity and deleted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { HttpMethod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import type { MeshInstallationSpec } from '../../operator/api/spec.ts';
import { ISTIO_GOLDEN_SPECS } from '../../operator/distributions/istio/testdata/golden-specs.ts';
import { createSelfSigned, issueCertificate } from '../../operator/pki/x509.ts';
import type { KubeClient} from '../../operator/runtime/kube.ts';
import { type KubeObject } from '../../operator/runtime/kube.ts';
import type { ClusterState } from '../cluster/local-cluster.ts';
import type { AuditEvent } from '../support/audit.ts';
import { removeInstallationAndWorkloads } from '../support/installation-removal.ts';
import { eventually, getIfExists } from '../support/kube.ts';
import { serviceAccountCredentials, type OperatorProcess } from '../support/operator-account.ts';
import { ensureIstioReferee } from './istio-referee.ts';
import { startOwnCluster, type OwnCluster } from './own-cluster.ts';
import { makeCsr, requestCertificate, startIstiod, verifyChainToRoot, type Deployment, type IstiodProcess } from './istiod-process.ts';

type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };
type Secret = KubeObject & { data: Record<string, string> };
type ConfigMap = KubeObject & { data?: Record<string, string> };

const referee = ensureIstioReferee();
const miType = { apiVersion: API_VERSION, kind: KIND };
const run = randomBytes(3).toString('hex');
const namespace = 'istio-system';
const decode = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
const b64 = (text: string) => Buffer.from(text).toString('base64');

let own: OwnCluster | undefined;
let cluster: ClusterState;
let kc: KubeConfig;
let admin: KubeClient;
let operator: OperatorProcess;
const running: IstiodProcess[] = [];

function audit(since: Date, filter: (e: AuditEvent) => boolean): AuditEvent[] {
  return readFileSync(cluster.auditLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => Date.parse(e.stageTimestamp) >= since.getTime() && filter(e));
}

/** Polls istiod's readiness endpoint; fails at once if it exits. */
async function waitReady(istiod: IstiodProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | string | undefined;
  void istiod.exited.then((code) => { exited = code; });
  for (;;) {
    if (exited !== undefined) throw new Error(`istiod exited (${exited}) before it was ready:\n${istiod.log().slice(-3000)}`);
    const status = await fetch(`http://127.0.0.1:${istiod.ports.http}/ready`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`istiod not ready after ${timeoutMs} ms:\n${istiod.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Enum fields of the mesh config at their proto3 zero value, which istiod's JSON leaves out (the
 * values are the first of each enum in istio.io/api's mesh/v1alpha1/config.proto).
 */
const PROTO_ENUM_ZERO: Readonly<Record<string, string>> = {
  '.outboundTrafficPolicy.mode': 'REGISTRY_ONLY',
  '.accessLogEncoding': 'TEXT',
  '.defaultConfig.interceptionMode': 'REDIRECT',
};

/**
 * Every leaf of `ours` (a parsed mesh config) holds the same value in `served`; returns the paths
 * that differ. Lists of named elements are matched by name, ours a subset: Istio merges its default
 * extension providers with the configured ones.
 */
function missingLeaves(ours: unknown, served: unknown, path = ''): string[] {
  const differs = () => [`${path || '.'}: ours ${JSON.stringify(ours)}, served ${JSON.stringify(served)}`];
  if (ours !== null && typeof ours === 'object' && !Array.isArray(ours)) {
    if (served === null || typeof served !== 'object') return differs();
    return Object.entries(ours).flatMap(([k, v]) => missingLeaves(v, (served as Record<string, unknown>)[k], `${path}.${k}`));
  }
  if (Array.isArray(ours)) {
    if (!Array.isArray(served)) return differs();
    if (ours.every((e) => e !== null && typeof e === 'object' && typeof (e as { name?: unknown }).name === 'string')) {
      return ours.flatMap((e) => {
        const name = (e as { name: string }).name;
        return missingLeaves(e, served.find((x) => (x as { name?: unknown } | null)?.name === name), `${path}[${name}]`);
      });
    }
    if (served.length !== ours.length) return differs();
    return ours.flatMap((v, i) => missingLeaves(v, served[i], `${path}[${i}]`));
  }
  if (served === undefined && PROTO_ENUM_ZERO[path] === ours) return [];
  // The served JSON writes 64-bit integers and durations as strings.
  return String(ours) === String(served) || (typeof ours === 'number' && Number(served) === ours) ? [] : differs();
}

/** Deletes every object istiod created (found in the audit log by its user) and returns what it wrote besides. */
async function cleanUpAfterIstiod(since: Date, username: string): Promise<{ created: string[]; otherWrites: string[] }> {
  const writes = audit(since, (e) => e.user?.username === username && ['create', 'update', 'patch', 'delete'].includes(e.verb) && (e.responseStatus?.code ?? 0) < 300);
  const creates = writes.filter((e) => e.verb === 'create' && e.objectRef?.name);
  const createdKeys = new Set(creates.map((e) => `${e.objectRef!.resource}/${e.objectRef!.namespace ?? ''}/${e.objectRef!.name}`));
  for (const e of creates) {
    const path = `${e.requestURI.split('?')[0]!.replace(/\/$/, '')}/${e.objectRef!.name}`;
    await admin.request(HttpMethod.DELETE, path).catch(() => undefined);
  }
  const otherWrites = writes.filter((e) => e.verb !== 'create' && !createdKeys.has(`${e.objectRef?.resource}/${e.objectRef?.namespace ?? ''}/${e.objectRef?.name}`))
    .map((e) => `${e.verb} ${e.requestURI}`);
  for (const e of creates) {
    const path = `${e.requestURI.split('?')[0]!.replace(/\/$/, '')}/${e.objectRef!.name}`;
    await eventually(`${path} deleted`, async () => admin.request(HttpMethod.GET, path).then(() => false, () => true), 30_000, 200);
  }
  return { created: [...createdKeys], otherWrites };
}

async function waitForInstallation(name: string): Promise<void> {
  await eventually(`${name} Ready`, async () => {
    const mi = await admin.get<Installation>(miType, name);
    const ready = mi.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation;
  }, 180_000, 250).catch(async (error) => {
    const mi = await admin.get<Installation>(miType, name);
    throw new Error(`${(error as Error).message}\nconditions: ${JSON.stringify(mi.status?.conditions)}\noperator log: ${operator.logFile}`);
  });
}

const removeInstallation = (name: string) => removeInstallationAndWorkloads(admin, name, namespace);

describe(`the real istiod (istio.io/istio ${referee.version}) on what the operator installs`, () => {
  before(async () => {
    own = await startOwnCluster(run, 'referee cluster');
    ({ cluster, kc, admin, operator } = own);
  });

  after(async () => {
    for (const istiod of running) await istiod.stop();
    await own?.stop();
  });

  for (const [i, [golden, partial]] of Object.entries(ISTIO_GOLDEN_SPECS).entries()) {
    test(`golden ${golden}: istiod runs on our install with our CA and mesh config, publishes our root and signs to it`, async (t) => {
      const spec = { mesh: 'istio', version: '1.31.1', namespace, ...partial } as MeshInstallationSpec;
      const name = `referee-${run}-${i}`;
      await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/e2e-referee': run } }, spec });
      t.after(() => removeInstallation(name));
      await waitForInstallation(name);

      const deployments = (await admin.list<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment' }, { namespace })).items
        .filter((d) => d.spec.template.spec.containers.some((c) => c.name === 'discovery'));
      assert.ok(deployments.length > 0, 'the install has an istiod Deployment');
      const cacerts = decode((await admin.get<Secret>({ apiVersion: 'v1', kind: 'Secret' }, 'cacerts', namespace)).data);
      const root = cacerts['root-cert.pem']!;
      const state = decode((await admin.get<Secret>({ apiVersion: 'v1', kind: 'Secret' }, 'meshwright-ca', namespace)).data);
      assert.equal(root.trim(), state['trust-anchors.crt']!.trim(), 'cacerts carries the root of our CA state');

      for (const deployment of deployments) {
        const serviceAccount = deployment.spec.template.spec.serviceAccountName ?? 'default';
        const account = await serviceAccountCredentials(admin, kc, namespace, serviceAccount);
        const username = `system:serviceaccount:${namespace}:${serviceAccount}`;
        const since = new Date();
        const istiod = await startIstiod(referee.pilotDiscovery, deployment, cacerts, account.file);
        running.push(istiod);
        try {
          await waitReady(istiod);
          const log = istiod.log();
          assert.match(log, /Use local CA certificate/, 'istiod loaded the plug-in CA');
          assert.match(log, /Use root cert from .*root-cert\.pem/);
          assert.doesNotMatch(log, /self-signed|Generating new CA|using self-signed/i, 'istiod made no CA of its own');

          // The mesh config istiod read holds every field of ours.
          const revision = istiod.env.REVISION ?? 'default';
          const meshConfigMap = await admin.get<ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap' }, revision === 'default' ? 'istio' : `istio-${revision}`, namespace);
          const ours = parse(meshConfigMap.data!.mesh!) as Record<string, unknown>;
          const served = await fetch(`http://127.0.0.1:${istiod.ports.http}/debug/mesh`).then((r) => r.json()) as Record<string, unknown>;
          assert.deepEqual(missingLeaves(ours, served), [], 'istiod serves our mesh config');
          assert.equal(served.trustDomain, spec.meshConfig?.trustDomain ?? 'cluster.local');

          // The root it publishes, in a namespace of a workload's.
          const workloadNs = `referee-${run}-${i}-${revision}`.slice(0, 63);
          await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: workloadNs } });
          t.after(() => admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, workloadNs).then(() => undefined, () => undefined));
          const published = await eventually('istiod to publish istio-ca-root-cert', async () =>
            (await getIfExists(admin, { apiVersion: 'v1', kind: 'ConfigMap' }, 'istio-ca-root-cert', workloadNs)) as ConfigMap | undefined, 30_000, 200);
          assert.equal(published.data?.['root-cert.pem'], root, 'the published root is ours, byte for byte');

          // A workload's certificate, asked for as istio-agent asks: a chain to our root, for its identity in our trust domain.
          await eventually('the default ServiceAccount', async () => getIfExists(admin, { apiVersion: 'v1', kind: 'ServiceAccount' }, 'default', workloadNs), 30_000, 200);
          const workload = await serviceAccountCredentials(admin, kc, workloadNs, 'default', ['istio-ca']);
          // istiod's serving certificate names its Service: istiod, or istiod-<revision> for a revision.
          const serverName = `${revision === 'default' ? 'istiod' : `istiod-${revision}`}.${namespace}.svc`;
          const chain = await requestCertificate(istiod.ports.secureGrpc, root, serverName, workload.token, makeCsr());
          assert.ok(chain.length >= 2, `a leaf and its issuers: ${chain.length} certificates`);
          verifyChainToRoot(chain, root);
          const { X509Certificate } = await import('node:crypto');
          assert.equal(new X509Certificate(chain[0]!).subjectAltName, `URI:spiffe://${spec.meshConfig?.trustDomain ?? 'cluster.local'}/ns/${workloadNs}/sa/default`);
          assert.equal(new X509Certificate(chain[1]!).fingerprint256, new X509Certificate(cacerts['ca-cert.pem']!).fingerprint256, 'signed by our intermediate');
        } finally {
          await istiod.stop();
          const { created, otherWrites } = await cleanUpAfterIstiod(since, username);
          assert.ok(created.some((k) => k.startsWith('configmaps/') && k.endsWith('/istio-ca-root-cert')), `istiod's writes are found by its identity: ${created.join(', ')}`);
          assert.deepEqual(otherWrites, [], 'istiod changed nothing it did not create');
        }
      }
    });
  }

  test('a cacerts whose root did not issue its issuer: istiod refuses to start and writes nothing, and the operator\'s External-CA check refuses it first', async (t) => {
    const now = Date.now();
    const validity = { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 365 * 24 * 3_600_000) };
    const rootA = await createSelfSigned({ subject: 'CN=Root CA, O=cluster.local', ...validity, keyAlgorithm: 'RSA2048', isCA: true });
    const rootB = await createSelfSigned({ subject: 'CN=Root CA, O=cluster.local', ...validity, keyAlgorithm: 'RSA2048', isCA: true });
    const issuer = await issueCertificate({ subject: 'CN=Intermediate CA, O=cluster.local', ...validity, keyAlgorithm: 'RSA2048', isCA: true, dnsNames: [`istiod.${namespace}.svc`] }, rootA);

    // The operator first: the same material as an External CA Secret (cert-manager's layout).
    const name = `referee-${run}-mismatch`;
    await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `referee-${run}-ca` } });
    await admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'mesh-ca', namespace: `referee-${run}-ca` }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(rootB.certificatePem), 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem) } });
    t.after(() => admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, `referee-${run}-ca`).then(() => undefined, () => undefined));
    await admin.create({
      apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/e2e-referee': run } },
      spec: { mesh: 'istio', version: '1.31.1', namespace, certificateAuthority: { type: 'External', secretRef: { name: 'mesh-ca', namespace: `referee-${run}-ca` } } },
    });
    t.after(() => removeInstallation(name));
    const refused = await eventually('the operator to refuse the External CA', async () => {
      const mi = await admin.get<Installation>(miType, name);
      const ca = mi.status?.conditions?.find((c) => c.type === 'CertificateAuthorityReady');
      return ca?.status === 'False' && ca.reason !== 'NotIssued' ? ca : undefined;
    }, 60_000, 250);
    assert.equal(refused.reason, 'ChainBroken', refused.message);
    assert.equal(await getIfExists(admin, { apiVersion: 'v1', kind: 'Secret' }, 'cacerts', namespace), undefined, 'no cacerts was written from it');

    // Then istiod, given that material as its plug-in CA, refuses it too.
    await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, { force: true, manager: 'meshwright-e2e' });
    await admin.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'istiod-referee', namespace } }, { force: true, manager: 'meshwright-e2e' });
    t.after(() => admin.delete({ apiVersion: 'v1', kind: 'ServiceAccount' }, 'istiod-referee', namespace).then(() => undefined, () => undefined));
    // Its own identity, so its writes are told apart in the audit log; every right, so only the CA can stop it.
    const binding = `istiod-referee-${run}`;
    await admin.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: binding }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'istiod-referee', namespace }] } as KubeObject, { force: true, manager: 'meshwright-e2e' });
    t.after(() => admin.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' }, binding).then(() => undefined, () => undefined));
    const account = await serviceAccountCredentials(admin, kc, namespace, 'istiod-referee');
    const deployment: Deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'istiod', namespace },
      spec: { template: { spec: { serviceAccountName: 'istiod-referee', containers: [{ name: 'discovery', args: ['discovery'], env: [{ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }], volumeMounts: [{ name: 'cacerts', mountPath: '/etc/cacerts' }] }], volumes: [{ name: 'cacerts', secret: { secretName: 'cacerts' } }] } } },
    };
    const files = { 'ca-cert.pem': issuer.certificatePem, 'ca-key.pem': issuer.privateKeyPem, 'cert-chain.pem': issuer.certificatePem + rootA.certificatePem };
    const since = new Date();
    const istiod = await startIstiod(referee.pilotDiscovery, deployment, { ...files, 'root-cert.pem': rootB.certificatePem }, account.file);
    running.push(istiod);
    const code = await Promise.race([istiod.exited, new Promise((r) => setTimeout(() => r('still running after 60 s'), 60_000))]);
    await istiod.stop();
    assert.notEqual(code, 0);
    assert.notEqual(code, 'still running after 60 s', istiod.log().slice(-2000));
    assert.match(istiod.log(), /cannot verify the cert with the provided root chain/);
    const writes = audit(since, (e) => e.user?.username === `system:serviceaccount:${namespace}:istiod-referee` && ['create', 'update', 'patch', 'delete'].includes(e.verb));
    assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), [], 'the refusing istiod wrote nothing');

    // Control: the same files with the root that did issue the issuer are accepted (so the refusal is the root's doing).
    const goodSince = new Date();
    const good = await startIstiod(referee.pilotDiscovery, deployment, { ...files, 'root-cert.pem': rootA.certificatePem }, account.file);
    running.push(good);
    try {
      await waitReady(good);
      assert.match(good.log(), /Use local CA certificate/);
    } finally {
      await good.stop();
      await cleanUpAfterIstiod(goodSince, `system:serviceaccount:${namespace}:istiod-referee`);
    }
  });
});
