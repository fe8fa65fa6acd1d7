/**
 * Benchmark 1, install: from applying a MeshInstallation to "every object applied and observed"
 * (status lists the whole rendered set in its inventory and ControlPlaneReady has been evaluated;
 * pod start-up excluded), against a baseline in the same run: a plain client server-side applying
 * the same objects (the render plus both CA Secrets) in dependency order, each apply awaited.
 *
 * Fairness: both sides are warm. Istio's CRDs (cluster-scoped, shared by every installation) are
 * pre-installed before the first repetition, the operator runs and leads before it, and the
 * baseline client has made its connections and discovery before it. The baseline's CA key pair is
 * generated before its timer starts; the operator generates its own inside the measured time, so
 * that generation is measured separately and reported next to the figures. Repetitions alternate
 * which side goes first; each operator repetition is Ready before the next starts.
 */
import { performance } from 'node:perf_hooks';
import { applyOrder } from '../operator/runtime/apply.ts';
import { KubeClient } from '../operator/runtime/kube.ts';
import type { BenchCluster } from './support/cluster.ts';
import {
  benchInstallation, createAuthority, deleteInstallations, desiredObjects, isObserved, isReady, miType, objectKey, preinstallMeshCrds, type Installation,
} from './support/mesh.ts';
import { BENCH_SELECTOR_KEY, startBenchOperator } from './support/operator.ts';
import { median, round } from './support/stats.ts';
import { Watches } from './support/watch.ts';

/** Settings of {@link benchInstall}. */
export interface InstallOptions {
  /** Unique id of this run (names, selector). */
  id: string;
  repetitions: number;
  /** Delete the installations and baseline objects afterwards, and wait for it. */
  cleanUp: boolean;
  log: (line: string) => void;
}

/** What the install benchmark measured (milliseconds). */
export interface InstallResult {
  repetitions: number;
  objects: number;
  operatorMs: number[];
  baselineMs: number[];
  operatorMedianMs: number;
  baselineMedianMs: number;
  /** operator median / baseline median. */
  ratio: number;
  /** Generating the CA (root + issuer key pairs and certificates) once: inside the operator's time, outside the baseline's. */
  caGenerationMedianMs: number;
  crds: 'pre-installed (warm)';
}

/** Runs the install benchmark on `cluster` with an operator of its own. */
export async function benchInstall(cluster: BenchCluster, options: InstallOptions): Promise<InstallResult> {
  const { admin, kc } = cluster;
  const selector = `${options.id}-install`;
  await preinstallMeshCrds(admin);
  const operator = await startBenchOperator(cluster, selector);
  const watches = new Watches(admin, [miType], { labelSelector: `${BENCH_SELECTOR_KEY}=${selector}` });
  await watches.start();
  const baseline = new KubeClient(kc, 'meshwright-bench-baseline/0.1.0');
  const operatorMs: number[] = [];
  const baselineMs: number[] = [];
  const caMs: number[] = [];
  const installations: string[] = [];
  const baselineObjects: Installation[][] = [];
  let objects = 0;
  // Which objects there are does not depend on the CA's keys: one CA serves to list them.
  const sampleAuthority = await createAuthority(benchInstallation(`${options.id}-sample`, 'none'));

  const operatorRepetition = async (i: number) => {
    const installation = benchInstallation(`${options.id}-op-${i}`, selector);
    const expected = new Set(desiredObjects(installation, sampleAuthority).map(objectKey));
    objects = expected.size;
    installations.push(installation.metadata.name);
    const ref = { ...miType, name: installation.metadata.name };
    const observed = watches.next(ref, (_type, object) => isObserved(object as Installation, expected), 120_000);
    const started = performance.now();
    await admin.apply(installation, { force: true, manager: 'meshwright-bench' });
    operatorMs.push((await observed) - started);
    // Let the operator finish with this installation (its Deployment turning available) before the next measurement.
    if (!isReady(watches.get(ref) as Installation)) await watches.next(ref, (_type, object) => isReady(object as Installation), 120_000).catch(() => undefined);
  };
  const baselineRepetition = async (i: number) => {
    const installation = benchInstallation(`${options.id}-base-${i}`, 'none');
    const caStarted = performance.now();
    const authority = await createAuthority(installation);
    caMs.push(performance.now() - caStarted);
    const desired = applyOrder(desiredObjects(installation, authority));
    baselineObjects.push(desired as Installation[]);
    const started = performance.now();
    for (const object of desired) await baseline.apply(object, { force: true, manager: 'meshwright-bench-baseline' });
    baselineMs.push(performance.now() - started);
  };

  const cleanUp = async () => {
    await deleteInstallations(admin, installations).catch((error: unknown) => options.log(`install: cleanup of installations failed: ${String(error)}`));
    for (const desired of baselineObjects) {
      for (const object of desired.filter((o) => o.kind !== 'CustomResourceDefinition' && (o.kind === 'Namespace' || !o.metadata.namespace))) {
        await admin.delete(object, object.metadata.name).catch(() => undefined);
      }
    }
  };

  try {
    // Warm the baseline client: connections and discovery of every kind it applies.
    for (const object of desiredObjects(benchInstallation(`${options.id}-warmup`, 'none'), sampleAuthority)) await baseline.resourceInfo(object);
    for (let i = 0; i < options.repetitions; i++) {
      if (i % 2 === 0) {
        await operatorRepetition(i);
        await baselineRepetition(i);
      } else {
        await baselineRepetition(i);
        await operatorRepetition(i);
      }
      options.log(`install ${i + 1}/${options.repetitions}: operator ${round(operatorMs[i]!)} ms, baseline ${round(baselineMs[i]!)} ms`);
    }
  } finally {
    // Clean up (the shared CRDs stay): the operator removes its installations' objects, the bench the baseline's.
    if (options.cleanUp) await cleanUp();
    await watches.stop();
    await baseline.close();
    await operator.stop();
  }
  const operatorMedianMs = median(operatorMs);
  const baselineMedianMs = median(baselineMs);
  return {
    repetitions: options.repetitions, objects, operatorMs: operatorMs.map((v) => round(v)), baselineMs: baselineMs.map((v) => round(v)),
    operatorMedianMs: round(operatorMedianMs), baselineMedianMs: round(baselineMedianMs), ratio: round(operatorMedianMs / baselineMedianMs, 2),
    caGenerationMedianMs: round(median(caMs)), crds: 'pre-installed (warm)',
  };
}
