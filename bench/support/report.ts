/**
 * The report of a benchmark run: the machine it ran on, each figure next to its target with
 * PASS/MISS, a table for people and a JSON file per run in `bench/results/`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { DriftResult } from '../drift.ts';
import type { IdleResult } from '../idle.ts';
import type { InstallResult } from '../install.ts';
import type { MemoryResult } from '../memory.ts';
import type { RolloutResult } from '../rollout.ts';
import type { ScaleResult } from '../scale.ts';
import type { WebhookResult } from '../webhook.ts';

/** Where the machine and software were. */
export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  kernel: string;
  kubernetes: string;
  commit: string;
  /** True when the checkout had uncommitted changes to tracked files: the figures are not the commit's alone. */
  dirty: boolean;
  /** The 1, 5 and 15 minute load averages when the run ended (the machine is shared: figures depend on it). */
  loadAverage: number[];
}

/** Describes this machine and checkout. */
export function describeMachine(kubernetesVersion: string): Machine {
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: import.meta.dirname, encoding: 'utf8' }).trim();
    // Untracked files aside (results of earlier runs, scratch files): a change to a tracked file is measured too.
    dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: import.meta.dirname, encoding: 'utf8' }).trim() !== '';
  } catch { /* not a checkout */ }
  return {
    cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version, kernel: release(), kubernetes: kubernetesVersion, commit, dirty, loadAverage: loadavg().map((n) => round1(n)),
  };
}

/** Every benchmark's result. */
export interface SuiteResults {
  install: InstallResult;
  drift: DriftResult;
  idle: IdleResult;
  memory: MemoryResult;
  webhook: WebhookResult;
  rollout: RolloutResult;
  scale: ScaleResult;
}

/** One figure against its target. */
export interface Verdict {
  target: string;
  value: string;
  pass: boolean;
}

/**
 * The issues' targets, never weakened (issue 19 tightened issue 7's): install ≤ 1.2× a plain
 * server-side apply of the same objects, median of at least 10; drift repair p99 ≤ 3× and p50 ≤
 * 2× the floor measured in the same run; idle writes 0 and reads ≤ lease renewals; RSS ≤ 90 MB
 * idle and ≤ 120 MB with every load pod injected (10,000 across 1,000 namespaces at full scale);
 * webhook p99 ≤ 5 ms and ≤ 2× a no-op webhook, every pod injected; a data-plane rollout ≤ 1.1×
 * the sum of its batches' readiness times, never more pods unavailable than maxUnavailable
 * allows; at each scale step, reconcile of an unrelated change p99 ≤ 50 ms, RSS ≤ 120 MB and the
 * webhook p99 ≤ 2× the no-op webhook's with every pod injected.
 */
export function verdicts(results: Partial<SuiteResults>): Verdict[] {
  const { install, drift, idle, memory, webhook, rollout, scale } = results;
  return [
    ...(install ? [{
      target: 'install ≤ 1.2× plain SSA (median of ≥ 10)', value: `${install.ratio}× (median of ${install.repetitions})`,
      pass: install.ratio <= 1.2 && install.repetitions >= 10,
    }] : []),
    ...(drift ? [
      { target: 'drift p99 ≤ 3× floor', value: `${ratio(drift.all.p99, drift.floor.p99)}× (${drift.all.p99} vs ${drift.floor.p99} ms)`, pass: drift.all.p99 <= 3 * drift.floor.p99 },
      { target: 'drift p50 ≤ 2× floor', value: `${ratio(drift.all.p50, drift.floor.p50)}× (${drift.all.p50} vs ${drift.floor.p50} ms)`, pass: drift.all.p50 <= 2 * drift.floor.p50 },
    ] : []),
    ...(idle ? [
      { target: 'idle writes (leases aside) = 0', value: `${idle.perMinute.writes}/min`, pass: idle.perMinute.writes === 0 },
      {
        target: 'idle reads ≤ lease renewals', value: `${round1(idle.perMinute.reads + idle.perMinute.leaseReads)}/min vs ${idle.expectedLeaseRenewalsPerMinute}/min`,
        pass: idle.perMinute.reads + idle.perMinute.leaseReads <= idle.expectedLeaseRenewalsPerMinute,
      },
    ] : []),
    ...(memory ? [
      { target: 'RSS idle ≤ 90 MB', value: `${memory.idle.rssMb} MB (heap ${memory.idle.heapUsedMb} MB)`, pass: memory.idle.rssMb <= 90 },
      {
        // Results files from before the pods were injected lack the count: they do not pass.
        target: `RSS ≤ 120 MB with ${memory.pods} pods, all injected`, value: `${memory.loaded.rssMb} MB (heap ${memory.loaded.heapUsedMb} MB; ${memory.injectedPods ?? 'uncounted'} injected)`,
        pass: memory.loaded.rssMb <= 120 && memory.injectedPods === memory.pods,
      },
    ] : []),
    ...(webhook ? [
      { target: 'webhook p99 ≤ 5 ms (API server)', value: `${webhook.operator.p99Ms} ms`, pass: webhook.operator.p99Ms <= 5 },
      { target: 'webhook p99 ≤ 2× no-op webhook', value: `${webhook.ratioP99}× (no-op ${webhook.noop.p99Ms} ms)`, pass: webhook.ratioP99 <= 2 },
      { target: 'every burst pod injected', value: `${webhook.injected}/${webhook.created}`, pass: webhook.injected === webhook.created },
    ] : []),
    ...(rollout ? [
      { target: 'rollout ≤ 1.1× batches\' readiness', value: `${rollout.ratio}× (${rollout.totalMs} ms vs ${rollout.baselineMs} ms)`, pass: rollout.ratio <= 1.1 },
      { target: 'rollout Complete only when all Ready', value: `${rollout.completeBeforeReady} of ${rollout.workloads} not Ready at Complete`, pass: rollout.completeBeforeReady === 0 },
      { target: 'rollout unavailable ≤ maxUnavailable', value: `max ${rollout.peakUnavailable} vs ${rollout.bound} pods (${rollout.samples} samples)`, pass: rollout.peakUnavailable <= rollout.bound },
    ] : []),
    ...(scale?.steps ?? []).flatMap((step) => [
      { target: `scale ${step.namespaces} ns: reconcile p99 ≤ 50 ms`, value: `${step.reconcile.p99Ms} ms (${step.reconcile.passes} passes)`, pass: step.reconcile.p99Ms <= 50 },
      { target: `scale ${step.namespaces} ns: RSS ≤ 120 MB`, value: `${step.memory.rssMb} MB (heap ${step.memory.heapUsedMb} MB, ${step.injectedPods} pods)`, pass: step.memory.rssMb <= 120 && step.injectedPods === step.pods },
      {
        target: `scale ${step.namespaces} ns: webhook p99 ≤ 2× no-op`, value: `${step.webhook.ratioP99}× (${step.webhook.operator.p99Ms} vs ${step.webhook.noop.p99Ms} ms)`,
        pass: step.webhook.ratioP99 <= 2 && step.webhook.injected === step.webhook.created,
      },
    ]),
  ];
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const ratio = (value: number, baseline: number) => Math.round((value / baseline) * 100) / 100;

/** The human-readable table (`partial`: a run limited by `--only`, named in the heading). */
export function formatTable(mode: string, machine: Machine, results: Partial<SuiteResults>, partial = false): string {
  const { install, drift, idle, memory, webhook, rollout, scale } = results;
  const rows: Array<[string, string]> = [
    ...(install ? [[`install, median of ${install.repetitions} (${install.objects} objects, CRDs warm)`, `operator ${install.operatorMedianMs} ms, baseline ${install.baselineMedianMs} ms, ratio ${install.ratio}×${install.breakdown ? `; key pairs taken: ${install.breakdown.keyPairs.ready} ready spares, ${install.breakdown.keyPairs.pending} waited for, ${install.breakdown.keyPairs.made} generated on the pass` : ''}`] as [string, string]] : []),
    ...(install?.breakdown ? [['install breakdown (operator phases, median ms)', `${Object.entries(install.breakdown.phasesMs).map(([phase, ms]) => `${phase} ${ms}`).join(', ')}; other ${install.breakdown.otherMs}`] as [string, string]] : []),
    ...(install?.cold ? [[`install cold, median of ${install.cold.repetitions} (mesh CRDs absent)`, `operator ${install.cold.operatorMedianMs} ms, baseline ${install.cold.baselineMedianMs} ms, ratio ${install.cold.ratio}×`] as [string, string]] : []),
    ...(drift ? [
      [`drift edits (${drift.edits.count})`, `p50 ${drift.edits.p50} ms, p95 ${drift.edits.p95} ms, p99 ${drift.edits.p99} ms`],
      [`drift deletions (${drift.deletions.count})`, `p50 ${drift.deletions.p50} ms, p95 ${drift.deletions.p95} ms, p99 ${drift.deletions.p99} ms`],
      [`drift additions (${drift.additions.count})`, `p50 ${drift.additions.p50} ms, p95 ${drift.additions.p95} ms, p99 ${drift.additions.p99} ms`],
      [`drift all (${drift.all.count})`, `p50 ${drift.all.p50} ms, p95 ${drift.all.p95} ms, p99 ${drift.all.p99} ms`],
      [`drift floor (${drift.floor.count})`, `p50 ${drift.floor.p50} ms, p95 ${drift.floor.p95} ms, p99 ${drift.floor.p99} ms`],
    ] as Array<[string, string]> : []),
    ...(idle ? [
      [`idle, ${idle.windowSeconds} s (APF metrics)`, `reads ${idle.perMinute.reads}/min, writes ${idle.perMinute.writes}/min, lease reads ${idle.perMinute.leaseReads}/min, lease writes ${idle.perMinute.leaseWrites}/min (expected renewals ${idle.expectedLeaseRenewalsPerMinute}/min)`],
      ...(idle.auditPerMinute ? [['idle (audit log)', `reads ${idle.auditPerMinute.reads}/min, writes ${idle.auditPerMinute.writes}/min, lease reads ${idle.auditPerMinute.leaseReads}/min, lease writes ${idle.auditPerMinute.leaseWrites}/min`]] : []),
    ] as Array<[string, string]> : []),
    ...(memory ? [
      ['memory idle', `RSS ${memory.idle.rssMb} MB (heap used ${memory.idle.heapUsedMb} MB)`],
      [`memory, ${memory.namespaces} namespaces × ${memory.pods / memory.namespaces} pods (${memory.injectedPods} injected, ${memory.podsRunning} running)`, `RSS ${memory.loaded.rssMb} MB (heap used ${memory.loaded.heapUsedMb} MB)`],
    ] as Array<[string, string]> : []),
    ...(webhook ? [
      [`webhook, ${webhook.rounds} × ${webhook.concurrent} concurrent creates (API server)`, `operator p50 ${webhook.operator.p50Ms} ms, p99 ${webhook.operator.p99Ms} ms (${Math.round(webhook.operator.within5ms * 1000) / 10} % within 5 ms); no-op p50 ${webhook.noop.p50Ms} ms, p99 ${webhook.noop.p99Ms} ms; ratio ${webhook.ratioP99}×`],
      ['webhook (operator\'s own histogram)', `p50 ${webhook.operatorOwn.p50Ms} ms, p99 ${webhook.operatorOwn.p99Ms} ms`],
    ] as Array<[string, string]> : []),
    ...(rollout ? [
      [`rollout, ${rollout.workloads} workloads / ${rollout.namespaces} namespaces, ${rollout.maxUnavailable}`, `pods Ready ${rollout.readyDelayMs[0]}–${rollout.readyDelayMs[1]} ms after creation; total ${rollout.totalMs} ms (first restart after ${rollout.firstRestartMs} ms, status Complete after ${rollout.statusCompleteMs} ms${rollout.completeBeforeReady ? ` with ${rollout.completeBeforeReady} workloads not Ready yet` : ''}); ${rollout.batches} batches (status: ${rollout.statusBatches}), between batches p50 ${rollout.gateGapMedianMs} ms, max ${rollout.gateGapMaxMs} ms; baseline ${rollout.baselineMs} ms (batch wall ${rollout.batchWallMs} ms); ratio ${rollout.ratio}×`],
      ['rollout unavailability (every 100 ms)', `max ${rollout.peakUnavailable} pods vs bound ${rollout.bound}; ${rollout.samples} samples (expected ${rollout.expectedSamples}), max gap ${rollout.maxSampleGapMs} ms`],
    ] as Array<[string, string]> : []),
    ...(scale?.steps ?? []).map((step): [string, string] => [
      `scale, ${step.namespaces} namespaces × ${scale!.podsPerNamespace} pods (${step.injectedPods} injected, ${step.podsRunning} running)`,
      `RSS ${step.memory.rssMb} MB (heap ${step.memory.heapUsedMb} MB); unrelated change: pass p50 ${step.reconcile.p50Ms} ms, p99 ${step.reconcile.p99Ms} ms (${step.reconcile.passes} passes for ${step.reconcile.changes} changes; patch → pass p99 ${step.reconcile.wallP99Ms} ms); webhook burst of ${step.webhook.concurrent}: p99 ${step.webhook.operator.p99Ms} ms vs no-op ${step.webhook.noop.p99Ms} ms (${step.webhook.ratioP99}×)`,
    ]),
    ...(scale?.growth ?? []).map((g): [string, string] => [`scale growth, ${g.figure}`, `${g.from} → ${g.to} (×${g.ratio}, exponent ${g.exponent}): ${g.verdict}`]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [
    `meshwright benchmarks (${mode}${partial ? `, only ${Object.keys(results).join(', ')}` : ''}) — commit ${machine.commit}${machine.dirty ? ' (uncommitted changes)' : ''}, ${machine.cpus}× ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}, kernel ${machine.kernel}, Kubernetes ${machine.kubernetes}, load average ${machine.loadAverage.join(' / ')}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    'targets:',
    ...verdicts(results).map((v) => `  ${v.pass ? 'PASS' : 'MISS'}  ${v.target.padEnd(36)} ${v.value}`),
  ];
  return lines.join('\n');
}

/**
 * Writes `bench/results/<YYYY-MM-DD>-<commit>.json` (`-partial.json` for a run limited by
 * `--only`; a second run the same day gets a number before the extension) and returns its path.
 * The file says which benchmarks ran (`benchmarks`) and whether the run was `partial`.
 */
export function writeResults(mode: string, machine: Machine, results: Partial<SuiteResults>, startedAt: Date, options: { partial: boolean; dir?: string }): string {
  const dir = options.dir ?? join(import.meta.dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const base = `${startedAt.toISOString().slice(0, 10)}-${machine.commit}${options.partial ? '-partial' : ''}`;
  let file = join(dir, `${base}.json`);
  for (let n = 2; existsSync(file); n++) file = join(dir, `${base}-${n}.json`);
  const document = { mode, partial: options.partial, benchmarks: Object.keys(results), startedAt: startedAt.toISOString(), machine, results, targets: verdicts(results) };
  writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
  return file;
}
