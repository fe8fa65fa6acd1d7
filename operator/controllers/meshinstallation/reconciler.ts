/**
 * The MeshInstallation reconciler. One pass, in the order of the files beside this one:
 *
 *   scope → resolve → finalizer (delete.ts) → PKI → sync (render, apply) → prune → status
 *
 * Reads come from the informer caches (with our own newer writes on top, live-objects.ts); writes
 * are server-side applies sent only where the declared fields differ, so a pass that changes
 * nothing writes nothing. Status is written once, at the end of every pass, whatever happened:
 * a failure is shown (condition, Event) and then handed to the controller — terminal errors are
 * not retried, transient ones are retried with backoff — and what already runs is left running.
 */
import type { Logger } from 'pino';
import { CertificateAuthorities } from '../certificate-authority.ts';
import { markOwned } from '../ownership.ts';
import type { MeshDistribution } from '../../distributions/distribution.ts';
import { systemClock, type Clock } from '../../runtime/clock.ts';
import type { Reconciler, ReconcileResult } from '../../runtime/controller.ts';
import { ReconcileError } from '../../runtime/errors.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube.ts';
import { ConditionType } from '../../api/conditions.ts';
import { InstallationReason } from './conditions.ts';
import type { PassContext, ReconcilerHooks } from './context.ts';
import { ensureFinalizer, finalize } from './delete.ts';
import { LiveObjects, refOf } from './live-objects.ts';
import { ensureCertificateAuthority } from './pki.ts';
import { pruneStale } from './prune.ts';
import { resolveTarget } from './resolve.ts';
import { newPassScope, type InstallationObject, type PassScope } from './scope.ts';
import { finishStatus, writeStatus } from './status.ts';
import { applyObjects, computeDesired } from './sync.ts';

/** The longest a CA goes unchecked (renewals are also scheduled exactly; this bounds clock jumps and External polling). */
const MAX_CA_CHECK_INTERVAL_MS = 3_600_000;

/** Dependencies of {@link MeshInstallationReconciler}. */
export interface MeshInstallationReconcilerOptions {
  client: KubeClient;
  installations: Informer;
  /** Label-selected informers for every owned type, keyed by `apiVersion/kind`. */
  owned: ReadonlyMap<string, Informer>;
  distributions: ReadonlyMap<string, MeshDistribution>;
  log: Logger;
  clock?: Clock;
  hooks?: ReconcilerHooks;
}

/** Any error of a pass as a ReconcileError (an unexpected one is transient). */
function asReconcileError(error: unknown): ReconcileError {
  if (error instanceof ReconcileError) return error;
  return new ReconcileError(InstallationReason.ReconcileFailed, error instanceof Error ? error.message : String(error));
}

/** The reconcile loop of MeshInstallation. */
export class MeshInstallationReconciler implements Reconciler {
  private readonly clock: Clock;
  private readonly context: PassContext;

  constructor(private readonly options: MeshInstallationReconcilerOptions) {
    this.clock = options.clock ?? systemClock;
    const live = new LiveObjects(options.installations, options.owned);
    this.context = {
      client: options.client,
      live,
      distributions: options.distributions,
      hooks: options.hooks ?? {},
      authorities: new CertificateAuthorities({
        client: options.client,
        clock: this.clock,
        live: (object) => live.get(refOf(object)),
        owned: (object, installation) => markOwned(object, installation),
        remember: (before, after) => live.remember(before, after),
      }),
    };
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const cached = this.options.installations.get(key);
    if (!cached) return;
    // The installation as we last wrote it if the cache has not caught up yet.
    const installation = (this.context.live.get(refOf(cached)) ?? cached) as InstallationObject;
    const scope = newPassScope(installation, this.options.log, this.clock);
    if (installation.metadata.deletionTimestamp) return finalize(scope, this.context);

    let result: ReconcileResult | void = undefined;
    let failure: ReconcileError | undefined;
    try {
      result = await this.pass(scope);
    } catch (error) {
      failure = asReconcileError(error);
    }
    finishStatus(scope, this.context, failure);
    await writeStatus(scope, this.context);
    this.report(scope, failure);
    this.context.hooks.onPassCompleted?.(scope.name, failure);
    if (failure) throw failure;
    return result;
  }

  /** The steps of a pass; each records what it learned in the scope. */
  private async pass(scope: PassScope): Promise<ReconcileResult | void> {
    // A spec that cannot be served writes nothing at all, not even the finalizer.
    const target = scope.target = resolveTarget(scope, this.context);
    await ensureFinalizer(scope, this.context);
    scope.authority = await ensureCertificateAuthority(scope, this.context, target);
    const desired = scope.desired = computeDesired(scope, target);
    this.context.hooks.onManagedObjects?.(scope.name, desired.length);
    if (scope.paused) return;
    await applyObjects(scope, this.context, desired);
    await pruneStale(scope, this.context, desired);
    if (scope.authority) {
      // A renewal window already open is an External issuer only its owner can renew: look hourly.
      const untilDue = scope.authority.nextCheckAt - this.clock.now();
      return { requeueAfterMs: untilDue > 0 ? Math.max(1000, Math.min(untilDue, MAX_CA_CHECK_INTERVAL_MS)) : MAX_CA_CHECK_INTERVAL_MS };
    }
  }

  /** Events for what a person should hear about: a failure, and Ready flipping. */
  private report(scope: PassScope, failure: ReconcileError | undefined): void {
    const { hooks } = this.context;
    // The controller logs the failure; the installation's owner hears of it as an Event.
    if (failure) hooks.onEvent?.(scope.installation, 'Warning', failure.reason, failure.message);
    const wasReady = scope.installation.status?.conditions?.find((c) => c.type === ConditionType.Ready)?.status;
    const ready = scope.status.conditions?.find((c) => c.type === ConditionType.Ready);
    if (!ready || ready.status === wasReady) return;
    if (ready.status === 'True') hooks.onEvent?.(scope.installation, 'Normal', 'Ready', `the mesh is ready at version ${scope.status.version}`);
    else if (wasReady === 'True' && !failure) hooks.onEvent?.(scope.installation, 'Warning', 'NotReady', ready.message);
  }
}
