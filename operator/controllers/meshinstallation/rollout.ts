/**
 * The data-plane rollout step of a pass: reads the pod and workload caches, asks the planner
 * (rollout/plan.ts) what to do, restarts the batch it names (rollout/executor.ts), records the
 * plan in the scope for the status step (data-plane.ts writes status.dataPlane.rollout and
 * DataPlaneReady from it) and asks for a timed pass when the plan waits on time (batchInterval,
 * a health deadline). Events are recorded once the restarts were sent.
 */
import { restartWorkloads } from '../../rollout/executor.ts';
import { rolloutTarget } from '../../rollout/annotations.ts';
import { observeWorkloads } from '../../rollout/observe.ts';
import { planRollout, type RolloutPlan } from '../../rollout/plan.ts';
import { workloadName } from '../../rollout/workloads.ts';
import { ReconcileError } from '../../runtime/errors.ts';
import { refOf } from './live-objects.ts';
import type { PassContext } from './context.ts';
import { proxyOutdated, proxyPodsOf, wantedProxyOfPass, type WantedProxy } from './data-plane.ts';
import type { PassScope } from './scope.ts';

/** Reason of the pass failure when restart patches were refused (retried with backoff). */
export const RolloutErrorReason = {
  /** A workload's restart patch was refused (RBAC, an admission policy): the message names it and the API's answer. */
  WorkloadRestartFailed: 'WorkloadRestartFailed',
} as const;

/**
 * Why no new batch may start: the control plane the new proxies connect to is not rolled out and
 * available yet (restarting workloads onto a proxy whose control plane is not serving would take
 * them down). Undefined when it is.
 */
function controlPlaneHold(scope: PassScope, context: PassContext): string | undefined {
  const target = scope.target!;
  const components = target.distribution.componentHealth(scope.desired!, (object) => context.live.get(refOf(object)));
  const notReady = components.filter((c) => !c.ready);
  if (notReady.length === 0) return undefined;
  return `waiting for the control plane (${notReady.map((c) => `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}`).join(', ')} not available)`;
}

/**
 * Why no new batch may start for want of injection, if so: without the operator's webhook (not
 * wired, or started without --webhook-url/--webhook-service) no webhook configuration routes pods
 * to it, so a restarted workload's new pods would come up without the proxy.
 */
function webhookHold(context: PassContext): string | undefined {
  if (context.webhookEndpoint?.() !== undefined) return undefined;
  return 'the injection webhook is not served by this operator (start it with --webhook-url or --webhook-service): restarted pods would get no proxy';
}

/**
 * A rollout confined to some namespaces toward one proxy (a Canary step: its namespaces toward the
 * revision they now point at, upgrade/canary-executor.ts). `hold`: why no batch may start yet.
 */
export interface ScopedRollout {
  wanted: WantedProxy;
  namespaces: ReadonlySet<string>;
  hold?: string;
}

/**
 * The rollout this pass would carry out, planned from the caches and the last written status
 * without acting: toward `scoped.wanted` over its namespaces, or toward the pass's proxy over every
 * namespace. Undefined for a mesh without an injector, without the workload caches, or before the
 * pass knows its rendered set (the wanted trust bundle comes from it). Pure over the caches.
 */
export function planDataPlaneRollout(scope: PassScope, context: PassContext, scoped?: ScopedRollout): RolloutPlan | undefined {
  const wanted = scoped?.wanted ?? wantedProxyOfPass(scope, context);
  if (!scope.target?.distribution.injector || !wanted || !context.workloads || !scope.desired) return undefined;
  const caches = context.workloads;
  const inScope = (namespace: string | undefined) => !scoped || scoped.namespaces.has(namespace ?? '');
  const pods = proxyPodsOf(scope, context).filter((pod) => inScope(pod.metadata.namespace));
  const label = scope.target.distribution.injector.enrolmentLabel(scope.mi, scope.target.resolved);
  const target = rolloutTarget(wanted);
  const observed = observeWorkloads(pods, (pod) => proxyOutdated(pod, wanted), {
    restartedForTarget: () => caches.restartedFor(target).filter((w) => inScope(w.metadata.namespace)),
    replicaSet: (namespace, name) => caches.replicaSet(namespace, name),
    workload: (kind, namespace, name) => caches.workload(kind, namespace, name),
    // Enrolled as status counts it: the label with the enrolling value, whoever set it. A scoped
    // rollout's namespaces are waited for instead (scoped.hold) until they point at its revision.
    notServed: (namespace) => {
      if (scoped) return undefined;
      const ns = context.namespaces?.get(namespace);
      if (!context.namespaces || ns?.metadata.labels?.[label.key] === label.value) return undefined;
      return `namespace ${namespace} is not enrolled (${label.key}=${label.value}): restarted pods would not get the current proxy; restart it yourself once it is`;
    },
  });
  const { restartWorkloads: settings } = scope.mi.spec.injection;
  return planRollout({
    ...observed,
    target,
    settings: { enabled: settings.enabled, maxUnavailable: settings.maxUnavailable, batchInterval: settings.batchInterval, progressDeadline: scope.mi.spec.upgrade.progressDeadline },
    previous: scope.installation.status?.dataPlane?.rollout,
    hold: scope.rolloutHold ?? scoped?.hold ?? webhookHold(context) ?? controlPlaneHold(scope, context),
  }, scope.clock.now());
}

/**
 * Plans and runs this pass's part of the data-plane rollout (see the module comment): scoped to a
 * Canary step's namespaces while one is under way (scope.canary). Does nothing for a mesh without
 * an injector, without the workload caches, or before the pass knows its rendered set.
 */
export async function rollOutDataPlane(scope: PassScope, context: PassContext): Promise<void> {
  const plan = planDataPlaneRollout(scope, context, scope.canary?.rollout);
  if (!plan || !context.workloads) return;
  const caches = context.workloads;
  scope.rollout = plan;
  if (plan.wakeAt !== undefined) scope.wakeAt = Math.min(scope.wakeAt ?? Infinity, plan.wakeAt);

  let refused: string | undefined;
  let restarted = 0;
  if (plan.restart.length > 0) {
    const outcome = await restartWorkloads({
      client: context.client, log: scope.log, workloads: plan.restart, target: plan.target, restartedAt: plan.restartedAt!,
      remember: (updated) => caches.remember(updated),
    });
    // The batch is what was restarted: the cluster shows no other (a refused one is tried in a later batch).
    restarted = outcome.restarted.length;
    if (plan.status?.batch) plan.status.batch.workloads = outcome.restarted.map(workloadName).sort();
    if (plan.status && outcome.restarted.length === 0) {
      // Nothing was restarted: no batch started (the last one shown stays).
      const previous = scope.installation.status?.dataPlane?.rollout;
      if (previous?.target === plan.target && previous.batch) plan.status.batch = previous.batch;
      else delete plan.status.batch;
    }
    if (outcome.failed.length > 0) refused = outcome.failed.map((f) => `${workloadName(f.workload)}: ${f.error}`).join('; ');
  }
  for (const event of plan.events) {
    if (event.reason === 'RolloutBatchStarted' && restarted === 0) continue;
    // Literal reasons, so the documented-reasons test finds each one.
    if (event.reason === 'RolloutBatchStarted') context.hooks.onEvent?.(scope.installation, 'Normal', 'RolloutBatchStarted', event.message);
    else if (event.reason === 'RolloutBatchCompleted') context.hooks.onEvent?.(scope.installation, 'Normal', 'RolloutBatchCompleted', event.message);
    else if (event.reason === 'RolloutHalted') context.hooks.onEvent?.(scope.installation, 'Warning', 'RolloutHalted', event.message);
    else context.hooks.onEvent?.(scope.installation, 'Normal', 'RolloutComplete', event.message);
  }
  if (refused) throw new ReconcileError(RolloutErrorReason.WorkloadRestartFailed, `restarting workloads for the current proxy failed: ${refused}`);
}
