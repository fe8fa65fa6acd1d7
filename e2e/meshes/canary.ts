/**
 * A stepped Canary upgrade of the real Istio (issue #16, points 4 and 8): the operator runs as its
 * own process (the shipped RBAC, its injection webhook); an installation of Istio 1.30.4 with
 * `strategy: Canary` enrols three namespaces, each with a one-pod Deployment, and spec.version is
 * bumped to 1.31.1 as a person or GitOps would. Its plan: step 1 moves one namespace by name and
 * pauses, step 2 moves one by label, the third moves only when the canary is promoted, which waits
 * for a person (autoPromote false).
 *
 * What the test reads from the API server, in the order the API server recorded it (one etcd: a
 * watch's resourceVersions are one sequence):
 * - the new revision's istiod (`istiod-1-31-1`) runs beside the old one on its own pilot image;
 * - each namespace is relabelled `istio.io/rev=<new revision>` before its workload is restarted,
 *   and step 2's namespace is relabelled only after step 1's workload was restarted and its pause
 *   (status.upgrade.pauseUntil) had passed;
 * - at AwaitingPromotion the third namespace still points at the old revision, its workload still
 *   runs the old proxy, and a pod created there now is injected by the old revision (its webhook
 *   is kept while the revision runs);
 * - promotion moves it, then the `default` revision tag to the new revision; the old istiod and
 *   its injection webhook are removed once nothing uses them; every workload's template was
 *   written once (one restart each) and its pods run the new proxy.
 *
 * Registered by Istio's sequential suite (installations of one mesh share cluster-scoped objects).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../support/kube.ts';
import { MeshInjectionWorld, proxyContainer, type Pod } from './injection.ts';

type Upgrade = { from: string; to: string; strategy: string; phase: string; step?: number; totalSteps?: number; stepName?: string; pauseUntil?: string; message?: string; startedAt: string; finishedAt?: string };
type Condition = { type: string; status: string; reason: string; message: string };
type RevisionStatus = { name: string; version: string; state: string; inUse?: boolean };
type Installation = KubeObject & { spec: { version: string }; status?: { observedGeneration?: number; upgrade?: Upgrade; conditions?: Condition[]; revisions?: RevisionStatus[] } };
type Deployment = KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> }; spec: { containers: Array<{ name: string; image?: string }> } } } };
type WebhookConfiguration = KubeObject & { webhooks?: Array<{ name: string; clientConfig: { url?: string; service?: { name: string; path?: string } } }> };

const miType = { apiVersion: API_VERSION, kind: KIND };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const nsType = { apiVersion: 'v1', kind: 'Namespace' };
const mutatingType = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' };
const eventType = { apiVersion: 'events.k8s.io/v1', kind: 'Event' };

const REV_LABEL = 'istio.io/rev';
const FROM = { version: '1.30.4', revision: '1-30-4', pilot: 'docker.io/istio/pilot:1.30.4', proxy: 'docker.io/istio/proxyv2:1.30.4' };
const TO = { version: '1.31.1', revision: '1-31-1', pilot: 'docker.io/istio/pilot:1.31.1', proxy: 'docker.io/istio/proxyv2:1.31.1' };
/** How long step 1 pauses once healthy. */
const PAUSE_SECONDS = 15;

/** Registers the stepped canary upgrade of Istio 1.30.4 → 1.31.1 (see the module comment). */
export function describeIstioCanaryUpgrade(): void {
  const world = new MeshInjectionWorld();
  const { run, admin } = world;
  const name = `can-istio-${run}`;
  const cp = `can-istio-cp-${run}`;
  const [first, second, third] = ['a', 'b', 'c'].map((n) => `can-${n}-${run}`) as [string, string, string];
  const namespaces = [first, second, third];

  /** First resourceVersion (and wall time) at which each fact was seen by a watch. */
  const seen = new Map<string, { rv: number; at: number }>();
  const note = (fact: string, object: KubeObject) => { if (!seen.has(fact)) seen.set(fact, { rv: Number(object.metadata.resourceVersion), at: Date.now() }); };
  const rv = (fact: string) => {
    const found = seen.get(fact);
    assert.ok(found, `the watch saw: ${fact} (saw: ${[...seen.keys()].join('; ')})`);
    return found.rv;
  };
  const phases: string[] = [];
  const informers: Informer[] = [];
  const generationsBefore = new Map<string, number>();

  const get = () => admin.get<Installation>(miType, name);
  const spec = {
    mesh: 'istio', version: FROM.version, namespace: cp,
    injection: { namespaces, restartWorkloads: { enabled: true, maxUnavailable: 1, batchInterval: '0s' } },
    upgrade: {
      strategy: 'Canary', progressDeadline: '120s', rollbackOnFailure: true,
      canary: {
        steps: [
          { namespaces: [first], pause: `${PAUSE_SECONDS}s` },
          { namespaceSelector: { matchLabels: { [`canary-step-${run}`]: 'two' } } },
        ],
        autoPromote: false,
      },
    },
  };

  /** The installation once `check` holds for its status.upgrade, failing with what it last showed. */
  const upgradeWhen = (description: string, check: (upgrade: Upgrade | undefined, mi: Installation) => boolean, timeoutMs = 180_000) => eventually(description, async () => {
    const mi = await get();
    return check(mi.status?.upgrade, mi) ? mi : undefined;
  }, timeoutMs, 200).catch(async (error: Error) => {
    const mi = await get();
    throw new Error(`${error.message}; upgrade: ${JSON.stringify(mi.status?.upgrade)}; conditions: ${JSON.stringify(mi.status?.conditions)}; revisions: ${JSON.stringify(mi.status?.revisions)}; operator log: ${world.operator?.logFile}`);
  });

  /** Asserts the workload of `namespace` runs `release`'s proxy from its revision, read from each pod. */
  const assertPodsOn = async (namespace: string, release: typeof FROM) => {
    const pods = await world.available(namespace, 'web', 1);
    for (const pod of pods) assertPodOn(pod, release);
  };
  const assertPodOn = (pod: Pod, release: typeof FROM) => {
    const proxy = proxyContainer(pod, 'istio-proxy');
    assert.ok(proxy, `${pod.metadata.namespace}/${pod.metadata.name} runs istio-proxy`);
    assert.equal(proxy.container.image, release.proxy, `${pod.metadata.namespace}/${pod.metadata.name}: the proxy of ${release.version}`);
    assert.equal(pod.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion], release.version, `${pod.metadata.name}: the record names ${release.version}`);
    assert.equal(pod.metadata.annotations?.[RECORD_ANNOTATIONS.revision], release.revision, `${pod.metadata.name}: the record names revision ${release.revision}`);
    const discovery = (proxy.container as { args?: string[] }).args?.join(' ') ?? '';
    const env = JSON.stringify((proxy.container as { env?: unknown[] }).env ?? []);
    assert.ok(`${discovery} ${env}`.includes(`istiod-${release.revision}.${cp}.svc`), `${pod.metadata.name}: its proxy talks to istiod-${release.revision}`);
  };

  /** The istiod Deployment of `release` once it runs its pilot image, available. */
  const istiodRunning = (release: typeof FROM) => eventually(`istiod-${release.revision} available on ${release.pilot}`, async () => {
    const d = await admin.get<Deployment & { status?: { availableReplicas?: number } }>(deploymentType, `istiod-${release.revision}`, cp).catch(() => undefined);
    return d && (d.status?.availableReplicas ?? 0) >= 1 && d.spec.template.spec.containers.some((c) => c.image === release.pilot) ? d : undefined;
  }, 120_000, 250);

  /** Where the `default` revision tag's webhooks send pods: the revision named in their path or service. */
  const defaultTagRevision = async () => {
    const { items } = await admin.list<WebhookConfiguration>(mutatingType);
    const tag = items.find((c) => c.metadata.name.startsWith('istio-revision-tag-default'));
    assert.ok(tag, `the default revision tag's MutatingWebhookConfiguration exists: ${items.map((c) => c.metadata.name).join(', ')}`);
    const targets = new Set((tag.webhooks ?? []).map((w) => w.clientConfig.url ?? w.clientConfig.service?.path ?? ''));
    const revisions = [...targets].map((t) => [FROM.revision, TO.revision].find((r) => t.endsWith(`/${r}`)));
    assert.equal(new Set(revisions).size, 1, `every webhook of the tag points at one revision: ${[...targets].join(', ')}`);
    return revisions[0];
  };

  describe('istio: Canary upgrade 1.30.4 → 1.31.1 in steps on the real control plane — by name with a pause, by label, promotion by a person — with injected workloads', () => {
    before(async () => {
      await world.start();
      await world.namespace(first);
      await world.namespace(second, { [`canary-step-${run}`]: 'two' });
      await world.namespace(third);
      const installations = new Informer({ client: admin, type: miType, fieldSelector: `metadata.name=${name}` });
      installations.on((_type, object) => {
        const upgrade = (object as Installation).status?.upgrade;
        if (upgrade?.to !== TO.version) return;
        const phase = `${upgrade.phase}${upgrade.step === undefined ? '' : ` ${upgrade.step}`}`;
        if (phases.at(-1) !== phase) phases.push(phase);
        note(`phase ${upgrade.phase}`, object);
        if (upgrade.pauseUntil) note(`paused until ${upgrade.pauseUntil}`, object);
      });
      const nsInformer = new Informer({ client: admin, type: nsType, labelSelector: `${REV_LABEL}=${TO.revision}` });
      nsInformer.on((type, object) => { if (type !== 'delete') note(`${object.metadata.name} → ${TO.revision}`, object); });
      const workloads = new Informer({ client: admin, type: deploymentType, labelSelector: `canary-e2e=${run}` });
      workloads.on((type, object) => {
        const restartedFor = (object as Deployment).spec.template.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION] ?? '';
        if (type !== 'delete' && restartedFor.startsWith(`${TO.version}-`)) note(`${object.metadata.namespace} restarted`, object);
      });
      const controlPlane = new Informer({ client: admin, type: deploymentType, namespace: cp });
      controlPlane.on((type, object) => {
        if (object.metadata.name === `istiod-${TO.revision}`) note('new istiod applied', object);
        if (type === 'delete' && object.metadata.name === `istiod-${FROM.revision}`) note('old istiod deleted', object);
      });
      for (const informer of [installations, nsInformer, workloads, controlPlane]) {
        informers.push(informer);
        await informer.start();
      }
    });
    after(async () => {
      for (const informer of informers) await informer.stop();
      await world.tearDown();
    });

    test('installed at 1.30.4 with strategy Canary: istiod-1-30-4, each namespace enrolled on revision 1-30-4, its Deployment injected by it', async () => {
      await world.install(name, spec);
      await istiodRunning(FROM);
      for (const namespace of namespaces) {
        await world.enrolled(namespace, { key: REV_LABEL, value: FROM.revision }, name);
        await world.warmUp(namespace, 'istio-proxy', /proxyv2:1\.30\.4$/);
        await world.deployment(namespace, 'web', 1, { 'canary-e2e': run });
        // The workloads informer selects the Deployment by its label: put it there too.
        await admin.patch(deploymentType, 'web', namespace, { metadata: { labels: { 'canary-e2e': run } } }, 'merge');
        await assertPodsOn(namespace, FROM);
        generationsBefore.set(namespace, (await admin.get<Deployment>(deploymentType, 'web', namespace)).metadata.generation ?? 0);
      }
      assert.equal(await defaultTagRevision(), FROM.revision, 'the default tag points at the running revision');
    });

    test('1.31.1: the new istiod beside the old; step 1 moves its namespace (relabel, then restart), pauses, then step 2 moves its namespace; it stops at AwaitingPromotion', async (t) => {
      await admin.patch(miType, name, undefined, { spec: { version: TO.version } }, 'merge');
      const awaiting = await upgradeWhen('the canary AwaitingPromotion', (u) => u?.to === TO.version && u.phase === 'AwaitingPromotion', 300_000);
      t.diagnostic(`phases seen: ${phases.join(' → ')}; ${awaiting.status?.upgrade?.message}`);
      assert.deepEqual([awaiting.status!.upgrade!.from, awaiting.status!.upgrade!.strategy], [FROM.version, 'Canary']);

      // Both revisions run, each on its own release's image.
      await istiodRunning(FROM);
      await istiodRunning(TO);
      assert.ok(rv('new istiod applied') < rv(`${first} → ${TO.revision}`), 'the new revision runs before any namespace moves to it');

      // Step 1: relabel, then restart; step 2's relabel only after step 1's restart and its pause.
      assert.ok(rv(`${first} → ${TO.revision}`) < rv(`${first} restarted`), `${first}: relabelled before its workload restarted`);
      assert.ok(rv(`${first} restarted`) < rv(`${second} → ${TO.revision}`), `step 2 (${second}) moves after step 1's restart`);
      assert.ok(rv(`${second} → ${TO.revision}`) < rv(`${second} restarted`), `${second}: relabelled before its workload restarted`);
      const pause = [...seen.keys()].find((k) => k.startsWith('paused until '));
      assert.ok(pause, 'status.upgrade.pauseUntil was recorded after step 1');
      const pauseUntil = Date.parse(pause.slice('paused until '.length));
      assert.ok(seen.get(`${second} → ${TO.revision}`)!.at >= pauseUntil, `step 2 began after the pause ended (${new Date(pauseUntil).toISOString()})`);
      assert.ok(rv(pause) < rv(`${second} → ${TO.revision}`));

      // The third namespace waits for the promotion: still the old revision, its pods the old proxy.
      assert.equal(seen.has(`${third} → ${TO.revision}`), false, `${third} not moved before promotion`);
      assert.equal((await admin.get(nsType, third)).metadata.labels?.[REV_LABEL], FROM.revision);
      await assertPodsOn(first, TO);
      await assertPodsOn(second, TO);
      await assertPodsOn(third, FROM);
      assert.equal(await defaultTagRevision(), FROM.revision, 'the default tag has not moved yet');

      // A pod created now in the unmoved namespace is injected by the old revision, whose webhook is kept.
      await world.scale(third, 'web', 2);
      for (const pod of await world.available(third, 'web', 2)) assertPodOn(pod, FROM);
      await world.scale(third, 'web', 1);
      // Scaling writes the Deployment's spec too: count the promotion's restart from here.
      generationsBefore.set(third, (await admin.get<Deployment>(deploymentType, 'web', third)).metadata.generation ?? 0);
      const revisions = (await get()).status?.revisions ?? [];
      assert.deepEqual(revisions.map((r) => `${r.name}:${r.version}`).sort(), [`${FROM.revision}:${FROM.version}`, `${TO.revision}:${TO.version}`].sort(), 'both revisions in status.revisions');
    });

    test('promoted by a person (autoPromote true): the last namespace moves, then the default tag; the old istiod and its webhook removed; every workload restarted exactly once; Events', async (t) => {
      await admin.patch(miType, name, undefined, { spec: { upgrade: { canary: { autoPromote: true } } } }, 'merge');
      const done = await upgradeWhen('the canary Succeeded', (u, mi) => u?.to === TO.version && u.phase === 'Succeeded' && mi.status?.conditions?.find((c) => c.type === 'Upgrading')?.reason === 'UpgradeSucceeded');
      t.diagnostic(`phases seen: ${phases.join(' → ')}; ${done.status?.upgrade?.message}`);
      assert.ok(rv(`${third} → ${TO.revision}`) > rv(`${second} restarted`), 'the last namespace moves at promotion');
      assert.equal(await defaultTagRevision(), TO.revision, 'the default tag points at the new revision');
      await assertPodsOn(third, TO);

      // The old revision goes once no namespace and no running pod uses it.
      await eventually(`istiod-${FROM.revision} removed`, async () => (await admin.get(deploymentType, `istiod-${FROM.revision}`, cp).catch(() => undefined)) === undefined, 120_000, 250);
      assert.ok(rv('old istiod deleted') > rv(`${third} restarted`), 'removed after the last workload moved');
      await eventually(`the old revision's injection webhook removed`, async () => {
        const { items } = await admin.list<WebhookConfiguration>(mutatingType);
        return !items.some((c) => c.metadata.name.startsWith(`istio-sidecar-injector-${FROM.revision}`));
      }, 60_000, 250);
      // status.revisions lists revisions side by side; with the old one gone it is dropped (only the current one runs).
      await eventually('status.revisions no longer lists the old revision', async () => {
        const revisions = (await get()).status?.revisions;
        return revisions === undefined || revisions.every((r) => r.name === TO.revision);
      }, 60_000, 250);

      for (const namespace of namespaces) {
        const live = await admin.get<Deployment>(deploymentType, 'web', namespace);
        assert.equal(live.metadata.generation, (generationsBefore.get(namespace) ?? 0) + 1, `${namespace}/web: its template written once`);
        assert.match(live.spec.template.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION] ?? '', /^1\.31\.1-/, `${namespace}/web restarted for 1.31.1`);
        assert.equal((await admin.get(nsType, namespace)).metadata.labels?.[REV_LABEL], TO.revision);
        await assertPodsOn(namespace, TO);
      }

      const { items } = await admin.list<KubeObject & { reason?: string; type?: string; note?: string; regarding?: { name?: string } }>(eventType, { namespace: 'default' });
      const reasons = items.filter((e) => e.regarding?.name === name && e.note?.includes(`${FROM.version} -> ${TO.version}`)).map((e) => e.reason);
      for (const reason of ['UpgradeStarted', 'UpgradeSucceeded']) assert.equal(reasons.filter((r) => r === reason).length, 1, `one ${reason} Event: ${reasons.join(', ')}`);
    });
  });
}
