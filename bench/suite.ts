/**
 * The seven benchmarks in order, one at a time (the machine has few cores): install with an
 * operator of its own; then one operator: first the data-plane rollout on an installation of its
 * own (deleted when it ends), then one installed mesh for idle (nothing may happen around it), the
 * injection webhook, memory (idle, then loaded with injected pods), drift, and last scale (the
 * same mesh enrolling thousands of namespaces; it clears the injected pods the others left).
 */
import { randomBytes } from 'node:crypto';
import { benchDrift } from './drift.ts';
import { benchIdle } from './idle.ts';
import { benchInstall } from './install.ts';
import { benchMemory } from './memory.ts';
import { benchRollout } from './rollout.ts';
import { benchScale } from './scale.ts';
import { benchWebhook } from './webhook.ts';
import type { BenchCluster } from './support/cluster.ts';
import { benchInstallation, deleteInstallations, installAndWaitReady, preinstallMeshCrds } from './support/mesh.ts';
import { startBenchOperator } from './support/operator.ts';
import type { SuiteResults } from './support/report.ts';

/** How much of each benchmark to run. */
export interface SuiteSettings {
  installRepetitions: number;
  driftEdits: number;
  driftDeletions: number;
  /** Foreign additions where an owned object is ours whole (operator/runtime/drift-rule.ts). */
  driftAdditions: number;
  idleWindowMs: number;
  /** Quiet time before idle counting and before each memory reading. */
  settleMs: number;
  namespaces: number;
  podsPerNamespace: number;
  /** Pods created at once in each webhook burst, and the bursts. */
  webhookConcurrent: number;
  webhookRounds: number;
  /**
   * Wait for the install benchmark's installations to be deleted before the next benchmark (so the
   * next operator's caches hold nothing of them). A throw-away smoke cluster can skip it.
   */
  cleanUpInstall: boolean;
  /** The data-plane rollout: Deployments (one pod each), their namespaces, kwok readiness delay range (ms), maxUnavailable. */
  rolloutWorkloads: number;
  rolloutNamespaces: number;
  rolloutReadyDelayMs: [number, number];
  rolloutMaxUnavailable: string;
  /** The scale benchmark: enrolled namespaces at each step (rising), pods in each, unrelated changes timed and webhook burst at each step. */
  scaleSteps: number[];
  scalePodsPerNamespace: number;
  scaleChanges: number;
  scaleWebhookBurst: number;
}

/** The full scale. */
export const FULL: SuiteSettings = {
  installRepetitions: 10, driftEdits: 200, driftDeletions: 50, driftAdditions: 60, idleWindowMs: 300_000, settleMs: 30_000, namespaces: 1000, podsPerNamespace: 10, webhookConcurrent: 100, webhookRounds: 5, cleanUpInstall: true,
  rolloutWorkloads: 500, rolloutNamespaces: 50, rolloutReadyDelayMs: [2000, 4000], rolloutMaxUnavailable: '10%',
  scaleSteps: [1000, 5000], scalePodsPerNamespace: 4, scaleChanges: 50, scaleWebhookBurst: 500,
};

/** A few repetitions of everything: proves the benchmarks work, inside the test command. */
export const SMOKE: SuiteSettings = {
  installRepetitions: 2, driftEdits: 16, driftDeletions: 4, driftAdditions: 6, idleWindowMs: 20_000, settleMs: 2_000, namespaces: 50, podsPerNamespace: 10, webhookConcurrent: 20, webhookRounds: 1, cleanUpInstall: false,
  rolloutWorkloads: 20, rolloutNamespaces: 4, rolloutReadyDelayMs: [500, 1000], rolloutMaxUnavailable: '25%',
  scaleSteps: [10, 30], scalePodsPerNamespace: 4, scaleChanges: 10, scaleWebhookBurst: 30,
};

/** The benchmarks' names, in the order the suite runs them. */
export const BENCHMARKS = ['install', 'rollout', 'idle', 'webhook', 'memory', 'drift', 'scale'] as const satisfies ReadonlyArray<keyof SuiteResults>;

/** A benchmark's name. */
export type BenchmarkName = typeof BENCHMARKS[number];

/**
 * The benchmarks a comma list names (`--only install,drift`), in suite order whatever the list's
 * order; every benchmark without a list. An unknown name is an error, not a silent no-op.
 */
export function selectBenchmarks(list: string | undefined): ReadonlySet<BenchmarkName> {
  if (list === undefined) return new Set(BENCHMARKS);
  const names = list.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) throw new Error(`--only: unknown benchmark ${unknown.join(', ') || '(none named)'}; known: ${BENCHMARKS.join(', ')}`);
  return new Set(BENCHMARKS.filter((n) => names.includes(n)));
}

/**
 * `settings` with the scale benchmark's steps from `--scale-steps` (comma-separated namespace
 * counts, rising), or `settings` itself when none are given. Bad input fails before a cluster starts.
 */
export function withScaleSteps(settings: SuiteSettings, list: string | undefined): SuiteSettings {
  if (list === undefined) return settings;
  const steps = list.split(',').map((n) => n.trim());
  const counts = steps.map(Number);
  if (steps.length === 0 || counts.some((n, i) => !Number.isInteger(n) || n < 1 || (i > 0 && n <= counts[i - 1]!))) {
    throw new Error(`--scale-steps: ${JSON.stringify(list)} is not a rising list of namespace counts (e.g. 1000,5000)`);
  }
  return { ...settings, scaleSteps: counts };
}

/** The results of the benchmarks that ran (all of them unless the run was limited by `--only`). */
export type PartialSuiteResults = Partial<SuiteResults>;

/** `results` as a full run's, or an error naming what is missing. */
export function completeResults(results: PartialSuiteResults): SuiteResults {
  const missing = BENCHMARKS.filter((n) => results[n] === undefined);
  if (missing.length > 0) throw new Error(`benchmarks missing from the results: ${missing.join(', ')}`);
  return results as SuiteResults;
}

/**
 * Runs the benchmarks of `only` (default: every one) on `cluster`, in suite order; names carry a
 * fresh id, so runs never collide. The shared operator and mesh are started only when a selected
 * benchmark needs them.
 */
export async function runSuite(cluster: BenchCluster, settings: SuiteSettings, print: (line: string) => void, only: ReadonlySet<BenchmarkName> = new Set(BENCHMARKS)): Promise<PartialSuiteResults> {
  const started = Date.now();
  const log = (line: string) => print(`+${Math.round((Date.now() - started) / 1000)}s ${line}`);
  const id = `bench-${randomBytes(3).toString('hex')}`;
  const results: PartialSuiteResults = {};
  if (only.has('install')) {
    log(`install: ${settings.installRepetitions} repetitions`);
    results.install = await benchInstall(cluster, { id, repetitions: settings.installRepetitions, cleanUp: settings.cleanUpInstall, log });
  }
  const needsMesh = (['idle', 'webhook', 'memory', 'drift', 'scale'] as const).some((n) => only.has(n));
  if (!needsMesh && !only.has('rollout')) return results;

  await preinstallMeshCrds(cluster.admin);
  const operator = await startBenchOperator(cluster, id, { webhook: true });
  const mesh = benchInstallation(`${id}-mesh`, id);
  try {
    // First, on an installation of its own (an External CA whose anchors it changes), gone when it
    // ends: on a fresh cluster, not one still scheduling the memory benchmark's 10,000 pods (there
    // its installation was not even Ready within 2 minutes).
    if (only.has('rollout')) {
      log(`rollout: ${settings.rolloutWorkloads} workloads in ${settings.rolloutNamespaces} namespaces, maxUnavailable ${settings.rolloutMaxUnavailable}`);
      results.rollout = await benchRollout(cluster, {
        id, operator, workloads: settings.rolloutWorkloads, namespaces: settings.rolloutNamespaces, readyDelayMs: settings.rolloutReadyDelayMs, maxUnavailable: settings.rolloutMaxUnavailable, concurrency: 20, log,
      });
    }
    if (!needsMesh) return results;
    await installAndWaitReady(cluster.admin, mesh);
    if (only.has('idle')) results.idle = await benchIdle(cluster, { id, operator, windowMs: settings.idleWindowMs, settleMs: settings.settleMs, log });
    if (only.has('webhook')) {
      log(`webhook: ${settings.webhookRounds} bursts of ${settings.webhookConcurrent} pods, the operator's webhook and a no-op one`);
      results.webhook = await benchWebhook(cluster, { id, operator, installation: mesh.metadata.name, concurrent: settings.webhookConcurrent, rounds: settings.webhookRounds, log });
    }
    if (only.has('memory')) {
      results.memory = await benchMemory(cluster, {
        id, operator, namespaces: settings.namespaces, podsPerNamespace: settings.podsPerNamespace, concurrency: 20, settleMs: settings.settleMs, installation: mesh.metadata.name, log,
      });
    }
    if (only.has('drift')) {
      log(`drift: ${settings.driftEdits} edits, ${settings.driftDeletions} deletions, ${settings.driftAdditions} additions`);
      results.drift = await benchDrift(cluster, { id, operator, installation: mesh.metadata.name, edits: settings.driftEdits, deletions: settings.driftDeletions, additions: settings.driftAdditions, log });
    }
    if (only.has('scale')) {
      log(`scale: ${settings.scaleSteps.join(' then ')} namespaces × ${settings.scalePodsPerNamespace} pods`);
      results.scale = await benchScale(cluster, {
        id, operator, installation: mesh.metadata.name, steps: settings.scaleSteps, podsPerNamespace: settings.scalePodsPerNamespace, concurrency: 30,
        changes: settings.scaleChanges, webhookBurst: settings.scaleWebhookBurst, settleMs: settings.settleMs, log,
      });
    }
    return results;
  } finally {
    if (!cluster.owned) await deleteInstallations(cluster.admin, [mesh.metadata.name]).catch(() => undefined);
    await operator.stop();
  }
}
