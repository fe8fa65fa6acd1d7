/**
 * Benchmark 1, install: from applying a MeshInstallation to "every object applied and observed"
 * (status lists the whole rendered set in its inventory and ControlPlaneReady has been evaluated;
 * pod start-up excluded), against a baseline in the same run: a plain client server-side applying
 * the same objects (the render plus the CA state Secret) one after another in the runtime's apply
 * order, each apply awaited — what `kubectl apply --server-side` does with the rendered manifests.
 *
 * Warm (the median of `repetitions`): Istio's CRDs (cluster-scoped, shared by every installation)
 * are present, the operator runs and leads, and the baseline client has made its connections and
 * discovery. Cold (`coldRepetitions`, reported next to their own baseline): the mesh's CRDs are
 * deleted before each repetition, on both sides; the baseline waits for its CRDs to be served
 * before applying custom resources, as any client must. Repetitions alternate which side goes
 * first.
 *
 * Before every repetition of either side the bench waits until the operator's spare key pairs
 * are all ready again (/metrics meshwright_spare_key_pairs): that is the state an installation
 * arriving at a running operator finds, and no refill then runs beside a measurement. The
 * baseline's CA is made before its timer starts (a plain client gets its certificates from
 * somewhere else); the operator makes its own inside the measured time.
 *
 * The breakdown: the operator's own phase timings (/metrics meshwright_pass_phase_seconds, the
 * difference across each repetition) and the key pairs its CA step took, by source
 * (meshwright_key_pairs_taken_total): `made` > 0 would mean a key pair was generated on the
 * install path.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { applyOrder } from '../operator/runtime/apply.ts';
import { isNotFound, KubeClient, type KubeObject } from '../operator/runtime/kube.ts';
import { customKinds, untilServed } from '../operator/controllers/meshinstallation/apply-waves.ts';
import type { BenchCluster } from './support/cluster.ts';
import {
  benchInstallation, createAuthority, deleteInstallations, desiredObjects, isObserved, isReady, miType, objectKey, preinstallMeshCrds, type Installation,
} from './support/mesh.ts';
import { BENCH_SELECTOR_KEY, startBenchOperator, type BenchOperator } from './support/operator.ts';
import { median, round } from './support/stats.ts';
import { Watches } from './support/watch.ts';
import { eventually } from '../e2e/support/kube.ts';

/** Settings of {@link benchInstall}. */
export interface InstallOptions {
  /** Unique id of this run (names, selector). */
  id: string;
  repetitions: number;
  /** Cold installs (the mesh CRDs deleted first), each side; 0 skips them (default 3 with 10 or more warm repetitions, else 1). */
  coldRepetitions?: number;
  /** Delete the installations and baseline objects afterwards, and wait for it. */
  cleanUp: boolean;
  log: (line: string) => void;
}

/** Where the operator's time went in one install, in milliseconds (per phase: the median over the repetitions). */
export interface InstallBreakdown {
  /**
   * The operator's phases (meshwright_pass_phase_seconds): `claims` (looking up what exists before
   * the first write), `pki` (the CA step of a first install: the namespace wave, then the CA beside
   * the RBAC waves — inside it `ca` and the `pki/…` waves), `inventory` (the one status write
   * recording what the pass will create), `apply-wave-N` (the main waves), `co-own` (annotating
   * shared objects another installation writes).
   */
  phasesMs: Record<string, number>;
  /** The rest of the install: watch delivery and queue, resolve, render, status write, and the bench's watch seeing it. */
  otherMs: number;
  /** Key pairs the operator's installs took, summed over the warm repetitions: ready spares, spares waited for, generated on the pass. */
  keyPairs: { ready: number; pending: number; made: number };
}

/** One side's figures of a set of repetitions. */
export interface InstallRun {
  operatorMs: number[];
  baselineMs: number[];
  operatorMedianMs: number;
  baselineMedianMs: number;
  /** operator median / baseline median. */
  ratio: number;
}

/** What the install benchmark measured (milliseconds). */
export interface InstallResult extends InstallRun {
  repetitions: number;
  objects: number;
  crds: 'pre-installed (warm)';
  breakdown: InstallBreakdown;
  /** Installs with the mesh CRDs absent, against a cold baseline; the operator's key pairs there too. */
  cold?: InstallRun & { repetitions: number; keyPairs: InstallBreakdown['keyPairs'] };
  /** 1-minute load average before and after the benchmark (the machine is shared). */
  load: [number, number];
}

/** The operator's /metrics as text. */
async function operatorMetrics(operator: BenchOperator): Promise<string> {
  return (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
}

/** Values of one metric family by a label (summed over the others), from Prometheus text. */
export function metricByLabel(text: string, name: string, label: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const match = /^[^{]+\{([^}]*)\} (\S+)$/.exec(line);
    const key = match && new RegExp(`${label}="([^"]*)"`).exec(match[1]!)?.[1];
    if (key !== undefined && key !== null) values.set(key, (values.get(key) ?? 0) + Number(match![2]));
  }
  return values;
}

/** Key pairs taken by source, from /metrics. */
function keyPairsTaken(text: string): InstallBreakdown['keyPairs'] {
  const taken = metricByLabel(text, 'meshwright_key_pairs_taken_total', 'source');
  return { ready: taken.get('ready') ?? 0, pending: taken.get('pending') ?? 0, made: taken.get('made') ?? 0 };
}

const minus = (a: InstallBreakdown['keyPairs'], b: InstallBreakdown['keyPairs']) => ({ ready: a.ready - b.ready, pending: a.pending - b.pending, made: a.made - b.made });
const plus = (a: InstallBreakdown['keyPairs'], b: InstallBreakdown['keyPairs']) => ({ ready: a.ready + b.ready, pending: a.pending + b.pending, made: a.made + b.made });

/** Waits until every spare key pair the operator keeps is ready (none taken and not yet made again). */
async function sparesReady(operator: BenchOperator): Promise<void> {
  await eventually('the operator\'s spare key pairs to be ready', async () => {
    const text = await operatorMetrics(operator);
    const ready = new Map<string, number>();
    const target = new Map<string, number>();
    for (const line of text.split('\n')) {
      const match = /^meshwright_spare_key_pairs\{algorithm="([^"]+)",state="(ready|target)"\} (\S+)$/.exec(line);
      if (match) (match[2] === 'ready' ? ready : target).set(match[1]!, Number(match[3]));
    }
    return target.size > 0 && [...target].every(([algorithm, count]) => (ready.get(algorithm) ?? 0) >= count);
  }, 120_000, 100);
}

function run(operatorMs: number[], baselineMs: number[]): InstallRun {
  const operatorMedianMs = median(operatorMs);
  const baselineMedianMs = median(baselineMs);
  return {
    operatorMs: operatorMs.map((v) => round(v)), baselineMs: baselineMs.map((v) => round(v)),
    operatorMedianMs: round(operatorMedianMs), baselineMedianMs: round(baselineMedianMs), ratio: round(operatorMedianMs / baselineMedianMs, 2),
  };
}

/** Runs the install benchmark on `cluster` with an operator of its own. */
export async function benchInstall(cluster: BenchCluster, options: InstallOptions): Promise<InstallResult> {
  const { admin, kc } = cluster;
  const loadBefore = loadavg()[0]!;
  const selector = `${options.id}-install`;
  await preinstallMeshCrds(admin);
  const operator = await startBenchOperator(cluster, selector);
  const watches = new Watches(admin, [miType], { labelSelector: `${BENCH_SELECTOR_KEY}=${selector}` });
  await watches.start();
  const baseline = new KubeClient(kc, 'meshwright-bench-baseline/0.1.0');
  const installations: string[] = [];
  const baselineObjects: KubeObject[][] = [];
  let objects = 0;
  // Which objects there are does not depend on the CA's keys: one CA serves to list them.
  const sampleAuthority = await createAuthority(benchInstallation(`${options.id}-sample`, 'none'));
  const crds = desiredObjects(benchInstallation(`${options.id}-crds`, 'none'), sampleAuthority).filter((o) => o.kind === 'CustomResourceDefinition');

  /** One operator install; returns its time, the phase deltas and the key pairs it took. */
  const operatorInstall = async (name: string) => {
    await sparesReady(operator);
    const installation = benchInstallation(name, selector);
    const expected = new Set(desiredObjects(installation, sampleAuthority).map(objectKey));
    objects = expected.size;
    installations.push(name);
    const ref = { ...miType, name };
    const observed = watches.next(ref, (_type, object) => isObserved(object as Installation, expected), 120_000);
    const before = await operatorMetrics(operator);
    const started = performance.now();
    await admin.apply(installation, { force: true, manager: 'meshwright-bench' });
    const ms = (await observed) - started;
    const after = await operatorMetrics(operator);
    const [phasesBefore, phasesAfter] = [before, after].map((text) => metricByLabel(text, 'meshwright_pass_phase_seconds_sum', 'phase'));
    const phases = new Map([...phasesAfter!].map(([phase, seconds]) => [phase, (seconds - (phasesBefore!.get(phase) ?? 0)) * 1000]));
    // Let the operator finish with this installation (its Deployment turning available) before the next measurement.
    if (!isReady(watches.get(ref) as Installation)) await watches.next(ref, (_type, object) => isReady(object as Installation), 120_000).catch(() => undefined);
    return { ms, phases, keyPairs: minus(keyPairsTaken(after), keyPairsTaken(before)) };
  };

  /** One baseline install of the same objects (its CA made before the timer). */
  const baselineInstall = async (name: string, cold: boolean) => {
    await sparesReady(operator);
    const installation = benchInstallation(name, 'none');
    const desired = applyOrder(desiredObjects(installation, await createAuthority(installation)));
    baselineObjects.push(desired);
    const started = performance.now();
    for (const object of desired) {
      // Cold: a custom resource's kind is served only once its CRD is established; any client waits for that.
      if (cold) await untilServed(customKinds([object]), (kind) => baseline.resourceInfo(kind));
      await baseline.apply(object, { force: true, manager: 'meshwright-bench-baseline' });
    }
    return performance.now() - started;
  };

  /** Deletes the mesh CRDs (and waits until they are gone): what a cold install starts from. */
  const removeCrds = async () => {
    for (const crd of crds) await admin.delete(crd, crd.metadata.name).catch((error: unknown) => { if (!isNotFound(error)) throw error; });
    // The API server deletes a CRD only after its custom resources, behind a finalizer of its own:
    // on a loaded machine (the smoke inside `npm test`, beside other test files) that took over 2 minutes once.
    const remaining = async () => {
      const left: string[] = [];
      for (const crd of crds) {
        try {
          const live = await admin.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string; message?: string }> } }>(crd, crd.metadata.name);
          const terminating = live.status?.conditions?.find((c) => c.type === 'Terminating' && c.status === 'True');
          left.push(`${crd.metadata.name}${terminating ? ` (terminating: ${terminating.message ?? ''})` : ''}`);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
      return left;
    };
    await eventually('the mesh CRDs to be gone', async () => (await remaining()).length === 0, 300_000, 500)
      .catch(async (error: Error) => { throw new Error(`${error.message}: still there: ${(await remaining()).join(', ')}`); });
  };

  const cleanUp = async () => {
    await deleteInstallations(admin, installations).catch((error: unknown) => options.log(`install: cleanup of installations failed: ${String(error)}`));
    for (const desired of baselineObjects) {
      for (const object of desired.filter((o) => o.kind !== 'CustomResourceDefinition' && (o.kind === 'Namespace' || !o.metadata.namespace))) {
        await admin.delete(object, object.metadata.name).catch(() => undefined);
      }
    }
  };

  const warm = { operatorMs: [] as number[], baselineMs: [] as number[], phases: [] as Array<Map<string, number>>, keyPairs: { ready: 0, pending: 0, made: 0 } };
  const cold = { operatorMs: [] as number[], baselineMs: [] as number[], keyPairs: { ready: 0, pending: 0, made: 0 } };
  try {
    // Warm the baseline client: connections and discovery of every kind it applies.
    for (const object of desiredObjects(benchInstallation(`${options.id}-warmup`, 'none'), sampleAuthority)) await baseline.resourceInfo(object);
    // Cold first: each repetition starts without the CRDs and with no installation holding them
    // (an installation's CRDs are kept on its deletion, released, and then deleted here).
    const coldRepetitions = options.coldRepetitions ?? (options.repetitions >= 10 ? 3 : 1);
    for (let i = 0; i < coldRepetitions; i++) {
      // The time around the measured installs, said: on a loaded API server it was minutes once.
      const timed = async (what: string, step: () => Promise<void>) => {
        const started = Date.now();
        await step();
        options.log(`install cold ${i + 1}: ${what} in ${round((Date.now() - started) / 1000)} s`);
      };
      const sides = [
        async () => {
          await timed('mesh CRDs deleted (operator side)', removeCrds);
          const name = `${options.id}-cold-op-${i}`;
          const result = await operatorInstall(name);
          cold.operatorMs.push(result.ms);
          cold.keyPairs = plus(cold.keyPairs, result.keyPairs);
          await timed('installation deleted', () => deleteInstallations(admin, [name]));
          installations.splice(installations.indexOf(name), 1);
        },
        async () => {
          await timed('mesh CRDs deleted (baseline side)', removeCrds);
          cold.baselineMs.push(await baselineInstall(`${options.id}-cold-base-${i}`, true));
        },
      ];
      for (const side of i % 2 === 0 ? sides : sides.reverse()) await side();
      options.log(`install cold ${i + 1}/${coldRepetitions}: operator ${round(cold.operatorMs[i]!)} ms, baseline ${round(cold.baselineMs[i]!)} ms`);
    }
    if (coldRepetitions > 0) await preinstallMeshCrds(admin);
    for (let i = 0; i < options.repetitions; i++) {
      const sides = [
        async () => {
          const result = await operatorInstall(`${options.id}-op-${i}`);
          warm.operatorMs.push(result.ms);
          warm.phases.push(result.phases);
          warm.keyPairs = plus(warm.keyPairs, result.keyPairs);
        },
        async () => {
          warm.baselineMs.push(await baselineInstall(`${options.id}-base-${i}`, false));
        },
      ];
      for (const side of i % 2 === 0 ? sides : sides.reverse()) await side();
      const phases = [...warm.phases[i]!].filter(([, ms]) => ms >= 0.5).map(([phase, ms]) => `${phase} ${round(ms)}`).join(', ');
      options.log(`install ${i + 1}/${options.repetitions}: operator ${round(warm.operatorMs[i]!)} ms, baseline ${round(warm.baselineMs[i]!)} ms (${phases})`);
    }
  } finally {
    // Clean up (the shared CRDs stay): the operator removes its installations' objects, the bench the baseline's.
    if (options.cleanUp) await cleanUp();
    await watches.stop();
    await baseline.close();
    await operator.stop();
  }
  const names = [...new Set(warm.phases.flatMap((phases) => [...phases.keys()]))].sort();
  const phasesMs = Object.fromEntries(names.map((phase) => [phase, round(median(warm.phases.map((phases) => phases.get(phase) ?? 0)))]));
  // Only the phases that do not overlap each other: `ca` and the `pki/…` waves are inside `pki`.
  const topLevel = (phase: string) => phase !== 'ca' && !phase.startsWith('pki/');
  const others = warm.operatorMs.map((ms, i) => ms - [...warm.phases[i]!].filter(([phase]) => topLevel(phase)).reduce((sum, [, v]) => sum + v, 0));
  return {
    repetitions: options.repetitions, objects, ...run(warm.operatorMs, warm.baselineMs), crds: 'pre-installed (warm)',
    breakdown: { phasesMs, otherMs: round(median(others)), keyPairs: warm.keyPairs },
    ...(cold.operatorMs.length > 0 ? { cold: { repetitions: cold.operatorMs.length, ...run(cold.operatorMs, cold.baselineMs), keyPairs: cold.keyPairs } } : {}),
    load: [round(loadBefore, 2), round(loadavg()[0]!, 2)],
  };
}
