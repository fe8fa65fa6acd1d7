/**
 * Target resolution: which distribution and which catalog version this pass works toward, or a
 * terminal error naming what is allowed. Pure apart from reading the scope.
 */
import { UnsupportedSpecError } from '../../distributions/distribution.ts';
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
  return { distribution, resolved: distribution.resolve(scope.mi) };
}
