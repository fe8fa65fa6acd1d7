/**
 * Target resolution: which distribution and which catalog version this pass works toward, or a
 * terminal error naming what is allowed. Pure apart from reading the scope.
 */
import { UnsupportedSpecError } from '../../distributions/distribution.ts';
import { planUpgradePath } from '../../distributions/upgrade-path.ts';
import { ReconcileError } from '../../runtime/errors.ts';
import { INSTALLATION_LABEL } from '../ownership.ts';
import type { PassContext } from './context.ts';
import { InstallationReason } from './conditions.ts';
import type { PassScope, Target } from './scope.ts';

/** The longest value a Kubernetes label may have. */
const MAX_LABEL_VALUE = 63;

/** Checks what the spec alone cannot and resolves the version; throws a terminal ReconcileError. */
export function resolveTarget(scope: PassScope, context: Pick<PassContext, 'distributions'>): Target {
  // Every owned object carries the installation's name as a label value: a longer name could
  // install nothing, and failing on the first write would leave half an install behind.
  if (scope.name.length > MAX_LABEL_VALUE) {
    throw new ReconcileError(InstallationReason.InstallationNameTooLong, `the installation name "${scope.name}" has ${scope.name.length} characters, but every object the operator creates carries it as the value of label ${INSTALLATION_LABEL}, which allows at most ${MAX_LABEL_VALUE}; create the installation again under a shorter name`, { terminal: true });
  }
  const mesh = scope.mi.spec.mesh;
  const distribution = context.distributions.get(mesh);
  if (!distribution) throw new UnsupportedSpecError(InstallationReason.MeshNotSupported, `this operator has no distribution for mesh "${mesh}"; supported: ${[...context.distributions.keys()].join(', ')}`);
  const resolved = distribution.resolve(scope.mi);
  // Judged before anything is rendered: a refused move writes nothing, and the reconciler keeps the
  // spec last served in force (reconciler.ts enforceServed), so the running mesh stays as it is.
  // Only a pass serving spec.version itself is judged: one serving another version (the last
  // served spec kept in force, an upgrade rolling back to its `from`) serves a version whose path
  // was allowed when it was first served.
  if (scope.mi.spec.version === scope.installation.spec.version) {
    const path = planUpgradePath(distribution, scope.mi, scope.installation.status);
    if (path.kind === 'refused') throw new UnsupportedSpecError('UnsupportedUpgrade', path.message);
  }
  return { distribution, resolved };
}
