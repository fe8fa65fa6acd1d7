/**
 * Namespace enrolment: `spec.injection.namespaces` / `namespaceSelector` name the namespaces whose
 * pods get the mesh proxy; the operator enrols each by setting the mesh's own label on it (e.g.
 * `istio-injection=enabled`, `linkerd.io/inject=enabled`) and unenrols it when it leaves the
 * selection or the installation is deleted.
 *
 * A namespace is the user's, never ours: the operator only ever adds its label and an annotation
 * recording that it did ({@link ENROLLED_BY_ANNOTATION}), and takes off only those. A label a
 * person set — the enrolment key with any value the operator did not put there — is left alone and
 * reported. Writes are merge patches guarded by the namespace's resourceVersion, so nothing a
 * person changed after the cache was read is overwritten, and a namespace is never created
 * (a patch of a missing object fails; an apply would create it).
 *
 * {@link planEnrolment} is pure and table-tested; {@link enrolNamespaces} and
 * {@link unenrolAll} carry the plan out.
 */
import { isConflict, isNotFound, type KubeObject } from '../../runtime/kube.ts';
import type { PassContext } from './context.ts';
import { selectorMatches, type LabelSelectorSpec } from './label-selector.ts';
import type { PassScope, Target } from './scope.ts';

/** Annotation the operator puts on a namespace it enrolled, valued with the installation's name. */
export const ENROLLED_BY_ANNOTATION = 'meshwright.dev/enrolled-by';

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
  /** Other label keys a person routes the mesh's injection by (SidecarInjector.otherSelectionLabels): theirs to decide. */
  otherKeys?: readonly string[];
  /** Every namespace in the cluster. */
  namespaces: readonly NamespaceState[];
  /** The installation is being deleted: everything it enrolled is unenrolled. */
  deleting?: boolean;
}

/** One write to a namespace. */
export type EnrolmentAction =
  /** Set the label and the annotation. */
  | { type: 'enrol'; namespace: string; resourceVersion?: string }
  /** Remove the annotation, and the label too when `removeLabel` (it still has the value the operator set). */
  | { type: 'unenrol'; namespace: string; resourceVersion?: string; removeLabel: boolean };

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

/** Whether the selection names `ns` (by name or by label). */
function isSelected(selection: EnrolmentInput['selection'], ns: NamespaceState): boolean {
  if (selection.namespaces) return selection.namespaces.includes(ns.name);
  if (selection.namespaceSelector) return selectorMatches(selection.namespaceSelector, ns.labels ?? {});
  return false;
}

/**
 * The writes that make the namespaces' enrolment match the selection, by this table (`ours`: the
 * namespace carries our annotation; `label`: the enrolment key's current value):
 *
 * | wanted | ours | label           | action                                  |
 * |--------|------|-----------------|-----------------------------------------|
 * | yes    | any  | our value       | none (enrolled)                         |
 * | yes    | no   | absent, another selection label a person set | none; reported (LabelSetByUser) |
 * | yes    | yes  | ours, and another selection label a person set | remove label and annotation; reported |
 * | yes    | any  | absent          | enrol                                   |
 * | yes    | yes  | another value   | drop our annotation only; reported      |
 * | yes    | no   | another value   | none; reported (LabelSetByUser)         |
 * | yes    | other installation's | absent | none; reported                  |
 * | no     | yes  | our value       | remove label and annotation             |
 * | no     | yes  | absent / other  | remove the annotation only              |
 * | no     | no   | any             | none                                    |
 *
 * "Wanted" is selected, not excluded (system or control-plane namespace), not being deleted, and
 * the installation not being deleted. A namespace being deleted is never written to.
 */
export function planEnrolment(input: EnrolmentInput): EnrolmentPlan {
  const { installation, label } = input;
  const excluded = new Set([...SYSTEM_NAMESPACES, input.controlPlaneNamespace]);
  const actions: EnrolmentAction[] = [];
  const enrolled: string[] = [];
  const notEnrolled: NamespaceNotEnrolled[] = [];
  for (const ns of [...input.namespaces].sort((a, b) => a.name.localeCompare(b.name))) {
    const current = ns.labels?.[label.key];
    const claimedBy = ns.annotations?.[ENROLLED_BY_ANNOTATION];
    const ours = claimedBy === installation;
    const selected = isSelected(input.selection, ns);
    const deleting = ns.deletionTimestamp !== undefined;
    const wanted = selected && !excluded.has(ns.name) && !deleting && !input.deleting;
    const base = { namespace: ns.name, resourceVersion: ns.resourceVersion };
    const labelled = current === label.value;
    // The operator only ever sets label.key, so another selection label is a person's.
    const otherKey = (input.otherKeys ?? []).find((key) => key !== label.key && ns.labels?.[key] !== undefined);

    if (selected && excluded.has(ns.name) && !input.deleting) {
      notEnrolled.push({ namespace: ns.name, reason: EnrolmentReason.NamespaceExcluded, message: `${ns.name} is ${ns.name === input.controlPlaneNamespace ? 'the control-plane namespace' : 'a system namespace'}; the mesh never injects there` });
    }
    if (deleting) {
      // Its pods go with it; no write to a namespace on its way out.
      if (labelled && !excluded.has(ns.name)) enrolled.push(ns.name);
      continue;
    }
    if (wanted) {
      if (otherKey !== undefined && (current === undefined || ours)) {
        // Our label beside theirs could override their choice (Istio's istio-injection wins over istio.io/rev).
        if (ours) actions.push({ type: 'unenrol', ...base, removeLabel: labelled });
        notEnrolled.push({ namespace: ns.name, reason: EnrolmentReason.LabelSetByUser, message: `${ns.name} has ${otherKey}=${ns.labels![otherKey]}, set by someone other than the operator, which routes its injection; it is left as it is (remove that label to let the operator enrol it with ${label.key}=${label.value})` });
      } else if (labelled) {
        enrolled.push(ns.name);
      } else if (current === undefined) {
        if (claimedBy !== undefined && !ours) {
          notEnrolled.push({ namespace: ns.name, reason: EnrolmentReason.EnrolledByAnotherInstallation, message: `${ns.name} is enrolled by MeshInstallation ${claimedBy} (annotation ${ENROLLED_BY_ANNOTATION}); remove it from one installation's selection` });
        } else {
          actions.push({ type: 'enrol', ...base });
          enrolled.push(ns.name);
        }
      } else {
        // A person set the key to something else (opting out, say): theirs to keep.
        if (ours) actions.push({ type: 'unenrol', ...base, removeLabel: false });
        notEnrolled.push({ namespace: ns.name, reason: EnrolmentReason.LabelSetByUser, message: `${ns.name} has ${label.key}=${current}, set by someone other than the operator; it is left as it is (set ${label.key}=${label.value} or remove the label to enrol it)` });
      }
      continue;
    }
    if (ours) actions.push({ type: 'unenrol', ...base, removeLabel: labelled });
    else if (labelled && !excluded.has(ns.name)) enrolled.push(ns.name);
  }
  return { actions, enrolled, notEnrolled };
}

/** The merge patch of one action: only our label and annotation, guarded by the resourceVersion the plan saw. */
export function enrolmentPatch(action: EnrolmentAction, installation: string, label: { key: string; value: string }): Record<string, unknown> {
  const guard = action.resourceVersion ? { resourceVersion: action.resourceVersion } : {};
  if (action.type === 'enrol') {
    return { metadata: { ...guard, labels: { [label.key]: label.value }, annotations: { [ENROLLED_BY_ANNOTATION]: installation } } };
  }
  return { metadata: { ...guard, ...(action.removeLabel ? { labels: { [label.key]: null } } : {}), annotations: { [ENROLLED_BY_ANNOTATION]: null } } };
}

/** The namespace cache as plan input. */
function namespaceStates(context: PassContext): NamespaceState[] {
  return (context.namespaces?.list() ?? []).map((o: KubeObject) => ({
    name: o.metadata.name, labels: o.metadata.labels, annotations: o.metadata.annotations,
    deletionTimestamp: o.metadata.deletionTimestamp, resourceVersion: o.metadata.resourceVersion,
  }));
}

/**
 * Carries out the actions. A conflict (the namespace changed since the cache saw it) or a
 * namespace gone meanwhile is not an error: the change's watch event brings a new pass that plans
 * from the newer state; `retry` is asked for as well in case that event came first.
 * Returns whether every action was written.
 */
async function execute(scope: PassScope, context: PassContext, actions: readonly EnrolmentAction[], label: { key: string; value: string }): Promise<boolean> {
  let complete = true;
  for (const action of actions) {
    try {
      await context.client.patch({ apiVersion: 'v1', kind: 'Namespace' }, action.namespace, undefined, enrolmentPatch(action, scope.name, label), 'merge');
      scope.log.info({ namespace: action.namespace, label: `${label.key}=${label.value}`, removeLabel: action.type === 'unenrol' ? action.removeLabel : undefined }, action.type === 'enrol' ? 'enrolled namespace' : 'unenrolled namespace');
    } catch (error) {
      if (!isConflict(error) && !isNotFound(error)) throw error;
      complete = false;
    }
  }
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
  const plan = planEnrolment({
    installation: scope.name, controlPlaneNamespace: scope.mi.spec.namespace, label, otherKeys: injector.otherSelectionLabels?.(scope.mi, target.resolved),
    selection: { namespaces, namespaceSelector: namespaceSelector as LabelSelectorSpec | undefined }, namespaces: namespaceStates(context),
  });
  if (!(await execute(scope, context, plan.actions, label))) {
    const soon = scope.clock.now() + 1000;
    scope.wakeAt = scope.wakeAt === undefined ? soon : Math.min(scope.wakeAt, soon);
  }
  return { enrolled: plan.enrolled, notEnrolled: plan.notEnrolled };
}

/**
 * Unenrols every namespace the installation enrolled (deletion, finalizer path). Resolves true once
 * the cache shows none carrying its annotation (namespaces being deleted aside); false while writes
 * are under way or must be retried (the namespaces' watch events bring the next pass).
 */
export async function unenrolAll(scope: PassScope, context: PassContext): Promise<boolean> {
  if (!context.namespaces) return true;
  const states = namespaceStates(context).filter((ns) => ns.annotations?.[ENROLLED_BY_ANNOTATION] === scope.name && ns.deletionTimestamp === undefined);
  if (states.length === 0) return true;
  const label = enrolmentLabelOf(scope, context);
  const actions: EnrolmentAction[] = label
    ? planEnrolment({ installation: scope.name, controlPlaneNamespace: scope.mi.spec.namespace, label, selection: {}, namespaces: states, deleting: true }).actions
    // Without the mesh's label we cannot tell ours from a person's: only the annotation goes.
    : states.map((ns) => ({ type: 'unenrol', namespace: ns.name, resourceVersion: ns.resourceVersion, removeLabel: false }));
  await execute(scope, context, actions, label ?? { key: '', value: '' });
  return false;
}

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
