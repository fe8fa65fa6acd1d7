/**
 * The root rotation as `meshwright status` shows it, under the CA line: which of the five steps
 * runs and what it does, how many pods already hold the trust bundle the step waits for, why it is
 * paused, a trigger queued behind it, and when the last one completed. Pure (the clock and the
 * painter are parameters), golden-tested in status-rotation.test.ts; status.ts hooks it in.
 */
import { ConditionType, findCondition } from '../api/conditions.ts';
import type { MeshInstallationStatus } from '../api/status.ts';
import { formatRelative, progressBar } from './status.ts';

/** One line of the rotation's display: plain text, and the color status.ts paints it in after wrapping it. */
export interface RotationLine {
  text: string;
  tone?: 'yellow' | 'red';
}

type RotationPhase = NonNullable<NonNullable<MeshInstallationStatus['certificateAuthority']>['rotation']>['phase'];

/** The five steps, in order, with what each does in words a person reads. */
const STEPS: Record<Exclude<RotationPhase, 'Idle'>, { step: number; does: string; waitsOnPods: boolean }> = {
  ExtendingTrustBundle: { step: 1, does: 'adding the new root to the trust bundle', waitsOnPods: false },
  RestartingForTrustBundle: { step: 2, does: 'restarting workloads so every proxy trusts the old and the new root', waitsOnPods: true },
  SwitchingIssuer: { step: 3, does: 'switching the issuer to one signed by the new root', waitsOnPods: false },
  RestartingForIssuer: { step: 4, does: 'restarting workloads so every workload certificate chains to the new root', waitsOnPods: true },
  DroppingOldRoot: { step: 5, does: 'dropping the old root and restarting workloads onto the new one alone', waitsOnPods: true },
};

/** Reasons of CertificateAuthorityReady that stop a rotation until something changes. */
const STOPPED_REASONS = new Set(['RotationPaused', 'RotationStateMismatch']);

/**
 * The rotation's lines, for status.ts to put under the CA line; none for an installation that
 * never rotated its root.
 */
export function rotationLines(status: MeshInstallationStatus, now: Date): RotationLine[] {
  const rotation = status.certificateAuthority?.rotation;
  if (!rotation) return [];
  if (rotation.phase === 'Idle') return rotation.completedAt ? [{ text: `last root rotation completed ${formatRelative(rotation.completedAt, now)}` }] : [];
  const { step, does, waitsOnPods } = STEPS[rotation.phase];
  const condition = findCondition(status.conditions, ConditionType.CertificateAuthorityReady);
  const stopped = condition !== undefined && STOPPED_REASONS.has(condition.reason);
  const started = rotation.startedAt ? `, started ${formatRelative(rotation.startedAt, now)}` : '';
  const lines: RotationLine[] = [
    { text: `root rotation: ${rotation.phase}${stopped ? ' (paused)' : ''}${started}`, tone: stopped ? 'red' : 'yellow' },
    { text: `step ${step} of 5: ${does}` },
  ];
  const dataPlane = status.dataPlane;
  if (waitsOnPods && dataPlane && dataPlane.injectedPods > 0) {
    // outdatedPods counts the pods without the published bundle (or proxy version): what the step waits for.
    const current = dataPlane.injectedPods - dataPlane.outdatedPods;
    lines.push({ text: `${progressBar(current, dataPlane.injectedPods)} ${current}/${dataPlane.injectedPods} pods hold the current trust bundle` });
  }
  if (rotation.queuedTrigger) lines.push({ text: `trigger ${rotation.queuedTrigger} queued: a new rotation starts once this one completes` });
  // Why it stopped is the condition's message, which status.ts prints under the CA line.
  return lines;
}
