/**
 * Timing the phases of a pass (claims, PKI, CA creation, inventory, each apply wave, co-owning,
 * prune, render, status) for `meshwright_pass_phase_seconds{phase}`: where an install's time goes,
 * read by the install benchmark (bench/install.ts). Only phases that do work are timed, so an idle
 * pass adds no observation of an apply wave.
 */
import type { PassContext } from './context.ts';
import type { PassScope } from './scope.ts';

/** Runs `work` as phase `phase` of `scope`'s pass and reports how long it took (also when it fails). */
export async function timed<R>(scope: Pick<PassScope, 'name'>, context: Pick<PassContext, 'hooks'>, phase: string, work: () => Promise<R>): Promise<R> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    context.hooks.onPhase?.(scope.name, phase, (performance.now() - started) / 1000);
  }
}

/** {@link timed} for synchronous work (the render). */
export function timedSync<R>(scope: Pick<PassScope, 'name'>, context: Pick<PassContext, 'hooks'>, phase: string, work: () => R): R {
  const started = performance.now();
  try {
    return work();
  } finally {
    context.hooks.onPhase?.(scope.name, phase, (performance.now() - started) / 1000);
  }
}
