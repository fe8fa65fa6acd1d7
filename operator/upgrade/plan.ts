/**
 * The InPlace upgrade (#16) as a decision: from the upgrade recorded in status, the spec, and what
 * the cluster shows this pass (control-plane health, the data-plane rollout's verdict), where the
 * upgrade is, what to record, whether the data plane must wait, and what to say. No I/O and no
 * clock of its own (`now` is a parameter): table-tested in plan.test.ts; the executor
 * (executor.ts) records the phase before the pass acts on it.
 *
 * The machine, one stage per phase, each gated on health within spec.upgrade.progressDeadline
 * counted from when the phase was entered (`phaseStartedAt`):
 *
 *   (spec.version ≠ version served) → ControlPlane → Gateways → DataPlane → Succeeded
 *                                          │            │           │
 *                   gate failed ───────────┴────────────┴───────────┴──► RollingBack → RolledBack   (rollbackOnFailure)
 *                                                                   └──► Failed                     (otherwise)
 *
 * - ControlPlane: the new version is rendered and applied — mesh CRDs and control plane — while the
 *   gateways keep the previous version's objects (executor.ts holdGateways), and no restart batch
 *   starts (`hold`); the gate is every control-plane component rolled out and available.
 * - Gateways (only with spec.gateways; otherwise the control plane's gate leads to DataPlane): the
 *   gateways of the new version are applied, recorded first; the gate is every gateway component
 *   rolled out and available; still no restart batch.
 * - DataPlane: the rollout mechanism (operator/rollout) restarts workloads onto the new proxy; the
 *   gate is its verdict for the new target: complete passes, halted fails.
 * - RollingBack: the version of `from` is served again (see {@link versionToServe}) and the rollout
 *   restarts workloads back onto the old proxy; it ends RolledBack once the old control plane is
 *   available and the rollout toward the old target is complete, Failed if that fails too.
 * - Failed: nothing more changes — no restart batch starts (`hold`), the render of the new version
 *   is kept as it is.
 *
 * strategy Canary is decided by canary.ts (planCanary: steps, pauses, promotion, the `default`
 * tag last) and carried out by canary-executor.ts; this machine still words a Canary upgrade as a
 * canary of one step when asked (the executor no longer asks it for one).
 *
 * Everything the machine reads lives in the cluster (status.upgrade, the live objects, the restart
 * marks the rollout reads), so an operator killed anywhere resumes from there: a phase's gate is
 * judged again from what the cluster shows, and the rollout never restarts a workload twice for
 * one target. A final upgrade is retried only for a new generation of the spec.
 */
import { parseDuration } from '../api/duration.ts';
import type { MeshInstallationStatus } from '../api/status.ts';
import type { RolloutVerdict } from '../rollout/index.ts';
import { canaryStepTitles, IN_PLACE_STEPS, inPlaceStepNumber, type CanaryRevisions, type InPlaceStep } from './steps.ts';

/** status.upgrade as the API defines it. */
export type UpgradeStatus = NonNullable<MeshInstallationStatus['upgrade']>;

/** One of the phases of status.upgrade.phase. */
export type UpgradePhase = UpgradeStatus['phase'];

/** Phases after which an upgrade does nothing more. */
export const FINAL_UPGRADE_PHASES: ReadonlySet<UpgradePhase> = new Set(['Succeeded', 'RolledBack', 'Failed']);

/** Reasons of the Upgrading condition (and of the upgrade's Events, with {@link UpgradeEventReason}). */
export const UpgradeReason = {
  /** The upgrade is under way; the message names the phase and what it waits for. */
  UpgradeInProgress: 'UpgradeInProgress',
  /** spec.paused is true while an upgrade is under way: it stays in its phase until resumed. */
  UpgradePaused: 'UpgradePaused',
  /** A gate failed and the previous version is being restored. */
  UpgradeRollingBack: 'UpgradeRollingBack',
  /** Every stage passed its gate: the mesh runs the new version. */
  UpgradeSucceeded: 'UpgradeSucceeded',
  /** A gate failed and the previous version runs again; the message names the gate and why. spec.version still names the new one. */
  UpgradeRolledBack: 'UpgradeRolledBack',
  /** A gate failed (rollbackOnFailure false, or the rollback failed too); nothing more is changed. */
  UpgradeFailed: 'UpgradeFailed',
} as const;

/** Reasons of the Events the upgrade records besides its final ones. */
export const UpgradeEventReason = {
  /** An upgrade started. */
  UpgradeStarted: 'UpgradeStarted',
  /** The control plane of the new version passed its gate; the gateways (or, without any, workloads) are upgraded next. */
  UpgradeControlPlaneReady: 'UpgradeControlPlaneReady',
  /** The gateways of the new version passed their gate; workloads are restarted next. */
  UpgradeGatewaysReady: 'UpgradeGatewaysReady',
} as const;

/** A gate an upgrade stage passes or fails. */
export type UpgradeGate = 'ControlPlane' | 'Gateways' | 'DataPlane';

/** Everything {@link planUpgrade} decides from. */
export interface UpgradeObservation {
  /** metadata.generation of the installation. */
  generation: number;
  /** spec.version. */
  wanted: string;
  /** spec.version of the spec last served in full (status.served), before this pass; undefined before the first. */
  served?: string;
  /** spec.upgrade: only InPlace is planned here. */
  strategy: 'InPlace' | 'Canary';
  rollbackOnFailure: boolean;
  /** spec.upgrade.progressDeadline (a Go duration). */
  progressDeadline: string;
  /** spec.paused. */
  paused: boolean;
  /** status.upgrade as last recorded. */
  recorded?: UpgradeStatus;
  /** The Upgrading condition's reason as last recorded: tells a resumed pause from a running phase. */
  recordedReason?: string;
  /**
   * The control plane of the version served this pass as the live objects show it: the rendered
   * components not rolled out and available (empty: all are). Undefined when the pass did not get
   * as far as observing it (before the apply, or paused).
   */
  controlPlane?: { notReady: readonly string[] };
  /** Canary: the revision names of `from` and spec.version, for the plan's step titles. */
  revisions?: CanaryRevisions;
  /** Whether spec.gateways names any gateway: only then is there a Gateways stage (InPlace: a Canary's gateways are its revision's, gated with its control plane). */
  hasGateways?: boolean;
  /** The gateways' components of the version served this pass not rolled out and available, like {@link controlPlane} (which leaves them out). */
  gateways?: { notReady: readonly string[] };
  /** The rollout toward the served version's target (rollout/index.ts rolloutVerdict); undefined when not observed. */
  dataPlane?: RolloutVerdict;
  /** Workloads of the rollout: how many run the served version's proxy out of how many (status.dataPlane.rollout.workloads). */
  workloads?: { current: number; total: number };
}

/** An Event the pass should record. */
export interface UpgradeEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** The decision of one pass; undefined from {@link planUpgrade} when no upgrade is or was under way for this spec. */
export interface UpgradeDecision {
  /** status.upgrade after this pass. */
  status: UpgradeStatus;
  /**
   * Whether the phase (or the upgrade) differs from the one recorded: the executor makes it durable
   * before the pass acts on it.
   */
  record: boolean;
  /** Why no restart batch may start this pass (rollout/index.ts scope.rolloutHold); undefined: the rollout may go on. */
  hold?: string;
  /** The Upgrading condition. */
  condition: { status: 'True' | 'False'; reason: (typeof UpgradeReason)[keyof typeof UpgradeReason]; message: string };
  events: UpgradeEvent[];
  /** When the next pass is due without any event (a gate's deadline), in clock ms. */
  wakeAt?: number;
}

/**
 * The version a pass renders and applies: spec.version, except while an upgrade to it is rolling
 * back or rolled back — then its `from`, so the previous control plane runs again and the rollout
 * restarts workloads back onto the old proxy, while spec (never written by the operator) keeps
 * naming the new one.
 */
export function versionToServe(wanted: string, recorded: UpgradeStatus | undefined): string {
  if (recorded && recorded.to === wanted && (recorded.phase === 'RollingBack' || recorded.phase === 'RolledBack')) return recorded.from;
  return wanted;
}

/**
 * The stall a final upgrade leaves while spec.version still names its target: RolledBack (the
 * previous version runs) or Failed (the new one does not run as asked). The desired spec is not
 * what runs, so the installation must not read as healthy and current to kstatus (Flux) or Argo
 * CD: Stalled=True, Ready=False with this reason until the spec changes (a new version, the old
 * one back, or a new generation that retries). Undefined otherwise.
 */
export function upgradeStall(upgrade: UpgradeStatus | undefined, wanted: string): { reason: 'UpgradeRolledBack' | 'UpgradeFailed'; message: string } | undefined {
  if (!upgrade || upgrade.to !== wanted || (upgrade.phase !== 'RolledBack' && upgrade.phase !== 'Failed')) return undefined;
  const detail = upgrade.message ? `: ${upgrade.message}` : '';
  return { reason: upgrade.phase === 'RolledBack' ? 'UpgradeRolledBack' : 'UpgradeFailed', message: `upgrade ${upgrade.from} -> ${upgrade.to} ${upgrade.phase}${detail}` };
}

/**
 * Whether restarts must wait because the injection webhook would not inject what a pass serves: it
 * injects the proxy of status.served (as the API server holds it), which a pass writes only at its
 * end, so while the served version or strategy (which names the revision) differs from the one
 * being served, a restart would bring back the previous proxy — and the rollout never restarts a
 * workload twice for one target. Nothing served yet (a first install): no previous proxy to fear.
 */
export function injectorBehind(served: { version?: unknown; strategy?: unknown } | undefined, serving: { version: string; strategy: string }): boolean {
  if (!served) return false;
  return served.version !== serving.version || served.strategy !== serving.strategy;
}

/** The upgrade that concerns `wanted`, if one is recorded and is InPlace. */
function upgradeOf(observed: UpgradeObservation): UpgradeStatus | undefined {
  const { recorded, wanted } = observed;
  return recorded && recorded.to === wanted && recorded.strategy === observed.strategy ? recorded : undefined;
}

/**
 * The next step of the upgrade (see the module comment). Undefined when there is none to speak
 * of: no version change, or a first install.
 */
export function planUpgrade(observed: UpgradeObservation, now: number): UpgradeDecision | undefined {
  const current = upgradeOf(observed);
  const at = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (!current) {
    // Paused, the operator changes nothing: the upgrade starts once resumed (status.version still shows what runs).
    if (observed.served === undefined || observed.served === observed.wanted || observed.paused) return undefined;
    return start(observed, observed.served, at);
  }
  if (FINAL_UPGRADE_PHASES.has(current.phase)) {
    // A new generation after a failure is the person's answer to it: try again from the same version.
    if (current.phase !== 'Succeeded' && current.generation !== undefined && current.generation !== observed.generation) return start(observed, current.from, at);
    return final(current);
  }
  if (observed.paused) return paused(current);
  // A pause stops the clock of the phase: its deadline counts again from the resume.
  const resumed = observed.recordedReason === UpgradeReason.UpgradePaused ? { ...current, phaseStartedAt: at } : current;
  switch (resumed.phase) {
    case 'ControlPlane': return controlPlaneStage(observed, resumed, now, at);
    case 'Gateways': return gatewaysStage(observed, resumed, now, at);
    case 'DataPlane': return dataPlaneStage(observed, resumed, now, at);
    case 'RollingBack': return rollingBackStage(observed, resumed, now, at);
    // Pending, or a Canary phase recorded by another operator version: begin with the control plane.
    default: return { ...start(observed, resumed.from, at), events: [] };
  }
}

function start(observed: UpgradeObservation, from: string, at: string): UpgradeDecision {
  const status: UpgradeStatus = atStep({
    from, to: observed.wanted, strategy: observed.strategy, phase: 'ControlPlane', startedAt: at, phaseStartedAt: at, generation: observed.generation,
    message: observed.strategy === 'Canary'
      ? `upgrading to ${observed.wanted} by canary: its revision${observed.revisions ? ` ${observed.revisions.new}` : ''} runs beside the running one, which keeps serving until every workload has moved`
      : `upgrading the control plane to ${observed.wanted}: mesh CRDs and control plane, then ${observed.hasGateways ? 'gateways' : 'workloads'}`,
  }, observed);
  return {
    status, record: true, hold: holdFor(status),
    condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message: status.message! },
    events: [{ type: 'Normal', reason: UpgradeEventReason.UpgradeStarted, message: `${observed.strategy} upgrade ${from} -> ${observed.wanted} started: control plane first, then workloads` }],
    wakeAt: undefined,
  };
}

function holdFor(status: UpgradeStatus): string {
  return `the upgrade to ${status.to} waits for its ${status.phase === 'Gateways' ? 'gateways' : 'control plane'} (phase ${status.phase})`;
}

/** The plan step of each InPlace phase under way (steps.ts, as `meshwright plan` numbers them). */
const STEP_OF_PHASE: Partial<Record<UpgradePhase, InPlaceStep>> = { ControlPlane: 'Control plane', Gateways: 'Gateways', DataPlane: 'Data plane', Succeeded: 'Succeeded' };

/**
 * The Canary phases this machine runs, as the plan's steps for a canary of one step (every
 * enrolled namespace at once): the new revision beside the old, then the move; the old revision's
 * removal follows once nothing uses it (revisions.ts).
 */
const CANARY_STEP_OF_PHASE: Partial<Record<UpgradePhase, number>> = { ControlPlane: 2, DataPlane: 3, Succeeded: 6 };

/** `status` with step, totalSteps and stepName of its phase; a rollback or a failure is no step of the plan. */
function atStep(status: UpgradeStatus, observed: UpgradeObservation): UpgradeStatus {
  if (status.strategy === 'Canary' && observed.revisions && CANARY_STEP_OF_PHASE[status.phase] !== undefined) {
    const titles = canaryStepTitles(0, observed.revisions);
    const step = CANARY_STEP_OF_PHASE[status.phase]!;
    return { ...status, step, totalSteps: titles.length, stepName: titles[step - 1] };
  }
  const title = STEP_OF_PHASE[status.phase];
  if (title) return { ...status, step: inPlaceStepNumber(title), totalSteps: IN_PLACE_STEPS.length, stepName: title };
  if (status.phase === 'RollingBack' || status.phase === 'RolledBack') return { ...status, step: undefined, totalSteps: undefined, stepName: `${status.phase === 'RollingBack' ? 'rolling' : 'rolled'} back to ${status.from}` };
  return status;
}

function final(current: UpgradeStatus): UpgradeDecision {
  const reason = current.phase === 'Succeeded' ? UpgradeReason.UpgradeSucceeded : current.phase === 'RolledBack' ? UpgradeReason.UpgradeRolledBack : UpgradeReason.UpgradeFailed;
  return {
    status: current, record: false,
    // Failed means nothing more is changed: no batch starts toward either version.
    hold: current.phase === 'Failed' ? `the upgrade ${current.from} -> ${current.to} failed; nothing more is changed until the spec changes` : undefined,
    condition: { status: 'False', reason, message: current.message ?? '' },
    events: [],
  };
}

function paused(current: UpgradeStatus): UpgradeDecision {
  const message = `paused in phase ${current.phase} (spec.paused); the upgrade continues from here once resumed`;
  return {
    status: current, record: false, hold: message,
    condition: { status: 'True', reason: UpgradeReason.UpgradePaused, message },
    events: [],
  };
}

function deadlineOf(observed: UpgradeObservation): number {
  try {
    return parseDuration(observed.progressDeadline);
  } catch {
    // The API server validates the pattern; a value it let through that we cannot read gets the default.
    return 600_000;
  }
}

/** The moment `current`'s phase misses its deadline, in clock ms. */
function phaseDeadline(observed: UpgradeObservation, current: UpgradeStatus): number {
  return Date.parse(current.phaseStartedAt ?? current.startedAt) + deadlineOf(observed);
}

function inProgress(status: UpgradeStatus, message: string, extra: Partial<UpgradeDecision> = {}): UpgradeDecision {
  const next = { ...status, message };
  return { status: next, record: false, condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message }, events: [], ...extra };
}

/** A gate failed: roll back or stop, as spec.upgrade.rollbackOnFailure says. */
function gateFailed(observed: UpgradeObservation, current: UpgradeStatus, gate: UpgradeGate, why: string, at: string): UpgradeDecision {
  const failure = `gate ${gate} failed: ${why}`;
  if (observed.rollbackOnFailure) {
    const message = `${failure}; rolling back to ${current.from}`;
    const status: UpgradeStatus = atStep({ ...current, phase: 'RollingBack', phaseStartedAt: at, message }, observed);
    return {
      status, record: true, hold: `the upgrade to ${current.to} is rolling back: the control plane of ${current.from} comes first`,
      condition: { status: 'True', reason: UpgradeReason.UpgradeRollingBack, message },
      events: [{ type: 'Warning', reason: UpgradeReason.UpgradeRollingBack, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
    };
  }
  return failed(current, `${failure}; spec.upgrade.rollbackOnFailure is false, so nothing more is changed: fix the cause, or set spec.version back to ${current.from}`, at);
}

function failed(current: UpgradeStatus, message: string, at: string): UpgradeDecision {
  const status: UpgradeStatus = { ...current, phase: 'Failed', finishedAt: at, message };
  return {
    status, record: true, hold: `the upgrade ${current.from} -> ${current.to} failed; nothing more is changed until the spec changes`,
    condition: { status: 'False', reason: UpgradeReason.UpgradeFailed, message },
    events: [{ type: 'Warning', reason: UpgradeReason.UpgradeFailed, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
  };
}

function withWorkloads(status: UpgradeStatus, observed: UpgradeObservation): UpgradeStatus {
  if (!observed.workloads) return status;
  return { ...status, updatedWorkloads: observed.workloads.current, totalWorkloads: observed.workloads.total };
}

function notAvailable(notReady: readonly string[]): string {
  const named = notReady.slice(0, 5).join(', ');
  return notReady.length > 5 ? `${named} and ${notReady.length - 5} more` : named;
}

function controlPlaneStage(observed: UpgradeObservation, current: UpgradeStatus, now: number, at: string): UpgradeDecision {
  const deadline = phaseDeadline(observed, current);
  const health = observed.controlPlane;
  if (health && health.notReady.length === 0) {
    if (observed.hasGateways) {
      const message = `control plane of ${current.to} available; upgrading the gateways`;
      const status = atStep({ ...current, phase: 'Gateways', phaseStartedAt: at, message }, observed);
      return {
        status, record: true, hold: holdFor(status),
        condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message },
        events: [{ type: 'Normal', reason: UpgradeEventReason.UpgradeControlPlaneReady, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
        wakeAt: Date.parse(at) + deadlineOf(observed),
      };
    }
    return toDataPlane(observed, current, `control plane of ${current.to} available (no gateways in spec.gateways); restarting workloads onto the new proxy`, UpgradeEventReason.UpgradeControlPlaneReady, at);
  }
  const waitingFor = health ? `${notAvailable(health.notReady)} not available yet` : 'the control plane to be applied';
  if (health && now >= deadline) return gateFailed(observed, current, 'ControlPlane', `${notAvailable(health.notReady)} not available within spec.upgrade.progressDeadline (${observed.progressDeadline}) of ${current.phaseStartedAt ?? current.startedAt}`, at);
  return inProgress(current, `upgrading the control plane to ${current.to}: waiting for ${waitingFor}`, { hold: holdFor(current), wakeAt: deadline });
}

/** Records DataPlane: the rollout may restart workloads onto the new proxy from this pass on. */
function toDataPlane(observed: UpgradeObservation, current: UpgradeStatus, message: string, event: string, at: string): UpgradeDecision {
  const status = atStep({ ...current, phase: 'DataPlane', phaseStartedAt: at, message }, observed);
  return {
    status: withWorkloads(status, observed), record: true,
    condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message },
    events: [{ type: 'Normal', reason: event, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
  };
}

function gatewaysStage(observed: UpgradeObservation, current: UpgradeStatus, now: number, at: string): UpgradeDecision {
  const deadline = phaseDeadline(observed, current);
  const health = observed.gateways;
  if (health && health.notReady.length === 0) return toDataPlane(observed, current, `gateways of ${current.to} available; restarting workloads onto the new proxy`, UpgradeEventReason.UpgradeGatewaysReady, at);
  if (health && now >= deadline) return gateFailed(observed, current, 'Gateways', `${notAvailable(health.notReady)} not available within spec.upgrade.progressDeadline (${observed.progressDeadline}) of ${current.phaseStartedAt ?? current.startedAt}`, at);
  const waitingFor = health ? `${notAvailable(health.notReady)} not available yet` : 'the gateways to be applied';
  return inProgress(current, `upgrading the gateways to ${current.to}: waiting for ${waitingFor}`, { hold: holdFor(current), wakeAt: deadline });
}

function dataPlaneStage(observed: UpgradeObservation, current: UpgradeStatus, _now: number, at: string): UpgradeDecision {
  const verdict = observed.dataPlane;
  const status = withWorkloads(current, observed);
  if (!verdict || verdict.state === 'pending') return inProgress(status, `restarting workloads onto the ${current.to} proxy: the rollout has not started yet`);
  if (verdict.state === 'in-progress') return inProgress(status, `restarting workloads onto the ${current.to} proxy: ${verdict.progress}`);
  // The rollout's own progressDeadline per batch is this gate's deadline: a batch that misses it halts the rollout.
  if (verdict.state === 'halted') return gateFailed(observed, status, 'DataPlane', verdict.message, at);
  const left = verdict.state === 'disabled'
    ? `; workload restarts are disabled, so outdated workloads are left to you (${verdict.message})`
    : [
      verdict.outdatedWorkloads > 0 ? `; ${verdict.outdatedWorkloads} workload${verdict.outdatedWorkloads === 1 ? '' : 's'} still run${verdict.outdatedWorkloads === 1 ? 's' : ''} an older proxy that a restart by the operator cannot reach (see status.dataPlane.rollout.message)` : '',
      verdict.skipped.length + verdict.barePods.length > 0 ? `; not restarted: ${[...verdict.skipped, ...verdict.barePods.map((p) => `pod ${p}`)].join(', ')}` : '',
    ].join('');
  const retiring = current.strategy === 'Canary' && observed.revisions ? `; revision ${observed.revisions.old} is removed once no namespace and no running pod uses it (status.revisions)` : '';
  const message = `upgraded ${current.from} -> ${current.to}: control plane, gateways and workloads${left}${retiring}`;
  return {
    status: atStep({ ...status, phase: 'Succeeded', finishedAt: at, message }, observed), record: true,
    condition: { status: 'False', reason: UpgradeReason.UpgradeSucceeded, message },
    events: [{ type: 'Normal', reason: UpgradeReason.UpgradeSucceeded, message }],
  };
}

function rollingBackStage(observed: UpgradeObservation, current: UpgradeStatus, now: number, at: string): UpgradeDecision {
  // The gate that failed is in the message recorded when the rollback began; it stays said.
  const failure = (current.message ?? '').replace(/; rolling back to .*$/, '');
  // The whole previous version comes back at once: its control plane and its gateways.
  const health = observed.controlPlane && { notReady: [...observed.controlPlane.notReady, ...(observed.gateways?.notReady ?? [])] };
  const deadline = phaseDeadline(observed, current);
  const rollingBack = (detail: string, extra: Partial<UpgradeDecision>): UpgradeDecision => {
    const message = `${failure}; rolling back to ${current.from}: ${detail}`;
    return { status: { ...withWorkloads(current, observed), message: `${failure}; rolling back to ${current.from}` }, record: false, condition: { status: 'True', reason: UpgradeReason.UpgradeRollingBack, message }, events: [], ...extra };
  };
  if (!health || health.notReady.length > 0) {
    if (health && now >= deadline) return failed(current, `${failure}; the rollback failed too: ${notAvailable(health.notReady)} of ${current.from} not available within spec.upgrade.progressDeadline (${observed.progressDeadline})`, at);
    const waiting = health ? `waiting for ${notAvailable(health.notReady)}` : 'applying the previous control plane';
    return rollingBack(waiting, { hold: `the upgrade to ${current.to} is rolling back: the control plane of ${current.from} comes first`, wakeAt: deadline });
  }
  const verdict = observed.dataPlane;
  if (verdict?.state === 'halted') {
    // A workload restarted back still shows its crash-looping pod of the bad version until its
    // controller replaces it, which halts the rollout for a moment; it resumes by itself once the
    // workload passes. So a halted rollback fails only at the phase's deadline.
    if (now >= deadline) return failed(current, `${failure}; the rollback failed too: ${verdict.message}`, at);
    return rollingBack(`the rollout back onto the ${current.from} proxy is halted, waiting for it to pass until ${new Date(deadline).toISOString()}: ${verdict.message}`, { wakeAt: deadline });
  }
  if (verdict?.state === 'complete' || verdict?.state === 'disabled') {
    const message = `${failure}; rolled back to ${current.from}: spec.version still says ${current.to}, which does not run; change the spec to try again`;
    return {
      status: atStep({ ...withWorkloads(current, observed), phase: 'RolledBack', finishedAt: at, message }, observed), record: true,
      condition: { status: 'False', reason: UpgradeReason.UpgradeRolledBack, message },
      events: [{ type: 'Warning', reason: UpgradeReason.UpgradeRolledBack, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
    };
  }
  return rollingBack(verdict?.state === 'in-progress' ? `restarting workloads back onto the ${current.from} proxy: ${verdict.progress}` : `restarting workloads back onto the ${current.from} proxy`, {});
}
