/**
 * `meshwright status [NAME] [-o text|json]`: each MeshInstallation's control plane, CA, data plane
 * and data-plane rollout as a short report, with a progress bar — what a person watches while a
 * version bump rolls through the workloads.
 *
 * Everything shown comes from the installation's own status (one LIST call); the recent Events
 * about the installations are one more LIST, optional: a user who may not read Events still gets
 * the report.
 *
 * {@link renderStatusReport} is pure (the clock, color and width are parameters; golden-file tests
 * in testdata/status/); {@link statusCommand} parses flags, reads through a {@link StatusSource}
 * and maps the result to an exit code:
 *   0  every installation shown is Ready=True for its current generation
 *   1  otherwise: one is not Ready, none exists, the named one does not exist, or the cluster
 *      could not be read (the message says which)
 *   2  bad usage (unknown flag, bad -o value, more than one name)
 * `--watch` re-reads until every installation shown is Ready (0) or one is stuck (1, see {@link stuck}).
 */
import { parseArgs } from 'node:util';
import { ConditionType, findCondition } from '../api/conditions.ts';
import { parseDuration } from '../api/duration.ts';
import type { Condition, MeshInstallationStatus } from '../api/status.ts';
import { rotationLines } from './status-rotation.ts';

/** The command's usage text (printed with usage errors and by `meshwright help`). */
export const STATUS_USAGE = `usage: meshwright status [NAME] [-o text|json] [-w [--interval 2s]] [--no-color] [--no-events] [--kubeconfig <file>] [--context <name>]
  Prints each MeshInstallation's control plane, CA, data plane and rollout (all of them, or NAME),
  through the current kubeconfig (KUBECONFIG, ~/.kube/config) unless --kubeconfig/--context say otherwise.
  -w/--watch re-reads every --interval until every installation shown is Ready (exit 0) or one is
  stuck: Stalled, or its rollout Halted (exit 1).
  -o json prints {"installations": [{name, mesh, version, generation, ready, status}]} for scripts.
  Exit code: 0 when every installation shown is Ready, 1 when one is not (or none exists, NAME does
  not exist, or the cluster cannot be read), 2 for bad usage.`;

/** Bad usage of `status` (exit code 2). */
export class StatusUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatusUsageError';
  }
}

/**
 * A MeshInstallation as `status` reads it: only the fields the report uses, typed loosely enough
 * for plain JSON from the API server (times are strings there) and for the typed API objects.
 */
export interface StatusInstallation {
  metadata: { name?: string; generation?: number; creationTimestamp?: string | Date; deletionTimestamp?: string | Date };
  spec: {
    mesh: string;
    version: string;
    namespace?: string;
    injection?: { restartWorkloads?: { enabled?: boolean; batchInterval?: string } };
  };
  status?: MeshInstallationStatus;
}

/** One recent Event about an installation, as the report shows it. */
export interface StatusEvent {
  /** Name of the MeshInstallation the event is about. */
  installation: string;
  /** Normal or Warning. */
  type: string;
  /** UpperCamelCase, e.g. RolloutBatchStarted. */
  reason: string;
  /** What happened, for a person. */
  note: string;
  /** When it was last seen (RFC 3339). */
  time: string;
  /** How many times it was seen, when folded into a series. */
  count?: number;
}

/** How {@link renderStatusReport} renders. */
export interface StatusRenderOptions {
  /** The clock, for "3m ago" and "expires in 12d". */
  now: Date;
  /** ANSI colors (only for a terminal: the caller decides). */
  color: boolean;
  /** Columns to fit messages and lists into (at least 60 is assumed). */
  width: number;
  /** Recent events per installation, newest first; absent: no Events section. */
  events?: readonly StatusEvent[];
  /** Events shown per installation at most. */
  maxEvents?: number;
}

// --- small formatting helpers ------------------------------------------------------------------

const ANSI = { red: 31, green: 32, yellow: 33, bold: 1 } as const;
type Tone = keyof typeof ANSI;

/** Lines listed at most under one heading (failures, skipped workloads, bare pods). */
const MAX_LISTED = 5;
/** Characters of an event's note shown at most (about two lines). */
const MAX_EVENT_NOTE = 120;
/** Cells of the progress bar. */
const BAR_CELLS = 20;
/** Width of the label column ("  Control plane   "). */
const LABEL_WIDTH = 17;
const INDENT = ' '.repeat(LABEL_WIDTH);
/** Between the parts of a summary row. */
const PART_SEPARATOR = '  ';

/** A duration as one or two units, coarse on purpose: "45s", "3m", "2h5m", "12d", "9y". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  return d < 730 ? `${d}d` : `${Math.floor(d / 365)}y`;
}

/** `time` relative to `now`: "3m ago", "in 12d", "just now"; "unknown time" when absent or unparsable. */
export function formatRelative(time: string | Date | undefined, now: Date): string {
  const at = time === undefined ? NaN : new Date(time).getTime();
  if (Number.isNaN(at)) return 'unknown time';
  const delta = at - now.getTime();
  if (Math.abs(delta) < 1000) return 'just now';
  return delta < 0 ? `${formatDuration(-delta)} ago` : `in ${formatDuration(delta)}`;
}

/** How long since `time`: "for 2h" (the age of a condition's state). */
function lasting(time: string | undefined, now: Date): string {
  const at = time === undefined ? NaN : new Date(time).getTime();
  return Number.isNaN(at) ? '' : ` for ${formatDuration(now.getTime() - at)}`;
}

/**
 * A progress bar of {@link BAR_CELLS} cells for `done` of `total`. Full only when everything is
 * done, and never empty once something is: a bar that looks finished while one workload is left
 * (or idle while one is done) would lie at a glance.
 */
export function progressBar(done: number, total: number): string {
  let filled = total > 0 ? Math.floor((Math.min(done, total) / total) * BAR_CELLS) : 0;
  if (done > 0 && filled === 0) filled = 1;
  if (done < total && filled === BAR_CELLS) filled = BAR_CELLS - 1;
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR_CELLS - filled)}]`;
}

/**
 * `text` cut to at most `max` characters at a space, with "…": an event's note can run to a
 * kilobyte (a halted rollout's names every failure), and the full text is in `kubectl events`.
 */
function shortened(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.lastIndexOf(' ', max - 1);
  return `${text.slice(0, cut > max / 2 ? cut : max - 1).replace(/[;,:]$/, '')}…`;
}

/** `items` joined by ", ", at most `max` of them, then "and N more". */
function capped(items: readonly string[], max = MAX_LISTED): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

/** Length as the terminal shows it: color codes take no columns. */
function visibleLength(text: string): number {
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/**
 * Splits `text` into lines of at most `width` columns at `separator` (a longer piece stays whole,
 * a long name is better whole than cut).
 */
function wrap(text: string, width: number, separator: string | RegExp = / +/, joiner = ' '): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(separator)) {
      if (line && visibleLength(line) + joiner.length + visibleLength(word) > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line}${joiner}${word}` : word;
      }
    }
    lines.push(line);
  }
  return lines;
}

/** The report under construction: labelled lines, continuation lines wrapped under the value column. */
class Report {
  readonly lines: string[] = [];
  constructor(private readonly options: StatusRenderOptions) {}

  /** Columns available to the value column. */
  get valueWidth(): number {
    return Math.max(40, this.options.width - LABEL_WIDTH);
  }

  paint(tone: Tone, text: string): string {
    return this.options.color ? `\u001b[${ANSI[tone]}m${text}\u001b[0m` : text;
  }

  /**
   * A line under the value column, or with `label` in the label column. With `wrapText`, `value`
   * (plain text) is wrapped to the width and each line painted in `tone` afterwards, so color
   * codes never count as width.
   */
  row(label: string, value: string, wrapText = false, tone?: Tone | ((line: string, index: number) => string)): void {
    const first = label ? `  ${label.padEnd(LABEL_WIDTH - 2)}` : INDENT;
    const lines = wrapText ? wrap(value, this.valueWidth) : [value];
    const decorate = typeof tone === 'function' ? tone : (line: string) => (tone ? this.paint(tone, line) : line);
    lines.forEach((line, index) => this.lines.push(`${index === 0 ? first : INDENT}${decorate(line, index)}`.trimEnd()));
  }

  /** A summary row of short parts, two spaces apart, wrapped between parts (never inside one). */
  parts(label: string, parts: readonly string[]): void {
    const lines = wrap(parts.join(PART_SEPARATOR), this.valueWidth, PART_SEPARATOR, PART_SEPARATOR);
    lines.forEach((line, index) => this.row(index === 0 ? label : '', line));
  }

  /** The mark of a condition: ✓ True, ✗ False, ? Unknown or not reported. */
  mark(condition: Condition | undefined, abnormalTrue = false): string {
    if (!condition || condition.status === 'Unknown') return this.paint('yellow', '?');
    const good = (condition.status === 'True') !== abnormalTrue;
    return good ? this.paint('green', '✓') : this.paint('red', '✗');
  }
}

/** "True"/"False (Reason)" for a condition; "not reported" when absent. */
function conditionSummary(report: Report, condition: Condition | undefined): string {
  if (!condition) return `${report.mark(undefined)} not reported yet`;
  const word = condition.status === 'True' ? 'ready' : condition.status === 'False' ? 'not ready' : 'unknown';
  return `${report.mark(condition)} ${word} (${condition.reason})`;
}

/** Adds the message of a condition that is not True (reason and message are what a person acts on). */
function conditionMessage(report: Report, condition: Condition | undefined): void {
  if (condition && condition.status !== 'True' && condition.message) report.row('', condition.message, true);
}

// --- the sections --------------------------------------------------------------------------------

function header(report: Report, mi: StatusInstallation, now: Date): void {
  const status = mi.status;
  const name = mi.metadata.name ?? '(unnamed)';
  const upgrade = status?.upgrade;
  let version = status?.version ?? mi.spec.version;
  if (upgrade && !FINAL_UPGRADE_PHASES.has(upgrade.phase)) version = `upgrading ${upgrade.from} → ${upgrade.to}`;
  else if (!status?.version) version = `installing ${mi.spec.version}`;
  else if (status.version !== mi.spec.version) version = `${status.version} → ${mi.spec.version}`;

  const ready = findCondition(status?.conditions, ConditionType.Ready);
  const generation = mi.metadata.generation;
  let readiness: string;
  if (!ready) readiness = report.paint('yellow', 'Ready: not reported yet');
  else if (ready.status === 'True' && generation !== undefined && ready.observedGeneration !== generation) readiness = report.paint('yellow', `Ready for generation ${ready.observedGeneration}, not yet for ${generation}`);
  else readiness = report.paint(ready.status === 'True' ? 'green' : ready.status === 'False' ? 'red' : 'yellow', `Ready: ${ready.status} (${ready.reason})`);
  report.lines.push(`${report.paint('bold', name)}  ${mi.spec.mesh} ${version}  ${readiness}`);

  if (mi.metadata.deletionTimestamp) report.row('Deleting', `since ${formatRelative(mi.metadata.deletionTimestamp, now)}: the operator is removing what it installed`);
  if (!status || Object.keys(status).length === 0) {
    const age = mi.metadata.creationTimestamp ? `created ${formatRelative(mi.metadata.creationTimestamp, now)}, ` : '';
    report.row('Status', `${age}no status yet: the operator has not acted on it. Is it running? kubectl -n meshwright-system get pods`, true);
    return;
  }
  if (status.progress) report.row('Progress', status.progress, true);
  if (generation !== undefined && status.observedGeneration !== undefined && status.observedGeneration !== generation) {
    report.row('Generation', `status is for generation ${status.observedGeneration}; the spec is at ${generation} (the operator has not caught up yet)`, true);
  }
  const stalled = findCondition(status.conditions, ConditionType.Stalled);
  if (stalled?.status === 'True') {
    report.row('Stalled', `${report.mark(stalled, true)} ${stalled.reason}${lasting(stalled.lastTransitionTime, now)}`);
    report.row('', stalled.message, true);
  } else if (ready && ready.status !== 'True') {
    // Ready's message repeats the failing domain condition's; show it only when none explains it.
    const explained = [ConditionType.ControlPlaneReady, ConditionType.CertificateAuthorityReady, ConditionType.DataPlaneReady]
      .some((type) => { const c = findCondition(status.conditions, type); return c !== undefined && c.status !== 'True'; });
    if (!explained && ready.message) report.row('', ready.message, true);
  }
}

function controlPlane(report: Report, status: MeshInstallationStatus): void {
  const condition = findCondition(status.conditions, ConditionType.ControlPlaneReady);
  const parts = [conditionSummary(report, condition)];
  const revisions = status.revisions ?? [];
  if (revisions.length > 0) {
    parts.push(`revision${revisions.length > 1 ? 's' : ''} ${revisions.map((r) => `${r.name} (${r.state.toLowerCase()}${r.version !== r.name && r.version !== r.name.replaceAll('-', '.') ? ` ${r.version}` : ''}${r.inUse ? '' : ', unused'})`).join(', ')}`);
  }
  const components = status.components ?? [];
  if (components.length > 0) parts.push(`${components.filter((c) => c.ready).length}/${components.length} components ready`);
  report.parts('Control plane', parts);
  const notReady = components.filter((c) => !c.ready).map((c) => `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name}${c.replicas !== undefined ? ` (${c.available ?? 0}/${c.replicas} available)` : ''}`);
  if (notReady.length > 0) report.row('', `not ready: ${capped(notReady)}`, true, 'yellow');
  conditionMessage(report, condition);
}

function certificateAuthority(report: Report, status: MeshInstallationStatus, now: Date): void {
  const condition = findCondition(status.conditions, ConditionType.CertificateAuthorityReady);
  const ca = status.certificateAuthority;
  const parts = [conditionSummary(report, condition)];
  const expiry = (time: string | undefined) => {
    if (!time) return undefined;
    const past = new Date(time).getTime() <= now.getTime();
    const text = `${past ? 'expired' : 'expires'} ${formatRelative(time, now)}`;
    return past ? report.paint('red', text) : text;
  };
  const root = expiry(ca?.rootNotAfter);
  if (ca?.rootFingerprint || root) parts.push(['root', ca?.rootFingerprint && shortFingerprint(ca.rootFingerprint), root].filter(Boolean).join(' '));
  const issuer = expiry(ca?.intermediateNotAfter);
  if (issuer) parts.push(`issuer ${issuer}`);
  report.parts('CA', parts);
  for (const line of rotationLines(status, now)) report.row('', line.text, true, line.tone);
  conditionMessage(report, condition);
}

/** The first and last two bytes of a colon-separated fingerprint: enough to tell roots apart by eye. */
function shortFingerprint(fingerprint: string): string {
  const bytes = fingerprint.split(':');
  return bytes.length > 4 ? `${bytes.slice(0, 2).join(':')}:…:${bytes.slice(-2).join(':')}` : fingerprint;
}

function dataPlane(report: Report, mi: StatusInstallation, now: Date): void {
  const status = mi.status!;
  const condition = findCondition(status.conditions, ConditionType.DataPlaneReady);
  const data = status.dataPlane;
  const parts = [conditionSummary(report, condition)];
  if (data) {
    parts.push(`${data.enrolledNamespaces} namespace${data.enrolledNamespaces === 1 ? '' : 's'}`);
    parts.push(`${data.injectedPods} pod${data.injectedPods === 1 ? '' : 's'} injected`);
    if (data.outdatedPods > 0) parts.push(report.paint('yellow', `${data.outdatedPods} outdated`));
  }
  report.parts('Data plane', parts);
  const versions = Object.entries(data?.proxyVersions ?? {}).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  if (versions.length > 0) report.row('', `proxies ${versions.map(([version, pods]) => `${version} ×${pods}`).join(', ')}`, true);
  // While a rollout speaks for the data plane, DataPlaneReady's message is the rollout's message
  // again: the Rollout section below shows it once.
  if (!(data?.rollout && ROLLOUT_REASONS.has(condition?.reason ?? ''))) conditionMessage(report, condition);
  const notEnrolled = data?.namespacesNotEnrolled ?? [];
  if (notEnrolled.length > 0) report.row('', `not enrolled: ${capped(notEnrolled.map((n) => `${n.namespace} (${n.reason})`))}`, true);
  if (data?.rollout) rollout(report, mi, data.rollout, now);
}

type Rollout = NonNullable<NonNullable<MeshInstallationStatus['dataPlane']>['rollout']>;

/** DataPlaneReady's reasons while a rollout is under way, halted or disabled (operator/rollout/plan.ts RolloutReason). */
const ROLLOUT_REASONS: ReadonlySet<string> = new Set(['RolloutInProgress', 'RolloutHalted', 'RestartsDisabled']);

const PHASE_TONE: Record<Rollout['phase'], Tone> = { Complete: 'green', Restarting: 'yellow', Waiting: 'yellow', Halted: 'red', Disabled: 'yellow' };

function rollout(report: Report, mi: StatusInstallation, r: Rollout, now: Date): void {
  const w = r.workloads;
  report.row('Rollout', `${report.paint(PHASE_TONE[r.phase], r.phase)}  target ${r.target}`);
  // The bar's filled cells in the phase's color: green fills toward done, red shows where it stopped.
  const bar = progressBar(w.current, w.total).replace(/█+/, (cells) => report.paint(PHASE_TONE[r.phase], cells));
  let line = `${bar} ${r.progress} workloads`;
  if (r.batch && r.phase === 'Complete') {
    line += `  in ${r.batch.number} batch${r.batch.number === 1 ? '' : 'es'}`;
  } else if (r.batch) {
    line += `  batch ${r.batch.number}`;
    if (w.restarting > 0) line += ` (${w.restarting} restarting)`;
  }
  report.row('', line);
  if (r.batch && (r.phase === 'Restarting' || r.phase === 'Halted')) {
    // Names are left to the rollout's message and the Events, which list them already.
    report.row('', `batch ${r.batch.number} started ${formatRelative(r.batch.startedAt, now)} (${r.batch.workloads.length} workload${r.batch.workloads.length === 1 ? '' : 's'})`, true);
  }
  if (r.phase === 'Waiting' && r.lastBatchCompletedAt) {
    let next = '';
    const interval = mi.spec.injection?.restartWorkloads?.batchInterval;
    if (interval) {
      try {
        next = `; next batch ${formatRelative(new Date(new Date(r.lastBatchCompletedAt).getTime() + parseDuration(interval)), now)} (batchInterval ${interval})`;
      } catch { /* an unparsable interval: say nothing about the next batch */ }
    }
    report.row('', `batch ${r.batch?.number ?? '?'} passed the health gate ${formatRelative(r.lastBatchCompletedAt, now)}${next}`, true);
  } else if (r.lastBatchCompletedAt && r.phase !== 'Complete') {
    // lastBatchCompletedAt is the batch before the one under way (or the one that halted).
    const previous = r.batch && r.batch.number > 1 ? `batch ${r.batch.number - 1}` : 'the last batch';
    report.row('', `${previous} passed the health gate ${formatRelative(r.lastBatchCompletedAt, now)}`);
  }
  const counts: string[] = [];
  if (w.outdated > 0) counts.push(`${w.outdated} outdated`);
  if (w.skipped > 0) counts.push(`${w.skipped} skipped`);
  if (w.failed > 0) counts.push(report.paint('red', `${w.failed} failed`));
  if (counts.length > 0) report.row('', counts.join('  '));
  // A halted rollout's message lists the failures again, in one long sentence: they are itemized below instead.
  if (r.message && !(r.phase === 'Halted' && (r.failures ?? []).length > 0)) report.row('', r.message, true);

  const failures = r.failures ?? [];
  if (failures.length > 0) {
    report.row('', report.paint('red', `failed the health gate (${failures.length}):`));
    for (const failure of failures.slice(0, MAX_LISTED)) {
      wrap(`${failure.workload}: ${failure.reason}`, report.valueWidth - 4).forEach((text, index) => report.row('', `${index === 0 ? `  ${report.paint('red', '✗')} ` : '    '}${text}`));
      for (const text of wrap(failure.message, report.valueWidth - 4)) report.row('', `    ${text}`);
    }
    if (failures.length > MAX_LISTED) report.row('', `  and ${failures.length - MAX_LISTED} more`);
    if (r.phase === 'Halted') report.row('', 'no further batch starts: fix these workloads (the rollout resumes once they pass the health gate) or roll back the change', true);
  }
  const skipped = r.skipped ?? [];
  // Not only the opt-out annotation: the engine also skips workloads a restart would not give the
  // current proxy (an unenrolled namespace...); the rollout's message says why for each.
  if (skipped.length > 0) report.row('', `skipped: ${capped(skipped)}`, true);
  const bare = r.barePods ?? [];
  if (bare.length > 0) report.row('', `pods without a controller, delete them to update: ${capped(bare)}`, true);
}

type Upgrade = NonNullable<MeshInstallationStatus['upgrade']>;

/** Phases an upgrade ends in. */
const FINAL_UPGRADE_PHASES: ReadonlySet<string> = new Set(['Succeeded', 'RolledBack', 'Failed']);

/** The color of an upgrade's phase: green done, red stopped or going back, yellow under way. */
function upgradeTone(phase: Upgrade['phase']): Tone {
  if (phase === 'Succeeded') return 'green';
  return phase === 'Failed' || phase === 'RolledBack' || phase === 'RollingBack' ? 'red' : 'yellow';
}

/**
 * What the upgrade's bar counts: workloads on the new proxy once the plan knows how many there
 * are (while rolling back and after, the workloads back on the previous proxy: that is what the
 * operator counts then), else the plan's steps done (the one under way not yet), else nothing yet.
 */
function upgradeMeasure(upgrade: Upgrade): { done: number; total: number; label: string } | undefined {
  const { updatedWorkloads: updated, totalWorkloads: total, step, totalSteps } = upgrade;
  if (updated !== undefined && total !== undefined) {
    const back = upgrade.phase === 'RollingBack' || upgrade.phase === 'RolledBack';
    return { done: updated, total, label: `${updated}/${total} workloads${back ? ` back on ${upgrade.from}` : ''}` };
  }
  if (step !== undefined && totalSteps !== undefined) {
    const done = upgrade.phase === 'Succeeded' ? totalSteps : step - 1;
    return { done, total: totalSteps, label: `${done}/${totalSteps} steps done` };
  }
  return undefined;
}

/**
 * The Upgrade section: from → to, strategy and phase; a progress bar of the workloads moved (or
 * the plan's steps) with the step under way; when it started (and finished); the message.
 */
function upgradeSection(report: Report, status: MeshInstallationStatus, now: Date): void {
  const upgrade = status.upgrade;
  if (!upgrade) return;
  const final = FINAL_UPGRADE_PHASES.has(upgrade.phase);
  const tone = upgradeTone(upgrade.phase);
  report.parts('Upgrade', [`${upgrade.from} → ${upgrade.to}`, upgrade.strategy.toLowerCase(), report.paint(tone, upgrade.phase)]);
  const measure = upgradeMeasure(upgrade);
  const step = upgrade.step !== undefined
    ? `step ${upgrade.step}${upgrade.totalSteps !== undefined ? `/${upgrade.totalSteps}` : ''}${upgrade.stepName ? ` ${upgrade.stepName}` : ''}`
    : '';
  if (measure) {
    // Red while going back or stopped: the bar then counts the way back, or where it stopped.
    const bar = progressBar(measure.done, measure.total).replace(/█+/, (cells) => report.paint(tone, cells));
    report.row('', [`${bar} ${measure.label}`, ...(step && !final ? [step] : [])].join(PART_SEPARATOR));
  } else if (step && !final) {
    report.row('', step);
  }
  const startedAt = new Date(upgrade.startedAt);
  const started = `started ${formatRelative(upgrade.startedAt, now)}${Number.isNaN(startedAt.getTime()) ? '' : ` (${startedAt.toISOString().replace('.000Z', 'Z')})`}`;
  report.row('', final && upgrade.finishedAt ? `${started}, finished ${formatRelative(upgrade.finishedAt, now)}` : started, true);
  // A pause is not recorded in status.upgrade (the upgrade stays in its phase): the Upgrading condition says it.
  const upgrading = findCondition(status.conditions, ConditionType.Upgrading);
  if (!final && upgrading?.status === 'True' && upgrading.reason === 'UpgradePaused') report.row('', upgrading.message, true, 'yellow');
  // A canary step's pause (spec.upgrade.canary.steps[].pause): nothing moves before it ends.
  if (!final && upgrade.pauseUntil && Date.parse(upgrade.pauseUntil) > now.getTime()) report.row('', `canary pause: the next step ${formatRelative(upgrade.pauseUntil, now)} (${upgrade.pauseUntil})`, true, 'yellow');
  if (upgrade.message) report.row('', upgrade.message, true);
}

/** Conditions the sections above do not show, when they are not in their good state. */
function otherConditions(report: Report, status: MeshInstallationStatus, now: Date): void {
  const shown = new Set<string>([ConditionType.Ready, ConditionType.Stalled, ConditionType.ControlPlaneReady, ConditionType.CertificateAuthorityReady, ConditionType.DataPlaneReady]);
  // Reconciling and Upgrading are abnormal-true: their True is the news; the progress line already tells it.
  const abnormalTrue = new Set<string>([ConditionType.Reconciling, ConditionType.Upgrading]);
  const others = (status.conditions ?? []).filter((c) => !shown.has(c.type) && !abnormalTrue.has(c.type) && c.status !== 'True');
  others.forEach((condition, index) => {
    report.parts(index === 0 ? 'Conditions' : '', [`${report.mark(condition)} ${condition.type}`, `${condition.status} (${condition.reason})${lasting(condition.lastTransitionTime, now)}`]);
    if (condition.message) report.row('', condition.message, true);
  });
}

function events(report: Report, name: string, options: StatusRenderOptions): void {
  const mine = (options.events ?? []).filter((e) => e.installation === name).slice(0, options.maxEvents ?? 3);
  if (mine.length === 0) return;
  mine.forEach((event, index) => {
    const count = event.count && event.count > 1 ? ` (×${event.count})` : '';
    const text = `${formatRelative(event.time, options.now)} ${event.type} ${event.reason}${count}: ${shortened(event.note, MAX_EVENT_NOTE)}`;
    const warning = (line: string, at: number) => (at === 0 && event.type === 'Warning' ? line.replace('Warning', report.paint('red', 'Warning')) : line);
    report.row(index === 0 ? 'Events' : '', text, true, warning);
  });
}

/**
 * The report for `installations`, one block each, separated by a blank line: header (name, mesh,
 * version, Ready), progress, control plane, CA, data plane with its rollout (progress bar, batch,
 * failures, skipped workloads, bare pods), upgrade, other conditions that are not True, and recent
 * events when given. Pure: the clock, color and width come from `options`.
 */
export function renderStatusReport(installations: readonly StatusInstallation[], options: StatusRenderOptions): string {
  const blocks = [...installations]
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
    .map((mi) => {
      const report = new Report(options);
      header(report, mi, options.now);
      const status = mi.status;
      if (status && Object.keys(status).length > 0) {
        controlPlane(report, status);
        certificateAuthority(report, status, options.now);
        dataPlane(report, mi, options.now);
        upgradeSection(report, status, options.now);
        otherConditions(report, status, options.now);
      }
      events(report, mi.metadata.name ?? '', options);
      return report.lines.join('\n');
    });
  return blocks.length === 0 ? '' : `${blocks.join('\n\n')}\n`;
}

/** True when the installation is Ready=True for its current generation (what exit code 0 means). */
export function isReady(mi: StatusInstallation): boolean {
  const ready = findCondition(mi.status?.conditions, ConditionType.Ready);
  if (ready?.status !== 'True') return false;
  // Ready for an older spec says nothing about the spec applied now (kstatus reads it the same way).
  return mi.metadata.generation === undefined || ready.observedGeneration === mi.metadata.generation;
}

/**
 * `-o json`: `{"installations": [{name, mesh, version, generation, ready, status}]}`, sorted by
 * name, two-space indented. `version` is spec.version (status.version is inside `status`); `ready`
 * is {@link isReady}; `status` is the object's status as the API server returned it.
 */
export function renderStatusJson(installations: readonly StatusInstallation[]): string {
  const items = [...installations]
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
    .map((mi) => ({ name: mi.metadata.name, mesh: mi.spec.mesh, version: mi.spec.version, generation: mi.metadata.generation, ready: isReady(mi), status: mi.status ?? {} }));
  return `${JSON.stringify({ installations: items }, null, 2)}\n`;
}

// --- the command ---------------------------------------------------------------------------------

/** Where the cluster is, for messages. */
export interface ClusterIdentity {
  context: string;
  server: string;
}

/** What `status` reads from a cluster; {@link statusCommand}'s caller supplies the real one (meshwright.ts). */
export interface StatusSource {
  readonly cluster: ClusterIdentity;
  /** Every MeshInstallation (one LIST). */
  installations(): Promise<StatusInstallation[]>;
  /** Recent events about MeshInstallations, any order; may throw (the report goes on without them). */
  events(): Promise<StatusEvent[]>;
}

/** The outcome of a `status` run: what to print where, and the exit code. */
export interface StatusResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Parsed flags of `status`. */
export interface StatusFlags {
  name?: string;
  output: 'text' | 'json';
  noColor: boolean;
  events: boolean;
  kubeconfig?: string;
  context?: string;
  /** Re-read and re-print every {@link interval} until Ready or stuck. */
  watch: boolean;
  /** Between two reads of --watch, a duration such as 2s. */
  interval: string;
}

/** Parses `status`'s arguments; {@link StatusUsageError} on anything it does not understand. */
export function parseStatusArgs(args: string[]): StatusFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' }, 'no-color': { type: 'boolean' }, 'no-events': { type: 'boolean' },
        kubeconfig: { type: 'string' }, context: { type: 'string' },
        watch: { type: 'boolean', short: 'w' }, interval: { type: 'string' },
      },
    });
  } catch (error) {
    throw new StatusUsageError(`${(error as Error).message}\n${STATUS_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new StatusUsageError(`status takes at most one installation name, got ${positionals.length}: ${positionals.join(' ')}\n${STATUS_USAGE}`);
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new StatusUsageError(`-o must be text or json, got "${output}"`);
  const watch = values.watch ?? false;
  if (watch && output === 'json') throw new StatusUsageError('--watch prints the text report; scripts poll `meshwright status -o json` (or its exit code) instead');
  const interval = values.interval ?? '2s';
  let intervalMs: number;
  try {
    intervalMs = parseDuration(interval);
  } catch {
    throw new StatusUsageError(`--interval must be a duration such as 2s or 1m, got "${interval}"`);
  }
  // Every read is two LISTs: more often than once a second would only load the API server.
  if (intervalMs < 1000) throw new StatusUsageError(`--interval must be at least 1s, got "${interval}"`);
  if (values.interval !== undefined && !watch) throw new StatusUsageError('--interval goes with --watch');
  return { name: positionals[0], output, noColor: values['no-color'] ?? false, events: !values['no-events'], kubeconfig: values.kubeconfig, context: values.context, watch, interval };
}

/** Whether to color: a terminal, and neither --no-color nor NO_COLOR (https://no-color.org: any non-empty value). */
export function useColor(flags: Pick<StatusFlags, 'noColor'>, isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTTY && !flags.noColor && !env.NO_COLOR;
}

/**
 * Turns a failed read into what a person can act on: the CRD missing, the API server unreachable,
 * credentials refused — each naming the server and context.
 */
export function explainReadError(error: unknown, cluster: ClusterIdentity): string {
  const where = `${cluster.server} (context "${cluster.context}")`;
  const e = error as { status?: number; message?: string; cause?: { code?: string; message?: string } };
  if (e?.status === 404) {
    return `the MeshInstallation CRD is not installed on ${where}: apply it with \`kubectl apply -f crds/\` or install the chart (\`helm install meshwright charts/meshwright\`)`;
  }
  if (e?.status === 401) return `the API server at ${where} did not accept the credentials (401 Unauthorized): log in again or check the kubeconfig's user`;
  if (e?.status === 403) return `your user may not list meshinstallations.meshwright.dev on ${where} (403 Forbidden): ask for read access (get, list) to that resource`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  // Node's TLS codes for a server certificate the kubeconfig's CA does not vouch for.
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME_INVALID/.test(e?.cause?.code ?? '')) {
    return `the API server at ${where} presented a certificate the kubeconfig does not trust (${e!.cause!.code}): check the cluster's certificate-authority in the kubeconfig`;
  }
  if (cause || /fetch failed|ECONNREFUSED|ENOTFOUND|ETIMEDOUT/i.test(e?.message ?? '')) {
    return `cannot reach the API server at ${where}: ${cause ?? e?.message}. Is the cluster running, and is this the kubeconfig you meant (KUBECONFIG, --kubeconfig, --context)?`;
  }
  return `reading MeshInstallations from ${where} failed: ${e?.message ?? String(error)}`;
}

/** Environment of a `status` run: the terminal and the cluster connection. */
export interface StatusEnvironment {
  /** Opens the source for the flags' kubeconfig and context; may throw (e.g. an unknown context). */
  connect(flags: StatusFlags): StatusSource | Promise<StatusSource>;
  now: () => Date;
  isTTY: boolean;
  columns?: number;
  env: NodeJS.ProcessEnv;
  /** Writes a frame of `--watch` to stdout as it comes (a single run returns its output instead). */
  write?: (text: string, stream?: 'stdout' | 'stderr') => void;
  /** Waits between two reads of `--watch` (a test's clock moves here). */
  sleep?: (ms: number) => Promise<void>;
}

/** One read of the cluster and its rendering: what a single run prints, and what `--watch` decides on. */
interface Snapshot extends StatusResult {
  /** The installations shown (none when the read failed). */
  installations: StatusInstallation[];
  /** What the output was made from, to tell whether anything changed between two reads. */
  key: string;
}

async function snapshot(flags: StatusFlags, source: StatusSource, environment: StatusEnvironment): Promise<Snapshot> {
  const failed = (stderr: string, stdout = ''): Snapshot => ({ stdout, stderr, code: 1, installations: [], key: stderr });
  let installations: StatusInstallation[];
  try {
    installations = await source.installations();
  } catch (error) {
    return failed(`error: ${explainReadError(error, source.cluster)}\n`);
  }
  const where = `${source.cluster.server} (context "${source.cluster.context}")`;
  if (flags.name) {
    installations = installations.filter((mi) => mi.metadata.name === flags.name);
    if (installations.length === 0) return failed(`error: MeshInstallation "${flags.name}" not found on ${where}\n`);
  } else if (installations.length === 0) {
    // A script reading -o json still gets a document to parse; nothing installed is not Ready.
    return failed(`no MeshInstallations on ${where}: apply one (see examples/)\n`, flags.output === 'json' ? renderStatusJson([]) : '');
  }
  const code = installations.every(isReady) ? 0 : 1;
  if (flags.output === 'json') return { stdout: renderStatusJson(installations), stderr: '', code, installations, key: '' };

  let events: StatusEvent[] | undefined;
  let stderr = '';
  if (flags.events) {
    try {
      events = (await source.events()).sort((a, b) => new Date(b.time).getTime() - new Date(a.time).getTime());
    } catch (error) {
      stderr = `note: events not shown: ${(error as Error).message}\n`;
    }
  }
  const stdout = renderStatusReport(installations, {
    now: environment.now(), color: useColor(flags, environment.isTTY, environment.env), width: Math.max(60, environment.columns ?? 100), events,
  });
  const key = JSON.stringify([installations.map((mi) => [mi.metadata, mi.status]), events]);
  return { stdout, stderr, code, installations, key };
}

/**
 * Why `--watch` should stop waiting, when nothing will move without a person: an installation
 * Stalled, or a rollout Halted (it resumes only once its workloads are fixed or the change is
 * rolled back). Undefined while progress is still possible.
 */
export function stuck(installations: readonly StatusInstallation[]): string | undefined {
  for (const mi of installations) {
    const stalled = findCondition(mi.status?.conditions, ConditionType.Stalled);
    if (stalled?.status === 'True') return `${mi.metadata.name} is stalled (${stalled.reason})`;
    if (mi.status?.dataPlane?.rollout?.phase === 'Halted') return `the rollout of ${mi.metadata.name} halted`;
  }
  return undefined;
}

/** Clears a terminal and puts the cursor home, so each frame of `--watch` replaces the last. */
const CLEAR_SCREEN = '\u001b[H\u001b[2J';

/**
 * `--watch`: reads every `interval`, and prints the report — on a terminal, redrawn in place every
 * time (relative times move); into a pipe or a file, only when the installations or their events
 * changed, so a CI log gets one block per change. Ends with 0 once every installation shown is
 * Ready, with 1 when one is stuck ({@link stuck}) or the cluster cannot be read; else runs until
 * interrupted.
 */
async function watch(flags: StatusFlags, source: StatusSource, environment: StatusEnvironment): Promise<StatusResult> {
  const write = environment.write ?? (() => undefined);
  const sleep = environment.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let previous: string | undefined;
  for (;;) {
    const frame = await snapshot(flags, source, environment);
    if (frame.installations.length === 0) return { stdout: '', stderr: frame.stderr, code: 1 };
    const verdict = frame.code === 0 ? 'every installation shown is Ready' : stuck(frame.installations);
    if (environment.isTTY || frame.key !== previous) {
      const title = `${environment.isTTY ? CLEAR_SCREEN : previous === undefined ? '' : '\n'}meshwright status, every ${flags.interval}: ${environment.now().toISOString().replace(/\.\d+Z$/, 'Z')}${verdict ? '' : ' (Ctrl-C to stop)'}\n\n`;
      write(`${title}${frame.stdout}`);
      if (frame.stderr && frame.key !== previous) write(frame.stderr, 'stderr');
      previous = frame.key;
    }
    if (verdict) return { stdout: '', stderr: `${verdict}: stopped watching\n`, code: frame.code };
    await sleep(parseDuration(flags.interval));
  }
}

/** Runs `meshwright status`: reads, renders and decides the exit code (see the module comment). */
export async function statusCommand(args: string[], environment: StatusEnvironment): Promise<StatusResult> {
  let flags: StatusFlags;
  try {
    flags = parseStatusArgs(args);
  } catch (error) {
    if (error instanceof StatusUsageError) return { stdout: '', stderr: `error: ${error.message}\n`, code: 2 };
    throw error;
  }
  let source: StatusSource;
  try {
    source = await environment.connect(flags);
  } catch (error) {
    return { stdout: '', stderr: `error: ${(error as Error).message}\n`, code: 1 };
  }
  if (flags.watch) return watch(flags, source, environment);
  const { stdout, stderr, code } = await snapshot(flags, source, environment);
  return { stdout, stderr, code };
}
