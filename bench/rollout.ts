/**
 * Benchmark of issue #15, the data-plane rollout: Deployments (one pod each, rolled one pod at a
 * time) across namespaces enrolled in an installation with an External CA, their pods injected
 * through its webhook and made Ready by kwok after a per-pod delay
 * (`meshwright.dev/kwok-ready-delay-ms` … `-max-ms`, e2e/cluster/stages/pod.yaml). The trust
 * anchors change (a second root in the user's CA Secret) and the operator restarts every workload
 * in batches, with `batchInterval: 0s` so that waiting is not part of the figure.
 *
 * Measured in the same run, from the bench's own watches (delivery times):
 * - total: the Secret patch → status.dataPlane.rollout Complete for the new target and every
 *   restarted workload's new pod Ready, whichever is later (a Complete before that is counted);
 * - per workload: its restart (the template change's watch event) → its new pod Ready;
 * - batches, grouped by the gate itself: a restart after every workload of the current batch was
 *   Ready starts the next batch (the operator's status batch count is reported beside);
 * - the baseline, the sum over batches of the slowest workload's restart → Ready time: what the
 *   rollout would take if the operator added nothing (no detection, no gate, no patch latency);
 * - unavailability, sampled every 100 ms (e2e/rollout/unavailability.ts), against the bound
 *   maxUnavailable allows.
 * Target: total ≤ 1.1 × baseline, and no sample above the bound.
 */
import { performance } from 'node:perf_hooks';
import { RESTARTED_FOR_ANNOTATION } from '../operator/rollout/annotations.ts';
import { Informer } from '../operator/runtime/informer.ts';
import type { KubeObject } from '../operator/runtime/kube.ts';
import { createSelfSigned, issueCertificate } from '../operator/pki/x509.ts';
import { eventually } from '../e2e/support/kube.ts';
import { podAvailable, unavailabilityBound, UnavailabilitySampler, WORKLOAD_LABEL } from '../e2e/rollout/unavailability.ts';
import type { BenchCluster } from './support/cluster.ts';
import { benchInstallation, deleteInstallations, installAndWaitReady, miType } from './support/mesh.ts';
import type { BenchOperator } from './support/operator.ts';
import { median, round } from './support/stats.ts';

/** Settings of {@link benchRollout}. */
export interface RolloutOptions {
  id: string;
  operator: BenchOperator;
  workloads: number;
  namespaces: number;
  /** kwok readiness delay of each new pod: uniform between these (ms). */
  readyDelayMs: [number, number];
  /** spec.injection.restartWorkloads.maxUnavailable. */
  maxUnavailable: string;
  /** Creations in flight at once. */
  concurrency: number;
  log: (line: string) => void;
}

/** What the rollout benchmark measured. */
export interface RolloutResult {
  workloads: number;
  namespaces: number;
  pods: number;
  maxUnavailable: string;
  readyDelayMs: [number, number];
  /** Patch of the CA Secret → rollout Complete in status and every new pod Ready, whichever comes later (ms). */
  totalMs: number;
  /** Patch of the CA Secret → rollout Complete in status (ms). */
  statusCompleteMs: number;
  /** Workloads whose new pod became Ready only after status said Complete (should be 0). */
  completeBeforeReady: number;
  /** Patch of the CA Secret → the first restart seen (ms): detection and planning. */
  firstRestartMs: number;
  /** Batches by the gate, and as status numbered them. */
  batches: number;
  statusBatches: number;
  /** Previous batch's last pod Ready → next batch's first restart (ms): the operator's time per batch. */
  gateGapMedianMs: number;
  gateGapMaxMs: number;
  /** Sum over batches of the slowest restart → Ready (ms): the baseline. */
  baselineMs: number;
  /** Sum over batches of first restart → last Ready (ms), patch spread included. */
  batchWallMs: number;
  ratio: number;
  /** Pods allowed down at once, and the most seen at a sample. */
  bound: number;
  peakUnavailable: number;
  samples: number;
  expectedSamples: number;
  maxSampleGapMs: number;
}

type Deployment = KubeObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } };
type Installation = KubeObject & { status?: { dataPlane?: { enrolledNamespaces?: number; rollout?: { target: string; phase: string; batch?: { number: number }; workloads: { total: number; current: number } } } } };

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** Runs `task` over `items` with at most `concurrency` in flight. */
async function pool<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

/** Root and issuer of a user's CA, and a second root for the change. */
async function userCa() {
  const now = Date.now();
  const validity = (hours: number) => ({ notBefore: new Date(now - 3_600_000), notAfter: new Date(now + hours * 3_600_000) });
  const root = await createSelfSigned({ subject: 'CN=bench rollout root', ...validity(5000), keyAlgorithm: 'ECDSAP256', isCA: true });
  const issuer = await issueCertificate({ subject: 'CN=bench rollout issuer', ...validity(4000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
  const next = await createSelfSigned({ subject: 'CN=bench rollout root 2', ...validity(5000), keyAlgorithm: 'ECDSAP256', isCA: true });
  return { root, issuer, next };
}

/**
 * Groups restarts into batches by the health gate: sorted by restart time, a restart that comes
 * after every workload of the current batch was Ready opens the next batch.
 */
export function batchesByGate(workloads: ReadonlyArray<{ restartAt: number; readyAt: number }>): Array<Array<{ restartAt: number; readyAt: number }>> {
  const sorted = [...workloads].sort((a, b) => a.restartAt - b.restartAt);
  const batches: Array<Array<{ restartAt: number; readyAt: number }>> = [];
  for (const workload of sorted) {
    const current = batches.at(-1);
    if (current && workload.restartAt <= Math.max(...current.map((w) => w.readyAt))) current.push(workload);
    else batches.push([workload]);
  }
  return batches;
}

/** Runs the rollout benchmark with `operator` (which serves the injection webhook); see the module comment. */
export async function benchRollout(cluster: BenchCluster, options: RolloutOptions): Promise<RolloutResult> {
  const { admin } = cluster;
  const name = `${options.id}-rollout`;
  const secret = `${options.id}-rollout-ca`;
  const namespaces = Array.from({ length: options.namespaces }, (_, i) => `${options.id}-ro-${i}`);
  const workloads = Array.from({ length: options.workloads }, (_, i) => ({ namespace: namespaces[i % namespaces.length]!, name: `w-${i}` }));
  const key = (w: { namespace: string; name: string }) => `${w.namespace}/${w.name}`;

  const ca = await userCa();
  await admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: secret, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(ca.root.certificatePem), 'tls.crt': b64(ca.issuer.certificatePem), 'tls.key': b64(ca.issuer.privateKeyPem) } } as KubeObject);
  await pool(namespaces, options.concurrency, (ns) => admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'meshwright.dev/bench-rollout': options.id } } }));
  const installation = benchInstallation(name, options.operator.selector);
  installation.spec = {
    ...installation.spec,
    certificateAuthority: { type: 'External', secretRef: { name: secret, namespace: 'default' } },
    injection: { namespaces, restartWorkloads: { maxUnavailable: options.maxUnavailable, batchInterval: '0s' } },
  };
  options.log(`rollout: installing ${name} (External CA), ${namespaces.length} namespaces`);
  try {
    await installAndWaitReady(admin, installation);
    await eventually(`${namespaces.length} namespaces enrolled`, async () => ((await admin.get<Installation>(miType, name)).status?.dataPlane?.enrolledNamespaces ?? 0) >= namespaces.length, 120_000, 500);

    const [minDelay, maxDelay] = options.readyDelayMs;
    options.log(`rollout: creating ${workloads.length} Deployments (pods Ready after ${minDelay}–${maxDelay} ms)`);
    await pool(workloads, options.concurrency, (w) => admin.create({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: w.name, namespace: w.namespace, labels: { [WORKLOAD_LABEL]: w.name } },
      spec: {
        replicas: 1, selector: { matchLabels: { [WORKLOAD_LABEL]: w.name } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
        template: {
          metadata: { labels: { [WORKLOAD_LABEL]: w.name }, annotations: { 'meshwright.dev/kwok-ready-delay-ms': String(minDelay), 'meshwright.dev/kwok-ready-delay-max-ms': String(maxDelay) } },
          spec: { containers: [{ name: 'app', image: 'registry.example/bench/app:1' }] },
        },
      },
    } as KubeObject));
    const before = await eventually('every workload current in status', async () => {
      const rollout = (await admin.get<Installation>(miType, name)).status?.dataPlane?.rollout;
      return rollout && rollout.workloads.total === workloads.length && rollout.workloads.current === workloads.length ? rollout : undefined;
    }, 180_000, 500);

    // The bench's watches: pods (the sampler's), Deployments (restart times), the installation (completion).
    const restartAt = new Map<string, number>();
    const readyAt = new Map<string, number>();
    const sampler = new UnavailabilitySampler(admin, new Map(workloads.map((w) => [key(w), 1])));
    const newPods = new Map<string, Set<string>>();
    sampler.onPod((type, pod) => {
      const workload = pod.metadata.labels?.[WORKLOAD_LABEL];
      if (!workload || pod.metadata.annotations?.[RESTARTED_FOR_ANNOTATION] === undefined) return;
      const k = `${pod.metadata.namespace}/${workload}`;
      const ready = newPods.get(k) ?? new Set<string>();
      if (type !== 'delete' && podAvailable(pod)) ready.add(pod.metadata.name);
      else ready.delete(pod.metadata.name);
      newPods.set(k, ready);
      if (ready.size >= 1 && !readyAt.has(k)) readyAt.set(k, performance.now());
    });
    const deployments = new Informer({ client: admin, type: { apiVersion: 'apps/v1', kind: 'Deployment' }, labelSelector: WORKLOAD_LABEL });
    deployments.on((_type, object) => {
      const k = key({ namespace: object.metadata.namespace!, name: object.metadata.name });
      if ((object as Deployment).spec.template.metadata.annotations?.[RESTARTED_FOR_ANNOTATION] !== undefined && !restartAt.has(k)) restartAt.set(k, performance.now());
    });
    let statusBatches = 0;
    let completeAt = 0;
    const status = new Informer({ client: admin, type: miType, fieldSelector: `metadata.name=${name}` });
    status.on((_type, object) => {
      const rollout = (object as Installation).status?.dataPlane?.rollout;
      if (!rollout || rollout.target === before.target) return;
      statusBatches = Math.max(statusBatches, rollout.batch?.number ?? 0);
      if (rollout.phase === 'Complete' && rollout.workloads.current === workloads.length && !completeAt) completeAt = performance.now();
    });
    await Promise.all([sampler.start(), deployments.start(), status.start()]);

    options.log('rollout: adding a second root to the CA Secret');
    const startedAt = performance.now();
    await admin.patch({ apiVersion: 'v1', kind: 'Secret' }, secret, 'default', { data: { 'ca.crt': b64(ca.root.certificatePem + ca.next.certificatePem) } }, 'merge');
    let progress = 0;
    await eventually('the rollout Complete', async () => {
      if (restartAt.size >= progress + Math.max(1, Math.floor(workloads.length / 5))) {
        progress = restartAt.size;
        options.log(`rollout: ${restartAt.size} restarted, ${readyAt.size} Ready, ${Math.round(performance.now() - startedAt)} ms`);
      }
      // Done when status says Complete and every new pod is Ready (a Complete said early is reported, not trusted).
      return completeAt > 0 && readyAt.size === workloads.length;
    }, 600_000, 100).catch(async (error: unknown) => {
      await Promise.all([sampler.stop(), deployments.stop(), status.stop()]);
      throw error;
    });
    const unavailability = await sampler.stop();
    await Promise.all([deployments.stop(), status.stop()]);

    const restarted = workloads.map((w) => {
      const at = restartAt.get(key(w));
      const ready = readyAt.get(key(w));
      if (at === undefined || ready === undefined) throw new Error(`${key(w)}: restarted ${at !== undefined}, Ready ${ready !== undefined}`);
      return { restartAt: at, readyAt: ready };
    });
    const batches = batchesByGate(restarted);
    const baselineMs = batches.reduce((sum, batch) => sum + Math.max(...batch.map((w) => w.readyAt - w.restartAt)), 0);
    const batchWallMs = batches.reduce((sum, batch) => sum + Math.max(...batch.map((w) => w.readyAt)) - Math.min(...batch.map((w) => w.restartAt)), 0);
    // What the operator adds between batches: the previous batch's last pod Ready → the next batch's first restart.
    const gateGapsMs = batches.slice(1).map((batch, i) => Math.min(...batch.map((w) => w.restartAt)) - Math.max(...batches[i]!.map((w) => w.readyAt)));
    const lastReadyAt = Math.max(...restarted.map((w) => w.readyAt));
    const totalMs = Math.max(completeAt, lastReadyAt) - startedAt;
    const bound = unavailabilityBound(options.maxUnavailable, workloads.length);
    return {
      workloads: workloads.length, namespaces: namespaces.length, pods: workloads.length, maxUnavailable: options.maxUnavailable, readyDelayMs: options.readyDelayMs,
      totalMs: round(totalMs), statusCompleteMs: round(completeAt - startedAt), completeBeforeReady: restarted.filter((w) => w.readyAt > completeAt).length, firstRestartMs: round(Math.min(...restarted.map((w) => w.restartAt)) - startedAt),
      batches: batches.length, statusBatches, gateGapMedianMs: gateGapsMs.length > 0 ? round(median(gateGapsMs)) : 0, gateGapMaxMs: round(Math.max(0, ...gateGapsMs)), baselineMs: round(baselineMs), batchWallMs: round(batchWallMs), ratio: round(totalMs / baselineMs, 2),
      bound, peakUnavailable: unavailability.maxUnavailable, samples: unavailability.samples.length, expectedSamples: unavailability.expectedSamples, maxSampleGapMs: round(unavailability.maxGapMs),
    };
  } finally {
    // The installation goes in any case (the suite's own mesh comes next on the same cluster, and
    // two InPlace Istio installations would both inject the same namespaces). A throw-away cluster
    // keeps the rest; an existing one gets its namespaces back, after a failure too (a mesh left
    // behind would keep its fail-closed webhook on namespaces no operator serves).
    await deleteInstallations(admin, [name]).catch(() => undefined);
    if (!cluster.owned) {
      await pool(namespaces, options.concurrency, (ns) => admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, ns).catch(() => undefined));
      await admin.delete({ apiVersion: 'v1', kind: 'Secret' }, secret, 'default').catch(() => undefined);
    }
  }
}
