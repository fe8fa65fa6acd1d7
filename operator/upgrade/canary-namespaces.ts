/**
 * Where namespaces and pods stand during a stepped Canary upgrade (#16 point 4), as pure functions
 * the pass, the injection webhook and the rollout share, so that all three agree on which revision
 * a namespace points at:
 *
 * - {@link resolveCanarySteps}: spec.upgrade.canary.steps resolved to the namespaces the operator
 *   enrolled (by name, or by a selector judged on the person's labels alone);
 * - {@link defaultTagRevision}: where the `default` revision tag points, from status.upgrade alone
 *   (it moves once the record says so: the promotion's `Remove revision` step, or Succeeded);
 * - {@link namespaceRevision}: the revision a namespace's labels point at — a revision's own
 *   enrolment label (`istio.io/rev=<rev>`), or the default label (`istio-injection=enabled`), which
 *   follows the tag;
 * - {@link injectionRevision}: the revision a new pod gets, as upstream's webhooks route it: the
 *   namespace's revision; in a namespace naming none, the pod's own `istio.io/rev` label;
 * - {@link canaryRolloutScope}: the namespaces whose workloads the rollout may restart toward a
 *   revision, and those it must wait for (their label not pointing at it yet).
 */
import { selectorMatches, type LabelSelectorSpec } from '../controllers/meshinstallation/label-selector.ts';
import { FINAL_UPGRADE_PHASES, type UpgradeStatus } from './plan.ts';
import type { CanaryRevisions } from './steps.ts';

/** The pod label by which a pod names its revision (Istio's). */
export const POD_REVISION_LABEL = 'istio.io/rev';

/** A label as key and value. */
export interface Label {
  key: string;
  value: string;
}

/** One step of spec.upgrade.canary.steps as written. */
export interface CanaryStepSpec {
  namespaces?: readonly string[];
  namespaceSelector?: LabelSelectorSpec;
  pause?: string;
}

/** A namespace the operator enrolled, with the labels a person set (the operator's own enrolment label left out). */
export interface EnrolledNamespace {
  name: string;
  personLabels: Readonly<Record<string, string>>;
}

/**
 * The spec's steps with their namespaces resolved among those the operator enrolled (it moves no
 * other), each step's names sorted, in the spec's order. A name not enrolled is dropped (a person
 * labelled it, or it does not exist): such a namespace is theirs, reported by enrolment. A
 * selector is judged on the person's labels, never on the revision label the operator sets, so a
 * step cannot select or lose a namespace because it moved.
 */
export function resolveCanarySteps(steps: readonly CanaryStepSpec[] | undefined, enrolled: readonly EnrolledNamespace[]): Array<{ namespaces: string[]; pause?: string }> {
  return (steps ?? []).map((step) => {
    const namespaces = step.namespaces
      ? enrolled.filter((ns) => step.namespaces!.includes(ns.name))
      : enrolled.filter((ns) => step.namespaceSelector !== undefined && selectorMatches(step.namespaceSelector, ns.personLabels));
    return { namespaces: namespaces.map((ns) => ns.name).sort(), ...(step.pause ? { pause: step.pause } : {}) };
  });
}

/**
 * Where the `default` revision tag points while `upgrade` (a Canary one) concerns `revisions`: the
 * new revision once the promotion recorded the tag's move (step `Remove revision …`, the
 * second-to-last of the plan) or the upgrade Succeeded; the old one before that, while rolling
 * back and once rolled back. A Failed upgrade keeps the tag where its last step left it.
 */
export function defaultTagRevision(upgrade: Pick<UpgradeStatus, 'phase' | 'step' | 'totalSteps'> | undefined, revisions: CanaryRevisions): string {
  if (!upgrade) return revisions.new;
  if (upgrade.phase === 'Succeeded') return revisions.new;
  if (upgrade.phase === 'RollingBack' || upgrade.phase === 'RolledBack') return revisions.old;
  const tagMoved = upgrade.step !== undefined && upgrade.totalSteps !== undefined && upgrade.step >= upgrade.totalSteps - 1;
  return tagMoved ? revisions.new : revisions.old;
}

/** Whether `upgrade` is a Canary upgrade still under way (not final). */
export function canaryUnderWay(upgrade: Pick<UpgradeStatus, 'strategy' | 'phase'> | undefined): boolean {
  return upgrade?.strategy === 'Canary' && !FINAL_UPGRADE_PHASES.has(upgrade.phase);
}

/**
 * The revision a namespace with `labels` points at: the revision whose own label it carries (a
 * revision's label wins, as upstream's `istio-injection` does not: see below), else the `default`
 * tag's when it carries the default label. Undefined: it names none of them.
 *
 * `revisionLabels` maps each revision to its enrolment label; revisions whose label is the same as
 * the default label (a mesh without revision labels) never match by it. `defaultLabel` (Istio's
 * `istio-injection=enabled`) wins over a revision label, as upstream's webhooks route it (the
 * revision webhooks require `istio-injection` to be absent).
 */
export function namespaceRevision(labels: Readonly<Record<string, string>> | undefined, revisionLabels: ReadonlyArray<{ revision: string; label: Label }>, defaultLabel: Label | undefined, defaultTag: string | undefined): string | undefined {
  const has = (label: Label) => labels?.[label.key] === label.value;
  if (defaultLabel && has(defaultLabel)) return defaultTag;
  // Another value of the default key (`istio-injection=disabled`) turns injection off, unless revisions share that key.
  if (defaultLabel && labels?.[defaultLabel.key] !== undefined && !revisionLabels.some((r) => r.label.key === defaultLabel.key)) return undefined;
  for (const { revision, label } of revisionLabels) {
    if (defaultLabel && label.key === defaultLabel.key && label.value === defaultLabel.value) continue;
    if (has(label)) return revision;
  }
  return undefined;
}

/**
 * The revision a new pod gets (see the module comment): the namespace's; in a namespace naming none,
 * the pod's own revision label when it names a known revision (`default`: the tag's). Undefined:
 * nothing names a revision (the caller falls back to the spec last served).
 */
export function injectionRevision(input: { namespaceRevision?: string; podLabels?: Readonly<Record<string, string>>; known: readonly string[]; defaultTag?: string }): string | undefined {
  if (input.namespaceRevision !== undefined) return input.namespaceRevision;
  const own = input.podLabels?.[POD_REVISION_LABEL];
  if (own === 'default') return input.defaultTag;
  return own !== undefined && input.known.includes(own) ? own : undefined;
}

/**
 * Whose workloads the rollout may restart toward `revision` this pass: the namespaces of the step
 * (`namespaces`) and, once the `default` tag points at `revision`, the namespaces that follow the
 * tag (`tagged`). A namespace whose labels (as the caches show them, which the webhook reads too)
 * do not point at `revision` yet is waited for, not restarted: a pod created there now would get
 * the other revision, and the rollout never restarts a workload twice for one target.
 */
export function canaryRolloutScope(input: {
  revision: string;
  namespaces: readonly string[];
  defaultTag: string;
  tagged: readonly string[];
  /** The revision each namespace points at now (undefined: none). */
  pointsAt: (namespace: string) => string | undefined;
}): { namespaces: string[]; waitingFor: string[] } {
  const wanted = new Set(input.namespaces);
  if (input.defaultTag === input.revision) for (const ns of input.tagged) wanted.add(ns);
  const namespaces = [...wanted].sort();
  return { namespaces, waitingFor: namespaces.filter((ns) => input.pointsAt(ns) !== input.revision) };
}
