/**
 * Phased work that survives a kill: the helper the upgrade and root-rotation state machines run on.
 *
 * A state machine here is a pure `decide(recorded)` (the phase last recorded, plus whatever the
 * caller's closure reads from the caches and the clock) returning the phase to be in and, if
 * something must be done, the action that moves the work forward. {@link advancePhase} runs one
 * step of it: it **persists the phase before running the action**, never after.
 *
 * Safety argument. Let P be the phase an action belongs to. The action starts only once P is
 * durable in the cluster, so at any instant a kill can leave only two situations: the record says
 * P and P's action ran partly, fully or not at all; or the record says an earlier phase and no
 * action of P ever started. In both, the next pass — in this process or another after a restart —
 * reads the record back and `decide` judges from what the cluster shows, not from memory. Two
 * duties follow for callers, checked by their own table tests: every action is idempotent (running
 * it again after a partial run is safe), and `decide` never skips a phase whose effect it cannot
 * observe. A failed write of the phase runs no action; a failed action leaves P recorded, so the
 * retry resumes P.
 */
import type { KubeClient, TypeRef } from './kube.ts';

/**
 * Where a phase is recorded: read from a cache, written to the API server. Create one per pass: a
 * store remembers its own last write (the cache lags behind it) only for the pass it serves.
 */
export interface PhaseStore<Phase extends string> {
  /** The phase recorded last, if any (from the freshest cache). */
  read(): Phase | undefined;
  /** Makes `phase` durable; resolves once the API server has it. */
  write(phase: Phase): Promise<void>;
}

/** What a state machine decides for this step. */
export interface PhaseDecision<Phase extends string> {
  /** The phase the work is in now. */
  phase: Phase;
  /** What moves the work forward; absent while waiting for the cluster (or when done). Must be idempotent. */
  action?: () => Promise<void>;
}

/** What one step did. */
export interface PhaseStep<Phase extends string> {
  /** The phase recorded before this step. */
  from: Phase | undefined;
  /** The phase recorded after it. */
  phase: Phase;
  /** Whether the phase record was written in this step. */
  recorded: boolean;
  /** Whether an action ran. */
  acted: boolean;
}

/**
 * Runs one step of phased work: read the record, decide, persist the decided phase when it differs
 * from the record, and only then run the action. See the module comment for why this order.
 */
export async function advancePhase<Phase extends string>(store: PhaseStore<Phase>, decide: (recorded: Phase | undefined) => PhaseDecision<Phase>): Promise<PhaseStep<Phase>> {
  const from = store.read();
  const decision = decide(from);
  const recorded = decision.phase !== from;
  if (recorded) await store.write(decision.phase);
  if (decision.action) await decision.action();
  return { from, phase: decision.phase, recorded, acted: decision.action !== undefined };
}

/** An object a phase is recorded on. */
export interface PhaseHolder extends TypeRef {
  name: string;
  namespace?: string;
}

/**
 * A phase kept in an annotation of `holder` (for work attached to an object other than the
 * installation, e.g. one workload's restart). `cached` reads the holder from a cache; the write is
 * a JSON merge patch of that one annotation, so it never touches fields others own.
 */
export function annotationPhaseStore<Phase extends string>(client: KubeClient, holder: PhaseHolder, annotation: string, cached: () => { metadata: { annotations?: Record<string, string> } } | undefined): PhaseStore<Phase> {
  let written: Phase | undefined;
  return {
    read: () => written ?? cached()?.metadata.annotations?.[annotation] as Phase | undefined,
    async write(phase) {
      await client.patch(holder, holder.name, holder.namespace, { metadata: { annotations: { [annotation]: phase } } }, 'merge');
      // Until the watch event arrives the cache is older than what we just made durable.
      written = phase;
    },
  };
}

/**
 * A phase kept at `path` (e.g. `['upgrade', 'phase']`) in the status of `holder`, written at once
 * by a JSON merge patch of the status subresource — the one status write that does not wait for
 * the end of the pass, because the action must not start before the phase is durable. The caller
 * also puts the phase in the status it writes at the end of the pass, so both agree.
 */
export function statusPhaseStore<Phase extends string>(client: KubeClient, holder: PhaseHolder, path: readonly string[], cached: () => { status?: unknown } | undefined): PhaseStore<Phase> {
  if (path.length === 0) throw new Error('statusPhaseStore: path must name a field under status');
  let written: Phase | undefined;
  return {
    read() {
      if (written !== undefined) return written;
      let value: unknown = cached()?.status;
      for (const key of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      return typeof value === 'string' ? value as Phase : undefined;
    },
    async write(phase) {
      const patch = path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), phase);
      await client.patch(holder, holder.name, holder.namespace, { status: patch }, 'merge', 'status');
      written = phase;
    },
  };
}
