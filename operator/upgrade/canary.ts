/**
 * The Canary upgrade (#16 point 4, Istio) as a decision, the InPlace machine's sibling (plan.ts):
 * from the upgrade recorded in status, the spec, and what the cluster shows this pass, where the
 * upgrade is, what to record, and what the pass must make true — which revisions are rendered,
 * where the `default` revision tag points, which revision each namespace the operator enrolled
 * points at (`istio.io/rev`), and which namespaces' workloads the rollout restarts toward which
 * revision. No I/O and no clock of its own: table-tested in canary.test.ts.
 *
 *   ControlPlane ─► DataPlane step 1 ─► … step n ─► AwaitingPromotion ─► Promoting ─► Succeeded
 *   (new revision    (move, restart,                (autoPromote false)  (the rest move, the
 *    beside the old)  gate, pause)                                        tag, the old removed)
 *        │                 │                               │                  │
 *        └─────────────────┴──── gate failed ──────────────┴──────────────────┴─► RollingBack ─► RolledBack
 *                                                                                  (or Failed without rollbackOnFailure)
 *
 * Everything the pass does follows from the recorded status alone (phase, step, pauseUntil), so
 * the executor records a new phase or step before it relabels, restarts or removes anything, and
 * an operator killed anywhere does again only what the record says — relabelling is idempotent,
 * the rollout never restarts a workload twice for one target.
 *
 * The old revision is rendered (so neither pruned nor left stale) until no namespace points at it
 * and no running pod was injected by it; the new one likewise while rolling back. Completed and
 * Failed pods do not count (the executor counts only pods that run).
 */
import { parseDuration } from '../api/duration.ts';
import type { RolloutVerdict } from '../rollout/index.ts';
import { FINAL_UPGRADE_PHASES, UpgradeReason, UpgradeEventReason, type UpgradeEvent, type UpgradeStatus } from './plan.ts';
import { canaryStepTitles, type CanaryRevisions } from './steps.ts';

/** Who uses a revision: namespaces pointing at it (any label, the user's too) and running pods it injected. */
export interface RevisionUse {
  namespaces: readonly string[];
  runningPods: number;
}

/** Everything {@link planCanary} decides from. */
export interface CanaryObservation {
  generation: number;
  /** spec.version. */
  wanted: string;
  /** spec.version last served in full; undefined before the first. */
  served?: string;
  rollbackOnFailure: boolean;
  progressDeadline: string;
  paused: boolean;
  /** spec.upgrade.canary.autoPromote. */
  autoPromote: boolean;
  /**
   * spec.upgrade.canary.steps with their selectors resolved to the namespaces the operator enrolled
   * (it moves no other), in order; empty: one step of every enrolled namespace.
   */
  steps: ReadonlyArray<{ namespaces: readonly string[]; pause?: string }>;
  /** Namespaces the operator enrolled: the only ones it relabels. */
  enrolled: readonly string[];
  /** Revision names of `from` and `to` (the executor resolves them from the catalog). */
  revisions: CanaryRevisions;
  /** status.upgrade as last recorded. */
  recorded?: UpgradeStatus;
  /** The Upgrading condition's reason as last recorded. */
  recordedReason?: string;
  /** Components of the new revision (control plane and its gateways) not available; undefined: not observed this pass. */
  newRevision?: { notReady: readonly string[] };
  /** The rollout toward the proxy of the revision the decision last asked for ({@link CanaryDecision.rollout}); undefined: not observed. */
  dataPlane?: RolloutVerdict;
  /** Who still uses each revision, by name; undefined: not observed. */
  use?: Readonly<Record<string, RevisionUse>>;
}

/** What one pass of a Canary upgrade makes true, and says. */
export interface CanaryDecision {
  status: UpgradeStatus;
  /** The phase or step differs from the one recorded: record it before acting. */
  record: boolean;
  /** Revisions to render and apply this pass (the old first); one not listed is pruned. */
  render: string[];
  /** The revision the `default` tag (and the unlabelled `istio-injection=enabled` namespaces) points at. */
  defaultTag: string;
  /** The revision each namespace the operator enrolled must point at. */
  namespaceRevisions: Record<string, string>;
  /** Whose workloads the rollout restarts this pass, toward which revision's proxy; undefined: no restart batch starts. */
  rollout?: { revision: string; namespaces: string[] };
  condition: { status: 'True' | 'False'; reason: (typeof UpgradeReason)[keyof typeof UpgradeReason]; message: string };
  events: UpgradeEvent[];
  /** When the next pass is due without any event (a deadline, the end of a pause), in clock ms. */
  wakeAt?: number;
}

/** Canary Events besides the InPlace ones. */
export const CanaryEventReason = {
  /** A canary step's namespaces passed their gate. */
  UpgradeCanaryStepPassed: 'UpgradeCanaryStepPassed',
  /** Every step passed; the upgrade waits for spec.upgrade.canary.autoPromote. */
  UpgradeAwaitingPromotion: 'UpgradeAwaitingPromotion',
  /** The new revision is being promoted: the remaining namespaces move, then the default tag. */
  UpgradePromoting: 'UpgradePromoting',
} as const;

const isoOf = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function durationMs(value: string | undefined, fallback: number): number {
  if (!value) return fallback;
  try {
    return parseDuration(value);
  } catch {
    return fallback;
  }
}

/** The steps that actually move namespaces: the spec's, or one step of every enrolled namespace. */
function movingSteps(observed: CanaryObservation): ReadonlyArray<{ namespaces: readonly string[]; pause?: string }> {
  return observed.steps.length > 0 ? observed.steps : [{ namespaces: observed.enrolled }];
}

/** The canary step (1-based) a recorded DataPlane status is at, from its plan step number. */
function canaryStepOf(status: UpgradeStatus): number {
  return Math.max(1, (status.step ?? 3) - 2);
}

/** status.upgrade at plan step `step` (1-based, as `meshwright plan` numbers it). */
function atStep(observed: CanaryObservation, status: UpgradeStatus, step: number): UpgradeStatus {
  const titles = canaryStepTitles(observed.steps.length, observed.revisions);
  return { ...status, step, totalSteps: titles.length, stepName: titles[step - 1] };
}

/** Namespaces moved to the new revision once canary steps 1..`through` ran (every enrolled one with `all`). */
function movedNamespaces(observed: CanaryObservation, through: number | 'all'): string[] {
  const enrolled = new Set(observed.enrolled);
  const moved = through === 'all' ? observed.enrolled : movingSteps(observed).slice(0, through).flatMap((s) => s.namespaces);
  return [...new Set(moved)].filter((n) => enrolled.has(n)).sort();
}

function revisionsFor(observed: CanaryObservation, moved: readonly string[]): Record<string, string> {
  const movedSet = new Set(moved);
  return Object.fromEntries([...observed.enrolled].sort().map((n) => [n, movedSet.has(n) ? observed.revisions.new : observed.revisions.old]));
}

function deadlineOf(observed: CanaryObservation, status: UpgradeStatus): number {
  return Date.parse(status.phaseStartedAt ?? status.startedAt) + durationMs(observed.progressDeadline, 600_000);
}

function inUse(use: RevisionUse | undefined): string | undefined {
  if (!use) return 'not observed yet';
  const parts = [
    use.namespaces.length > 0 ? `namespace${use.namespaces.length === 1 ? '' : 's'} ${use.namespaces.slice(0, 5).join(', ')}${use.namespaces.length > 5 ? ` and ${use.namespaces.length - 5} more` : ''}` : '',
    use.runningPods > 0 ? `${use.runningPods} running pod${use.runningPods === 1 ? '' : 's'}` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' and ') : undefined;
}

/**
 * The next step of a Canary upgrade (see the module comment). Undefined when there is none: no
 * version change, a first install, or an InPlace upgrade recorded for this version.
 */
export function planCanary(observed: CanaryObservation, now: number): CanaryDecision | undefined {
  const at = isoOf(now);
  const { recorded, wanted } = observed;
  const current = recorded && recorded.to === wanted && recorded.strategy === 'Canary' ? recorded : undefined;
  if (!current) {
    if (observed.served === undefined || observed.served === wanted || observed.paused) return undefined;
    return start(observed, observed.served, at);
  }
  if (FINAL_UPGRADE_PHASES.has(current.phase)) {
    if (current.phase !== 'Succeeded' && current.generation !== undefined && current.generation !== observed.generation) return start(observed, current.from, at);
    return final(observed, current);
  }
  const resumed = observed.recordedReason === UpgradeReason.UpgradePaused && !observed.paused ? { ...current, phaseStartedAt: at } : current;
  // Paused, no gate is judged: the decision is only what the record already says to serve.
  const input = observed.paused ? { ...observed, newRevision: undefined, dataPlane: undefined, use: undefined, autoPromote: false } : observed;
  const decision = (() => {
    switch (resumed.phase) {
      case 'ControlPlane': return controlPlane(input, resumed, now, at);
      case 'DataPlane': return dataPlane(input, resumed, now, at);
      case 'AwaitingPromotion': return awaitingPromotion(input, resumed, at);
      case 'Promoting': return promoting(input, resumed, now, at);
      case 'RollingBack': return rollingBack(input, resumed, now, at);
      default: return { ...start(input, resumed.from, at), events: [] };
    }
  })();
  if (!observed.paused) return decision;
  // Paused: the recorded state stays served as it is (labels, revisions, tag), nothing new starts.
  const message = `paused in phase ${current.phase}${current.stepName ? ` (${current.stepName})` : ''} (spec.paused); the upgrade continues from here once resumed`;
  return { ...decision, status: current, record: false, rollout: undefined, condition: { status: 'True', reason: UpgradeReason.UpgradePaused, message }, events: [], wakeAt: undefined };
}

/** What the pass serves while the upgrade is in `status` before any new decision: both revisions, the tag on the old, the moved namespaces. */
function serving(observed: CanaryObservation, moved: readonly string[], extra: Partial<CanaryDecision> & Pick<CanaryDecision, 'status' | 'condition'>): CanaryDecision {
  return {
    record: false, render: [observed.revisions.old, observed.revisions.new], defaultTag: observed.revisions.old,
    namespaceRevisions: revisionsFor(observed, moved), events: [], ...extra,
  };
}

function progress(status: UpgradeStatus, message: string): Pick<CanaryDecision, 'status' | 'condition'> {
  return { status: { ...status, message }, condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message } };
}

function start(observed: CanaryObservation, from: string, at: string): CanaryDecision {
  const { revisions } = observed;
  const message = `Canary upgrade ${from} -> ${observed.wanted}: revision ${revisions.new} is rendered beside ${revisions.old}, which keeps serving every namespace`;
  const status = atStep(observed, { from, to: observed.wanted, strategy: 'Canary', phase: 'ControlPlane', startedAt: at, phaseStartedAt: at, generation: observed.generation, message }, 2);
  return serving(observed, [], {
    status, record: true, condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message },
    events: [{ type: 'Normal', reason: UpgradeEventReason.UpgradeStarted, message }],
  });
}

function controlPlane(observed: CanaryObservation, current: UpgradeStatus, now: number, at: string): CanaryDecision {
  const health = observed.newRevision;
  const deadline = deadlineOf(observed, current);
  if (health && health.notReady.length === 0) {
    return enterStep(observed, current, 1, at, [{ type: 'Normal', reason: UpgradeEventReason.UpgradeControlPlaneReady, message: `upgrade ${current.from} -> ${current.to}: revision ${observed.revisions.new} available` }]);
  }
  if (health && now >= deadline) return gateFailed(observed, current, 'ControlPlane', `${health.notReady.slice(0, 5).join(', ')} of revision ${observed.revisions.new} not available within spec.upgrade.progressDeadline (${observed.progressDeadline})`, [], at);
  const waiting = health ? `${health.notReady.slice(0, 5).join(', ')} not available yet` : 'it to be applied';
  return serving(observed, [], { ...progress(current, `revision ${observed.revisions.new} beside ${observed.revisions.old}: waiting for ${waiting}`), wakeAt: deadline });
}

/** Records canary step `step` (1-based): its namespaces move and their workloads restart. */
function enterStep(observed: CanaryObservation, current: UpgradeStatus, step: number, at: string, events: UpgradeEvent[]): CanaryDecision {
  const moved = movedNamespaces(observed, step);
  const total = movingSteps(observed).length;
  const message = `canary step ${step} of ${total}: namespaces ${movedNamespaces(observed, step).filter((n) => !movedNamespaces(observed, step - 1).includes(n)).join(', ') || '(none enrolled)'} move to revision ${observed.revisions.new}; restarting their workloads`;
  const status = atStep(observed, { ...current, phase: 'DataPlane', phaseStartedAt: at, pauseUntil: undefined, message }, 2 + step);
  return serving(observed, moved, {
    status, record: true, condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message }, events,
    rollout: { revision: observed.revisions.new, namespaces: moved },
  });
}

function dataPlane(observed: CanaryObservation, current: UpgradeStatus, now: number, at: string): CanaryDecision {
  const step = canaryStepOf(current);
  const steps = movingSteps(observed);
  const moved = movedNamespaces(observed, step);
  const rollout = { revision: observed.revisions.new, namespaces: moved };
  const verdict = observed.dataPlane;
  if (verdict?.state === 'halted') return gateFailed(observed, current, 'DataPlane', `canary step ${step}: ${verdict.message}`, moved, at);
  if (!verdict || verdict.state === 'pending' || verdict.state === 'in-progress') {
    const detail = verdict?.state === 'in-progress' ? verdict.progress : 'the rollout has not started yet';
    return serving(observed, moved, { ...progress(current, `canary step ${step} of ${steps.length}: restarting workloads of ${moved.join(', ') || '(none)'} onto revision ${observed.revisions.new}: ${detail}`), rollout });
  }
  // The step passed its gate: its pause, recorded once so a restart does not lengthen it.
  const pause = durationMs(steps[step - 1]?.pause, 0);
  if (pause > 0 && !current.pauseUntil) {
    const until = isoOf(now + pause);
    const message = `canary step ${step} of ${steps.length} passed; pausing until ${until} (spec.upgrade.canary.steps[${step - 1}].pause)`;
    return serving(observed, moved, {
      status: { ...current, pauseUntil: until, message }, record: true, rollout,
      condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message }, wakeAt: now + pause,
      events: [{ type: 'Normal', reason: CanaryEventReason.UpgradeCanaryStepPassed, message }],
    });
  }
  if (current.pauseUntil && now < Date.parse(current.pauseUntil)) {
    return serving(observed, moved, { ...progress(current, `canary step ${step} of ${steps.length} passed; pausing until ${current.pauseUntil}`), rollout, wakeAt: Date.parse(current.pauseUntil) });
  }
  const passed: UpgradeEvent[] = pause > 0 ? [] : [{ type: 'Normal', reason: CanaryEventReason.UpgradeCanaryStepPassed, message: `canary step ${step} of ${steps.length} passed` }];
  if (step < steps.length) return enterStep(observed, current, step + 1, at, passed);
  if (!observed.autoPromote) {
    const message = `every canary step passed; revision ${observed.revisions.new} serves ${moved.join(', ') || 'no namespace yet'}; waiting for promotion: set spec.upgrade.canary.autoPromote to true`;
    const status = atStep(observed, { ...current, phase: 'AwaitingPromotion', phaseStartedAt: at, pauseUntil: undefined, message }, 2 + steps.length + 1);
    return serving(observed, moved, { status, record: true, condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message }, events: [...passed, { type: 'Normal', reason: CanaryEventReason.UpgradeAwaitingPromotion, message }] });
  }
  return enterPromotion(observed, current, at, passed);
}

function awaitingPromotion(observed: CanaryObservation, current: UpgradeStatus, at: string): CanaryDecision {
  const moved = movedNamespaces(observed, movingSteps(observed).length);
  if (observed.autoPromote) return enterPromotion(observed, current, at, []);
  return serving(observed, moved, progress(current, current.message ?? 'waiting for promotion: set spec.upgrade.canary.autoPromote to true'));
}

function enterPromotion(observed: CanaryObservation, current: UpgradeStatus, at: string, events: UpgradeEvent[]): CanaryDecision {
  const moved = movedNamespaces(observed, 'all');
  const message = `promoting revision ${observed.revisions.new}: every enrolled namespace moves to it and its workloads restart; then the default tag moves`;
  const status = atStep(observed, { ...current, phase: 'Promoting', phaseStartedAt: at, pauseUntil: undefined, message }, 2 + movingSteps(observed).length + 1);
  return serving(observed, moved, {
    status, record: true, condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message },
    events: [...events, { type: 'Normal', reason: CanaryEventReason.UpgradePromoting, message }],
    rollout: { revision: observed.revisions.new, namespaces: moved },
  });
}

function promoting(observed: CanaryObservation, current: UpgradeStatus, _now: number, at: string): CanaryDecision {
  const moved = movedNamespaces(observed, 'all');
  const rollout = { revision: observed.revisions.new, namespaces: moved };
  const removeStep = 2 + movingSteps(observed).length + 2;
  const tagMoved = (current.step ?? 0) >= removeStep;
  const verdict = observed.dataPlane;
  if (!tagMoved) {
    if (verdict?.state === 'halted') return gateFailed(observed, current, 'DataPlane', `promotion: ${verdict.message}`, moved, at);
    if (verdict?.state !== 'complete' && verdict?.state !== 'disabled') {
      return serving(observed, moved, { ...progress(current, `promoting revision ${observed.revisions.new}: restarting the workloads of every enrolled namespace: ${verdict?.state === 'in-progress' ? verdict.progress : 'the rollout has not started yet'}`), rollout });
    }
    // Every enrolled namespace runs the new revision: the default tag moves last, recorded first.
    const message = `the default revision tag points at ${observed.revisions.new}; revision ${observed.revisions.old} is removed once nothing uses it`;
    return { ...serving(observed, moved, { status: atStep(observed, { ...current, message }, removeStep), record: true, condition: { status: 'True', reason: UpgradeReason.UpgradeInProgress, message }, rollout }), defaultTag: observed.revisions.new };
  }
  // The namespaces that follow the tag restart now (the executor's rollout takes them in once the tag moved): their gate too.
  if (verdict?.state === 'halted') return gateFailed(observed, current, 'DataPlane', `promotion, after the default tag moved: ${verdict.message}`, moved, at);
  const users = inUse(observed.use?.[observed.revisions.old]);
  if (users !== undefined) {
    const message = `the default revision tag points at ${observed.revisions.new}; revision ${observed.revisions.old} is removed once nothing uses it: still used by ${users}`;
    return { ...serving(observed, moved, { ...progress(current, message), rollout }), defaultTag: observed.revisions.new };
  }
  const message = `upgraded ${current.from} -> ${current.to} by canary: every enrolled namespace runs revision ${observed.revisions.new}, the default tag points at it, revision ${observed.revisions.old} is removed`;
  const status = atStep(observed, { ...current, phase: 'Succeeded', finishedAt: at, message }, removeStep + 1);
  return {
    status, record: true, render: [observed.revisions.new], defaultTag: observed.revisions.new, namespaceRevisions: revisionsFor(observed, moved),
    condition: { status: 'False', reason: UpgradeReason.UpgradeSucceeded, message }, events: [{ type: 'Normal', reason: UpgradeReason.UpgradeSucceeded, message }],
  };
}

/** A gate failed: roll every moved namespace back (or stop where it is). */
function gateFailed(observed: CanaryObservation, current: UpgradeStatus, gate: 'ControlPlane' | 'DataPlane', why: string, moved: readonly string[], at: string): CanaryDecision {
  const failure = `gate ${gate} failed: ${why}`;
  if (!observed.rollbackOnFailure) {
    const message = `${failure}; spec.upgrade.rollbackOnFailure is false, so nothing more is changed: fix the cause, or set spec.version back to ${current.from}`;
    // Failed keeps serving what the record said, so the namespaces stay where they are and nothing restarts.
    const tag = (current.step ?? 0) >= 2 + movingSteps(observed).length + 2 ? observed.revisions.new : observed.revisions.old;
    return {
      ...serving(observed, moved, { status: { ...current, phase: 'Failed', finishedAt: at, message }, record: true, condition: { status: 'False', reason: UpgradeReason.UpgradeFailed, message } }),
      defaultTag: tag, events: [{ type: 'Warning', reason: UpgradeReason.UpgradeFailed, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
    };
  }
  const message = `${failure}; rolling back to ${current.from}`;
  return serving(observed, [], {
    // No plan step is under way any more: the record says so, and a Failed rollback then keeps every namespace on the old revision.
    status: { ...current, phase: 'RollingBack', phaseStartedAt: at, pauseUntil: undefined, step: undefined, totalSteps: undefined, stepName: `rolling back to ${current.from}`, message }, record: true,
    condition: { status: 'True', reason: UpgradeReason.UpgradeRollingBack, message },
    events: [{ type: 'Warning', reason: UpgradeReason.UpgradeRollingBack, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
    rollout: { revision: observed.revisions.old, namespaces: [...observed.enrolled].sort() },
  });
}

function rollingBack(observed: CanaryObservation, current: UpgradeStatus, now: number, at: string): CanaryDecision {
  const failure = (current.message ?? '').replace(/; rolling back to .*$/, '');
  const rollout = { revision: observed.revisions.old, namespaces: [...observed.enrolled].sort() };
  const deadline = deadlineOf(observed, current);
  const back = (detail: string, extra: Partial<CanaryDecision> = {}) => serving(observed, [], {
    status: { ...current, message: `${failure}; rolling back to ${current.from}` },
    condition: { status: 'True', reason: UpgradeReason.UpgradeRollingBack, message: `${failure}; rolling back to ${current.from}: ${detail}` }, rollout, ...extra,
  });
  const verdict = observed.dataPlane;
  if (verdict?.state === 'halted') {
    // A workload restarted back still shows its crash-looping pod until its controller replaces it: fails only at the deadline.
    if (now >= deadline) return rolledBackFailed(observed, current, `${failure}; the rollback failed too: ${verdict.message}`, at);
    return back(`the rollout back onto revision ${observed.revisions.old} is halted, waiting for it to pass: ${verdict.message}`, { wakeAt: deadline });
  }
  if (verdict?.state !== 'complete' && verdict?.state !== 'disabled') return back(`restarting workloads back onto revision ${observed.revisions.old}${verdict?.state === 'in-progress' ? `: ${verdict.progress}` : ''}`);
  const users = inUse(observed.use?.[observed.revisions.new]);
  if (users !== undefined) return back(`revision ${observed.revisions.new} is removed once nothing uses it: still used by ${users}`);
  const message = `${failure}; rolled back to ${current.from}: every moved namespace is back on revision ${observed.revisions.old}, revision ${observed.revisions.new} is removed; spec.version still says ${current.to}, which does not run; change the spec to try again`;
  return {
    status: { ...current, phase: 'RolledBack', finishedAt: at, message }, record: true,
    render: [observed.revisions.old], defaultTag: observed.revisions.old, namespaceRevisions: revisionsFor(observed, []),
    condition: { status: 'False', reason: UpgradeReason.UpgradeRolledBack, message },
    events: [{ type: 'Warning', reason: UpgradeReason.UpgradeRolledBack, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
  };
}

function rolledBackFailed(observed: CanaryObservation, current: UpgradeStatus, message: string, at: string): CanaryDecision {
  return serving(observed, [], {
    status: { ...current, phase: 'Failed', finishedAt: at, message }, record: true,
    condition: { status: 'False', reason: UpgradeReason.UpgradeFailed, message },
    events: [{ type: 'Warning', reason: UpgradeReason.UpgradeFailed, message: `upgrade ${current.from} -> ${current.to}: ${message}` }],
  });
}

/** A final upgrade keeps serving what it ended with. */
function final(observed: CanaryObservation, current: UpgradeStatus): CanaryDecision {
  const { revisions } = observed;
  const reason = current.phase === 'Succeeded' ? UpgradeReason.UpgradeSucceeded : current.phase === 'RolledBack' ? UpgradeReason.UpgradeRolledBack : UpgradeReason.UpgradeFailed;
  const base = { status: current, record: false, condition: { status: 'False' as const, reason, message: current.message ?? '' }, events: [] };
  if (current.phase === 'Succeeded') return { ...base, render: [revisions.new], defaultTag: revisions.new, namespaceRevisions: revisionsFor(observed, movedNamespaces(observed, 'all')) };
  if (current.phase === 'RolledBack') return { ...base, render: [revisions.old], defaultTag: revisions.old, namespaceRevisions: revisionsFor(observed, []) };
  // Failed: what the record said stays as it is; no restart starts. A failed rollback has no step: everything stays on the old revision.
  const step = current.step ?? 2;
  const total = movingSteps(observed).length;
  const moved = step > 2 + total ? movedNamespaces(observed, 'all') : movedNamespaces(observed, Math.max(0, step - 2));
  return { ...base, render: [revisions.old, revisions.new], defaultTag: step >= 2 + total + 2 ? revisions.new : revisions.old, namespaceRevisions: revisionsFor(observed, moved) };
}
