/**
 * The steps of an upgrade as `meshwright plan` numbers and words them (operator/cli/plan.ts
 * prints `N. <title>...` for each), so that status.upgrade.step / stepName name the step of the
 * plan a person read before the bump. steps.test.ts holds the two to the same words.
 */

/** The revisions of a Canary upgrade, by Istio's revision name (`1-31-1`). */
export interface CanaryRevisions {
  old: string;
  new: string;
}

/** The plan's step titles of an InPlace upgrade, in order. */
export const IN_PLACE_STEPS = ['Mesh CRDs', 'Control plane', 'Gateways', 'Data plane', 'Succeeded'] as const;

/** The title of one InPlace step. */
export type InPlaceStep = (typeof IN_PLACE_STEPS)[number];

/** 1-based number of an InPlace step, as `meshwright plan` numbers it. */
export function inPlaceStepNumber(title: InPlaceStep): number {
  return IN_PLACE_STEPS.indexOf(title) + 1;
}

/**
 * The plan's step titles of a Canary upgrade with `canarySteps` steps (0: every enrolled namespace
 * in one step, which the plan calls just `Canary`).
 */
export function canaryStepTitles(canarySteps: number, revisions: CanaryRevisions): string[] {
  const moves = canarySteps === 0 ? ['Canary'] : Array.from({ length: canarySteps }, (_, i) => `Canary step ${i + 1} of ${canarySteps}`);
  return ['Mesh CRDs', `New revision ${revisions.new} side by side with ${revisions.old}`, ...moves, 'Promotion', `Remove revision ${revisions.old}`, 'Succeeded'];
}
