/**
 * The MeshInstallation reconciler. One pass, in the order of the files beside this one:
 *
 *   scope → resolve → finalizer (delete.ts) → PKI → render → root rotation (rotation.ts) → apply → prune → enrolment → status (with the data plane)
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
import type { WebhookEndpoint } from '../../distributions/injection.ts';
import { systemClock, type Clock } from '../../runtime/clock.ts';
import type { PassTrigger, Reconciler, ReconcileResult } from '../../runtime/controller.ts';
import { ReconcileError } from '../../runtime/errors.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { KubeClient, KubeObject, TypeRef } from '../../runtime/kube.ts';
import type { SchemaNode } from '../../runtime/list-semantics.ts';
import { ConditionType } from '../../api/conditions.ts';
import { InstallationReason } from './conditions.ts';
import type { PassContext, ReconcilerHooks } from './context.ts';
import { ensureFinalizer, finalize } from './delete.ts';
import { enrolNamespaces } from './enrolment.ts';
import { LiveObjects, refKey, refOf } from './live-objects.ts';
import { caStatePlaceholder, ensureCertificateAuthority } from './pki.ts';
import { pruneStale } from './prune.ts';
import { isSteady, OBSERVE_COALESCE_MS, planTriggeredWork, readsTheSame, repairFirst, type SettledPass } from './repair.ts';
import { rollOutDataPlane } from './rollout.ts';
import { advanceRootRotation } from './rotation.ts';
import type { WorkloadCaches } from '../../rollout/caches.ts';
import { resolveTarget } from './resolve.ts';
import { newPassScope, type InstallationObject, type PassScope } from './scope.ts';
import { finishStatus, writeStatus } from './status.ts';
import { applyObjects, claimObjects, coOwnObjects, computeDesired, computePlanned } from './sync.ts';
import { advanceUpgrade, holdGateways, recordUpgradeStart, versionToServe } from '../../upgrade/executor.ts';
import { keepRevisionsInUse } from '../../upgrade/revisions.ts';

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
  /** How owned kinds' fields merge (runtime/schema-registry.ts); without it every list compares as atomic. */
  schemas?: { schemaOf(type: TypeRef): SchemaNode | undefined };
  /** Every namespace (enrolment.ts); without it no namespace is enrolled. */
  namespaces?: Informer;
  /** Injected pods (data-plane.ts); without it status.dataPlane counts none. */
  pods?: Informer;
  /** The injection webhook's endpoint and CA bundle (injection/webhook.ts); without it no webhook configuration is rendered. */
  webhookEndpoint?: () => WebhookEndpoint | undefined;
  /** The referenced-secrets cache (controllers/referenced-secrets.ts): published trust anchors of a user's Secret read in place. */
  referencedSecret?: (namespace: string, name: string) => KubeObject | undefined;
  /** The workload caches (rollout/caches.ts); without them no workload is restarted (status.dataPlane.rollout is not written). */
  workloads?: WorkloadCaches;
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
  /** What each installation's last pass left, when it settled (repair.ts); gone while a pass runs. */
  private readonly settled = new Map<string, SettledPass>();
  /** Installations whose last pass failed (repair.ts: the echoes of its writes start no pass). */
  private readonly failed = new Set<string>();
  /** The objects the pass in flight of each installation applies as its own (claims' verdict `apply`). */
  private readonly owns = new Map<string, readonly KubeObject[]>();

  constructor(private readonly options: MeshInstallationReconcilerOptions) {
    this.clock = options.clock ?? systemClock;
    const live = new LiveObjects(options.installations, options.owned);
    this.context = {
      client: options.client,
      live,
      distributions: options.distributions,
      hooks: options.hooks ?? {},
      schemaOf: (type) => options.schemas?.schemaOf(type),
      namespaces: options.namespaces,
      pods: options.pods,
      webhookEndpoint: options.webhookEndpoint,
      referencedSecret: options.referencedSecret,
      workloads: options.workloads,
      triggers: new Map(),
      authorities: new CertificateAuthorities({
        client: options.client,
        clock: this.clock,
        live: (object) => live.get(refOf(object)),
        owned: (object, installation) => markOwned(object, installation),
        remember: (before, after) => live.remember(before, after),
      }),
    };
  }

  async reconcile(key: string, trigger?: PassTrigger): Promise<ReconcileResult | void> {
    const cached = this.options.installations.get(key);
    if (!cached) {
      this.settled.delete(key);
      this.failed.delete(key);
      return;
    }
    // The installation as we last wrote it if the cache has not caught up yet.
    const installation = (this.context.live.get(refOf(cached)) ?? cached) as InstallationObject;
    const { live } = this.context;
    const work = planTriggeredWork(trigger, {
      settled: this.settled.get(key), lastPassFailed: this.failed.has(key), installation, now: this.clock.now(), owns: (type) => live.watches(type), isOwnWrite: (object) => live.isOwnWrite(object),
    });
    // Only our own writes (or changes no pass reads) came back since the last pass settled or failed: it already knew all they say.
    if (work.skip) {
      const settled = this.settled.get(key);
      if (settled) settled.installation = installation;
      return { skipped: true };
    }
    let scope = newPassScope(installation, this.options.log, this.clock);
    if (installation.metadata.deletionTimestamp) {
      this.settled.delete(key);
      return finalize(scope, this.context);
    }

    let result: ReconcileResult | void = undefined;
    let failure: ReconcileError | undefined;
    if (trigger) this.context.triggers?.set(key, trigger);
    try {
      // A foreign change of an owned object is undone before the whole pass (repair.ts) ...
      const repaired = work.repairs.length > 0 ? await repairFirst(scope, this.context, work.repairs) : undefined;
      // ... which has nothing to add now when every cause was such a change, now undone, or a change of
      // fields not ours (then status follows within OBSERVE_COALESCE_MS), of an installation as the settled pass left it.
      if (repaired && work.repairsSuffice && repaired.written + repaired.unchanged === work.repairs.length && this.isAsSettled(key, (live.get(refOf(cached)) ?? cached) as InstallationObject)) {
        this.context.hooks.onPassCompleted?.(scope.name, undefined);
        return repaired.unchanged > 0 ? { requeueAfterMs: OBSERVE_COALESCE_MS } : undefined;
      }
      this.settled.delete(key);
      scope = await this.upgradeScope(scope);
      result = await this.pass(scope);
    } catch (error) {
      failure = asReconcileError(error);
      if (failure.terminal) await this.enforceServed(scope);
    } finally {
      this.context.triggers?.delete(key);
    }
    finishStatus(scope, this.context, failure);
    await writeStatus(scope, this.context);
    this.settle(scope, failure);
    if (failure) this.failed.add(key);
    else this.failed.delete(key);
    this.report(scope, failure);
    this.context.hooks.onPassCompleted?.(scope.name, failure);
    if (failure) throw failure;
    return result;
  }

  /** Whether `installation` reads as the last settled pass of `key` left it (repair.ts). */
  private isAsSettled(key: string, installation: InstallationObject): boolean {
    const settled = this.settled.get(key);
    return settled !== undefined && readsTheSame(settled.installation, installation);
  }

  /** Records what a pass that ended left, when it leaves the installation steady (repair.ts). */
  private settle(scope: PassScope, failure: ReconcileError | undefined): void {
    const owns = this.owns.get(scope.name);
    this.owns.delete(scope.name);
    if (failure || !owns || !isSteady(scope)) return;
    const installation = this.context.live.get(refOf(scope.installation)) as InstallationObject | undefined;
    this.settled.set(scope.name, {
      installation: installation ?? scope.installation,
      objects: new Map(owns.map((object) => [refKey(refOf(object)), object])),
      dueAt: Math.min(scope.wakeAt ?? Infinity, scope.authority?.nextCheckAt ?? Infinity),
    });
  }

  /**
   * The scope of the version this pass serves (upgrade/executor.ts): an upgrade's start is recorded
   * before the new version is first applied, and while an upgrade rolls back the pass serves its
   * `from` version — spec.version, never written by the operator, still names the new one.
   */
  private async upgradeScope(scope: PassScope): Promise<PassScope> {
    // A spec that cannot be served (a version not in the catalog, a refused path) starts no upgrade: it stalls in serve.
    resolveTarget(scope, this.context);
    const upgrade = await recordUpgradeStart(scope, this.context);
    const version = versionToServe(scope.installation.spec.version, upgrade);
    if (version === scope.mi.spec.version) return scope;
    return newPassScope(scope.installation, this.options.log, this.clock, { spec: { ...scope.installation.spec, version } as never, status: scope.status, applied: scope.applied });
  }

  /** The steps of a pass; each records what it learned in the scope. */
  private async pass(scope: PassScope): Promise<ReconcileResult | void> {
    await this.serve(scope);
    // The upgrade's gates, judged on what was just applied; may hold the rollout (upgrade/executor.ts).
    await advanceUpgrade(scope, this.context);
    if (scope.paused) return;
    // Outdated proxies: restart their workloads in health-gated batches (rollout.ts); may ask for a timed pass.
    await rollOutDataPlane(scope, this.context);
    // Everything rendered is applied: this spec is now the one to keep enforcing should a later one be unservable.
    scope.status.served = { generation: scope.generation, spec: scope.mi.spec as unknown as Record<string, unknown> };
    // A drift contest's hold ending is no event: come back for it (sync.ts).
    const untilWake = scope.wakeAt === undefined ? undefined : Math.max(1000, scope.wakeAt - this.clock.now());
    if (scope.authority) {
      // A renewal window already open is an External issuer only its owner can renew: look hourly.
      const untilDue = scope.authority.nextCheckAt - this.clock.now();
      const caCheck = untilDue > 0 ? Math.max(1000, Math.min(untilDue, MAX_CA_CHECK_INTERVAL_MS)) : MAX_CA_CHECK_INTERVAL_MS;
      return { requeueAfterMs: Math.min(caCheck, untilWake ?? Infinity) };
    }
    if (untilWake !== undefined) return { requeueAfterMs: untilWake };
  }

  /**
   * Resolve, claim, PKI, render, apply, prune: everything that makes the cluster match `scope.mi`.
   * Whose every object is, is settled before the first write (the finalizer included): a spec that
   * cannot be served, or whose objects belong to someone else, writes nothing at all.
   */
  private async serve(scope: PassScope): Promise<void> {
    const { context } = this;
    const target = scope.target = resolveTarget(scope, context);
    // Judged on what can be known before the CA exists; judged again on the full render below.
    const planned = computePlanned(scope, target);
    const stateSecret = target.distribution.certificateAuthority ? caStatePlaceholder(scope) : undefined;
    const early = await claimObjects(scope, context, target, stateSecret ? [...planned, stateSecret] : planned);
    await ensureFinalizer(scope, context);
    // The CA state Secret is created by the PKI step itself, never applied.
    scope.authority = await ensureCertificateAuthority(scope, context, target, early.apply.filter((o) => o !== stateSecret));
    // During an InPlace upgrade's ControlPlane phase the gateways keep the previous version (upgrade/executor.ts);
    // a renamed previous revision stays rendered, so not pruned, while anything uses it (upgrade/revisions.ts).
    const render = () => keepRevisionsInUse(scope, context, target, holdGateways(scope, target, computeDesired(scope, target, context.webhookEndpoint?.())));
    scope.desired = render();
    // A root rotation's step may change the CA state: the pass then publishes what it rendered from the new one (rotation.ts).
    await advanceRootRotation(scope, context, () => { scope.desired = render(); });
    const desired = scope.desired;
    context.hooks.onManagedObjects?.(scope.name, desired.length);
    if (scope.paused) return;
    const verdicts = await claimObjects(scope, context, target, desired);
    this.owns.set(scope.name, verdicts.apply);
    scope.notOurs = verdicts.useAsIs;
    await applyObjects(scope, context, verdicts.apply);
    await coOwnObjects(scope, context, verdicts.coOwn);
    await pruneStale(scope, context, desired);
    scope.enrolment = await enrolNamespaces(scope, context, target);
  }

  /**
   * A spec that cannot be served must not leave the mesh unprotected: the spec last served in full
   * (recorded in status, so a restart keeps it) keeps being enforced — drift repaired, components
   * observed afresh — while status says why the new one is refused.
   */
  private async enforceServed(scope: PassScope): Promise<void> {
    const served = scope.installation.status?.served;
    if (!served || scope.paused) return;
    const fallback = newPassScope(scope.installation, scope.log, this.clock, { spec: served.spec as never, status: scope.status, applied: scope.applied });
    try {
      await this.serve(fallback);
    } catch (error) {
      scope.log.warn({ err: error instanceof Error ? error.message : String(error), servedGeneration: served.generation }, 'enforcing the last served spec failed');
    }
    // Status reports what was observed for the spec that is enforced.
    scope.target = fallback.target;
    scope.desired = fallback.desired;
    scope.authority = fallback.authority;
    scope.notOurs = fallback.notOurs;
    scope.enrolment = fallback.enrolment;
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
