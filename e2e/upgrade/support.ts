/**
 * What the InPlace upgrade e2e tests share, over the rollout tests' world (e2e/rollout/world.ts):
 * the test mesh installed at 1.0.0 with injected Deployments, a watch recording every
 * status.upgrade phase in order, and reads of what the pods' proxies and the control plane run.
 */
import assert from 'node:assert/strict';
import { RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../support/kube.ts';
import { miType, type RestartSettings, RolloutWorld, type TestWorkload } from '../rollout/world.ts';
import { podAvailable } from '../rollout/unavailability.ts';

/** status.upgrade as the tests read it. */
export interface UpgradeStatus {
  from: string;
  to: string;
  strategy: string;
  phase: string;
  step?: number;
  totalSteps?: number;
  stepName?: string;
  updatedWorkloads?: number;
  totalWorkloads?: number;
  startedAt: string;
  phaseStartedAt?: string;
  finishedAt?: string;
  message?: string;
}

type Installation = KubeObject & { spec: { version: string }; status?: { observedGeneration?: number; version?: string; progress?: string; upgrade?: UpgradeStatus; conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };

/** The version the world installs, and the one it upgrades to (the test mesh's catalog). */
export const OLD = '1.0.0';
export const NEW = '1.1.0';

/**
 * Records every status.upgrade.phase in the order a watch of the installation shows them (repeats
 * folded), and every plan step (`step. stepName`) likewise.
 */
export class PhaseRecorder {
  readonly phases: string[] = [];
  readonly steps: string[] = [];
  private readonly informer: Informer;

  constructor(world: RolloutWorld) {
    this.informer = new Informer({ client: world.admin, type: miType, fieldSelector: `metadata.name=${world.name}` });
    this.informer.on((_type, object) => {
      const upgrade = (object as Installation).status?.upgrade;
      const phase = upgrade?.phase;
      if (phase && this.phases.at(-1) !== phase) this.phases.push(phase);
      const step = upgrade?.stepName === undefined ? undefined : `${upgrade.step === undefined ? '' : `${upgrade.step}. `}${upgrade.stepName}`;
      if (step && this.steps.at(-1) !== step) this.steps.push(step);
    });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}

/** A world at {@link OLD} with `count` one-pod Deployments, settled with every proxy current. */
export async function upgradeWorld(settings: RestartSettings, count: number): Promise<{ world: RolloutWorld; workloads: TestWorkload[] }> {
  const world = new RolloutWorld({ ...settings, spec: { version: OLD, ...settings.spec } });
  await world.setUp();
  const workloads: TestWorkload[] = [];
  for (let i = 1; i <= count; i++) workloads.push(await world.workload('Deployment', `app-${i}`, { replicas: 1, readyDelayMs: 300 }));
  await world.settled();
  await world.rolloutWhen(`${count} workloads current`, (r) => r?.workloads.total === count && r.workloads.current === count);
  return { world, workloads };
}

/** The installation as read now. */
export async function installation(world: RolloutWorld): Promise<Installation> {
  return world.admin.get<Installation>(miType, world.name);
}

/** Sets spec fields by merge patch (as a person or GitOps would). */
export async function patchSpec(world: RolloutWorld, spec: Record<string, unknown>): Promise<void> {
  await world.admin.patch(miType, world.name, undefined, { spec }, 'merge');
}

/**
 * The installation once status.upgrade passes `check` and the Upgrading condition has `reason`
 * (the phase is recorded at once, the condition with the status at the end of that pass), failing
 * with the last one seen.
 */
export async function upgradeWhen(world: RolloutWorld, description: string, check: (upgrade: UpgradeStatus | undefined) => boolean, reason: string, timeoutMs = 120_000): Promise<Installation> {
  return eventually(description, async () => {
    const mi = await installation(world);
    return check(mi.status?.upgrade) && mi.status?.conditions?.some((c) => c.type === 'Upgrading' && c.reason === reason) ? mi : undefined;
  }, timeoutMs, 100).catch(async (error: Error) => {
    const mi = await installation(world);
    throw new Error(`${error.message}; upgrade: ${JSON.stringify(mi.status?.upgrade)}; Upgrading: ${JSON.stringify(mi.status?.conditions?.find((c) => c.type === 'Upgrading'))}; rollout: ${JSON.stringify((mi.status as { dataPlane?: { rollout?: unknown } } | undefined)?.dataPlane?.rollout)}`);
  });
}

/** Asserts every pod of `workload` runs a proxy of `version`, is Ready and was injected by this installation. */
export async function assertProxies(world: RolloutWorld, workload: TestWorkload, version: string): Promise<void> {
  await eventually(`${workload.id}: its pods on the ${version} proxy and Ready`, async () => {
    const pods = await world.pods(workload);
    return pods.length === workload.replicas && pods.every((p) => p.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion] === version && podAvailable(p));
  }, 60_000, 200).catch(async (error: Error) => {
    const pods = await world.pods(workload);
    throw new Error(`${error.message}: ${JSON.stringify(pods.map((p) => [p.metadata.name, p.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion], podAvailable(p)]))}`);
  });
}

/** The image of the test mesh's control plane as it is applied now. */
export async function controlPlaneImage(world: RolloutWorld): Promise<string> {
  const deployment = await world.admin.get<KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'controller', world.harness.meshNamespace);
  return deployment.spec.template.spec.containers[0]!.image;
}

/** The Upgrading condition. */
export function upgrading(mi: Installation): { status: string; reason: string; message: string } {
  const condition = mi.status?.conditions?.find((c) => c.type === 'Upgrading');
  assert.ok(condition, `an Upgrading condition: ${JSON.stringify(mi.status?.conditions)}`);
  return condition;
}

/** SIGKILLs the world's operator process and waits for it to be gone (the resume tests start the next one). */
export async function killOperator(world: RolloutWorld): Promise<void> {
  const { child } = world.operator;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  assert.equal(child.signalCode, 'SIGKILL');
}

/** The revision names of {@link OLD} and {@link NEW} (the test mesh names its controller `controller-<rev>` under Canary). */
export const OLD_REVISION = '1-0-0';
export const NEW_REVISION = '1-1-0';

/** A world at {@link OLD} with strategy Canary and `count` one-pod Deployments; `operatorEnv` for the operator process. */
export function canaryWorld(count: number, operatorEnv?: Record<string, string>): Promise<{ world: RolloutWorld; workloads: TestWorkload[] }> {
  return upgradeWorld({ maxUnavailable: 1, batchInterval: '1s', progressDeadline: '60s', spec: { upgrade: { strategy: 'Canary' } }, ...(operatorEnv ? { operatorEnv } : {}) }, count);
}
