/**
 * Status conditions, pure functions only.
 *
 * - {@link setCondition} / {@link mergeConditions}: update conditions so that `lastTransitionTime`
 *   moves only when `status` flips; reason, message and observedGeneration changes keep it.
 * - {@link summarize}: the kstatus trio (Ready, Reconciling, Stalled) derived from the domain
 *   conditions, consistent with what kstatus, Flux and the Argo CD health check expect:
 *   Stalled=True implies Reconciling=False; Ready=True implies both are False.
 *
 * The clock is a parameter so tests (and replays) are deterministic.
 */
import type { Condition } from './status.ts';

/** Condition types the operator sets. */
export const ConditionType = {
  /** The mesh matches spec and every component is available (kubectl wait --for=condition=Ready). */
  Ready: 'Ready',
  /** kstatus: the operator is working toward spec (abnormal-true). */
  Reconciling: 'Reconciling',
  /** kstatus: the operator cannot make progress without a change (abnormal-true). */
  Stalled: 'Stalled',
  /** Every control-plane component runs the desired version and is available. */
  ControlPlaneReady: 'ControlPlaneReady',
  /** Every enrolled workload runs the current proxy, revision and trust bundle. */
  DataPlaneReady: 'DataPlaneReady',
  /** The CA material exists, is valid and is not due for renewal. */
  CertificateAuthorityReady: 'CertificateAuthorityReady',
  /** A version upgrade is under way (abnormal-true). */
  Upgrading: 'Upgrading',
} as const;

/** One of the condition types in {@link ConditionType}. */
export type ConditionTypeName = (typeof ConditionType)[keyof typeof ConditionType];

/** Domain conditions that must all be True (for the current generation) for Ready=True. */
export const READINESS_CONDITIONS: readonly ConditionTypeName[] = [
  ConditionType.ControlPlaneReady,
  ConditionType.CertificateAuthorityReady,
  ConditionType.DataPlaneReady,
];

/** Domain conditions whose True means "work in progress" (abnormal-true polarity). */
export const IN_PROGRESS_CONDITIONS: readonly ConditionTypeName[] = [ConditionType.Upgrading];

/** Reasons {@link summarize} writes on the kstatus conditions. */
export const SummaryReason = {
  /** Everything matches spec. */
  Succeeded: 'Succeeded',
  /** Work toward spec is under way, nothing has failed. */
  Progressing: 'Progressing',
  /** spec.paused is true. */
  Paused: 'Paused',
  /** The installation is stalled (the stall's own reason goes on Stalled and Ready). */
  Stalled: 'Stalled',
} as const;

/** Status value of a condition. */
export type ConditionStatus = Condition['status'];

/** What to set on one condition; the time of the last transition is worked out by {@link setCondition}. */
export interface ConditionUpdate {
  /** Condition type, e.g. Ready. */
  type: string;
  /** True, False or Unknown. */
  status: ConditionStatus;
  /** CamelCase machine-readable reason. */
  reason: string;
  /** Human-readable message; empty when there is nothing to say. */
  message: string;
  /** metadata.generation the condition was computed for. */
  observedGeneration: number;
}

/** Source of the current time. */
export type Clock = () => Date;

/** A time as Kubernetes writes metav1.Time: RFC 3339 in UTC, whole seconds. */
export function formatConditionTime(time: Date): string {
  return new Date(Math.floor(time.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The condition of `type`, if present. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/**
 * `conditions` with `update` applied. An existing condition of the same type is replaced in place
 * (order is kept, so an unchanged status produces an identical list); `lastTransitionTime` is set to
 * now only when the condition is new or its status changed. The input is not modified.
 */
export function setCondition(conditions: readonly Condition[] | undefined, update: ConditionUpdate, now: Clock): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((condition) => condition.type === update.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: update.type,
    status: update.status,
    observedGeneration: update.observedGeneration,
    lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : formatConditionTime(now()),
    reason: update.reason,
    message: update.message,
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

/** `conditions` with every update applied in order (see {@link setCondition}). */
export function mergeConditions(conditions: readonly Condition[] | undefined, updates: readonly ConditionUpdate[], now: Clock): Condition[] {
  return updates.reduce<Condition[]>((list, update) => setCondition(list, update, now), [...(conditions ?? [])]);
}

/** Input to {@link summarize}. */
export interface SummaryInput {
  /** metadata.generation of the MeshInstallation being reported on. */
  generation: number;
  /** Current conditions, with the domain conditions already updated for this reconcile. */
  conditions: readonly Condition[] | undefined;
  /** Set when no progress is possible without a change by someone (bad version, conflicting installation, deadline missed). */
  stalled?: { reason: string; message: string };
  /** spec.paused: the operator reports but does not act. */
  paused?: boolean;
  /** A transient failure of this pass (retried with backoff): shown on Ready and Reconciling while it lasts. */
  failed?: { reason: string; message: string };
}

/**
 * The Ready, Reconciling and Stalled updates that follow from the domain conditions:
 * - stalled: Stalled=True, Reconciling=False, Ready=False, all with the stall's reason and message;
 * - every readiness condition True for this generation and nothing in progress: Ready=True, the others False;
 * - otherwise Ready=False if a readiness condition is False, Unknown while things are merely pending;
 *   Reconciling=True (or False with reason Paused when paused), naming the first thing not ready.
 */
export function summarize(input: SummaryInput): ConditionUpdate[] {
  const { generation, conditions } = input;
  const update = (type: string, status: ConditionStatus, reason: string, message: string): ConditionUpdate =>
    ({ type, status, reason, message, observedGeneration: generation });

  if (input.stalled) {
    const { reason, message } = input.stalled;
    return [
      update(ConditionType.Stalled, 'True', reason, message),
      update(ConditionType.Reconciling, 'False', SummaryReason.Stalled, 'no progress is possible until the problem is fixed'),
      update(ConditionType.Ready, 'False', reason, message),
    ];
  }

  const blockers: { failed: boolean; reason: string; message: string }[] = [];
  if (input.failed) blockers.push({ failed: true, ...input.failed });
  for (const type of READINESS_CONDITIONS) {
    const condition = findCondition(conditions, type);
    if (condition === undefined) {
      blockers.push({ failed: false, reason: SummaryReason.Progressing, message: `${type} not yet determined` });
    } else if (condition.observedGeneration !== generation) {
      blockers.push({ failed: false, reason: SummaryReason.Progressing, message: `${type} not yet determined for generation ${generation}` });
    } else if (condition.status !== 'True') {
      blockers.push({ failed: condition.status === 'False', reason: condition.reason, message: `${type}: ${condition.message}` });
    }
  }
  for (const type of IN_PROGRESS_CONDITIONS) {
    const condition = findCondition(conditions, type);
    if (condition?.status === 'True') blockers.push({ failed: false, reason: condition.reason, message: `${type}: ${condition.message}` });
  }

  const suffix = input.paused ? ' (reconciliation paused)' : '';
  const first = blockers[0];
  if (first === undefined) {
    return [
      update(ConditionType.Stalled, 'False', SummaryReason.Succeeded, ''),
      input.paused
        ? update(ConditionType.Reconciling, 'False', SummaryReason.Paused, 'spec.paused is true')
        : update(ConditionType.Reconciling, 'False', SummaryReason.Succeeded, ''),
      update(ConditionType.Ready, 'True', SummaryReason.Succeeded, `the mesh matches spec${suffix}`),
    ];
  }
  const failed = blockers.find((blocker) => blocker.failed);
  const shown = failed ?? first;
  return [
    update(ConditionType.Stalled, 'False', input.paused ? SummaryReason.Paused : SummaryReason.Progressing, ''),
    input.paused
      ? update(ConditionType.Reconciling, 'False', SummaryReason.Paused, `spec.paused is true; pending: ${shown.message}`)
      : update(ConditionType.Reconciling, 'True', shown.reason, shown.message),
    update(ConditionType.Ready, failed ? 'False' : 'Unknown', shown.reason, `${shown.message}${suffix}`),
  ];
}

/** `conditions` with the kstatus trio recomputed by {@link summarize} and applied with {@link mergeConditions}. */
export function withSummary(input: SummaryInput, now: Clock): Condition[] {
  return mergeConditions(input.conditions, summarize(input), now);
}
