/**
 * The real istiod through a root rotation (issue #17, point 7): Istio's own `pilot-discovery`,
 * built from its module (e2e/referee/), runs as the operator's rendered istiod Deployment would,
 * with ISTIO_MULTIROOT_MESH on — the setting under which upstream takes a changed root at all.
 * The operator rotates the root; every version of `cacerts` it writes (recorded by a watch) is then
 * handed to the running istiod in turn, as the kubelet would refresh its mounted Secret. At each:
 * istiod takes it (its own log, never "not supported" or a failure), the root it publishes to a
 * workload namespace (`istio-ca-root-cert`) is that version's root-cert.pem, and a CSR sent as
 * istio-agent sends one comes back signed by that version's issuer, chaining to a root it publishes.
 *
 * istiod writes into every namespace, so this file runs on a cluster of its own, as the referee's does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { splitCertificates } from '../../operator/pki/x509.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import type { KubeClient, KubeObject } from '../../operator/runtime/kube.ts';
import { startOwnCluster, type OwnCluster } from '../referee/own-cluster.ts';
import { ensureIstioReferee } from '../referee/istio-referee.ts';
import { makeCsr, requestCertificate, startIstiod, type Deployment, type IstiodProcess } from '../referee/istiod-process.ts';
import { removeInstallationAndWorkloads } from '../support/installation-removal.ts';
import { eventually, getIfExists } from '../support/kube.ts';
import { serviceAccountCredentials } from '../support/operator-account.ts';

type Secret = KubeObject & { data: Record<string, string> };
type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }>; certificateAuthority?: { rotation?: { phase: string; lastTrigger?: string; completedAt?: string } } } };

const referee = ensureIstioReferee();
const miType = { apiVersion: API_VERSION, kind: KIND };
const run = randomBytes(3).toString('hex');
const namespace = 'istio-system';
const name = `rotation-referee-${run}`;
const workloadNs = `rotation-referee-app-${run}`;
const decode = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));

let own: OwnCluster | undefined;
let kc: KubeConfig;
let admin: KubeClient;
let istiod: IstiodProcess | undefined;

before(async () => {
  own = await startOwnCluster(run, 'rotation referee cluster');
  ({ kc, admin } = own);
});

after(async () => {
  await istiod?.stop();
  if (own) await removeInstallationAndWorkloads(admin, name, namespace).catch(() => undefined);
  await own?.stop();
});

/**
 * Whether the leaf of `chain` (istiod's answer: leaf, cert-chain.pem, root-cert.pem — an element
 * may hold several certificates) is signed, through the chain's certificates, by a root of `bundle`.
 */
function chainsToBundle(chain: string[], bundle: string): boolean {
  const certs = chain.flatMap((element) => splitCertificates(element)).map((pem) => new X509Certificate(pem));
  const roots = splitCertificates(bundle).map((pem) => new X509Certificate(pem));
  const signs = (issuer: X509Certificate, subject: X509Certificate) => subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  let current = certs[0];
  for (let hops = 0; current && hops < certs.length; hops++) {
    if (roots.some((root) => root.fingerprint256 === current!.fingerprint256 || signs(root, current!))) return true;
    const subject: X509Certificate = current;
    current = certs.find((c) => c.fingerprint256 !== subject.fingerprint256 && signs(c, subject));
  }
  return false;
}

const count = (text: string, pattern: RegExp) => (text.match(new RegExp(pattern.source, 'g')) ?? []).length;

test('istiod (ISTIO_MULTIROOT_MESH) takes every cacerts of a rotation in place: publishes each bundle and signs with each issuer', async (t) => {
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: workloadNs } });
  await admin.create({
    apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/e2e-referee': run } },
    spec: { mesh: 'istio', version: '1.31.1', namespace, certificateAuthority: { rootRotation: { automatic: false, trigger: '1' } } },
  });
  await eventually(`${name} Ready`, async () => {
    const mi = await admin.get<Installation>(miType, name);
    return mi.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && mi.status.observedGeneration === mi.metadata.generation;
  }, 180_000, 250);

  // Every version of cacerts the operator writes from here on, in order.
  const versions: Array<Record<string, string>> = [decode((await admin.get<Secret>({ apiVersion: 'v1', kind: 'Secret' }, 'cacerts', namespace)).data)];
  const watch = new Informer({ client: admin, type: { apiVersion: 'v1', kind: 'Secret' }, namespace, fieldSelector: 'metadata.name=cacerts' });
  watch.on((_type, object) => {
    const files = decode((object as Secret).data ?? {});
    if (files['root-cert.pem'] !== versions.at(-1)!['root-cert.pem'] || files['ca-cert.pem'] !== versions.at(-1)!['ca-cert.pem']) versions.push(files);
  });
  await watch.start();

  // istiod as the rendered Deployment runs it, multi-root on: the upstream setting for a root change in place.
  const deployment = await admin.get<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'istiod', namespace);
  const container = deployment.spec.template.spec.containers.find((c) => c.name === 'discovery')!;
  container.env = [...(container.env ?? []), { name: 'ISTIO_MULTIROOT_MESH', value: 'true' }];
  const account = await serviceAccountCredentials(admin, kc, namespace, deployment.spec.template.spec.serviceAccountName ?? 'default');
  istiod = await startIstiod(referee.pilotDiscovery, deployment, versions[0]!, account.file);
  await eventually('istiod ready', async () => (await fetch(`http://127.0.0.1:${istiod!.ports.http}/ready`).then((r) => r.status, () => 0)) === 200, 90_000, 250)
    .catch((error: Error) => { throw new Error(`${error.message}\n${istiod!.log().slice(-3000)}`); });
  await eventually('the default ServiceAccount', async () => getIfExists(admin, { apiVersion: 'v1', kind: 'ServiceAccount' }, 'default', workloadNs), 30_000, 200);
  const workload = await serviceAccountCredentials(admin, kc, workloadNs, 'default', ['istio-ca']);

  /** What istiod does with `files`: publishes its root-cert.pem, signs with its ca-cert.pem. */
  const assertServes = async (files: Record<string, string>, what: string) => {
    const published = await eventually(`${what}: istio-ca-root-cert follows`, async () => {
      const configMap = await getIfExists<KubeObject & { data?: Record<string, string> }>(admin, { apiVersion: 'v1', kind: 'ConfigMap' }, 'istio-ca-root-cert', workloadNs);
      return configMap?.data?.['root-cert.pem'] === files['root-cert.pem'] ? configMap : undefined;
    }, 30_000, 200).catch((error: Error) => { throw new Error(`${error.message}\n${istiod!.log().slice(-3000)}`); });
    assert.ok(published);
    const chain = await requestCertificate(istiod!.ports.secureGrpc, files['root-cert.pem']!, `istiod.${namespace}.svc`, workload.token, makeCsr());
    assert.equal(new X509Certificate(chain[1]!).fingerprint256, new X509Certificate(files['ca-cert.pem']!).fingerprint256, `${what}: signed by this cacerts' issuer`);
    assert.ok(chainsToBundle(chain, files['root-cert.pem']!), `${what}: the workload certificate chains to a root istiod publishes`);
  };
  await assertServes(versions[0]!, 'before the rotation');

  await admin.patch(miType, name, undefined, { spec: { certificateAuthority: { rootRotation: { trigger: '2' } } } }, 'merge');
  await eventually('the rotation completed', async () => {
    const rotation = (await admin.get<Installation>(miType, name)).status?.certificateAuthority?.rotation;
    return rotation?.phase === 'Idle' && rotation.lastTrigger === '2' && rotation.completedAt !== undefined;
  }, 120_000, 200);
  await watch.stop();
  t.diagnostic(`${versions.length} versions of cacerts: root-cert.pem with ${versions.map((v) => splitCertificates(v['root-cert.pem']!).length).join(', ')} certificates`);
  assert.deepEqual(versions.map((v) => splitCertificates(v['root-cert.pem']!).length), [1, 2, 3, 1], 'old, old+new, old+new+new (issuer switched), new');

  // Each version handed to the running istiod as the kubelet refreshes a mounted Secret.
  const caDir = join(istiod.root, container.volumeMounts!.find((m) => m.name === deployment.spec.template.spec.volumes!.find((v) => v.secret?.secretName === 'cacerts')!.name)!.mountPath);
  const taken = /Istiod has detected the newly added intermediate CA and updated its key and certs accordingly/;
  for (const [i, files] of versions.entries()) {
    if (i === 0) continue;
    const before = count(istiod.log(), taken);
    for (const [file, pem] of Object.entries(files)) writeFileSync(join(caDir, file), pem, { mode: 0o600 });
    await eventually(`istiod took cacerts version ${i}`, async () => count(istiod!.log(), taken) > before, 30_000, 100)
      .catch((error: Error) => { throw new Error(`${error.message}\n${istiod!.log().slice(-3000)}`); });
    assert.doesNotMatch(istiod.log(), /updating new ROOT-CA not supported|Failed to update new Plug-in CA certs/i, `version ${i}: istiod refused nothing`);
    await assertServes(files, `cacerts version ${i}`);
  }
});
