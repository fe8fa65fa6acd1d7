/**
 * The per-pass scope (cluster-api's pattern): everything one reconcile pass of one installation
 * knows, built at its start and handed to every step. Nothing about "the current installation"
 * lives on the reconciler instance, so passes of different installations running at once on
 * several workers never see each other's state across an `await`.
 */
import type { Logger } from 'pino';
import { withSpecDefaults } from '../../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import type { MeshInstallationStatus } from '../../api/status.ts';
import type { MeshDistribution, ResolvedVersion } from '../../distributions/distribution.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import type { CertificateAuthorityOutcome } from '../certificate-authority.ts';
import type { RolloutPlan } from '../../rollout/plan.ts';
import type { RotationCondition } from '../../pki/rotation.ts';
import type { EnrolmentOutcome } from './enrolment.ts';
import type { CanaryPass } from '../../upgrade/canary-executor.ts';
import type { ObjectRef } from './live-objects.ts';

/** A MeshInstallation as read from the cache. */
export type InstallationObject = KubeObject & { spec: DefaultedMeshInstallation['spec']; status?: MeshInstallationStatus };

/** The distribution and catalog version a pass works toward. */
export interface Target {
  distribution: MeshDistribution;
  resolved: ResolvedVersion;
}

/** One pass of one installation. Steps fill in `target`, `authority`, `desired` and `applied` as they learn them. */
export interface PassScope {
  /** The installation as this pass read it. */
  readonly installation: InstallationObject;
  /** The installation with the API server's defaults applied to its spec. */
  readonly mi: DefaultedMeshInstallation;
  readonly name: string;
  readonly generation: number;
  readonly paused: boolean;
  readonly log: Logger;
  readonly clock: Clock;
  /** The status being built; written once, at the end of the pass. */
  readonly status: MeshInstallationStatus;
  /** status.inventory as the last pass left it. */
  readonly previousInventory: readonly ObjectRef[];
  target?: Target;
  authority?: CertificateAuthorityOutcome;
  /** The objects this pass wants, ownership marks included. */
  desired?: KubeObject[];
  /** Objects this pass wrote (created or changed). */
  readonly applied: ObjectRef[];
  /** Desired objects that exist and are someone else's, used as they are (a Namespace): never inventoried. */
  notOurs?: ObjectRef[];
  /** When a later pass is due without any event (the end of a drift contest's hold), in clock milliseconds. */
  wakeAt?: number;
  /** What namespace enrolment did this pass (enrolment.ts); unset when it did not run. */
  enrolment?: EnrolmentOutcome;
  /** What the data-plane rollout decided this pass (controllers/meshinstallation/rollout.ts); unset when it did not run. */
  rollout?: RolloutPlan;
  /** Set by a step before the rollout (an upgrade, a rotation) to keep new restart batches from starting this pass: why (rollout/index.ts). */
  rolloutHold?: string;
  /** CertificateAuthorityReady as the root rotation wants it this pass (rotation.ts); unset when no rotation speaks. */
  rotationCondition?: RotationCondition;
  /**
   * A stepped Canary upgrade under way (upgrade/canary-executor.ts): what the recorded step serves
   * — revisions rendered, the default tag, each enrolled namespace's revision — and, once the pass
   * judged its gates, what the rollout restarts. Unset otherwise.
   */
  canary?: CanaryPass;
  /** The objects of each revision rendered this pass during a Canary upgrade, by revision name (upgrade/revisions.ts). */
  canaryRendered?: Map<string, KubeObject[]>;
  /** Objects the caches lacked, as a live read found them this pass (undefined: absent). */
  readonly fetched: Map<string, KubeObject | undefined>;
}

/**
 * A scope for a pass over `installation`. `override` runs the pass for another spec of the same
 * installation (the last served one) while building the same status.
 */
export function newPassScope(installation: InstallationObject, log: Logger, clock: Clock, override?: { spec: DefaultedMeshInstallation['spec']; status: MeshInstallationStatus; applied: ObjectRef[] }): PassScope {
  const spec = withSpecDefaults(override?.spec ?? installation.spec);
  const name = installation.metadata.name;
  const generation = installation.metadata.generation ?? 0;
  return {
    installation,
    mi: { ...installation, spec } as DefaultedMeshInstallation,
    name,
    generation,
    paused: spec.paused,
    log: log.child({ installation: name, generation }),
    clock,
    status: override?.status ?? structuredClone(installation.status ?? {}),
    previousInventory: installation.status?.inventory ?? [],
    applied: override?.applied ?? [],
    fetched: new Map(),
  };
}

/** The pass's clock as conditions want it. */
export function passTime(scope: PassScope): () => Date {
  return () => new Date(scope.clock.now());
}
