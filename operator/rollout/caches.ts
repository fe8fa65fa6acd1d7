/**
 * The workload caches a data-plane rollout reads: apps/v1 Deployments, ReplicaSets, StatefulSets
 * and DaemonSets, each trimmed before caching (workloads.ts workloadView, replicaSetView).
 *
 * Why caches rather than GETs per pass: a pass runs on every injected pod's event, and must judge
 * every workload that owns an injected pod (which ones are outdated, which restarted ones passed
 * the gate). With thousands of injected pods that is thousands of workloads per pass; GETs would
 * put that load on the API server at each pod event, while a watch costs one stream per kind. The
 * trimmed views keep a few hundred bytes per workload (no pod template, no managedFields), and a
 * ReplicaSet only its name and controller reference: old ReplicaSets (revisionHistoryLimit of
 * each Deployment) are the bulk and cost little. Workloads carry no label to select on (they are
 * the users'), so the caches are cluster-wide.
 *
 * Our own restarts are remembered until the cache shows them ({@link WorkloadCaches.remember}): a
 * pass that ran before the watch delivered a restart would otherwise see the workload unrestarted
 * and restart it again.
 */
import type { Clock } from '../runtime/clock.ts';
import { systemClock } from '../runtime/clock.ts';
import { Informer, type InformerHandler } from '../runtime/informer.ts';
import type { KubeClient, KubeObject, TypeRef } from '../runtime/kube.ts';
import { RESTARTED_AT_ANNOTATION } from './annotations.ts';
import { replicaSetView, restartMarks, rolloutProgress, workloadView, type RestartableKind } from './workloads.ts';

/** The apps/v1 kinds the rollout caches. */
export const WORKLOAD_CACHE_TYPES: readonly TypeRef[] = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'].map((kind) => ({ apiVersion: 'apps/v1', kind }));

/** How long a remembered restart stands in for the cache at most (the watch normally delivers it within a second). */
const REMEMBER_MS = 60_000;

/** Settings of {@link WorkloadCaches}. */
export interface WorkloadCachesOptions {
  client: KubeClient;
  clock?: Clock;
  onError?: (type: TypeRef) => (error: unknown, retryInMs: number) => void;
}

/** The four workload informers and the lookups the rollout needs from them. */
export class WorkloadCaches {
  /** Informers by kind. */
  readonly informers: ReadonlyMap<string, Informer>;
  private readonly clock: Clock;
  private readonly remembered = new Map<string, { view: KubeObject; restartedAt: string | undefined; until: number }>();
  /** Workloads whose template carries a restart-for mark, by key: few beside all workloads, and what {@link restartedFor} reads. */
  private readonly marked = new Map<string, KubeObject>();

  constructor(options: WorkloadCachesOptions) {
    this.clock = options.clock ?? systemClock;
    this.informers = new Map(WORKLOAD_CACHE_TYPES.map((type) => [type.kind, new Informer({
      client: options.client, type, clock: options.clock, onError: options.onError?.(type),
      transform: type.kind === 'ReplicaSet' ? replicaSetView : workloadView,
    })]));
    for (const [kind, informer] of this.informers) {
      if (kind === 'ReplicaSet') continue;
      informer.on((type, object) => {
        const key = `${kind}/${object.metadata.namespace}/${object.metadata.name}`;
        if (type !== 'delete' && restartMarks(object).restartedFor !== undefined) this.marked.set(key, object);
        else this.marked.delete(key);
      });
    }
  }

  /**
   * Workloads restarted for `target` (their template says so), as last seen: the rollout judges
   * these even while none of their pods runs the proxy — between the old pods going and the new
   * ones coming (maxSurge 0), or with new pods refused — since a batch must not pass its health
   * gate because its workloads have no pods to show.
   */
  restartedFor(target: string): KubeObject[] {
    const keys = new Set([...this.marked.keys(), ...this.remembered.keys()]);
    const found: KubeObject[] = [];
    for (const key of keys) {
      const [kind, namespace, name] = key.split('/') as [RestartableKind, string, string];
      const workload = this.workload(kind, namespace, name);
      if (workload && restartMarks(workload).restartedFor === target) found.push(workload);
    }
    return found;
  }

  /** Every informer (to start, stop and report). */
  all(): Informer[] {
    return [...this.informers.values()];
  }

  /** A ReplicaSet's cached view. */
  replicaSet(namespace: string, name: string): KubeObject | undefined {
    return this.informers.get('ReplicaSet')!.get(name, namespace);
  }

  /** A Deployment, StatefulSet or DaemonSet as last seen: the cache, or our own restart while the cache has not shown it yet. */
  workload(kind: RestartableKind, namespace: string, name: string): KubeObject | undefined {
    const key = `${kind}/${namespace}/${name}`;
    const cached = this.informers.get(kind)!.get(name, namespace);
    const mine = this.remembered.get(key);
    if (!mine) return cached;
    // The cache caught up once it shows our restart (or the object is gone from it after a delete).
    if ((cached && restartMarks(cached).restartedAt === mine.restartedAt) || this.clock.now() > mine.until) {
      this.remembered.delete(key);
      return cached;
    }
    return mine.view;
  }

  /** Remembers `updated` (a workload as our restart's patch returned it) until the cache shows it. */
  remember(updated: KubeObject): void {
    const view = workloadView(updated);
    this.remembered.set(`${updated.kind}/${updated.metadata.namespace}/${updated.metadata.name}`, {
      view, restartedAt: (view.spec as { template?: { metadata?: { annotations?: Record<string, string> } } }).template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], until: this.clock.now() + REMEMBER_MS,
    });
  }

  /**
   * Calls `handler` for changes of workloads a rollout restarted (their template carries a
   * restart-for mark) while their rollout is under way or just finished: their rollout status is
   * what the health gate waits on. A restarted workload long settled (scaled by an autoscaler, say)
   * and other workloads do not concern a rollout until their pods change, which the pod cache reports.
   */
  onRestartedWorkloadChange(handler: InformerHandler): void {
    const rolling = (workload: KubeObject | undefined) => workload !== undefined && restartMarks(workload).restartedFor !== undefined && rolloutProgress(workload).state !== 'complete';
    for (const [kind, informer] of this.informers) {
      if (kind === 'ReplicaSet') continue;
      informer.on((type, object, old) => {
        if (rolling(object) || rolling(old)) handler(type, object, old);
      });
    }
  }
}
