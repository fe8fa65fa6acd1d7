/**
 * The MeshInstallation status, written only by the operator through the status subresource.
 *
 * It follows what kstatus (Flux, `kubectl wait`) and Argo CD read: `observedGeneration`, and
 * conditions keyed by type, each carrying its own `observedGeneration`. The domain fields below
 * the conditions say where the mesh is: versions and revisions running, component health, CA
 * material and rotation, the data plane's proxy versions and the progress of an upgrade.
 */
import { Type, type Static } from '@sinclair/typebox';
import { FreeformObject, StringEnum, StringMap, Timestamp } from './schema-helpers.ts';

/** Values of a condition's status, as in metav1.Condition. */
export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** Phases of a root (trust anchor) rotation, in the order they run; Idle when none is under way. */
export const ROOT_ROTATION_PHASES = [
  'Idle',
  'ExtendingTrustBundle',
  'RestartingForTrustBundle',
  'SwitchingIssuer',
  'RestartingForIssuer',
  'DroppingOldRoot',
] as const;

/** Phases of an upgrade; the last three are terminal. */
export const UPGRADE_PHASES = [
  'Pending',
  'ControlPlane',
  'Gateways',
  'DataPlane',
  'AwaitingPromotion',
  'Promoting',
  'RollingBack',
  'Succeeded',
  'RolledBack',
  'Failed',
] as const;

/** Roles a control-plane revision can have. */
export const REVISION_STATES = ['Active', 'Canary', 'Retiring'] as const;

/** metav1.Condition's rules for `type` (a CamelCase name, optionally prefixed by a DNS subdomain). */
const CONDITION_TYPE_PATTERN = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';
/** metav1.Condition's rules for `reason` (CamelCase, machine-readable). */
const CONDITION_REASON_PATTERN = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';

const count = (description: string) => Type.Integer({ description, format: 'int32', minimum: 0 });
const versionString = (description: string) => Type.String({ description, maxLength: 32 });
const name = (description: string) => Type.String({ description, maxLength: 253 });

/** The TypeBox schema of one status condition (metav1.Condition's shape). */
export const ConditionSchema = Type.Object({
  type: Type.String({ description: 'Type of the condition in CamelCase, e.g. Ready.', pattern: CONDITION_TYPE_PATTERN, maxLength: 316 }),
  status: StringEnum(CONDITION_STATUSES, { description: 'True, False or Unknown.' }),
  observedGeneration: Type.Integer({
    description: 'metadata.generation of the MeshInstallation this condition was computed for.',
    format: 'int64', minimum: 0,
  }),
  lastTransitionTime: Timestamp({ description: 'When status last changed; reason and message updates alone leave it untouched.' }),
  reason: Type.String({ description: 'Machine-readable CamelCase cause of the current status.', pattern: CONDITION_REASON_PATTERN, minLength: 1, maxLength: 1024 }),
  message: Type.String({ description: 'Human-readable detail, naming what is wrong and what is allowed.', maxLength: 32768 }),
}, { description: 'One observation about the installation.' });

/** A status condition. */
export type Condition = Static<typeof ConditionSchema>;

const revision = Type.Object({
  name: Type.String({ description: 'Revision name, e.g. 1-31-1 (Istio) or the version (Linkerd).', maxLength: 63 }),
  version: versionString('Mesh version of this revision.'),
  state: StringEnum(REVISION_STATES, { description: 'Active: serves the data plane; Canary: new revision during a canary upgrade; Retiring: being removed.' }),
  inUse: Type.Boolean({ description: 'Whether any namespace or pod still points at this revision.' }),
}, { description: 'A control-plane revision that runs in the cluster.' });

const component = Type.Object({
  name: name('Name of the object.'),
  kind: Type.String({ description: 'Kind of the object, e.g. Deployment.', maxLength: 63 }),
  namespace: Type.Optional(Type.String({ description: 'Namespace of the object.', maxLength: 63 })),
  ready: Type.Boolean({ description: 'Whether the component is fully available at the desired version.' }),
  replicas: Type.Optional(count('Desired replicas.')),
  available: Type.Optional(count('Available replicas.')),
}, { description: 'Health of one workload the operator runs (control plane, webhook, gateway).' });

const rootRotationStatus = Type.Object({
  phase: StringEnum(ROOT_ROTATION_PHASES, { description: 'Step of the rotation under way; Idle when none is.' }),
  startedAt: Type.Optional(Timestamp({ description: 'When the rotation under way started.' })),
  completedAt: Type.Optional(Timestamp({ description: 'When the last rotation finished.' })),
  lastTrigger: Type.Optional(Type.String({ description: 'The spec.certificateAuthority.rootRotation.trigger value the last rotation was started for.', maxLength: 63 })),
  queuedTrigger: Type.Optional(Type.String({ description: 'A spec.certificateAuthority.rootRotation.trigger value set while a rotation was under way: it is not restarted, the next rotation runs for this value once the current one completes.', maxLength: 63 })),
}, { description: 'Progress of the root rotation state machine (resumable after a restart).' });

const certificateAuthorityStatus = Type.Object({
  rootFingerprint: Type.Optional(Type.String({ description: 'SHA-256 fingerprint (lowercase hex, colon-separated) of the current root certificate.', maxLength: 95 })),
  rootNotAfter: Type.Optional(Timestamp({ description: 'Expiry of the current root.' })),
  intermediateNotAfter: Type.Optional(Timestamp({ description: 'Expiry of the current intermediate (issuer).' })),
  trustBundleHash: Type.Optional(Type.String({ description: 'Hash of the trust bundle proxies should hold; pods record the hash they were started with.', maxLength: 128 })),
  rotation: Type.Optional(rootRotationStatus),
}, { description: 'The CA material in use. Never contains private keys.' });

/** Where a data-plane rollout is: see operator/rollout/. */
export const ROLLOUT_PHASES = ['Complete', 'Restarting', 'Waiting', 'Halted', 'Disabled'] as const;

/** Why a restarted workload failed the health gate. */
export const ROLLOUT_FAILURE_REASONS = ['CrashLoop', 'NotReady', 'ProgressDeadlineExceeded'] as const;

const workloadName = (description: string) => Type.String({ description: `${description} As "<Kind> <namespace>/<name>".`, maxLength: 320 });

const rollout = Type.Object({
  target: Type.String({ description: 'What every proxy should run, as the restarts name it: the proxy version and a prefix of the trust bundle hash.', maxLength: 128 }),
  phase: StringEnum(ROLLOUT_PHASES, { description: 'Complete: no workload left to restart. Restarting: a batch is under way. Waiting: batchInterval between batches. Halted: a batch failed the health gate; no further batch starts. Disabled: spec.injection.restartWorkloads.enabled is false, outdated workloads are only reported.' }),
  progress: Type.String({ description: 'Workloads running the current proxy out of the workloads with injected pods, as "12/40" (the DataPlane printer column).', maxLength: 32 }),
  workloads: Type.Object({
    total: count('Workloads (Deployments, StatefulSets, DaemonSets) with pods running this installation\'s proxy.'),
    current: count('Of them, those whose every pod runs the current proxy.'),
    outdated: count('Of them, those not restarted yet for the current target.'),
    restarting: count('Of them, those restarted for the current target whose rollout is not complete yet.'),
    skipped: count('Of them, those opted out of restarts by annotation.'),
    failed: count('Of them, those that failed the health gate.'),
  }, { description: 'The workloads counted by state.' }),
  batch: Type.Optional(Type.Object({
    number: Type.Integer({ description: 'The batch under way or last started, from 1.', format: 'int32', minimum: 1 }),
    workloads: Type.Array(workloadName('A workload of the batch.'), { description: 'The workloads restarted in this batch.', maxItems: 256 }),
    startedAt: Timestamp({ description: 'When the batch was started.' }),
  }, { description: 'The batch under way, or the last one.' })),
  lastBatchCompletedAt: Type.Optional(Timestamp({ description: 'When the last batch passed the health gate; the next one waits batchInterval from here.' })),
  failures: Type.Optional(Type.Array(Type.Object({
    workload: workloadName('The workload.'),
    reason: StringEnum(ROLLOUT_FAILURE_REASONS, { description: 'CrashLoop, NotReady or ProgressDeadlineExceeded.' }),
    message: Type.String({ description: 'What was seen and what to do.', maxLength: 1024 }),
  }, { description: 'A workload that failed the health gate.' }), { description: 'Workloads of the last batch that failed the health gate, and why.', maxItems: 64 })),
  skipped: Type.Optional(Type.Array(workloadName('A workload opted out of restarts.'), { description: 'Outdated workloads opted out of restarts by annotation meshwright.dev/restart: disabled.', maxItems: 64 })),
  barePods: Type.Optional(Type.Array(Type.String({ description: 'An outdated pod without a controller, as "<namespace>/<name>": reported, never deleted.', maxLength: 320 }), { description: 'Outdated pods no controller owns: a restart cannot replace them, so they are listed for a person to delete.', maxItems: 64 })),
  message: Type.String({ description: 'The rollout in one sentence.', maxLength: 1024 }),
}, { description: 'The restart of outdated workloads so every pod runs the current proxy.' });

const dataPlane = Type.Object({
  enrolledNamespaces: count('Namespaces carrying the mesh\'s enrolment label with the value that enrols them in this installation (whoever set it); system namespaces and the control-plane namespace never count.'),
  injectedPods: count('Pods running this installation\'s proxy: labelled meshwright.dev/injected-by=<installation>, not terminating, not finished.'),
  outdatedPods: count('Injected pods whose proxy version is not the installation\'s version, or whose trust bundle hash is not that of the trust anchors the mesh publishes now.'),
  proxyVersions: Type.Optional(StringMap(count('Pods running this proxy version.'), {
    description: 'Injected pods per proxy version ("unknown" for a pod whose record has none).',
    maxProperties: 64,
  })),
  namespacesNotEnrolled: Type.Optional(Type.Array(Type.Object({
    namespace: name('The namespace.'),
    reason: Type.String({ description: 'LabelSetByUser, EnrolledByAnotherInstallation or NamespaceExcluded.', maxLength: 64 }),
    message: Type.String({ description: 'What was found and what to do.', maxLength: 1024 }),
  }, { description: 'A namespace spec.injection selects that the operator left as it is.' }), {
    description: 'Selected namespaces the operator did not enrol: a label a person set is never overwritten, a namespace another installation enrolled is not taken, system and control-plane namespaces are never enrolled.',
    maxItems: 64,
  })),
  rollout: Type.Optional(rollout),
}, { description: 'The injected workloads.' });

const upgradeStatus = Type.Object({
  from: versionString('Version the upgrade started from.'),
  to: versionString('Version the upgrade goes to.'),
  strategy: StringEnum(['InPlace', 'Canary'], { description: 'Strategy of this upgrade.' }),
  phase: StringEnum(UPGRADE_PHASES, { description: 'Where the upgrade is; Succeeded, RolledBack and Failed are final.' }),
  step: Type.Optional(count('Step (1-based) of the plan under way, as `meshwright plan` numbers the steps of this upgrade.')),
  totalSteps: Type.Optional(count('Steps in the plan, as `meshwright plan` numbers them.')),
  stepName: Type.Optional(Type.String({ description: 'The step under way in the words `meshwright plan` prints for it (e.g. "Gateways", "Canary step 2 of 3").', maxLength: 256 })),
  pauseUntil: Type.Optional(Timestamp({ description: 'Canary: the current step passed its gate and its pause lasts until then.' })),
  updatedWorkloads: Type.Optional(count('Workloads already restarted onto the new proxy.')),
  totalWorkloads: Type.Optional(count('Workloads to restart in total.')),
  startedAt: Timestamp({ description: 'When the upgrade started.' }),
  phaseStartedAt: Type.Optional(Timestamp({ description: 'When the current phase began (or resumed after spec.paused): its health gate must pass within spec.upgrade.progressDeadline of it.' })),
  generation: Type.Optional(Type.Integer({ description: 'metadata.generation of the spec that started the upgrade; a failed or rolled-back upgrade is tried again only for a newer one.', format: 'int64', minimum: 0 })),
  finishedAt: Type.Optional(Timestamp({ description: 'When the upgrade reached a final phase.' })),
  message: Type.Optional(Type.String({ description: 'What the upgrade is doing or why it stopped.', maxLength: 4096 })),
}, { description: 'The latest upgrade, under way or finished.' });

const inventoryEntry = Type.Object({
  apiVersion: Type.String({ description: 'API version of the object.', maxLength: 253 }),
  kind: Type.String({ description: 'Kind of the object.', maxLength: 63 }),
  namespace: Type.Optional(Type.String({ description: 'Namespace of the object; absent for cluster-scoped objects.', maxLength: 63 })),
  name: Type.String({ description: 'Name of the object.', maxLength: 253 }),
}, { description: 'An object the operator created for this installation.' });

/** The TypeBox schema of MeshInstallation.status. */
export const MeshInstallationStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({
    description: 'metadata.generation the operator last acted on; status is current only when it equals metadata.generation.',
    format: 'int64', minimum: 0,
  })),
  conditions: Type.Optional(Type.Array(ConditionSchema, {
    description: 'Ready, Reconciling and Stalled (kstatus) and the domain conditions ControlPlaneReady, DataPlaneReady, CertificateAuthorityReady and Upgrading.',
    maxItems: 32,
    'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'],
  })),
  progress: Type.Optional(Type.String({ description: 'One-line summary for kubectl get, e.g. "Upgrading 1.30.4 -> 1.31.1: DataPlane 12/40".', maxLength: 256 })),
  version: Type.Optional(versionString('Mesh version the control plane runs: set once every control-plane workload is rolled out and available on one version (during an upgrade it names the new version from then on, while workloads may still run the old proxy: see dataPlane.proxyVersions and upgrade).')),
  revisions: Type.Optional(Type.Array(revision, {
    description: 'Control-plane revisions in the cluster, keyed by name.',
    maxItems: 8,
    'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'],
  })),
  components: Type.Optional(Type.Array(component, { description: 'Health of each workload the operator runs.', maxItems: 64 })),
  certificateAuthority: Type.Optional(certificateAuthorityStatus),
  dataPlane: Type.Optional(dataPlane),
  upgrade: Type.Optional(upgradeStatus),
  served: Type.Optional(Type.Object({
    generation: Type.Integer({ description: 'metadata.generation of the spec last served.', format: 'int64', minimum: 0 }),
    spec: FreeformObject({ description: 'That spec, with its defaults, as it was served.' }),
  }, {
    description: 'The last spec the operator served in full (everything rendered was applied). While a newer spec cannot be served (Stalled), this one keeps being enforced: drift is repaired back to it and its components are observed.',
  })),
  inventory: Type.Optional(Type.Array(inventoryEntry, {
    description: 'Every object the operator applied for this installation at the last successful pass: what it prunes when no longer desired and deletes with the installation (as Flux keeps status.inventory).',
    maxItems: 1024,
  })),
}, { description: 'Observed state of the mesh, written by the operator.' });

/** MeshInstallation.status as the operator writes it. */
export type MeshInstallationStatus = Static<typeof MeshInstallationStatusSchema>;
