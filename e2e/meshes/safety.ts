/**
 * Installations never destroy each other and the operator never takes what is not its own, on the
 * real control plane with the real meshes (issue 12, points 1, 7 and 8). Registered by each mesh's
 * test file after its other scenarios, because installations of one mesh share cluster-scoped
 * objects and must not run concurrently with that mesh's other tests:
 * - a second installation whose objects another one owns stalls with ConflictingInstallation and
 *   writes nothing — no apply war — and deleting it removes nothing of the first;
 * - objects several installations share (mesh CRDs, Istio's default-revision validator) go only
 *   with their last owner, pass to the next owner, and deletion never hangs;
 * - while a spec cannot be served, the last served one keeps being enforced, also after a restart;
 * - a user's copy of an owned object, labels and all, is never pruned nor deleted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { INSTALLATION_LABEL } from '../../operator/controllers/meshinstallation/index.ts';
import { ownersOf } from '../../operator/controllers/ownership.ts';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { Operator } from '../../operator/operator.ts';
import type { ReconcileError } from '../../operator/runtime/errors.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { eventually, getIfExists, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { exampleSpec } from './no-op.ts';

const kc = testKubeConfig();
const run = randomBytes(3).toString('hex');
const admin = new KubeClient(kc, 'meshwright-e2e-admin');
/** This file's operator has its own user agent: the audit log tells its requests from other tests' operators. */
const operatorAgent = 'meshwright-e2e-safety-operator';
const operatorClient = new KubeClient(kc, operatorAgent);
const miType = { apiVersion: API_VERSION, kind: KIND };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const validatorType = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' };
const clusterRoleType = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' };
const ns = { istio: `safe-istio-${run}`, istio2: `safe-istio2-${run}`, linkerd: `safe-l5d-${run}`, linkerd2: `safe-l5d2-${run}`, user: `safe-user-${run}` };
const names = { first: `first-${run}`, newcomer: `newcomer-${run}`, second: `second-${run}`, l5d: `l5d-${run}`, l5d2: `l5d2-${run}` };

type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[]; components?: Array<{ name: string; ready: boolean }> } };

let operator: Operator;
const passes: Array<{ name: string; failure?: ReconcileError }> = [];
const passesOf = (name: string) => passes.filter((p) => p.name === name).length;

function startOperator(): Promise<void> {
  operator = new Operator({
    client: operatorClient, distributions: builtInDistributions, log: pino({ level: 'silent' }), installationSelector: `meshwright.dev/test-run=${run}`,
    hooks: { onPassCompleted: (name, failure) => void passes.push({ name, failure }) },
  });
  return operator.start();
}

async function create(name: string, spec: Record<string, unknown>): Promise<void> {
  await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec });
}

const get = (name: string) => admin.get<Installation>(miType, name);
const condition = (mi: Installation, type: string) => mi.status?.conditions?.find((c) => c.type === type);

async function until(name: string, type: string, status: string, reason?: string, timeoutMs = 90_000): Promise<Installation> {
  return eventually(`${name} ${type}=${status}${reason ? ` ${reason}` : ''}`, async () => {
    const mi = await get(name);
    const found = condition(mi, type);
    return found?.status === status && (!reason || found.reason === reason) && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
  }, timeoutMs, 200);
}

async function deleted(name: string): Promise<void> {
  await admin.delete(miType, name).catch(() => undefined);
  await eventually(`${name} to be deleted`, async () => !(await getIfExists(admin, miType, name)), 120_000, 200);
}

/** Waits for `count` more passes of `name` to end. */
async function morePasses(name: string, count: number): Promise<void> {
  const target = passesOf(name) + count;
  await eventually(`${count} more passes of ${name}`, async () => passesOf(name) >= target, 30_000, 50);
}

/** Registers the safety scenarios of `mesh`, with an operator of their own. */
export function describeSafety(mesh: 'istio' | 'linkerd'): void {
  describe(`${mesh}: installations are safe from each other`, () => {
  before(async () => {
    await installMeshInstallationCrd(admin);
    await startOperator();
  });

  after(async () => {
    await operator.stop();
    for (const name of Object.values(names)) {
      await admin.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
      await admin.delete(miType, name).catch(() => undefined);
    }
    for (const namespace of Object.values(ns)) await admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(() => undefined);
    await operatorClient.close();
    await admin.close();
  });

    if (mesh === 'linkerd') {
      describe('installations never destroy each other', () => {
      test('a second Linkerd in another namespace stalls on the cluster-wide objects the first owns; deleting it leaves them', async () => {
        await create(names.l5d, { ...exampleSpec('linkerd-minimal.yaml'), namespace: ns.linkerd });
        await until(names.l5d, 'Ready', 'True');
        await create(names.l5d2, { ...exampleSpec('linkerd-minimal.yaml'), namespace: ns.linkerd2 });
        const stalled = await until(names.l5d2, 'Stalled', 'True', 'ConflictingInstallation', 30_000);
        assert.match(condition(stalled, 'Stalled')!.message, /ClusterRole linkerd-policy|ValidatingWebhookConfiguration linkerd-/);
        assert.match(condition(stalled, 'Stalled')!.message, new RegExp(`installation "${names.l5d}"`));
        await deleted(names.l5d2);
        assert.equal((await admin.get(clusterRoleType, 'linkerd-policy')).metadata.labels?.[INSTALLATION_LABEL], names.l5d);
        for (const webhook of ['linkerd-sp-validator-webhook-config', 'linkerd-policy-validator-webhook-config']) assert.ok(await getIfExists(admin, validatorType, webhook), webhook);
        assert.equal(await getIfExists(admin, { apiVersion: 'v1', kind: 'Namespace' }, ns.linkerd2).then((n) => n?.metadata.labels?.[INSTALLATION_LABEL]), undefined, 'nothing was created for it');
        await until(names.l5d, 'Ready', 'True');
        await deleted(names.l5d);
      });
      });
      return;
    }
    describe('installations never destroy each other', () => {
      test('same control-plane namespace: the newcomer stalls naming the owner and writes nothing (no apply war); deleting it removes nothing of the first', async () => {
        await create(names.first, { ...exampleSpec('istio-minimal.yaml'), namespace: ns.istio });
        await until(names.first, 'Ready', 'True');
        const istiod = await admin.get(deploymentType, 'istiod', ns.istio);
        const since = new Date();

        await create(names.newcomer, { ...exampleSpec('istio-ha-gateways.yaml'), namespace: ns.istio, gateways: undefined, overlays: undefined });
        const stalled = await until(names.newcomer, 'Stalled', 'True', 'ConflictingInstallation', 30_000);
        assert.match(condition(stalled, 'Stalled')!.message, new RegExp(`belong to installation "${names.first}".*Nothing was written`));
        assert.match(condition(stalled, 'Stalled')!.message, /CustomResourceDefinition|Deployment|ServiceAccount|Namespace/);
        assert.equal(stalled.metadata.finalizers?.length ?? 0, 0, 'not even a finalizer');
        await morePasses(names.newcomer, 2); // retried, still writing nothing

        const writes = auditEvents(since, (e) => e.userAgent === operatorAgent && writeVerbs.has(e.verb) && !(e.objectRef?.resource === 'meshinstallations' && e.objectRef.subresource === 'status') && e.objectRef?.resource !== 'events');
        assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), [], 'no write to any object while two installations claim it');
        assert.equal((await admin.get(deploymentType, 'istiod', ns.istio)).metadata.generation, istiod.metadata.generation, 'istiod untouched');

        await deleted(names.newcomer);
        for (const [type, name] of [[deploymentType, 'istiod'], [{ apiVersion: 'v1', kind: 'Secret' }, 'cacerts'], [{ apiVersion: 'v1', kind: 'Secret' }, 'meshwright-ca']] as const) {
          const live = await getIfExists(admin, type, name, ns.istio);
          assert.equal(live?.metadata.labels?.[INSTALLATION_LABEL], names.first, `${type.kind} ${name} is still the first installation's`);
        }
        assert.ok(await getIfExists(admin, validatorType, `istio-validator-${ns.istio}`), 'its webhooks stay');
        await until(names.first, 'Ready', 'True');
      });

      test('across namespaces: CRDs and the default-revision validator are shared — written by one owner, handed over, gone only with the last; deletion never hangs', async () => {
        await create(names.second, { ...exampleSpec('istio-minimal.yaml'), namespace: ns.istio2 });
        await until(names.second, 'Ready', 'True');
        // Other tests' Istio installations may own these too: what is asserted is about ours.
        let validator = await admin.get(validatorType, 'istiod-default-validator');
        assert.ok(ownersOf(validator).includes(names.first) && ownersOf(validator).includes(names.second), `both recorded as owners: ${ownersOf(validator).join(',')}`);
        assert.ok(ownersOf(validator).includes(validator.metadata.labels?.[INSTALLATION_LABEL] ?? ''), 'one of its owners writes it');
        assert.notEqual(validator.metadata.labels?.[INSTALLATION_LABEL], names.second, 'not the newcomer: the object was already written');
        const crd = await admin.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' }, 'virtualservices.networking.istio.io');
        assert.ok(ownersOf(crd).includes(names.first) && ownersOf(crd).includes(names.second), `CRD owners: ${ownersOf(crd).join(',')}`);

        const started = Date.now();
        await deleted(names.second);
        assert.ok(Date.now() - started < 30_000, `deletion took ${Date.now() - started} ms`);
        validator = await admin.get(validatorType, 'istiod-default-validator');
        assert.ok(!ownersOf(validator).includes(names.second) && ownersOf(validator).includes(names.first), `the second gave up its ownership, and left the object: ${ownersOf(validator).join(',')}`);
        await until(names.first, 'Ready', 'True');

        // The other way round: the writer goes first; the remaining owner takes the object over.
        await create(names.second, { ...exampleSpec('istio-minimal.yaml'), namespace: ns.istio2 });
        await until(names.second, 'Ready', 'True');
        await deleted(names.first);
        validator = await eventually('the validator handed over to a remaining owner, which rewrote it', async () => {
          const live = await admin.get<KubeObject & { webhooks: Array<{ clientConfig: { service?: { namespace?: string } } }> }>(validatorType, 'istiod-default-validator');
          const writer = live.metadata.labels?.[INSTALLATION_LABEL];
          const handedOver = !ownersOf(live).includes(names.first) && writer !== names.first && ownersOf(live).includes(writer ?? '');
          return handedOver && (writer !== names.second || live.webhooks[0]?.clientConfig.service?.namespace === ns.istio2) ? live : undefined;
        }, 30_000);
        assert.ok(ownersOf(validator).includes(names.second));
        const lastOwner = ownersOf(validator).length === 1;
        await deleted(names.second);
        const after = await getIfExists(admin, validatorType, 'istiod-default-validator');
        if (lastOwner) assert.equal(after, undefined, 'gone with its last owner');
        else assert.ok(after && !ownersOf(after).includes(names.second), 'still owned by others, without us');
      });

    });

    describe('protection never stops', () => {
      test('while a spec cannot be served, the last served one is enforced — a deleted istiod comes back, health is observed afresh — also after a restart', async () => {
        await create(names.first, { ...exampleSpec('istio-minimal.yaml'), namespace: ns.istio });
        await until(names.first, 'Ready', 'True');
        await admin.patch(miType, names.first, undefined, { spec: { version: '1.99.0' } }, 'merge');
        await until(names.first, 'Stalled', 'True', 'VersionNotInCatalog', 30_000);

        for (const restart of [false, true]) {
          if (restart) {
            await operator.stop();
            await startOperator();
          }
          const old = await admin.get(deploymentType, 'istiod', ns.istio);
          await admin.delete(deploymentType, 'istiod', ns.istio);
          const back = await eventually(`istiod recreated${restart ? ' after a restart' : ''}`, async () => {
            const live = await getIfExists(admin, deploymentType, 'istiod', ns.istio);
            return live && live.metadata.uid !== old.metadata.uid ? live : undefined;
          }, 60_000, 100);
          assert.match(JSON.stringify(back.spec), /pilot:1\.31\.1/, 'the served version, not the refused one');
          const mi = await until(names.first, 'ControlPlaneReady', 'True', undefined, 60_000);
          assert.equal(condition(mi, 'Stalled')?.reason, 'VersionNotInCatalog', 'still stalled on the spec it cannot serve');
        }
      });

      test('health is observed afresh while stalled: an istiod whose new pods crash-loop is reported unavailable', async () => {
        // Labels on the pod template are not ours to remove; kwok makes pods carrying this one crash-loop.
        await admin.patch(deploymentType, 'istiod', ns.istio, [{ op: 'add', path: '/spec/template/metadata/labels/meshwright.dev~1kwok-crash-loop', value: 'true' }], 'json');
        const mi = await until(names.first, 'ControlPlaneReady', 'False', 'ComponentsNotAvailable', 60_000);
        assert.match(condition(mi, 'ControlPlaneReady')!.message, new RegExp(`Deployment ${ns.istio}/istiod`));
        assert.equal(condition(mi, 'Stalled')?.reason, 'VersionNotInCatalog');
        await admin.patch(deploymentType, 'istiod', ns.istio, [{ op: 'remove', path: '/spec/template/metadata/labels/meshwright.dev~1kwok-crash-loop' }], 'json');
        await admin.patch(miType, names.first, undefined, { spec: { version: '1.31.1' } }, 'merge');
        await until(names.first, 'Ready', 'True');
      });
    });

    describe('prune takes only what this installation created', () => {
      test('a user\'s copy of the istio ConfigMap in their namespace, labels and all, survives passes and the installation\'s deletion', async () => {
        const original = await admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap' }, 'istio', ns.istio);
        await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.user } });
        await admin.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: ns.user, labels: original.metadata.labels, annotations: original.metadata.annotations }, data: original.data } as KubeObject);
        // Once the operator's cache has the copy, two passes on demand: the second surely started after.
        await eventually('the copy in the operator\'s cache', async () => operator.owned.get('v1/ConfigMap')!.get('istio', ns.user) !== undefined, 10_000, 20);
        for (let i = 0; i < 2; i++) {
          const next = morePasses(names.first, 1);
          operator.controller.enqueue(names.first);
          await next;
        }
        assert.ok(await getIfExists(admin, { apiVersion: 'v1', kind: 'ConfigMap' }, 'istio', ns.user), 'the copy survives passes');
        await deleted(names.first);
        assert.ok(await getIfExists(admin, { apiVersion: 'v1', kind: 'ConfigMap' }, 'istio', ns.user), 'and the installation\'s deletion');
      });
    });
  });
}
