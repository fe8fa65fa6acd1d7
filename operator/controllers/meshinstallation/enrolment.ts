/**
 * Namespace enrolment: `spec.injection.namespaces` / `namespaceSelector` name the namespaces whose
 * pods get the mesh proxy; the operator enrols each by setting the mesh's own label on it (e.g.
 * `istio-injection=enabled`, `linkerd.io/inject=enabled`) and unenrols it when it leaves the
 * selection or the installation is deleted.
 *
 * A namespace is the user's, never ours: the operator only ever adds its label and annotations
 * recording that it did and what it set ({@link ENROLLED_BY_ANNOTATION},
 * {@link ENROLLED_LABEL_ANNOTATION}), and takes off only those. A label a person set — the
 * enrolment key with any value the operator did not put there, or another label the mesh routes
 * injection by — is left alone and reported. A selector is judged on the person's labels alone, so
 * one that names the enrolment key cannot make the operator flap. Writes are merge patches guarded by the namespace's resourceVersion, so nothing a
 * person changed after the cache was read is overwritten, and a namespace is never created
 * (a patch of a missing object fails; an apply would create it).
 *
 * {@link planEnrolment} is pure and table-tested; {@link enrolNamespaces} and
 * {@link unenrolAll} carry the plan out.
 */
import { mapLimited } from '../../runtime/concurrency.ts';
import { isConflict, isNotFound, type KubeObject } from '../../runtime/kube.ts';
import type { PassContext } from './context.ts';
import { selectorMatches, type LabelSelectorSpec } from './label-selector.ts';
import type { PassScope, Target } from './scope.ts';
import { LastComputed } from './last-computed.ts';
import { byCodePoint } from '../../runtime/order.ts';

/** Annotation the operator puts on a namespace it enrolled, valued with the installation's name. */
export const ENROLLED_BY_ANNOTATION = 'meshwright.dev/enrolled-by';
/**
 * Annotation recording the label the operator set (`key=value`), so that it takes off exactly that
 * one even after the mesh's enrolment label changed (a revision) or stopped resolving.
 */
export const ENROLLED_LABEL_ANNOTATION = 'meshwright.dev/enrolled-label';

/** Namespaces no mesh injects into, whatever the selection says (the control-plane namespace is added per installation). */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

/** Why a selected namespace was not enrolled by the operator (status.dataPlane.namespacesNotEnrolled, Events). */
export const EnrolmentReason = {
  /** The namespace carries the enrolment label with a value a person set: the operator does not overwrite it. */
  LabelSetByUser: 'LabelSetByUser',
  /** Another MeshInstallation enrolled the namespace first. */
  EnrolledByAnotherInstallation: 'EnrolledByAnotherInstallation',
  /** A system namespace or the control-plane namespace: never enrolled. */
  NamespaceExcluded: 'NamespaceExcluded',
} as const;

/** A namespace as the plan needs it (the namespace cache's trimmed view). */
export interface NamespaceState {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set while the namespace is being deleted. */
  deletionTimestamp?: string;
  resourceVersion?: string;
}

/** What {@link planEnrolment} decides from. */
export interface EnrolmentInput {
  /** The installation's name (the annotation's value). */
  installation: string;
  /** Its control-plane namespace, never enrolled. */
  controlPlaneNamespace: string;
  /** spec.injection's selection; neither set selects nothing. */
  selection: { namespaces?: readonly string[]; namespaceSelector?: LabelSelectorSpec };
  /** The mesh's enrolment label (SidecarInjector.enrolmentLabel). */
  label: { key: string; value: string };
  /**
   * The label a namespace must carry instead of `label`, if another (a Canary upgrade points each
   * namespace the operator enrolled at its revision: `istio.io/rev=<old>` or `<new>`); undefined: `label`.
   */
  labelFor?: (namespace: string) => { key: string; value: string } | undefined;
  /** Other label keys a person routes the mesh's injection by (SidecarInjector.otherSelectionLabels): theirs to decide. */
  otherKeys?: readonly string[];
  /** Every namespace in the cluster. */
  namespaces: readonly NamespaceState[];
  /** The installation is being deleted: everything it enrolled is unenrolled. */
  deleting?: boolean;
}

/** One write to a namespace. */
export type EnrolmentAction =
  /**
   * Set the enrolment label and record it (annotations); `removeLabels`: labels the operator set
   * by an earlier enrolment label (the mesh's label changed, e.g. with a revision), taken off at once.
   */
  | { type: 'enrol'; namespace: string; resourceVersion?: string; removeLabels: string[]; label?: { key: string; value: string } }
  /** Remove the annotations, and `removeLabels`: labels the operator set that still have the value it set. */
  | { type: 'unenrol'; namespace: string; resourceVersion?: string; removeLabels: string[] };

/** A selected namespace the operator did not enrol, and why. */
export interface NamespaceNotEnrolled {
  namespace: string;
  reason: (typeof EnrolmentReason)[keyof typeof EnrolmentReason];
  message: string;
}

/** The outcome of {@link planEnrolment}. */
export interface EnrolmentPlan {
  actions: EnrolmentAction[];
  /**
   * Namespaces that carry the enrolment label with the mesh's value once the actions are done
   * (whoever set it: a namespace a person labelled is injected all the same), sorted.
   */
  enrolled: string[];
  /** Selected namespaces left as they are, sorted by name. */
  notEnrolled: NamespaceNotEnrolled[];
}

/** Whether the selection names the namespace `name` with the (person's) `labels`. */
function isSelected(selection: EnrolmentInput['selection'], name: string, labels: Record<string, string>): boolean {
  if (selection.namespaces) return selection.namespaces.includes(name);
  if (selection.namespaceSelector) return selectorMatches(selection.namespaceSelector, labels);
  return false;
}

/** The label an {@link ENROLLED_LABEL_ANNOTATION} value records (`key=value`), if it reads as one. */
export function recordedLabel(text: string | undefined): { key: string; value: string } | undefined {
  const at = text?.indexOf('=') ?? -1;
  return text && at > 0 ? { key: text.slice(0, at), value: text.slice(at + 1) } : undefined;
}

/**
 * The writes that make the namespaces' enrolment match the selection. `ours`: the namespace
 * carries our annotation; "our labels": the label it records the operator set
 * ({@link ENROLLED_LABEL_ANNOTATION}; for a namespace enrolled before that record, the enrolment
 * label), where it still has the value the operator set. Every other label is a person's.
 *
 * | wanted | the namespace                                                   | action                          |
 * |--------|-----------------------------------------------------------------|---------------------------------|
 * | yes    | a person's other selection label (Istio's istio.io/rev), no enrolment label of a person's | ours taken off; reported (LabelSetByUser) |
 * | yes    | ours, our label as the mesh's label is now                      | none (enrolled)                 |
 * | yes    | the enrolment label with the mesh's value, a person's           | none (enrolled); ours, if any, taken off |
 * | yes    | no enrolment label                                              | enrol (an earlier label of ours replaced) |
 * | yes    | no enrolment label, another installation's annotation          | none; reported                  |
 * | yes    | the enrolment label with another value, a person's (`disabled`) | none, ours taken off; reported (LabelSetByUser) |
 * | no     | ours                                                            | our labels and annotations off  |
 * | no     | not ours                                                        | none                            |
 *
 * "Wanted" is selected, not excluded (system or control-plane namespace), not being deleted, and
 * the installation not being deleted. A namespace being deleted is never written to.
 */
export function planEnrolment(input: EnrolmentInput): EnrolmentPlan {
  const { installation } = input;
  const excluded = new Set([...SYSTEM_NAMESPACES, input.controlPlaneNamespace]);
  const actions: EnrolmentAction[] = [];
  const enrolled: string[] = [];
  const notEnrolled: NamespaceNotEnrolled[] = [];
  for (const ns of [...input.namespaces].sort((a, b) => byCodePoint(a.name, b.name))) {
    const label = input.labelFor?.(ns.name) ?? input.label;
    const labels = ns.labels ?? {};
    const claimedBy = ns.annotations?.[ENROLLED_BY_ANNOTATION];
    const ours = claimedBy === installation;
    const recorded = ours ? recordedLabel(ns.annotations?.[ENROLLED_LABEL_ANNOTATION]) ?? label : undefined;
    const ourKeys = recorded && labels[recorded.key] === recorded.value ? [recorded.key] : [];
    // The labels a person set: everything but ours.
    const theirs = Object.fromEntries(Object.entries(labels).filter(([key]) => !ourKeys.includes(key)));
    // Selection is the person's to make: our own label must not select or deselect (a selector on the enrolment key would flap).
    const selected = isSelected(input.selection, ns.name, theirs);
    const deleting = ns.deletionTimestamp !== undefined;
    const wanted = selected && !excluded.has(ns.name) && !deleting && !input.deleting;
    const base = { namespace: ns.name, resourceVersion: ns.resourceVersion };

    if (selected && excluded.has(ns.name) && !input.deleting) {
      notEnrolled.push({ namespace: ns.name, reason: EnrolmentReason.NamespaceExcluded, message: `${ns.name} is ${ns.name === input.controlPlaneNamespace ? 'the control-plane namespace' : 'a system namespace'}; the mesh never injects there` });
    }
    if (deleting) {
      // Its pods go with it; no write to a namespace on its way out.
      if (labels[label.key] === label.value && !excluded.has(ns.name)) enrolled.push(ns.name);
      continue;
    }
    const current = recorded?.key === label.key && recorded.value === label.value && ourKeys.length > 0;
    const theirValue = theirs[label.key];
    const release = () => {
      if (ours) actions.push({ type: 'unenrol', ...base, removeLabels: ourKeys });
    };

    if (!wanted) {
      release();
      if (!ours && theirValue === label.value && !excluded.has(ns.name)) enrolled.push(ns.name);
      continue;
    }
    // Our label beside a person's other selection label could override their choice (Istio's
    // istio-injection wins over istio.io/rev): theirs decides.
    const otherKey = (input.otherKeys ?? []).find((key) => key !== label.key && theirs[key] !== undefined);
    if (otherKey !== undefined && theirValue === undefined) {
      release();
      notEnrolled.push({ namespace: ns.name, reason: EnrolmentReason.LabelSetByUser, message: `${ns.name} has ${otherKey}=${theirs[otherKey]}, set by someone other than the operator, which routes its injection; it is left as it is (remove that label to let the operator enrol it with ${label.key}=${label.value})` });
    } else if (current) {
      enrolled.push(ns.name);
    } else if (theirValue === label.value) {
      release();
      enrolled.push(ns.name);
    } else if (theirValue === undefined) {
      if (claimedBy !== undefined && !ours) {
        notEnrolled.push({ namespace: ns.name, reason: EnrolmentReason.EnrolledByAnotherInstallation, message: `${ns.name} is enrolled by MeshInstallation ${claimedBy} (annotation ${ENROLLED_BY_ANNOTATION}); remove it from one installation's selection` });
      } else {
        actions.push({ type: 'enrol', ...base, removeLabels: ourKeys.filter((key) => key !== label.key), ...(label !== input.label ? { label } : {}) });
        enrolled.push(ns.name);
      }
    } else {
      // A person set the key to something else (opting out, say): theirs to keep.
      release();
      notEnrolled.push({ namespace: ns.name, reason: EnrolmentReason.LabelSetByUser, message: `${ns.name} has ${label.key}=${theirValue}, set by someone other than the operator; it is left as it is (set ${label.key}=${label.value} or remove the label to enrol it)` });
    }
  }
  return { actions, enrolled, notEnrolled };
}

/** The merge patch of one action: only our labels and annotations, guarded by the resourceVersion the plan saw. */
export function enrolmentPatch(action: EnrolmentAction, installation: string, meshLabel: { key: string; value: string }): Record<string, unknown> {
  const label = (action.type === 'enrol' ? action.label : undefined) ?? meshLabel;
  const guard = action.resourceVersion ? { resourceVersion: action.resourceVersion } : {};
  const removed = Object.fromEntries(action.removeLabels.map((key) => [key, null]));
  if (action.type === 'enrol') {
    return { metadata: { ...guard, labels: { ...removed, [label.key]: label.value }, annotations: { [ENROLLED_BY_ANNOTATION]: installation, [ENROLLED_LABEL_ANNOTATION]: `${label.key}=${label.value}` } } };
  }
  return { metadata: { ...guard, ...(action.removeLabels.length > 0 ? { labels: removed } : {}), annotations: { [ENROLLED_BY_ANNOTATION]: null, [ENROLLED_LABEL_ANNOTATION]: null } } };
}

/** The namespace cache as plan input. */
function namespaceStates(context: PassContext): NamespaceState[] {
  return (context.namespaces?.list() ?? []).map((o: KubeObject) => ({
    name: o.metadata.name, labels: o.metadata.labels, annotations: o.metadata.annotations,
    deletionTimestamp: o.metadata.deletionTimestamp, resourceVersion: o.metadata.resourceVersion,
  }));
}

/** Namespace patches one pass keeps in flight: a selector that matches a thousand namespaces enrols them in seconds. */
const NAMESPACE_WRITES_IN_FLIGHT = 8;

/**
 * Carries out the actions. A conflict (the namespace changed since the cache saw it) or a
 * namespace gone meanwhile is not an error: the change's watch event brings a new pass that plans
 * from the newer state, and a pass a second later is asked for (scope.wakeAt) in case that
 * event came first.
 * Returns whether every action was written.
 */
async function execute(scope: PassScope, context: PassContext, actions: readonly EnrolmentAction[], label: { key: string; value: string }): Promise<boolean> {
  let complete = true;
  await mapLimited(actions, NAMESPACE_WRITES_IN_FLIGHT, async (action) => {
    try {
      await context.client.patch({ apiVersion: 'v1', kind: 'Namespace' }, action.namespace, undefined, enrolmentPatch(action, scope.name, label), 'merge');
      const set = (action.type === 'enrol' ? action.label : undefined) ?? label;
      scope.log.info({ namespace: action.namespace, label: `${set.key}=${set.value}`, removedLabels: action.removeLabels }, action.type === 'enrol' ? 'enrolled namespace' : 'unenrolled namespace');
    } catch (error) {
      if (!isConflict(error) && !isNotFound(error)) throw error;
      complete = false;
    }
  });
  return complete;
}

/** What enrolment reports to status. */
export interface EnrolmentOutcome {
  enrolled: string[];
  notEnrolled: NamespaceNotEnrolled[];
}

/**
 * The enrolment step of a pass: plans from the namespace cache and writes what differs. A mesh
 * without an injector enrols nothing. Returns undefined when there is nothing to report.
 */
export async function enrolNamespaces(scope: PassScope, context: PassContext, target: Target): Promise<EnrolmentOutcome | undefined> {
  const injector = target.distribution.injector;
  if (!injector || !context.namespaces) return undefined;
  const label = injector.enrolmentLabel(scope.mi, target.resolved);
  const { namespaces, namespaceSelector } = scope.mi.spec.injection;
  // The namespaces and everything the plan reads as the last pass saw them, and it had nothing to
  // write: the same outcome, without planning over every namespace again (most of a steady pass
  // with a thousand namespaces). A canary's per-namespace labels are planned every time.
  const otherKeys = injector.otherSelectionLabels?.(scope.mi, target.resolved);
  const key = scope.canary?.labelFor ? undefined
    : JSON.stringify({ version: context.namespaces.changes(), label, otherKeys, namespaces, namespaceSelector, controlPlane: scope.mi.spec.namespace, uid: scope.mi.metadata.uid });
  const steady = key === undefined ? undefined : steadyEnrolment.get(scope.name, key);
  if (steady) return { enrolled: [...steady.enrolled], notEnrolled: [...steady.notEnrolled] };
  const plan = planEnrolment({
    installation: scope.name, controlPlaneNamespace: scope.mi.spec.namespace, label, otherKeys,
    // During a Canary upgrade each namespace points at the revision the upgrade says (upgrade/canary-executor.ts).
    labelFor: scope.canary?.labelFor,
    selection: { namespaces, namespaceSelector: namespaceSelector as LabelSelectorSpec | undefined }, namespaces: namespaceStates(context),
  });
  steadyEnrolment.delete(scope.name);
  if (!(await execute(scope, context, plan.actions, label))) {
    const soon = scope.clock.now() + 1000;
    scope.wakeAt = scope.wakeAt === undefined ? soon : Math.min(scope.wakeAt, soon);
  }
  const outcome = { enrolled: plan.enrolled, notEnrolled: plan.notEnrolled };
  if (key !== undefined && plan.actions.length === 0) steadyEnrolment.set(scope.name, key, { enrolled: [...outcome.enrolled], notEnrolled: [...outcome.notEnrolled] });
  return outcome;
}

/** The last enrolment outcome per installation that wrote nothing, with what it was planned from. */
const steadyEnrolment = new LastComputed<EnrolmentOutcome>();

/**
 * Unenrols every namespace the installation enrolled (deletion, finalizer path). Resolves true once
 * the cache shows none carrying its annotation (namespaces being deleted aside); false while writes
 * are under way or must be retried (the namespaces' watch events bring the next pass).
 */
export async function unenrolAll(scope: PassScope, context: PassContext): Promise<boolean> {
  if (!context.namespaces) return true;
  const states = namespaceStates(context).filter((ns) => ns.annotations?.[ENROLLED_BY_ANNOTATION] === scope.name && ns.deletionTimestamp === undefined);
  if (states.length === 0) return true;
  // Without the mesh's label (its version left the catalog) the record still names what we set;
  // a namespace enrolled before the record existed then loses only the annotation.
  const label = enrolmentLabelOf(scope, context) ?? UNKNOWN_LABEL;
  const { actions } = planEnrolment({ installation: scope.name, controlPlaneNamespace: scope.mi.spec.namespace, label, selection: {}, namespaces: states, deleting: true });
  await execute(scope, context, actions, label);
  return false;
}

/** A label no namespace carries: planning with it, only what the record names is ours. */
const UNKNOWN_LABEL = { key: '', value: '' };

/** The mesh's enrolment label for the installation, if its version still resolves. */
function enrolmentLabelOf(scope: PassScope, context: PassContext): { key: string; value: string } | undefined {
  const distribution = context.distributions.get(scope.mi.spec.mesh);
  if (!distribution?.injector) return undefined;
  try {
    return distribution.injector.enrolmentLabel(scope.mi, distribution.resolve(scope.mi));
  } catch {
    return undefined; // the version left the catalog since it was served
  }
}

/**
 * Whether a namespace update can change any installation's enrolment or data-plane count: its
 * labels, annotations or deletion changed (a status-only update cannot).
 */
export function enrolmentMayChange(old: KubeObject, current: KubeObject): boolean {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? {}) === JSON.stringify(b ?? {});
  return !same(old.metadata.labels, current.metadata.labels) || !same(old.metadata.annotations, current.metadata.annotations)
    || old.metadata.deletionTimestamp !== current.metadata.deletionTimestamp;
}
