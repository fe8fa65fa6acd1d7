/**
 * Root (trust anchor) rotation as a pure decision: {@link planRootRotation} reads what the cluster
 * shows — the rotation phase recorded in status, the CA state (which roots exist, which are
 * published, which root signed the issuer), the triggers, and the data plane — and returns the one
 * action that moves the rotation forward, with the status and condition to record *before* that
 * action runs (runtime/phased-work.ts runs it that way). No I/O, no key material, the clock a
 * parameter: every transition is a table test.
 *
 * The rotation, one per installation:
 *
 *   Idle ─trigger→ ExtendingTrustBundle   generate the new root N (kept in the CA state, once),
 *                                         then publish the bundle [R, N]
 *        → RestartingForTrustBundle       wait until every pod holds [R, N]
 *        → SwitchingIssuer                issuer := one signed by N; bundle := [R, N, N]
 *        → RestartingForIssuer            wait until every pod holds [R, N, N], the identity service
 *                                         runs the new issuer, and no pod was created before it did
 *        → DroppingOldRoot                bundle := [N] (N becomes the root), wait until every pod
 *                                         holds it
 *        → Idle
 *
 * Safety argument. The invariant (issue #17 point 4): no proxy may hold a bundle lacking the root
 * of a certificate it can be shown. A proxy can be shown (a) a certificate from the issuer the mesh
 * uses now — proxies renew their workload certificates by themselves, without a restart, so every
 * live proxy may hold one at any moment — and (b) a certificate another proxy got earlier and still
 * holds. So:
 * - The issuer switches to N only when every pod (terminating ones included: they still serve
 *   during their grace period) holds a bundle with N, and every bundle published from then on has N.
 * - R leaves the bundle only when every pod was started after the switch, so no certificate from
 *   R's issuer remains. "Started after the switch" is read from the pods' trust-bundle hashes: the
 *   switch republishes the overlap bundle as [R, N, N] (N repeated: see rotation-state.ts), which
 *   changes its hash — so it also changes the
 *   rollout's target, and the rollout restarts every pod a second time without any other signal.
 *   A hash is not enough on its own, though: the identity service signs with the issuer it
 *   loaded until its own rollout onto the switched material completes, and a pod created in that
 *   window records the switched bundle with an old-issuer certificate. So where the mesh has an
 *   identity service that follows the anchors ({@link IdentityObservation}), R also stays until it
 *   runs the switched material and every pod on the bundle was created after that or restarted
 *   by the rollout (which waits for the control plane); a pod created in the window keeps the
 *   gate shut until it is replaced.
 * - Every phase decides from what the cluster shows, never from memory, and never skips a phase
 *   whose effect it cannot see; each action is idempotent. A new root is generated only while the
 *   CA state holds none staged, so a restarted operator never makes a second one. A recorded phase
 *   the CA state contradicts (a restored Secret) pauses for a person instead of guessing.
 */
import type { MeshInstallationStatus, ROOT_ROTATION_PHASES } from '../api/status.ts';
import type { RolloutVerdict } from '../rollout/index.ts';

/** A phase of the rotation, as status records it. */
export type RotationPhase = typeof ROOT_ROTATION_PHASES[number];

/** status.certificateAuthority.rotation. */
export type RotationRecord = NonNullable<NonNullable<MeshInstallationStatus['certificateAuthority']>['rotation']>;

/** A root as the planner sees it: never its key. */
export interface RootFacts {
  /** SHA-256 fingerprint, as status shows it. */
  fingerprint: string;
  /** Expiry, epoch ms. */
  notAfter: number;
}

/** What the planner reads; all of it public. */
export interface RotationObservation {
  caType: 'SelfSigned' | 'External';
  /** spec.certificateAuthority.rootRotation, durations in ms. */
  settings: { automatic: boolean; renewBeforeMs: number; trigger?: string };
  /** status.certificateAuthority.rotation as last recorded; absent on an installation that never had one. */
  recorded?: RotationRecord;
  /** The CA state (Secret `meshwright-ca`). */
  ca: {
    /** The root in use: the one the rotation starts from, or the new one once it was promoted. */
    root: RootFacts;
    /** The new root, once generated (SelfSigned) or taken from the user's Secret (External). */
    next?: RootFacts;
    /** Fingerprints of the trust anchors published now, in order. */
    trustAnchors: readonly string[];
    /** Fingerprint of the root the issuer in use chains to. */
    issuerRoot: string;
    /** Hash of the published trust anchors, in the form pods record it. */
    trustBundleHash: string;
  };
  /** External: the root the user's Secret's issuer chains to now. */
  externalRoot?: string;
  /** The rollout toward the current target (proxy version + trust bundle), see rollout/index.ts. */
  rollout: RolloutVerdict;
  /**
   * Pods running this installation's proxy per trust-bundle hash they recorded
   * (`meshwright.dev/trust-bundle-sha256`; "unknown" for none). Terminating pods count: their proxy
   * still serves until it exits.
   */
  podBundles: Readonly<Record<string, number>>;
  /**
   * The identity service (istiod, Linkerd's identity) — what signs workload certificates — when
   * the mesh has one that restarts onto each published bundle; absent for a mesh without (then
   * the pods' bundle hashes are the whole gate). See {@link IdentityObservation}.
   */
  identity?: IdentityObservation;
}

/**
 * The identity service and the pods that may have got their certificate from it before it ran on
 * the issuer in use. Why (issue #17 point 4): the issuer switch is published at once, but the
 * identity service signs with the issuer it loaded at start until its rollout onto the switched
 * material completes. A pod *created* (a scale-up, a replacement — not a restart by the rollout,
 * which waits for the control plane) in that window records the switched bundle's hash yet holds
 * a certificate from the old issuer: the hashes alone say it was started after the switch, so the
 * old root would be dropped under it.
 */
export interface IdentityObservation {
  /**
   * Since when (epoch ms) its live workload has run the trust anchors published now, rolled out
   * and available as `kubectl rollout status` judges it; absent while it does not.
   */
  onNewIssuerSince?: number;
  /** The pods recording the bundle published now: when each was created (epoch ms) and whether the rollout restarted it for the current target. */
  currentPods: ReadonlyArray<{ createdAt: number; restartedForTarget: boolean }>;
}

/** What moves the rotation forward; each must be idempotent (see the module comment). */
export type RotationAction =
  /** Nothing to do: not rotating, and no trigger. */
  | 'none'
  /** Create the new root and store it in the CA state as the staged next root, unless one is staged. */
  | 'generateNewRoot'
  /** External: store the user's new root and issuer in the CA state as the staged next material. */
  | 'stageExternalRoot'
  /** Publish the trust anchors [root, next], the issuer unchanged. */
  | 'publishOverlapBundle'
  /** The data plane is restarting toward the current bundle: look again when it changes. */
  | 'waitForDataPlane'
  /** Issuer := the one signed by next (SelfSigned: issued now; External: the user's); anchors := [root, next, next]. Apply the issuer before the anchors. */
  | 'switchIssuer'
  /** Promote next to root and publish the trust anchors [next] alone. */
  | 'publishNewRootOnly'
  /** Record the rotation finished (Idle, completedAt). */
  | 'complete'
  /** Stop here until what the condition names changes; the current bundle keeps every proxy working. */
  | 'pause';

/** CertificateAuthorityReady as the rotation wants it. */
export interface RotationCondition {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** Why a rotation started. */
export type RotationCause = 'Trigger' | 'Automatic' | 'ExternalRootChanged';

/** One decision. */
export interface RotationPlan {
  action: RotationAction;
  /** The record to make durable before the action runs. */
  record: RotationRecord;
  /** Present while a rotation is under way, paused, or just finished; absent when Idle and quiet. */
  condition?: RotationCondition;
  /** Set when this step starts a rotation. */
  started?: RotationCause;
  /** An Event worth emitting for this step (start, phase change, pause, completion). */
  event?: { type: 'Normal' | 'Warning'; reason: string; message: string };
  /** When the planner must run again even if nothing changes (the automatic rotation falls due), epoch ms. */
  wakeAt?: number;
}

/** Reasons of CertificateAuthorityReady for the rotation. */
export const RotationReason = {
  ExtendingTrustBundle: 'RotationExtendingTrustBundle',
  RestartingForTrustBundle: 'RotationRestartingForTrustBundle',
  SwitchingIssuer: 'RotationSwitchingIssuer',
  RestartingForIssuer: 'RotationRestartingForIssuer',
  DroppingOldRoot: 'RotationDroppingOldRoot',
  Completed: 'RotationCompleted',
  Paused: 'RotationPaused',
  StateMismatch: 'RotationStateMismatch',
  TriggerIgnored: 'RotationTriggerIgnored',
} as const;

/** The record without startedAt (a finished rotation has none under way). */
function withoutStart(record: RotationRecord): RotationRecord {
  const { startedAt: _finished, ...rest } = record;
  return rest;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** How far the CA state has got, read from the state alone. */
type Stage =
  /** No new root staged; the root alone is published and signs the issuer (idle, or after the promotion). */
  | 'single'
  /** A new root is staged, not published. */
  | 'staged'
  /** Both roots published, the issuer still the old root's. */
  | 'overlap'
  /** Both roots published, the issuer the new root's. */
  | 'switched'
  /** Anything else: the invariant cannot be vouched for. */
  | 'inconsistent';

function stageOf(ca: RotationObservation['ca']): Stage {
  const anchors = new Set(ca.trustAnchors);
  const root = ca.root.fingerprint;
  if (!ca.next) return anchors.has(root) && ca.issuerRoot === root ? 'single' : 'inconsistent';
  const next = ca.next.fingerprint;
  if (!anchors.has(root)) return 'inconsistent';
  if (!anchors.has(next)) return ca.issuerRoot === root ? 'staged' : 'inconsistent';
  if (ca.issuerRoot === root) return 'overlap';
  return ca.issuerRoot === next ? 'switched' : 'inconsistent';
}

/** Whether every pod with this installation's proxy holds the bundle published now; else a sentence on those that do not. */
function dataPlaneGate(observed: RotationObservation): { passed: true } | { passed: false; behind: number } {
  let behind = 0;
  for (const [hash, pods] of Object.entries(observed.podBundles)) if (hash !== observed.ca.trustBundleHash) behind += pods;
  return behind === 0 ? { passed: true } : { passed: false, behind };
}

const PHASE_WORK: Record<Exclude<RotationPhase, 'Idle'>, string> = {
  ExtendingTrustBundle: 'adding the new root to the trust bundle',
  RestartingForTrustBundle: 'restarting workloads so every proxy trusts the old and the new root',
  SwitchingIssuer: 'switching the issuer to one signed by the new root',
  RestartingForIssuer: 'restarting workloads so every workload certificate chains to the new root',
  DroppingOldRoot: 'dropping the old root from the trust bundle and restarting workloads',
};

/**
 * The next step of the root rotation at `now` (epoch ms). See the module comment for the phases
 * and why each waits for what it does.
 */
export function planRootRotation(observed: RotationObservation, now: number): RotationPlan {
  const recorded = observed.recorded;
  const stage = stageOf(observed.ca);
  const phase: RotationPhase = recorded?.phase ?? 'Idle';
  const base: RotationRecord = { ...recorded, phase };
  const queued = queuedTrigger(observed);

  if (stage === 'inconsistent') {
    return pause(base, RotationReason.StateMismatch, `the CA state does not match any step of a root rotation (published roots ${observed.ca.trustAnchors.join(', ')}; issuer signed by ${observed.ca.issuerRoot}): the operator will not change trust it cannot vouch for. Restore Secret meshwright-ca from a backup taken during this rotation, or put back the trust anchors that sign the issuer`);
  }

  if (phase === 'Idle') {
    // A staged root while status says Idle: the status was lost (restored, rewritten) mid-rotation.
    // The CA state is the stronger evidence: resume at the first phase its effects call for.
    if (stage !== 'single') return enter(observed, base, stage === 'switched' ? 'SwitchingIssuer' : 'ExtendingTrustBundle', now, queued);
    return idle(observed, recorded, now);
  }

  switch (phase) {
    case 'ExtendingTrustBundle':
      if (stage === 'single') {
        if (observed.caType === 'SelfSigned') return step(base, 'generateNewRoot', phase, queued);
        if (observed.externalRoot && observed.externalRoot !== observed.ca.root.fingerprint) return step(base, 'stageExternalRoot', phase, queued);
        // External, and the Secret holds the root in use again: nothing was published, so stop.
        return { action: 'complete', record: withoutStart({ ...base, phase: 'Idle' }), condition: { status: 'True', reason: RotationReason.Completed, message: 'the root rotation was cancelled before anything was published: the External Secret holds the root in use again' }, event: { type: 'Normal', reason: 'RootRotationCancelled', message: 'the External Secret holds the root in use again; nothing was published' } };
      }
      if (stage === 'staged') return step(base, 'publishOverlapBundle', phase, queued);
      if (stage === 'overlap') return enter(observed, base, 'RestartingForTrustBundle', now, queued);
      return mismatch(base, phase, stage);
    case 'RestartingForTrustBundle':
    case 'SwitchingIssuer':
      // A bundle lost its new root (a restored Secret) before the switch: publishing it again is safe.
      if (stage === 'staged') return step({ ...base, phase: 'ExtendingTrustBundle' }, 'publishOverlapBundle', 'ExtendingTrustBundle', queued);
      if (stage === 'overlap') {
        const gate = waitForDataPlane(observed, base, queued);
        if (gate) return gate;
        return { ...step({ ...base, phase: 'SwitchingIssuer' }, 'switchIssuer', 'SwitchingIssuer', queued), event: phase === 'SwitchingIssuer' ? undefined : phaseEvent('SwitchingIssuer') };
      }
      if (stage === 'switched' && phase === 'SwitchingIssuer') return enter(observed, base, 'RestartingForIssuer', now, queued);
      return mismatch(base, phase, stage);
    case 'RestartingForIssuer':
    case 'DroppingOldRoot':
      if (stage === 'switched') {
        const gate = waitForDataPlane(observed, base, queued) ?? waitForNewIssuer(observed, base, queued);
        if (gate) return gate;
        return { ...step({ ...base, phase: 'DroppingOldRoot' }, 'publishNewRootOnly', 'DroppingOldRoot', queued), event: phase === 'DroppingOldRoot' ? undefined : phaseEvent('DroppingOldRoot') };
      }
      // Only the old-root drop leads back to one root: in RestartingForIssuer that is a contradiction.
      if (stage === 'single' && phase === 'DroppingOldRoot') {
        const gate = waitForDataPlane(observed, base, queued);
        if (gate) return gate;
        const record: RotationRecord = { ...withoutStart(base), phase: 'Idle', completedAt: iso(now) };
        return {
          action: 'complete', record,
          condition: { status: 'True', reason: RotationReason.Completed, message: `the root rotation completed: every proxy trusts only root ${observed.ca.root.fingerprint}${queued ? `; trigger ${queued} starts the next rotation` : ''}` },
          event: { type: 'Normal', reason: 'RootRotationCompleted', message: `root ${observed.ca.root.fingerprint} is the only trust anchor; every workload was restarted onto it` },
        };
      }
      return mismatch(base, phase, stage);
  }
}

/** The spec's trigger when it differs from the one the rotation under way was started for (it runs next). */
function queuedTrigger(observed: RotationObservation): string | undefined {
  const trigger = observed.settings.trigger;
  return trigger !== undefined && trigger !== observed.recorded?.lastTrigger ? trigger : undefined;
}

/** Idle: start a rotation when a trigger asks for one. */
function idle(observed: RotationObservation, recorded: RotationRecord | undefined, now: number): RotationPlan {
  const { settings, ca } = observed;
  const base: RotationRecord = { ...recorded, phase: 'Idle' };
  // An installation with no rotation record adopts the trigger it was created with: its root is new.
  if (!recorded) return { action: 'none', record: settings.trigger === undefined ? base : { ...base, lastTrigger: settings.trigger } };
  const triggered = settings.trigger !== undefined && settings.trigger !== recorded.lastTrigger;
  if (observed.caType === 'External') {
    if (observed.externalRoot && observed.externalRoot !== ca.root.fingerprint) return start(observed, base, 'ExternalRootChanged', now);
    if (triggered) {
      return {
        action: 'none', record: { ...base, lastTrigger: settings.trigger },
        event: { type: 'Warning', reason: RotationReason.TriggerIgnored, message: `rootRotation.trigger ${settings.trigger} does not rotate an External CA: its root comes from your Secret; put the new root and an issuer signed by it there, and the operator moves the mesh onto it with an overlap` },
      };
    }
    return { action: 'none', record: base };
  }
  if (triggered) return start(observed, { ...base, lastTrigger: settings.trigger }, 'Trigger', now);
  const dueAt = ca.root.notAfter - settings.renewBeforeMs;
  if (settings.automatic) {
    if (dueAt <= now) return start(observed, base, 'Automatic', now);
    return { action: 'none', record: base, wakeAt: dueAt };
  }
  return { action: 'none', record: base };
}

function start(observed: RotationObservation, base: RotationRecord, cause: RotationCause, now: number): RotationPlan {
  const why = {
    Trigger: `rootRotation.trigger changed to ${observed.settings.trigger}`,
    Automatic: `root ${observed.ca.root.fingerprint} expires at ${iso(observed.ca.root.notAfter)}, within rootRotation.renewBefore`,
    ExternalRootChanged: `the External Secret holds a new root ${observed.externalRoot}`,
  }[cause];
  const record: RotationRecord = { ...base, phase: 'ExtendingTrustBundle', startedAt: iso(now) };
  const action: RotationAction = observed.caType === 'External' ? 'stageExternalRoot' : 'generateNewRoot';
  return {
    action, record, started: cause,
    condition: condition('ExtendingTrustBundle', undefined),
    event: { type: 'Normal', reason: 'RootRotationStarted', message: `root rotation started: ${why}; the old root stays trusted until every workload was restarted onto the new one` },
  };
}

/** Enters `phase` (recording it) and takes its first step by deciding again from there. */
function enter(observed: RotationObservation, base: RotationRecord, phase: Exclude<RotationPhase, 'Idle'>, now: number, queued: string | undefined): RotationPlan {
  const startedAt = base.startedAt ?? iso(now);
  const next = planRootRotation({ ...observed, recorded: { ...base, phase, startedAt } }, now);
  return { ...next, event: next.event ?? phaseEvent(phase), condition: next.condition ?? condition(phase, queued) };
}

function step(record: RotationRecord, action: RotationAction, phase: Exclude<RotationPhase, 'Idle'>, queued: string | undefined): RotationPlan {
  return { action, record, condition: condition(phase, queued) };
}

function condition(phase: Exclude<RotationPhase, 'Idle'>, queued: string | undefined, progress?: string): RotationCondition {
  const tail = [progress, queued ? `trigger ${queued} is queued: it starts a new rotation once this one completes` : undefined].filter(Boolean).join('; ');
  return { status: 'True', reason: RotationReason[phase], message: `root rotation: ${PHASE_WORK[phase]}${tail ? ` (${tail})` : ''}` };
}

function phaseEvent(phase: Exclude<RotationPhase, 'Idle'>): RotationPlan['event'] {
  return { type: 'Normal', reason: `RootRotation${phase}`, message: `root rotation: ${PHASE_WORK[phase]}` };
}

/**
 * Pods recording the bundle published now that may still hold a certificate from the old issuer:
 * all of them while the identity service does not run the switched material yet; afterwards those
 * created at or before the moment it did (timestamps have a second's resolution, so the same
 * second counts as before), unless the rollout restarted them for the current target — it starts
 * no restart before the control plane is available, so those got the new issuer's certificate.
 */
export function podsMaybeOnOldIssuer(identity: IdentityObservation): number {
  const since = identity.onNewIssuerSince;
  if (since === undefined) return identity.currentPods.length;
  return identity.currentPods.filter((pod) => !pod.restartedForTarget && pod.createdAt <= since).length;
}

/**
 * The identity gate after the issuer switch (see {@link IdentityObservation}): undefined when the
 * identity service runs the new issuer and no pod may hold an old-issuer certificate; else the
 * wait for the identity service, or the data-plane wait/pause for the pods created in the window
 * (they hold the current bundle, so only a restart or a deletion replaces their certificate).
 */
function waitForNewIssuer(observed: RotationObservation, base: RotationRecord, queued: string | undefined): RotationPlan | undefined {
  const identity = observed.identity;
  if (!identity) return undefined;
  const phase = base.phase as Exclude<RotationPhase, 'Idle'>;
  if (identity.onNewIssuerSince === undefined) {
    return { action: 'waitForDataPlane', record: base, condition: condition(phase, queued, 'waiting for the identity service to roll out onto the new issuer') };
  }
  const suspect = podsMaybeOnOldIssuer(identity);
  if (suspect === 0) return undefined;
  return dataPlaneWait(observed, base, queued, `${suspect} pod(s) were created before the identity service ran on the new issuer and may hold a certificate from the old one`);
}

/** The data-plane gate of a restarting phase: undefined when passed, else the wait or the pause. */
function waitForDataPlane(observed: RotationObservation, base: RotationRecord, queued: string | undefined): RotationPlan | undefined {
  const gate = dataPlaneGate(observed);
  if (gate.passed) return undefined;
  return dataPlaneWait(observed, base, queued, `${gate.behind} pod(s) do not hold the current trust bundle yet`);
}

/** The wait or the pause while the pods `behind` names stop the gate, by the rollout's verdict. */
function dataPlaneWait(observed: RotationObservation, base: RotationRecord, queued: string | undefined, behind: string): RotationPlan {
  const phase = base.phase as Exclude<RotationPhase, 'Idle'>;
  const verdict = observed.rollout;
  switch (verdict.state) {
    case 'in-progress':
      return { action: 'waitForDataPlane', record: base, condition: condition(phase, queued, `${behind}; rollout ${verdict.progress}`) };
    case 'pending':
      return { action: 'waitForDataPlane', record: base, condition: condition(phase, queued, behind) };
    case 'halted':
      return pause(base, RotationReason.Paused, `the root rotation is paused in ${phase}: ${verdict.message} (${behind}). The current trust bundle keeps every proxy working; the rotation goes on once the failed workloads pass the health gate`);
    case 'disabled':
      return pause(base, RotationReason.Paused, `the root rotation is paused in ${phase}: workload restarts are disabled (spec.injection.restartWorkloads.enabled) and ${behind}; restart them yourself or enable restarts, and the rotation goes on`);
    case 'complete': {
      const left = [
        verdict.skipped.length > 0 ? `opted out of restarts: ${verdict.skipped.join(', ')}` : undefined,
        verdict.barePods.length > 0 ? `without a controller: ${verdict.barePods.join(', ')}` : undefined,
        verdict.outdatedWorkloads > 0 ? `${verdict.outdatedWorkloads} workload(s) a restart does not update (OnDelete, paused, namespace not enrolled)` : undefined,
      ].filter(Boolean).join('; ');
      return pause(base, RotationReason.Paused, `the root rotation is paused in ${phase}: ${behind} and the rollout restarts no more of them${left ? ` (${left})` : ''}. Restart or delete those pods; the rotation goes on once they are replaced`);
    }
  }
}

function pause(record: RotationRecord, reason: string, message: string): RotationPlan {
  return { action: 'pause', record, condition: { status: 'False', reason, message }, event: { type: 'Warning', reason, message } };
}

function mismatch(record: RotationRecord, phase: RotationPhase, stage: Stage): RotationPlan {
  const shows = { single: 'a single root and no new one', staged: 'a new root not yet published', overlap: 'both roots with the old issuer', switched: 'both roots with the new issuer', inconsistent: 'an inconsistent state' }[stage];
  return pause(record, RotationReason.StateMismatch, `status says the root rotation is in ${phase}, but the CA state Secret meshwright-ca holds ${shows}: the operator will not guess which roots proxies trust. Restore meshwright-ca from a backup taken during this rotation; or, if the state is right, set status.certificateAuthority.rotation.phase to the phase it matches`);
}
