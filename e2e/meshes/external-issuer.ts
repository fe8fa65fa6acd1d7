/**
 * Linkerd with the issuer managed outside the operator, on the real control plane, with the
 * operator running as its own ServiceAccount: the user's Secret is never labelled, owned, changed
 * or deleted. cert-manager writing `linkerd-identity-issuer` in the `linkerd` namespace itself
 * (Linkerd's own documented set-up) is the layout identity reads, so the operator reads it in place
 * and writes nothing over it, and deleting the installation leaves it there. And Linkerd's key
 * algorithm holds whatever the spec leaves unset: an RSA issuer is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { INSTALLATION_LABEL } from '../../operator/controllers/ownership.ts';
import { createSelfSigned, issueCertificate } from '../../operator/pki/x509.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { assertNoKeyMaterial } from '../support/key-material.ts';
import { removeInstallationAndWorkloads } from '../support/installation-removal.ts';
import { eventually, getIfExists, testKubeConfig } from '../support/kube.ts';
import { startOperatorWithOwnAccount, type OperatorProcess } from '../support/operator-account.ts';
import { exampleSpec } from './no-op.ts';

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[]; inventory?: Array<{ kind: string; namespace?: string; name: string }> } };
type Secret = KubeObject & { data: Record<string, string> };

const miType = { apiVersion: API_VERSION, kind: KIND };
const secretType = { apiVersion: 'v1', kind: 'Secret' };
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A cert-manager-style issuer Secret (ca.crt, tls.crt, tls.key) for Linkerd in `namespace`, with keys of `algorithm`. */
export async function linkerdIssuerSecret(namespace: string, name: string, algorithm: 'ECDSAP256' | 'RSA2048'): Promise<{ secret: KubeObject; keys: string[] }> {
  const now = Date.now();
  const root = await createSelfSigned({ subject: `CN=root.${namespace}.cluster.local`, notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 365 * 24 * 3_600_000), keyAlgorithm: algorithm, isCA: true });
  const issuer = await issueCertificate({ subject: 'CN=identity.linkerd.cluster.local', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 90 * 24 * 3_600_000), keyAlgorithm: algorithm, isCA: true, pathLength: 0, dnsNames: ['identity.linkerd.cluster.local'] }, root);
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(root.certificatePem), 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem) } } as KubeObject;
  return { secret, keys: [root.privateKeyPem, issuer.privateKeyPem] };
}

/** Registers the scenarios; Linkerd's cluster-scoped objects allow one installation at a time, so they run in the Linkerd file, after its others. */
export function describeExternalIssuerScenarios(): void {
  const run = randomBytes(3).toString('hex');
  const kc = testKubeConfig();
  const admin = new KubeClient(kc, 'meshwright-e2e-admin');
  const selector = `meshwright.dev/e2e-issuer=${run}`;
  const knownKeys: string[] = [];
  const installations: string[] = [];
  let operator: OperatorProcess;
  let operatorUser = '';
  let cleanupAccount: () => Promise<void> = async () => undefined;

  /** Deletes an installation and waits until it and its workloads are gone (the next Linkerd scenario renders the same objects). */
  const remove = (name: string, namespace: string) => removeInstallationAndWorkloads(admin, name, namespace);

  describe('Linkerd with an issuer Secret the user keeps', () => {
    before(async () => {
      ({ operator, username: operatorUser, cleanup: cleanupAccount } = await startOperatorWithOwnAccount(admin, kc, run, () => [
        `--installation-selector=${selector}`, '--leader-elect=false', '--metrics-address=127.0.0.1:0', '--log-level=info',
      ]));
    });

    after(async () => {
      await operator?.stop();
      for (const name of installations) {
        await admin.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
        await admin.delete(miType, name).catch(() => undefined);
      }
      await admin.delete(secretType, 'linkerd-identity-issuer', 'linkerd').catch(() => undefined);
      await cleanupAccount();
      await admin.close();
    });

    test('cert-manager\'s linkerd/linkerd-identity-issuer is read in place: Ready, never written, labelled or inventoried, and it survives deletion', async () => {
      const name = `issuer-${run}`;
      installations.push(name);
      await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'linkerd' } }, { force: true, manager: 'meshwright-e2e' });
      const { secret, keys } = await linkerdIssuerSecret('linkerd', 'linkerd-identity-issuer', 'ECDSAP256');
      knownKeys.push(...keys);
      const user = await admin.create<Secret>(secret);
      const since = new Date();
      await admin.create({
        apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/e2e-issuer': run } },
        spec: { mesh: 'linkerd', version: 'edge-26.8.3', namespace: 'linkerd', certificateAuthority: { type: 'External', secretRef: { name: 'linkerd-identity-issuer', namespace: 'linkerd' } } },
      });
      const mi = await eventually(`${name} Ready`, async () => {
        const current = await admin.get<Installation>(miType, name);
        const ready = current.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'True' && current.status?.observedGeneration === current.metadata.generation ? current : undefined;
      }, 180_000, 250).catch(async (error) => {
        throw new Error(`${(error as Error).message}\nconditions: ${JSON.stringify((await admin.get<Installation>(miType, name)).status?.conditions)}\noperator log: ${operator.logFile}`);
      });

      const live = await admin.get<Secret>(secretType, 'linkerd-identity-issuer', 'linkerd');
      assert.equal(live.metadata.resourceVersion, user.metadata.resourceVersion, 'the user\'s Secret is unchanged');
      assert.equal(live.metadata.labels?.[INSTALLATION_LABEL], undefined, 'and not labelled as ours');
      assert.ok(!mi.status?.inventory?.some((r) => r.kind === 'Secret' && r.name === 'linkerd-identity-issuer'), 'and not in the inventory');
      const writes = auditEvents(since, (e) => e.user?.username === operatorUser && writeVerbs.has(e.verb) && e.objectRef?.resource === 'secrets' && e.objectRef.name === 'linkerd-identity-issuer');
      assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), [], 'the operator sent no write to it');
      const roots = await admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap' }, 'linkerd-identity-trust-roots', 'linkerd');
      assert.equal(roots.data['ca-bundle.crt'], Buffer.from(user.data['ca.crt']!, 'base64').toString('utf8').trim(), 'the trust roots the proxies mount come from its ca.crt');

      await remove(name, 'linkerd');
      const survivor = await getIfExists<Secret>(admin, secretType, 'linkerd-identity-issuer', 'linkerd');
      assert.equal(survivor?.metadata.uid, user.metadata.uid, 'the user\'s Secret survives the installation\'s deletion');
      assert.equal(survivor?.metadata.resourceVersion, user.metadata.resourceVersion);
      await admin.delete(secretType, 'linkerd-identity-issuer', 'linkerd');
    });

    test('examples/external-ca.yaml with an RSA issuer is refused for Linkerd (ECDSA P-256 only) though the spec leaves keyAlgorithm unset: Stalled, nothing applied', async () => {
      const name = `rsa-${run}`;
      installations.push(name);
      const spec = exampleSpec('external-ca.yaml');
      const ref = spec.certificateAuthority!.secretRef!;
      assert.equal(spec.certificateAuthority!.keyAlgorithm, undefined, 'the example leaves the algorithm to the mesh');
      await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ref.namespace } }, { force: true, manager: 'meshwright-e2e' });
      const { secret, keys } = await linkerdIssuerSecret(ref.namespace, ref.name, 'RSA2048');
      knownKeys.push(...keys);
      await admin.apply(secret, { force: true, manager: 'meshwright-e2e' });
      const since = new Date();
      await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/e2e-issuer': run } }, spec });
      const stalled = await eventually('Stalled KeyAlgorithmMismatch', async () => {
        const mi = await admin.get<Installation>(miType, name);
        const condition = mi.status?.conditions?.find((c) => c.type === 'Stalled');
        return condition?.status === 'True' && condition.reason === 'KeyAlgorithmMismatch' ? { mi, condition } : undefined;
      }, 30_000, 100).catch(async (error) => {
        throw new Error(`${(error as Error).message}\nconditions: ${JSON.stringify((await admin.get<Installation>(miType, name)).status?.conditions)}`);
      });
      assert.match(stalled.condition.message, /the issuer key is RSA2048, but mesh linkerd accepts only ECDSAP256/);
      assert.equal(stalled.mi.status?.conditions?.find((c) => c.type === 'CertificateAuthorityReady')?.reason, 'KeyAlgorithmMismatch');
      assert.equal(stalled.mi.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
      const writes = auditEvents(since, (e) => e.user?.username === operatorUser && writeVerbs.has(e.verb) && e.objectRef?.namespace === 'linkerd');
      assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), [], 'nothing of the mesh was applied');
      await remove(name, 'linkerd');
      await admin.delete(secretType, ref.name, ref.namespace);
    });

    test('no private key reached status, Events or the operator log', async () => {
      await assertNoKeyMaterial({ client: admin, installations, log: readFileSync(operator.logFile, 'utf8'), knownKeys });
    });
  });
}
