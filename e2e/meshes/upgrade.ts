/**
 * InPlace upgrades of the real meshes (issue #16, point 8): the operator runs as its own process
 * (the shipped RBAC, its injection webhook), a MeshInstallation of the real Istio or Linkerd
 * enrols a namespace with three one-pod Deployments, and spec.version is bumped hop after hop as a
 * person or GitOps would. For every hop the test reads what the API server holds: status.upgrade
 * (from, to, InPlace, Succeeded, every workload updated), the phases a watch of the installation
 * saw (ControlPlane before DataPlane, Succeeded last), the control plane's Deployments rolled out
 * on the new release's images with the containers `meshwright render` renders for it, each
 * workload's pod template restarted once for the new proxy (its restarted-for annotation) and its
 * pods on the new proxy image, status.version, and the Events of the hop.
 *
 * With `refusals`, moves the upgrade path forbids are tried between the hops: Stalled with reason
 * UnsupportedUpgrade and a message naming what is allowed, the control plane and workloads untouched.
 * With `rollback`, one more bump goes to a release on which one workload crash-loops: the
 * DataPlane gate fails, the upgrade ends RolledBack naming the gate, the control plane is back on
 * the previous release's images, every pod runs the previous proxy, spec.version still says the
 * bump, and a Warning Event names the move.
 *
 * Registered by each mesh's sequential suite (installations of one mesh share cluster-scoped
 * objects). Expected images are written out here as release facts, not computed by the catalog.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { withSpecDefaults } from '../../operator/api/defaults.ts';
import { API_VERSION, KIND, type DefaultedMeshInstallation } from '../../operator/api/meshinstallation.ts';
import { renderOffline } from '../../operator/cli/render.ts';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../support/kube.ts';
import { MeshInjectionWorld, proxyContainer, type Container, type Pod } from './injection.ts';

type Upgrade = { from: string; to: string; strategy: string; phase: string; updatedWorkloads?: number; totalWorkloads?: number; startedAt: string; finishedAt?: string; message?: string };
type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { spec: { version: string }; status?: { observedGeneration?: number; version?: string; upgrade?: Upgrade; conditions?: Condition[] } };
type Deployment = KubeObject & {
  spec: { replicas?: number; template: { metadata?: { annotations?: Record<string, string> }; spec: { containers: Container[]; initContainers?: Container[] } } };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number };
};

const miType = { apiVersion: API_VERSION, kind: KIND };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const eventType = { apiVersion: 'events.k8s.io/v1', kind: 'Event' };

/** One release as the test expects to see it running. */
export interface ReleaseFacts {
  /** spec.version. */
  version: string;
  /** Every image the control plane's Deployments run (containers and init containers), sorted and deduplicated. */
  controlPlaneImages: readonly string[];
  /** The image of the proxy container injected into workloads. */
  proxyImage: string;
  /** Checks the mesh's own marks on an injected pod of this release (its proxy-init, version annotation...). */
  checkPod?: (pod: Pod) => void;
}

/** What a mesh's upgrade scenario needs. */
export interface UpgradeScenario {
  mesh: 'istio' | 'linkerd';
  /** The proxy container's name. */
  proxy: string;
  /** The releases in the order of the hops (the first is installed). */
  releases: readonly ReleaseFacts[];
  /**
   * After the hops, a move to `to` on which workload `workload` crash-loops (kwok's
   * pod-crash-loop for meshwright.dev/kwok-crash-loop-with-proxy): rolled back to the last release.
   */
  rollback?: { to: ReleaseFacts; workload: string };
  /**
   * Moves refused while the installation runs `releases[at]` (before the next hop): Stalled with
   * reason UnsupportedUpgrade and a message matching `message`, nothing of the mesh changed.
   */
  refusals?: ReadonlyArray<{ at: number; to: string; message: RegExp }>;
}

/** kwok crash-loops a pod with this annotation whose proxy record names the same version (e2e/cluster/stages/pod.yaml). */
const CRASH_WITH_PROXY = 'meshwright.dev/kwok-crash-loop-with-proxy';

const WORKLOADS = ['web', 'api', 'worker'];

/** Every image of a pod template, sorted and deduplicated. */
function templateImages(deployment: Deployment): string[] {
  const spec = deployment.spec.template.spec;
  return [...new Set([...(spec.initContainers ?? []), ...spec.containers].map((c) => c.image ?? ''))].sort();
}

/** A Deployment's pod template as names and images of its init containers and containers, in order. */
function templateShape(deployment: Deployment): string {
  const spec = deployment.spec.template.spec;
  const list = (containers: Container[] | undefined) => (containers ?? []).map((c) => `${c.name}=${c.image ?? ''}`).join(',');
  return `${deployment.metadata.name}: init[${list(spec.initContainers)}] containers[${list(spec.containers)}]`;
}

/** Registers the InPlace upgrade hops of `scenario` (see the module comment). */
export function describeInPlaceUpgrades(scenario: UpgradeScenario): void {
  const world = new MeshInjectionWorld();
  const { run, admin } = world;
  const name = `upg-${scenario.mesh}-${run}`;
  const cp = `upg-${scenario.mesh}-cp-${run}`;
  const apps = `upg-${scenario.mesh}-apps-${run}`;
  const [first, ...hops] = scenario.releases;
  const phases: string[] = [];
  let informer: Informer | undefined;

  const get = () => admin.get<Installation>(miType, name);
  const spec = {
    mesh: scenario.mesh, version: first!.version, namespace: cp,
    injection: { namespaces: [apps], restartWorkloads: { enabled: true, maxUnavailable: 3, batchInterval: '0s' } },
    upgrade: { strategy: 'InPlace', progressDeadline: '120s' },
  };
  /** The control plane's Deployments as `meshwright render` renders them at `version` (their containers, in order, with images). */
  const renderedShapes = (version: string) => renderOffline({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: withSpecDefaults({ ...spec, version } as never) } as DefaultedMeshInstallation, builtInDistributions)
    .filter((o) => o.kind === 'Deployment' && o.metadata.namespace === cp).map((d) => templateShape(d as Deployment)).sort();

  /**
   * The control plane's Deployments once each has rolled out on exactly the release's images, with
   * the containers `meshwright render` renders at that version (so a release's own shape, such as
   * 2.19's classic destination proxy, is what runs).
   */
  const controlPlaneOn = (release: ReleaseFacts) => eventually(`the ${scenario.mesh} control plane rolled out on ${release.version}'s images`, async () => {
    const { items } = await admin.list<Deployment>(deploymentType, { namespace: cp });
    if (items.length === 0) return undefined;
    const settled = items.every((d) => {
      const s = d.status ?? {};
      const replicas = d.spec.replicas ?? 1;
      return (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) && s.replicas === replicas && s.updatedReplicas === replicas && s.availableReplicas === replicas;
    });
    const images = [...new Set(items.flatMap(templateImages))].sort();
    const shapes = items.map(templateShape).sort();
    return settled && JSON.stringify(images) === JSON.stringify(release.controlPlaneImages) && JSON.stringify(shapes) === JSON.stringify(renderedShapes(release.version)) ? items : undefined;
  }, 120_000, 250).catch(async (error: Error) => {
    const { items } = await admin.list<Deployment>(deploymentType, { namespace: cp });
    throw new Error(`${error.message}: ${JSON.stringify(items.map((d) => [templateShape(d), d.status]))}; rendered: ${JSON.stringify(renderedShapes(release.version))}`);
  });

  /** Asserts every workload's pods run `release`'s proxy (read from each pod) and carry its record. */
  const assertPodsOn = async (release: ReleaseFacts) => {
    for (const workload of WORKLOADS) {
      const pods = await world.available(apps, workload, 1);
      for (const pod of pods) {
        const proxy = proxyContainer(pod, scenario.proxy);
        assert.ok(proxy, `${pod.metadata.name} runs ${scenario.proxy}`);
        assert.equal(proxy.container.image, release.proxyImage, `${pod.metadata.name}: the proxy image of ${release.version}`);
        assert.equal(pod.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion], release.version, `${pod.metadata.name}: the record names ${release.version}`);
        release.checkPod?.(pod);
      }
    }
  };

  describe(`${scenario.mesh}: InPlace upgrades ${scenario.releases.map((r) => r.version).join(' → ')} on the real control plane, with injected workloads`, () => {
    before(async () => {
      await world.start();
      await world.namespace(apps);
      informer = new Informer({ client: admin, type: miType, fieldSelector: `metadata.name=${name}` });
      informer.on((_type, object) => {
        const upgrade = (object as Installation).status?.upgrade;
        const seen = upgrade ? `${upgrade.to}:${upgrade.phase}` : undefined;
        if (seen && phases.at(-1) !== seen) phases.push(seen);
      });
      await informer.start();
    });
    after(async () => {
      await informer?.stop();
      await world.tearDown();
    });

    test(`installed at ${first!.version}: three Deployments injected with its proxy`, async () => {
      await world.install(name, spec);
      await world.warmUp(apps, scenario.proxy);
      const rollback = scenario.rollback;
      for (const workload of WORKLOADS) {
        // The crash is keyed on the proxy version, so it is set from the start and bites only at the rollback's target.
        await world.deployment(apps, workload, 1, {}, rollback?.workload === workload ? { [CRASH_WITH_PROXY]: rollback.to.version } : {});
      }
      await controlPlaneOn(first!);
      await assertPodsOn(first!);
    });

    /** Registers the refusals of `scenario` while `running` runs. */
    const describeRefusals = (index: number, running: ReleaseFacts) => {
      for (const refusal of (scenario.refusals ?? []).filter((r) => r.at === index)) {
        test(`${running.version} → ${refusal.to} is refused: Stalled UnsupportedUpgrade naming what is allowed, the control plane and the workloads untouched`, async () => {
          const workloadsBefore = await Promise.all(WORKLOADS.map((w) => admin.get<Deployment>(deploymentType, w, apps)));
          const controlPlaneBefore = (await admin.list<Deployment>(deploymentType, { namespace: cp })).items;
          await admin.patch(miType, name, undefined, { spec: { version: refusal.to } }, 'merge');
          const stalled = await eventually(`${refusal.to} refused`, async () => {
            const mi = await get();
            const condition = mi.status?.conditions?.find((c) => c.type === 'Stalled');
            return condition?.status === 'True' && condition.reason === 'UnsupportedUpgrade' && mi.status?.observedGeneration === mi.metadata.generation ? { mi, condition } : undefined;
          }, 60_000, 100);
          assert.match(stalled.condition.message, refusal.message);
          assert.equal(stalled.mi.status?.version, running.version, 'status.version is still the running one');
          assert.ok(stalled.mi.status?.upgrade?.to !== refusal.to, `no upgrade started: ${JSON.stringify(stalled.mi.status?.upgrade)}`);
          // The operator's pass that judged the move is recorded (observedGeneration): whatever it would write, it has.
          const controlPlaneAfter = (await admin.list<Deployment>(deploymentType, { namespace: cp })).items;
          assert.deepEqual(controlPlaneAfter.map((d) => [d.metadata.name, d.metadata.generation, templateImages(d)]), controlPlaneBefore.map((d) => [d.metadata.name, d.metadata.generation, templateImages(d)]), 'the control plane untouched');
          for (const [index, workload] of WORKLOADS.entries()) {
            assert.equal((await admin.get<Deployment>(deploymentType, workload, apps)).metadata.generation, workloadsBefore[index]!.metadata.generation, `${workload} not restarted`);
          }
          await assertPodsOn(running);
        });
      }
    };

    describeRefusals(0, first!);
    let previous = first!;
    for (const [index, release] of hops.entries()) {
      const from = previous;
      previous = release;
      test(`${from.version} → ${release.version} in place: control plane re-rendered on the new images, each workload restarted once onto the new proxy, Succeeded, Events`, async (t) => {
        const templatesBefore = await Promise.all(WORKLOADS.map((w) => admin.get<Deployment>(deploymentType, w, apps)));
        await admin.patch(miType, name, undefined, { spec: { version: release.version } }, 'merge');
        const done = await eventually(`the upgrade to ${release.version} Succeeded`, async () => {
          const mi = await get();
          const upgrade = mi.status?.upgrade;
          const condition = mi.status?.conditions?.find((c) => c.type === 'Upgrading');
          return upgrade?.to === release.version && upgrade.phase === 'Succeeded' && condition?.reason === 'UpgradeSucceeded' ? mi : undefined;
        }, 180_000, 200).catch(async (error: Error) => {
          const mi = await get();
          throw new Error(`${error.message}; upgrade: ${JSON.stringify(mi.status?.upgrade)}; conditions: ${JSON.stringify(mi.status?.conditions)}; operator log: ${world.operator?.logFile}`);
        });
        const upgrade = done.status!.upgrade!;
        t.diagnostic(`${upgrade.message} (${Date.parse(upgrade.finishedAt!) - Date.parse(upgrade.startedAt)} ms); phases seen: ${phases.filter((p) => p.startsWith(`${release.version}:`)).join(' → ')}`);
        assert.deepEqual([upgrade.from, upgrade.to, upgrade.strategy], [from.version, release.version, 'InPlace']);
        assert.deepEqual([upgrade.updatedWorkloads, upgrade.totalWorkloads], [WORKLOADS.length, WORKLOADS.length], 'every workload updated');
        assert.ok(upgrade.finishedAt && Date.parse(upgrade.finishedAt) >= Date.parse(upgrade.startedAt));

        // The phases of this hop as a watch saw them: the control plane before the data plane, Succeeded last.
        const seen = phases.filter((p) => p.startsWith(`${release.version}:`)).map((p) => p.slice(release.version.length + 1));
        assert.ok(seen.includes('ControlPlane') && seen.includes('DataPlane') && seen.indexOf('ControlPlane') < seen.indexOf('DataPlane'), `ControlPlane, then DataPlane: ${seen.join(' → ')}`);
        assert.equal(seen.at(-1), 'Succeeded');

        await controlPlaneOn(release);
        // Each workload's template written once for the new proxy (a restart is a template change), its pods on the new proxy.
        for (const [index, workload] of WORKLOADS.entries()) {
          const live = await admin.get<Deployment>(deploymentType, workload, apps);
          assert.equal(live.metadata.generation, (templatesBefore[index]!.metadata.generation ?? 0) + 1, `${workload}: its template changed once`);
          assert.match(live.spec.template.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION] ?? '', new RegExp(`^${release.version.replaceAll('.', '\\.')}-`), `${workload} restarted for ${release.version}`);
        }
        await assertPodsOn(release);
        await eventually('status.version is the new one', async () => (await get()).status?.version === release.version, 30_000, 200);

        // Events of this hop: started, control plane ready, succeeded, each naming the move.
        const { items } = await admin.list<KubeObject & { reason?: string; type?: string; note?: string; regarding?: { name?: string } }>(eventType, { namespace: 'default' });
        for (const reason of ['UpgradeStarted', 'UpgradeControlPlaneReady', 'UpgradeSucceeded']) {
          const events = items.filter((e) => e.regarding?.name === name && e.reason === reason && e.note?.includes(`${from.version} -> ${release.version}`));
          assert.equal(events.length, 1, `one ${reason} Event for ${from.version} -> ${release.version}: ${JSON.stringify(items.filter((e) => e.regarding?.name === name).map((e) => [e.reason, e.note]))}`);
          assert.equal(events[0]!.type, 'Normal');
        }
      });
      describeRefusals(index + 1, release);
    }

    const rollback = scenario.rollback;
    if (rollback) {
      test(`${previous.version} → ${rollback.to.version}, on which ${rollback.workload} crash-loops: the DataPlane gate fails and the upgrade is RolledBack, control plane and every pod back on ${previous.version}, spec unchanged`, async (t) => {
        const last = previous;
        await admin.patch(miType, name, undefined, { spec: { version: rollback.to.version } }, 'merge');
        const done = await eventually(`the upgrade to ${rollback.to.version} RolledBack`, async () => {
          const mi = await get();
          const upgrade = mi.status?.upgrade;
          const condition = mi.status?.conditions?.find((c) => c.type === 'Upgrading');
          return upgrade?.to === rollback.to.version && upgrade.phase === 'RolledBack' && condition?.reason === 'UpgradeRolledBack' ? mi : undefined;
        }, 180_000, 200).catch(async (error: Error) => {
          const mi = await get();
          throw new Error(`${error.message}; upgrade: ${JSON.stringify(mi.status?.upgrade)}; conditions: ${JSON.stringify(mi.status?.conditions)}; operator log: ${world.operator?.logFile}`);
        });
        const upgrade = done.status!.upgrade!;
        t.diagnostic(`${upgrade.message}; phases seen: ${phases.filter((p) => p.startsWith(`${rollback.to.version}:`)).join(' → ')}`);
        assert.deepEqual([upgrade.from, upgrade.to, upgrade.phase], [last.version, rollback.to.version, 'RolledBack']);
        assert.match(upgrade.message ?? '', /gate DataPlane failed/, 'the message names the gate');
        assert.match(upgrade.message ?? '', new RegExp(`${rollback.workload}`), 'and the workload that failed it');
        const seen = phases.filter((p) => p.startsWith(`${rollback.to.version}:`)).map((p) => p.slice(rollback.to.version.length + 1));
        assert.ok(seen.indexOf('DataPlane') >= 0 && seen.indexOf('RollingBack') > seen.indexOf('DataPlane'), `DataPlane, then RollingBack: ${seen.join(' → ')}`);
        assert.equal(seen.at(-1), 'RolledBack');
        assert.equal(done.spec.version, rollback.to.version, 'the spec is never written');

        await controlPlaneOn(last);
        await assertPodsOn(last);
        await eventually('status.version is still the previous one', async () => (await get()).status?.version === last.version, 30_000, 200);
        const { items } = await admin.list<KubeObject & { reason?: string; type?: string; note?: string; regarding?: { name?: string } }>(eventType, { namespace: 'default' });
        const warnings = items.filter((e) => e.regarding?.name === name && e.reason === 'UpgradeRolledBack' && e.note?.includes(`${last.version} -> ${rollback.to.version}`));
        assert.equal(warnings.length, 1, 'one UpgradeRolledBack Event naming the move');
        assert.equal(warnings[0]!.type, 'Warning');
      });
    }
  });
}
