/**
 * One end-to-end scenario for every mesh example: the operator runs as a process authenticated as
 * its own ServiceAccount (so the generated least-privilege RBAC is exercised), an example from
 * `examples/` is applied, and the test checks install, Ready (also through `kubectl wait`), status,
 * drift repair and deletion against what `meshwright render` says the operator applies; then that
 * no private key of the mesh's CA reached status, Events or the operator's log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { withSpecDefaults } from '../../operator/api/defaults.ts';
import { API_VERSION, KIND, type DefaultedMeshInstallation } from '../../operator/api/meshinstallation.ts';
import { renderOffline } from '../../operator/cli/render.ts';
import { CA_STATE_SECRET } from '../../operator/controllers/certificate-authority.ts';
import { FINALIZER, INSTALLATION_LABEL, KEEP_ANNOTATION } from '../../operator/controllers/meshinstallation/index.ts';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { describeCertificate } from '../../operator/pki/x509.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { ensureToolchain } from '../cluster/local-cluster.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { assertNoKeyMaterial, privateKeysIn } from '../support/key-material.ts';
import { eventually, getIfExists, testKubeConfig } from '../support/kube.ts';
import { startOperatorWithOwnAccount, type OperatorProcess } from '../support/operator-account.ts';

type Installation = KubeObject & {
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    components?: Array<{ name: string; kind: string; ready: boolean }>;
    inventory?: Array<{ apiVersion: string; kind: string; namespace?: string; name: string }>;
    certificateAuthority?: { rootFingerprint?: string; rootNotAfter?: string; intermediateNotAfter?: string };
    version?: string;
  };
};

/** What a mesh example test needs to know beyond the example itself. */
export interface MeshExample {
  /** Path below examples/. */
  file: string;
  /** A Deployment and a Service of the control plane, for the drift checks. */
  drift: { deployment: string; service: string };
}

const miType = { apiVersion: API_VERSION, kind: KIND };
const execFileAsync = promisify(execFile);

/** Registers the describe block for one example. */
export function describeMeshExample(example: MeshExample): void {
  const run = randomBytes(3).toString('hex');
  const kc = testKubeConfig();
  const admin = new KubeClient(kc, 'meshwright-e2e-admin');
  const manifest = parse(readFileSync(join(import.meta.dirname, '..', '..', 'examples', example.file), 'utf8')) as Installation;
  const name = manifest.metadata.name;
  const namespace = manifest.spec.namespace as string;
  const selector = `meshwright.dev/e2e-example=${run}`;
  const installation = { ...manifest, spec: withSpecDefaults(manifest.spec as never) } as DefaultedMeshInstallation;
  const expected = renderOffline(installation, builtInDistributions);
  let operator: OperatorProcess;
  let operatorUser = '';
  let cleanupAccount: () => Promise<void> = async () => undefined;
  /** The private keys of the mesh's CA, looked for in status, Events and the log after deletion. */
  const knownKeys: string[] = [];

  const get = () => admin.get<Installation>(miType, name);
  const exists = (ref: { apiVersion: string; kind: string; namespace?: string; name: string }) => getIfExists(admin, ref, ref.name, ref.namespace);

  before(async () => {
    ({ operator, username: operatorUser, cleanup: cleanupAccount } = await startOperatorWithOwnAccount(admin, kc, run, (account) => [
      `--installation-selector=${selector}`, '--leader-elect=true', `--leader-election-namespace=${account.namespace}`, `--identity=e2e-${run}`, '--metrics-address=127.0.0.1:0', '--log-level=info',
    ]));
  });

  after(async () => {
    await operator?.stop();
    await admin.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
    await admin.delete(miType, name).catch(() => undefined);
    await admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(() => undefined);
    await cleanupAccount();
    await admin.close();
  });

  describe(`${example.file}: ${manifest.spec.mesh} ${manifest.spec.version} end to end`, () => {
    test('install: every object `meshwright render` prints is applied, the CA exists, components become available, Ready=True', async () => {
      await admin.apply({ ...manifest, metadata: { ...manifest.metadata, labels: { ...manifest.metadata.labels, 'meshwright.dev/e2e-example': run } } }, { force: true, manager: 'kubectl' });
      const mi = await eventually(`${name} Ready`, async () => {
        const current = await get();
        const ready = current.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'True' && current.status?.observedGeneration === current.metadata.generation ? current : undefined;
      }, 180_000, 500).catch(async (error) => {
        throw new Error(`${(error as Error).message}\nstatus: ${JSON.stringify((await get()).status?.conditions)}\noperator log: ${operator.logFile}\n${readFileSync(operator.logFile, 'utf8').split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-5).join('\n')}`);
      });
      assert.ok(mi.metadata.finalizers?.includes(FINALIZER));
      for (const object of expected) {
        const live = await exists({ apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name });
        assert.ok(live, `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name} exists`);
        assert.equal(live.metadata.labels?.[INSTALLATION_LABEL], name);
      }
      const inventory = new Set(mi.status?.inventory?.map((r) => `${r.kind}/${r.namespace ?? ''}/${r.name}`));
      for (const object of expected) assert.ok(inventory.has(`${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`), `inventory lists ${object.kind} ${object.metadata.name}`);
      assert.ok(inventory.has(`Secret/${namespace}/${CA_STATE_SECRET}`), 'the CA state is inventoried');
      const deployments = expected.filter((o) => o.kind === 'Deployment');
      assert.deepEqual(mi.status?.components?.filter((c) => c.kind === 'Deployment').map((c) => c.name).sort(), deployments.map((d) => d.metadata.name).sort());
      assert.ok(mi.status?.components?.every((c) => c.ready));
      assert.equal(mi.status?.version, manifest.spec.version);
      knownKeys.push(...await privateKeysIn(admin, (mi.status?.inventory ?? []).filter((r) => r.kind === 'Secret').map((r) => ({ namespace: r.namespace!, name: r.name }))));
      assert.ok(knownKeys.length > 0, 'the mesh\'s CA keys are known, to look for them later');
    });

    test('`kubectl wait --for=condition=Ready` returns', async () => {
      const kubectl = join(ensureToolchain(), 'kubectl');
      const { stdout } = await execFileAsync(kubectl, ['wait', '--for=condition=Ready', `meshinstallation/${name}`, '--timeout=60s'], { env: { ...process.env, KUBECONFIG: process.env.KUBECONFIG } });
      assert.match(stdout, new RegExp(`meshinstallation.meshwright.dev/${name} condition met`));
    });

    test('a pass that changes nothing sends no write (audit log), apart from leader-lease renewals', async () => {
      const since = new Date();
      const before = await operator.reconciles();
      // A metadata-only change enqueues a pass without changing anything the operator renders.
      await admin.patch(miType, name, undefined, { metadata: { annotations: { 'meshwright.dev/e2e-nudge': String(Date.now()) } } }, 'merge');
      await eventually('the pass the nudge triggers to end', async () => (await operator.reconciles()) > before, 15_000, 50);
      // The audit log is written before each response (blocking mode): that pass's requests are all in it.
      const writes = auditEvents(since, (e) => e.user?.username === operatorUser && writeVerbs.has(e.verb) && e.objectRef?.resource !== 'leases');
      assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), []);
      // Object reads, that is: an informer whose kind is not served yet (another mesh's CRD) may still list.
      const reads = auditEvents(since, (e) => e.user?.username === operatorUser && e.verb === 'get' && e.objectRef?.name !== undefined && e.objectRef.resource !== 'leases');
      assert.deepEqual(reads.map((e) => `${e.verb} ${e.requestURI}`), [], 'the pass reads from its caches');
    });

    test('status shows the CA fingerprint and expiry of the root the mesh trusts, and no key material', async () => {
      const mi = await get();
      const state = await admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret' }, CA_STATE_SECRET, namespace);
      const root = await describeCertificate(Buffer.from(state.data['trust-anchors.crt']!, 'base64').toString('utf8'));
      assert.equal(mi.status?.certificateAuthority?.rootFingerprint, root.sha256Fingerprint);
      assert.equal(mi.status?.certificateAuthority?.rootNotAfter, root.notAfter.toISOString().replace('.000Z', 'Z'));
      assert.ok(mi.status?.certificateAuthority?.intermediateNotAfter);
      assert.doesNotMatch(JSON.stringify(mi.status), /PRIVATE KEY|BEGIN CERTIFICATE/);
    });

    test('drift: an edited Deployment and a deleted Service are repaired from the watch events', async () => {
      const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
      const original = await admin.get<KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(deploymentType, example.drift.deployment, namespace);
      const image = original.spec.template.spec.containers[0]!.image;
      await admin.patch(deploymentType, example.drift.deployment, namespace, [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'evil.example/mesh:6.6.6' }], 'json');
      await eventually('the image to be restored', async () => (await admin.get<typeof original>(deploymentType, example.drift.deployment, namespace)).spec.template.spec.containers[0]!.image === image, 15_000, 50);
      const service = await admin.get({ apiVersion: 'v1', kind: 'Service' }, example.drift.service, namespace);
      await admin.delete({ apiVersion: 'v1', kind: 'Service' }, example.drift.service, namespace);
      await eventually('the Service to come back', async () => {
        const again = await exists({ apiVersion: 'v1', kind: 'Service', namespace, name: example.drift.service });
        return again && again.metadata.uid !== service.metadata.uid;
      }, 15_000, 50);
    });

    test('deletion: everything owned goes, webhooks first; CRDs and the namespace marked keep-on-delete stay', async () => {
      const inventory = (await get()).status?.inventory ?? [];
      const kept = expected.filter((o) => o.metadata.annotations?.[KEEP_ANNOTATION] === 'true');
      assert.ok(kept.some((o) => o.kind === 'CustomResourceDefinition'), 'the mesh CRDs are kept');
      const since = new Date();
      await admin.delete(miType, name);
      await eventually('the installation to be gone', async () => !(await exists({ ...miType, name })), 120_000, 500);
      // Order as the API server saw it: no pod creation may be blocked by a webhook whose server is going away.
      const deletes = auditEvents(since, (e) => e.user?.username === operatorUser && e.verb === 'delete').map((e) => e.objectRef?.resource ?? '');
      const webhooks = deletes.filter((resource) => resource.endsWith('webhookconfigurations'));
      assert.ok(webhooks.length > 0, 'the mesh has webhooks to delete');
      assert.deepEqual(deletes.slice(0, webhooks.length), webhooks, `webhooks first: ${deletes.join(', ')}`);
      const keptKeys = new Set(kept.map((o) => `${o.kind}/${o.metadata.name}`));
      for (const ref of inventory) {
        const live = await exists(ref);
        if (keptKeys.has(`${ref.kind}/${ref.name}`)) assert.ok(live, `${ref.kind} ${ref.name} is kept`);
        else assert.ok(!live || live.metadata.deletionTimestamp, `${ref.kind} ${ref.namespace ?? ''}/${ref.name} is deleted`);
      }
    });

    test('no private key of the mesh\'s CA reached status, Events or the operator log', async () => {
      await assertNoKeyMaterial({ client: admin, installations: [name], log: readFileSync(operator.logFile, 'utf8'), knownKeys });
    });
  });
}
