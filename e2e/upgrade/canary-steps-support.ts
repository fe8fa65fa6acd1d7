/**
 * What the stepped Canary e2e tests share (issue #16 point 4): the test mesh at 1.0.0 with strategy
 * Canary and three namespaces the operator enrols (spec.injection.namespaces), each with one
 * injected one-pod Deployment, besides the rollout world's user-labelled namespace (which follows
 * the `default` tag) and its bare pod. Under Canary the test mesh labels a namespace as Istio does
 * `istio.io/rev=<rev>`: `<TEST_INJECT_LABEL>=<installation>-<rev>`; its `default` tag webhook
 * configuration serves `<TEST_INJECT_LABEL>=<installation>`.
 *
 * A recorder keeps, in the order a watch shows them and with the API server's resourceVersion
 * (one etcd: one sequence), every status.upgrade step, each namespace's label value, each
 * Deployment's restart mark and the tag's webhook path — what the ordering assertions read.
 */
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import { auditEvents } from '../support/audit.ts';
import { eventually } from '../support/kube.ts';
import { TEST_INJECT_LABEL, testInjectionWebhookName } from '../support/test-distribution.ts';
import { InjectionHarness } from '../injection/harness.ts';
import { miType, RolloutWorld } from '../rollout/world.ts';
import { podAvailable, WORKLOAD_LABEL } from '../rollout/unavailability.ts';
import { NEW, OLD, type UpgradeStatus } from './support.ts';

const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const podType = { apiVersion: 'v1', kind: 'Pod' };

/** One fact a watch showed, with the resourceVersion of the object that showed it and when. */
export interface Seen {
  fact: string;
  rv: number;
  at: number;
}

/** A stepped-canary world: see the module comment. */
export interface StepsWorld {
  world: RolloutWorld;
  /** The three enrolled namespaces: [step 1 by name, step 2 by selector, promotion]. */
  namespaces: [string, string, string];
  recorder: StepsRecorder;
}

/** The label a person puts on the second namespace, which step 2's selector selects. */
export const WAVE_LABEL = 'canary-wave';

/** Creates a one-pod Deployment `app` in `namespace` (pods Ready after `readyDelayMs`). */
async function deployment(world: RolloutWorld, namespace: string, readyDelayMs = 300): Promise<void> {
  const labels = { app: 'app', [WORKLOAD_LABEL]: 'app' };
  await world.admin.create({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app', namespace, labels: { app: 'app' } },
    spec: {
      replicas: 1, selector: { matchLabels: labels }, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      template: { metadata: { labels, annotations: { 'meshwright.dev/kwok-ready-delay-ms': String(readyDelayMs) } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } },
    },
  } as unknown as KubeObject);
}

/** The pods of the Deployment `app` in `namespace` (not terminating). */
export async function appPods(world: RolloutWorld, namespace: string): Promise<KubeObject[]> {
  const { items } = await world.admin.list(podType, { namespace, labelSelector: `${WORKLOAD_LABEL}=app` });
  return items.filter((p) => !p.metadata.deletionTimestamp);
}

/** Waits until the Deployment in `namespace` runs one Ready pod on `version`'s proxy of `revision`. */
export async function assertAppOn(world: RolloutWorld, namespace: string, version: string, revision: string, timeoutMs = 90_000): Promise<void> {
  await eventually(`${namespace}/app on ${version} (${revision})`, async () => {
    const pods = await appPods(world, namespace);
    return pods.length === 1 && pods.every((p) => podAvailable(p) && p.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion] === version && p.metadata.annotations?.[RECORD_ANNOTATIONS.revision] === revision);
  }, timeoutMs, 200).catch(async (error: Error) => {
    const pods = await appPods(world, namespace);
    throw new Error(`${error.message}: ${JSON.stringify(pods.map((p) => [p.metadata.name, p.metadata.annotations?.[RECORD_ANNOTATIONS.revision], podAvailable(p)]))}`);
  });
}

/**
 * Every status.upgrade, namespace label, Deployment restart mark and tag webhook path a watch
 * shows, as facts with resourceVersions (see the module comment).
 */
export class StepsRecorder {
  readonly seen: Seen[] = [];
  /** Every status.upgrade the watch showed (consecutive repeats of step/phase/pauseUntil folded). */
  readonly upgrades: UpgradeStatus[] = [];
  private readonly informers: Informer[] = [];

  constructor(private readonly world: RolloutWorld, private readonly namespaces: readonly string[]) {
    const note = (fact: string, object: KubeObject) => {
      if (!this.seen.some((s) => s.fact === fact)) this.seen.push({ fact, rv: Number(object.metadata.resourceVersion), at: Date.now() });
    };
    const installations = new Informer({ client: world.admin, type: miType, fieldSelector: `metadata.name=${world.name}` });
    installations.on((_type, object) => {
      const upgrade = (object as KubeObject & { status?: { upgrade?: UpgradeStatus & { pauseUntil?: string } } }).status?.upgrade;
      if (!upgrade) return;
      const last = this.upgrades.at(-1) as (UpgradeStatus & { pauseUntil?: string }) | undefined;
      if (!last || last.phase !== upgrade.phase || last.step !== upgrade.step || last.pauseUntil !== upgrade.pauseUntil) this.upgrades.push(upgrade);
      note(`phase ${upgrade.phase}`, object);
      if (upgrade.stepName) note(`step ${upgrade.step ?? ''}. ${upgrade.stepName}`, object);
      if (upgrade.pauseUntil) note(`pause ${upgrade.pauseUntil}`, object);
    });
    this.informers.push(installations);
    const namespaceInformer = new Informer({ client: world.admin, type: { apiVersion: 'v1', kind: 'Namespace' } });
    namespaceInformer.on((_type, object) => {
      if (!namespaces.includes(object.metadata.name)) return;
      const value = object.metadata.labels?.[TEST_INJECT_LABEL];
      if (value) note(`label ${object.metadata.name}=${value}`, object);
    });
    this.informers.push(namespaceInformer);
    for (const namespace of namespaces) {
      const apps = new Informer({ client: world.admin, type: deploymentType, namespace });
      apps.on((_type, object) => {
        const mark = (object as KubeObject & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } }).spec.template.metadata?.annotations?.[RESTARTED_FOR_ANNOTATION];
        if (mark) note(`restarted ${namespace} for ${mark.split('-')[0]}${mark.includes('@') ? `@${mark.split('@')[1]}` : ''}`, object);
      });
      this.informers.push(apps);
    }
    const webhooks = new Informer({ client: world.admin, type: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' } });
    webhooks.on((type, object) => {
      if (object.metadata.name === testInjectionWebhookName(world.name) && type !== 'delete') {
        const url = ((object.webhooks as Array<{ clientConfig: { url?: string; service?: { path?: string } } }>)[0]?.clientConfig);
        const path = url?.url ?? url?.service?.path ?? '';
        note(`tag at ${path.split('/').at(-1)}`, object);
      }
      if (object.metadata.name.startsWith(`${testInjectionWebhookName(world.name)}-`)) note(`${type === 'delete' ? 'deleted' : 'present'} ${object.metadata.name.slice(testInjectionWebhookName(world.name).length + 1)} webhook`, object);
    });
    this.informers.push(webhooks);
    const controlPlane = new Informer({ client: world.admin, type: deploymentType, namespace: world.harness.meshNamespace });
    controlPlane.on((type, object) => note(`${type === 'delete' ? 'deleted' : 'present'} ${object.metadata.name}`, object));
    this.informers.push(controlPlane);
  }

  /** The first time `fact` was seen, if it was. */
  get(fact: string): Seen | undefined {
    return this.seen.find((s) => s.fact === fact);
  }

  /** Whether `fact` was seen. */
  has(fact: string): boolean {
    return this.get(fact) !== undefined;
  }

  /** Waits until `fact` is seen. */
  async until(fact: string, timeoutMs = 120_000, pollMs = 5): Promise<Seen> {
    return eventually(`${fact} seen`, async () => this.get(fact), timeoutMs, pollMs).catch(async (error: Error) => {
      const mi = await this.world.admin.get<KubeObject & { status?: unknown }>(miType, this.world.name);
      throw new Error(`${error.message}; seen: ${this.seen.map((s) => s.fact).join(' | ')}; status: ${JSON.stringify(mi.status)}`);
    });
  }

  /** Starts every watch. */
  start(): Promise<void[]> {
    return Promise.all(this.informers.map((i) => i.start()));
  }

  /** Stops every watch. */
  stop(): Promise<void[]> {
    return Promise.all(this.informers.map((i) => i.stop()));
  }
}

/**
 * The world: the test mesh at {@link OLD} with strategy Canary and `canary` (spec.upgrade.canary),
 * three enrolled namespaces (the second labelled {@link WAVE_LABEL}=two by the person) with one
 * Deployment each, settled on the old revision; the recorder started.
 */
export async function stepsWorld(canary: (namespaces: [string, string, string]) => Record<string, unknown>, options: { operatorEnv?: Record<string, string>; progressDeadline?: string; rollbackOnFailure?: boolean } = {}): Promise<StepsWorld> {
  const run = Math.random().toString(36).slice(2, 7);
  const namespaces: [string, string, string] = [`cs-a-${run}`, `cs-b-${run}`, `cs-c-${run}`];
  const world = new RolloutWorld({
    maxUnavailable: 1, batchInterval: '1s', progressDeadline: options.progressDeadline ?? '60s',
    spec: {
      version: OLD,
      injection: { namespaces, restartWorkloads: { enabled: true, maxUnavailable: 1, batchInterval: '1s' } },
      upgrade: { strategy: 'Canary', canary: canary(namespaces), ...(options.rollbackOnFailure === false ? { rollbackOnFailure: false } : {}) },
    },
    ...(options.operatorEnv ? { operatorEnv: options.operatorEnv } : {}),
  });
  await world.setUp();
  for (const [i, namespace] of namespaces.entries()) {
    await world.admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'meshwright.dev/test-run': run, ...(i === 1 ? { [WAVE_LABEL]: 'two' } : {}) } } } as KubeObject);
  }
  // The operator enrols each namespace with the old revision's label; the API server takes the label up within a moment.
  for (const namespace of namespaces) {
    await eventually(`${namespace} enrolled on the old revision`, async () => (await world.admin.get(({ apiVersion: 'v1', kind: 'Namespace' }), namespace)).metadata.labels?.[TEST_INJECT_LABEL] === `${world.name}-${OLD.replaceAll('.', '-')}`, 60_000, 100);
  }
  for (const namespace of namespaces) {
    await eventually(`an injected pod in ${namespace}`, async () => {
      const created = await world.admin.create({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'probe-', namespace }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } } as unknown as KubeObject).catch(() => undefined);
      if (!created) return false;
      await world.admin.delete(podType, created.metadata.name, namespace).catch(() => undefined);
      return InjectionHarness.injected(created);
    }, 60_000, 300);
    await deployment(world, namespace);
  }
  for (const namespace of namespaces) await assertAppOn(world, namespace, OLD, OLD.replaceAll('.', '-'));
  const recorder = new StepsRecorder(world, namespaces);
  await recorder.start();
  return { world, namespaces, recorder };
}

/** Writes by the operator's ServiceAccount to the Deployments of `namespaces` since `since` (audit log): "<namespace>/<name>" → times. */
export function deploymentWrites(world: RolloutWorld, namespaces: readonly string[], since: Date): Map<string, number[]> {
  const writes = new Map<string, number[]>();
  const events = auditEvents(since, (e) => e.user?.username === world.harness.username && ['patch', 'update', 'create', 'delete'].includes(e.verb)
    && e.objectRef?.apiGroup === 'apps' && e.objectRef.resource === 'deployments' && namespaces.includes(e.objectRef.namespace ?? '')
    && !e.objectRef.subresource && (e.responseStatus?.code ?? 0) < 300);
  for (const event of events) {
    const id = `${event.objectRef!.namespace}/${event.objectRef!.name}`;
    writes.set(id, [...(writes.get(id) ?? []), Date.parse(event.stageTimestamp)]);
  }
  return writes;
}

/** Stops the recorder and the operator, deletes the enrolled namespaces, then tears the world down. */
export async function tearDownSteps(steps: StepsWorld | undefined): Promise<void> {
  if (!steps) return;
  await steps.recorder.stop();
  await steps.world.operator?.stop().catch(() => undefined);
  for (const namespace of steps.namespaces) await steps.world.admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace).catch(() => undefined);
  await steps.world.tearDown();
}

export { NEW, OLD };
