/**
 * The data-plane rollout as a decision: from what the cluster shows now (workloads, their pods'
 * proxies, the restart annotations of their templates) and the status last written, which
 * workloads to restart in this pass, where the rollout is, and the status and condition that say
 * so. No I/O and no clock of its own (`now` is a parameter): table-tested in plan.test.ts; the
 * executor (executor.ts) does what the plan says.
 *
 * The rollout's position lives in the cluster, so an operator killed at any moment continues from
 * it:
 * - a workload whose pod template carries `meshwright.dev/restarted-for: <target>` was restarted
 *   for this target and is never restarted for it again;
 * - every batch stamps all its workloads with one `kubectl.kubernetes.io/restartedAt` value (ms
 *   precision), so the latest batch is the group of restarted-for-target workloads with the latest
 *   time, even when the status write after the patch was lost; its health deadline counts from it;
 * - a batch is in flight while any workload restarted for the target has not passed the health gate;
 * - the batch number and `lastBatchCompletedAt` live in status, which is in the cluster too (a lost
 *   write only delays the next batch: the completion is recorded again, later).
 */
import type { MeshInstallationStatus } from '../api/status.ts';
import { parseDuration } from '../api/duration.ts';
import { workloadName, type RestartableKind, type RolloutProgress, type WorkloadRef } from './workloads.ts';
import { byCodePoint } from '../runtime/order.ts';

/** status.dataPlane.rollout as the API defines it. */
export type RolloutStatus = NonNullable<NonNullable<MeshInstallationStatus['dataPlane']>['rollout']>;

/** Where a rollout is (status.dataPlane.rollout.phase). */
export type RolloutPhase = RolloutStatus['phase'];

/** A workload that failed the health gate, and why. */
export type RolloutFailure = NonNullable<RolloutStatus['failures']>[number];

/** An injected pod of a workload, as the rollout judges it. */
export interface ObservedPod {
  name: string;
  /** Its proxy is not the one the installation wants (version, trust bundle or revision). */
  outdated: boolean;
  ready: boolean;
  crashLooping: boolean;
}

/** A Deployment, StatefulSet or DaemonSet with pods running this installation's proxy. */
export interface ObservedWorkload extends WorkloadRef {
  /** Opted out by annotation meshwright.dev/restart: disabled: reported as skipped, never restarted. */
  optedOut?: boolean;
  /** Why a restart here would not bring the current proxy (OnDelete, paused, a namespace not enrolled, not cached yet): counted outdated, named in the message, never restarted. */
  notRestartable?: string;
  /** Its template's meshwright.dev/restarted-for. */
  restartedFor?: string;
  /** Its template's kubectl.kubernetes.io/restartedAt (RFC 3339). */
  restartedAt?: string;
  /** Its rollout status as kubectl judges it; undefined when the workload is not in the cache (yet). */
  rollout?: RolloutProgress;
  /** Its injected, running pods. */
  pods: readonly ObservedPod[];
}

/** The rollout settings of the spec, as written (parsed here, so bad input becomes a message, not a crash). */
export interface RolloutSettings {
  /** spec.injection.restartWorkloads.enabled */
  enabled: boolean;
  /** spec.injection.restartWorkloads.maxUnavailable: a count or a percentage of the enrolled workloads' pods. */
  maxUnavailable: number | string;
  /** spec.injection.restartWorkloads.batchInterval (a Go duration). */
  batchInterval: string;
  /** spec.upgrade.progressDeadline (a Go duration): how long a restarted workload may take to pass the health gate. */
  progressDeadline: string;
}

/** Everything {@link planRollout} decides from. */
export interface RolloutObservation {
  /** What every proxy should run (annotations.ts rolloutTarget). */
  target: string;
  settings: RolloutSettings;
  workloads: readonly ObservedWorkload[];
  /** Outdated pods no controller owns, as "<namespace>/<name>": reported, never deleted. */
  barePods: readonly string[];
  /** Injected pods of other controllers (Jobs, CronJobs, ReplicaSets without a Deployment): left to finish. */
  otherPods?: { total: number; outdated: number };
  /** status.dataPlane.rollout as last written, if any. */
  previous?: RolloutStatus;
  /**
   * Why no new batch may start now, if so (the control plane is not ready, or a caller such as an
   * upgrade holds the data plane): the phase is Waiting; a batch in flight is still judged.
   */
  hold?: string;
}

/** An Event the pass should record. */
export interface RolloutEvent {
  type: 'Normal' | 'Warning';
  reason: 'RolloutBatchStarted' | 'RolloutBatchCompleted' | 'RolloutHalted' | 'RolloutComplete';
  message: string;
}

/** Reasons of DataPlaneReady while a rollout is under way, halted, or disabled. */
export const RolloutReason = {
  /** A batch of workloads is restarting, or the next waits batchInterval (phases Restarting, Waiting). */
  RolloutInProgress: 'RolloutInProgress',
  /** A batch failed the health gate; the message names the workloads, why, and what to do. */
  RolloutHalted: 'RolloutHalted',
  /** spec.injection.restartWorkloads.enabled is false and pods are outdated; the message counts them. */
  RestartsDisabled: 'RestartsDisabled',
} as const;

/** The decision of one pass. */
export interface RolloutPlan {
  /** The target planned for. */
  target: string;
  /** Where the rollout is after this pass (the same as status.phase). */
  phase: RolloutPhase;
  /** Workloads to restart now: the batch starting in this pass (empty when none starts). */
  restart: WorkloadRef[];
  /** The restartedAt value the batch is stamped with (RFC 3339, ms precision), when {@link restart} is not empty. */
  restartedAt?: string;
  /** Workloads that failed the health gate (phase Halted). */
  failures: RolloutFailure[];
  /** status.dataPlane.rollout after this pass; undefined when no pod runs this installation's proxy. */
  status?: RolloutStatus;
  /** DataPlaneReady when the rollout has something to say (in progress, halted, disabled); undefined when Complete. */
  condition?: { status: 'False'; reason: (typeof RolloutReason)[keyof typeof RolloutReason]; message: string };
  /** Events of this pass (batch started/completed, halted, complete). */
  events: RolloutEvent[];
  /** When the next pass is due without any event (batchInterval over, a health deadline), in clock ms. */
  wakeAt?: number;
}

/** How one workload stands against the target. */
type Standing =
  | { kind: 'current' }
  | { kind: 'outdated' }
  /** Restarted for the target, yet its pods still run an outdated proxy after the deadline: nothing more a restart can do. */
  | { kind: 'stale' }
  /** Opted out by annotation (status.skipped). */
  | { kind: 'skipped'; why: string }
  /** Outdated, but a restart here would not bring the current proxy (OnDelete, paused, a namespace not enrolled): left to a person. */
  | { kind: 'blocked'; why: string }
  | { kind: 'restarting' }
  | { kind: 'failed'; failure: RolloutFailure };

const STATUS_LIST_MAX = 64;
const BATCH_LIST_MAX = 256;

/**
 * The pods a batch may take down at once: `maxUnavailable` of the enrolled workloads' pods (a
 * count, or a percentage rounded down but never below 1). Throws a message for a value that
 * slipped past validation.
 */
export function unavailabilityBudget(maxUnavailable: number | string, totalPods: number): number {
  if (typeof maxUnavailable === 'number') {
    if (!Number.isInteger(maxUnavailable) || maxUnavailable < 1) throw new Error(`spec.injection.restartWorkloads.maxUnavailable ${maxUnavailable} is not a count of at least 1`);
    return maxUnavailable;
  }
  const percent = /^([0-9]{1,3})%$/.exec(maxUnavailable.trim());
  const value = percent ? Number(percent[1]) : NaN;
  if (!(value >= 1 && value <= 100)) {
    // An integer sent as a string ("2") is a count, as Kubernetes' IntOrString parses it.
    if (/^[0-9]+$/.test(maxUnavailable.trim()) && Number(maxUnavailable) >= 1) return Number(maxUnavailable);
    throw new Error(`spec.injection.restartWorkloads.maxUnavailable "${maxUnavailable}" is neither a count of at least 1 nor a percentage from 1% to 100%`);
  }
  return Math.max(1, Math.floor((totalPods * value) / 100));
}

/**
 * The next batch: restartable outdated workloads in a fixed order (namespace, kind, name), taken
 * while the sum of their pods stays within `budget`. A workload with more pods than the whole
 * budget goes alone: a restart cannot take part of a workload, and the workload's own rollout
 * strategy (maxUnavailable of a Deployment, one pod at a time for a StatefulSet) bounds how many
 * of its pods are down at once.
 */
export function nextBatch(candidates: readonly ObservedWorkload[], budget: number): ObservedWorkload[] {
  const ordered = [...candidates].sort(compareWorkloads);
  const batch: ObservedWorkload[] = [];
  let pods = 0;
  for (const workload of ordered) {
    const size = Math.max(1, workload.pods.length);
    if (batch.length === 0 && size > budget) return [workload];
    if (pods + size > budget) break;
    batch.push(workload);
    pods += size;
  }
  return batch;
}

const KIND_ORDER: Record<RestartableKind, number> = { Deployment: 0, StatefulSet: 1, DaemonSet: 2 };

function compareWorkloads(a: WorkloadRef, b: WorkloadRef): number {
  return byCodePoint(a.namespace, b.namespace) || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || byCodePoint(a.name, b.name);
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `items` joined, the first `max` of them, with how many more. */
function listed(items: readonly string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/**
 * Judges a workload restarted for the target against the health gate: rollout complete, pods
 * Ready, none crash-looping, within `deadlineMs` of its restartedAt. A failure recorded in the
 * previous status for this target sticks until the workload passes the gate (a crash loop that
 * the deadline would not catch again must not quietly resume the rollout).
 */
function healthGate(workload: ObservedWorkload, now: number, deadlineMs: number, previousFailure: RolloutFailure | undefined): Standing {
  const name = workloadName(workload);
  const restartedAt = workload.restartedAt ? Date.parse(workload.restartedAt) : NaN;
  const overdue = Number.isFinite(restartedAt) && now >= restartedAt + deadlineMs;
  // The pods the restart created run the current proxy; a crash among them is the restart's doing.
  const newPods = workload.pods.filter((p) => !p.outdated);
  const crashing = (newPods.length > 0 ? newPods : workload.pods).filter((p) => p.crashLooping);
  const notReady = workload.pods.filter((p) => !p.ready);
  const complete = workload.rollout?.state === 'complete';
  if (complete && notReady.length === 0 && crashing.length === 0) {
    if (!workload.pods.some((p) => p.outdated)) return { kind: 'current' };
    // Old pods the cache still shows: give them until the deadline to go.
    return overdue ? { kind: 'stale' } : { kind: 'restarting' };
  }
  if (crashing.length > 0) {
    return { kind: 'failed', failure: { workload: name, reason: 'CrashLoop', message: `${plural(crashing.length, 'pod')} crash-looping (${listed(crashing.map((p) => p.name), 3)}) after the restart for the current proxy: look at their logs (kubectl logs --previous)` } };
  }
  if (workload.rollout?.state === 'failed') {
    return { kind: 'failed', failure: { workload: name, reason: 'ProgressDeadlineExceeded', message: `its rollout ${workload.rollout.message}` } };
  }
  if (overdue) {
    const deadline = `within spec.upgrade.progressDeadline of its restart at ${workload.restartedAt}`;
    if (notReady.length > 0) {
      return { kind: 'failed', failure: { workload: name, reason: 'NotReady', message: `${plural(notReady.length, 'pod')} not Ready (${listed(notReady.map((p) => p.name), 3)}) ${deadline}` } };
    }
    const why = workload.rollout?.state === 'progressing' ? workload.rollout.message : 'its rollout status is unknown';
    return { kind: 'failed', failure: { workload: name, reason: 'ProgressDeadlineExceeded', message: `rollout not complete ${deadline}: ${why}` } };
  }
  if (previousFailure) return { kind: 'failed', failure: previousFailure };
  return { kind: 'restarting' };
}

/**
 * How a workload stands (see {@link Standing}). A workload restarted for the target in a batch
 * that already passed the gate (restarted no later than `lastBatchCompletedAt`) is judged no more:
 * a pod it scales up or replaces later is its own business, not the rollout's.
 */
function standingOf(workload: ObservedWorkload, target: string, now: number, deadlineMs: number, previousFailures: ReadonlyMap<string, RolloutFailure>, lastBatchCompletedAt: string | undefined): Standing {
  if (workload.restartedFor === target) {
    const passedEarlier = lastBatchCompletedAt !== undefined && workload.restartedAt !== undefined && Date.parse(workload.restartedAt) < Date.parse(lastBatchCompletedAt);
    if (passedEarlier) return workload.pods.some((p) => p.outdated) ? { kind: 'stale' } : { kind: 'current' };
    return healthGate(workload, now, deadlineMs, previousFailures.get(workloadName(workload)));
  }
  if (!workload.pods.some((p) => p.outdated)) return { kind: 'current' };
  if (workload.optedOut) return { kind: 'skipped', why: 'opted out (meshwright.dev/restart: disabled)' };
  if (workload.notRestartable) return { kind: 'blocked', why: workload.notRestartable };
  return { kind: 'outdated' };
}

/**
 * Plans one pass of the data-plane rollout toward `observed.target` at time `now` (clock ms).
 *
 * Phases: Halted when a workload restarted for the target failed the health gate (no further
 * batch starts; the caller — an upgrade, a rotation — decides what follows; the rollout resumes
 * by itself once the failed workloads pass the gate); Restarting while a batch is in flight or
 * starts now; Waiting for batchInterval after a batch passed the gate; Disabled when restarts are
 * off and workloads are outdated (reported only); Complete when nothing is left to restart.
 */
export function planRollout(observed: RolloutObservation, now: number): RolloutPlan {
  const { target, settings, workloads } = observed;
  const previous = observed.previous?.target === target ? observed.previous : undefined;
  const barePods = [...observed.barePods].sort();
  const otherPods = observed.otherPods ?? { total: 0, outdated: 0 };
  const injectedPods = workloads.reduce((n, w) => n + w.pods.length, 0) + barePods.length + otherPods.total;
  // No proxy of this installation anywhere and no restart in flight: nothing to show (status omits the rollout).
  if (injectedPods === 0 && workloads.length === 0) {
    return { target, phase: 'Complete', restart: [], failures: [], events: [] };
  }

  let budget: number;
  let deadlineMs: number;
  let intervalMs: number;
  try {
    budget = unavailabilityBudget(settings.maxUnavailable, workloads.reduce((n, w) => n + w.pods.length, 0));
    deadlineMs = parseSetting(settings.progressDeadline, 'spec.upgrade.progressDeadline');
    intervalMs = parseSetting(settings.batchInterval, 'spec.injection.restartWorkloads.batchInterval');
  } catch (error) {
    return invalidSettings(observed, error instanceof Error ? error.message : String(error), previous);
  }

  const previousFailures = new Map((previous?.failures ?? []).map((f) => [f.workload, f]));
  const standings = workloads.map((workload) => ({ workload, standing: standingOf(workload, target, now, deadlineMs, previousFailures, previous?.lastBatchCompletedAt) }));
  const having = (kind: Standing['kind']) => standings.filter((s) => s.standing.kind === kind);
  const current = having('current');
  const outdated = having('outdated');
  const stale = having('stale');
  const skipped = having('skipped');
  const blocked = having('blocked');
  const restarting = having('restarting');
  const failures = standings.flatMap((s) => (s.standing.kind === 'failed' ? [s.standing.failure] : [])).sort((a, b) => a.workload.localeCompare(b.workload));

  // The latest batch, as the cluster shows it: the restarted-for-target workloads sharing the latest restartedAt.
  const restartedForTarget = workloads.filter((w) => w.restartedFor === target && w.restartedAt !== undefined && Number.isFinite(Date.parse(w.restartedAt)));
  const latestAt = restartedForTarget.map((w) => w.restartedAt!).sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1);
  let batch: RolloutStatus['batch'] = previous?.batch;
  if (latestAt !== undefined && (!batch || Date.parse(latestAt) > Date.parse(batch.startedAt))) {
    const members = restartedForTarget.filter((w) => w.restartedAt === latestAt).sort(compareWorkloads).map(workloadName);
    const batchesSeen = new Set(restartedForTarget.map((w) => w.restartedAt)).size;
    batch = { number: batch ? batch.number + 1 : batchesSeen, workloads: members.slice(0, BATCH_LIST_MAX), startedAt: latestAt };
  }
  const inFlight = restarting.length > 0 || failures.length > 0;
  let lastBatchCompletedAt = previous?.lastBatchCompletedAt;
  const events: RolloutEvent[] = [];
  if (!inFlight && batch && !(lastBatchCompletedAt && Date.parse(lastBatchCompletedAt) > Date.parse(batch.startedAt))) {
    lastBatchCompletedAt = new Date(now).toISOString();
    events.push({ type: 'Normal', reason: 'RolloutBatchCompleted', message: `batch ${batch.number} (${plural(batch.workloads.length, 'workload')}) passed the health gate for ${target}` });
  }

  const outdatedPods = standings.filter((s) => s.standing.kind !== 'current').reduce((n, s) => n + s.workload.pods.filter((p) => p.outdated).length, 0) + barePods.length + otherPods.outdated;
  let phase: RolloutPhase;
  let restart: ObservedWorkload[] = [];
  let restartedAt: string | undefined;
  let wakeAt: number | undefined;
  if (failures.length > 0) {
    phase = 'Halted';
  } else if (!settings.enabled) {
    // Restarts off: any outdated pod is the user's to restart (RestartsDisabled counts them all).
    phase = outdatedPods > 0 || restarting.length > 0 ? 'Disabled' : 'Complete';
  } else if (restarting.length > 0) {
    phase = 'Restarting';
  } else if (outdated.length > 0) {
    const nextAt = batch && lastBatchCompletedAt ? Date.parse(lastBatchCompletedAt) + intervalMs : now;
    if (observed.hold !== undefined) {
      phase = 'Waiting';
    } else if (now >= nextAt) {
      phase = 'Restarting';
      restart = nextBatch(outdated.map((s) => s.workload), budget);
      restartedAt = new Date(now).toISOString();
      batch = { number: (batch?.number ?? 0) + 1, workloads: restart.map(workloadName).slice(0, BATCH_LIST_MAX), startedAt: restartedAt };
      events.push({ type: 'Normal', reason: 'RolloutBatchStarted', message: `batch ${batch.number}: restarting ${plural(restart.length, 'workload')} for ${target}: ${listed(batch.workloads)}` });
    } else {
      phase = 'Waiting';
      wakeAt = nextAt;
    }
  } else {
    phase = 'Complete';
  }
  if (phase === 'Restarting' || phase === 'Halted') {
    // The earliest health deadline of a workload still on its way.
    const deadlines = restarting.map((s) => Date.parse(s.workload.restartedAt ?? '') + deadlineMs).filter((t) => Number.isFinite(t) && t > now);
    if (restartedAt) deadlines.push(Date.parse(restartedAt) + deadlineMs);
    if (deadlines.length > 0) wakeAt = Math.min(...deadlines);
  }

  const restartingCount = restarting.length + restart.length;
  const counts = {
    total: workloads.length,
    current: current.length,
    outdated: outdated.length - restart.length + stale.length + blocked.length,
    restarting: restartingCount,
    skipped: skipped.length,
    failed: failures.length,
  };
  const skippedNames = skipped.map((s) => workloadName(s.workload)).sort();
  const progress = `${counts.current}/${counts.total}`;
  const leftAlone = [
    skipped.length > 0 ? `${plural(skipped.length, 'workload')} skipped (${listed(skipped.map((s) => `${workloadName(s.workload)}: ${(s.standing as { why: string }).why}`), 3)})` : '',
    blocked.length > 0 ? `${plural(blocked.length, 'outdated workload')} left for you to restart (${listed(blocked.map((s) => `${workloadName(s.workload)}: ${(s.standing as { why: string }).why}`), 3)})` : '',
    stale.length > 0 ? `${plural(stale.length, 'workload')} restarted for ${target} whose pods still run an outdated proxy (${listed(stale.map((s) => workloadName(s.workload)), 3)}): check that the injection webhook serves the current proxy` : '',
    barePods.length > 0 ? `${plural(barePods.length, 'outdated pod')} without a controller to delete by hand (${listed(barePods, 3)})` : '',
    otherPods.outdated > 0 ? `${plural(otherPods.outdated, 'outdated pod')} of Jobs or other controllers left to finish` : '',
  ].filter(Boolean).join('; ');
  const tail = leftAlone ? `; ${leftAlone}` : '';

  let message: string;
  let condition: RolloutPlan['condition'];
  switch (phase) {
    case 'Halted': {
      const named = listed(failures.map((f) => `${f.workload} (${f.reason}: ${f.message})`), 5);
      message = `batch ${batch?.number ?? '?'} failed the health gate for ${target}: ${named}; no further batch starts: fix these workloads (the rollout resumes once they pass the gate) or roll back the change; ${progress} workloads current${tail}`;
      condition = { status: 'False', reason: RolloutReason.RolloutHalted, message: `data-plane rollout halted: ${message}` };
      if (previous?.phase !== 'Halted') events.push({ type: 'Warning', reason: 'RolloutHalted', message });
      break;
    }
    case 'Disabled': {
      const yours = outdated.length + restarting.length;
      message = `restarts are disabled (spec.injection.restartWorkloads.enabled: false): ${yours > 0 ? `${plural(yours, 'workload')} with outdated proxies left for you to restart (${listed(outdated.map((s) => workloadName(s.workload)))})` : 'no workload the operator would restart is outdated'}; ${progress} workloads current${tail}`;
      condition = { status: 'False', reason: RolloutReason.RestartsDisabled, message: `${plural(outdatedPods, 'pod')} run an outdated proxy and restarts are disabled: ${message}` };
      break;
    }
    case 'Restarting': {
      const waitingOn = restart.length > 0 ? restart.map(workloadName) : restarting.map((s) => workloadName(s.workload));
      message = `batch ${batch?.number ?? '?'} restarting for ${target}: ${listed(waitingOn)}; ${counts.outdated} ${counts.outdated === 1 ? 'workload waits' : 'workloads wait'} for later batches; ${progress} workloads current${tail}`;
      condition = { status: 'False', reason: RolloutReason.RolloutInProgress, message: `data-plane rollout in progress: ${message}` };
      break;
    }
    case 'Waiting': {
      if (wakeAt === undefined) {
        message = `${plural(counts.outdated, 'workload')} to restart for ${target}, held: ${observed.hold ?? 'no batch may start yet'}; ${progress} workloads current${tail}`;
        condition = { status: 'False', reason: RolloutReason.RolloutInProgress, message: `data-plane rollout in progress: ${message}` };
        break;
      }
      message = `batch ${batch?.number ?? '?'} passed the health gate; the next batch starts at ${new Date(wakeAt!).toISOString()} (batchInterval ${settings.batchInterval}) for ${target}; ${plural(counts.outdated, 'workload')} left; ${progress} workloads current${tail}`;
      condition = { status: 'False', reason: RolloutReason.RolloutInProgress, message: `data-plane rollout in progress: ${message}` };
      break;
    }
    default:
      message = `no workload left to restart for ${target}; ${progress} workloads current${tail}`;
      if (observed.previous?.target === target && observed.previous.phase !== 'Complete' && observed.previous.phase !== 'Disabled' && batch) {
        events.push({ type: 'Normal', reason: 'RolloutComplete', message: `every workload was restarted for ${target} (${plural(batch.number, 'batch', 'batches')}); ${progress} workloads current${tail}` });
      }
  }

  const status: RolloutStatus = {
    target, phase, progress, workloads: counts,
    ...(batch ? { batch } : {}),
    ...(lastBatchCompletedAt ? { lastBatchCompletedAt } : {}),
    ...(failures.length > 0 ? { failures: failures.slice(0, STATUS_LIST_MAX) } : {}),
    ...(skippedNames.length > 0 ? { skipped: skippedNames.slice(0, STATUS_LIST_MAX) } : {}),
    ...(barePods.length > 0 ? { barePods: barePods.slice(0, STATUS_LIST_MAX) } : {}),
    message: truncate(message, 1024),
  };
  if (condition) condition.message = truncate(condition.message, 32_768);
  return {
    target, phase, restart: restart.map(({ kind, namespace, name }) => ({ kind, namespace, name })), ...(restartedAt ? { restartedAt } : {}),
    failures, status, ...(condition ? { condition } : {}), events, ...(wakeAt !== undefined ? { wakeAt } : {}),
  };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function parseSetting(value: string, field: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw new Error(`${field} "${value}" is not a duration (e.g. 30s, 10m)`);
  }
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`${field} "${value}" is not a duration (e.g. 30s, 10m)`);
  return ms;
}

/** A plan for settings that cannot be used: nothing restarts; status and condition say which setting and why. */
function invalidSettings(observed: RolloutObservation, why: string, previous: RolloutStatus | undefined): RolloutPlan {
  const { target, workloads } = observed;
  const current = workloads.filter((w) => !w.pods.some((p) => p.outdated)).length;
  const message = `no workload is restarted: ${why}; fix the spec`;
  const status: RolloutStatus = {
    target, phase: 'Halted', progress: `${current}/${workloads.length}`,
    workloads: { total: workloads.length, current, outdated: workloads.length - current, restarting: 0, skipped: 0, failed: 0 },
    ...(previous?.batch ? { batch: previous.batch } : {}),
    ...(previous?.lastBatchCompletedAt ? { lastBatchCompletedAt: previous.lastBatchCompletedAt } : {}),
    message: truncate(message, 1024),
  };
  return {
    target, phase: 'Halted', restart: [], failures: [], status, events: [],
    condition: { status: 'False', reason: RolloutReason.RolloutHalted, message: `data-plane rollout halted: ${message}` },
  };
}
