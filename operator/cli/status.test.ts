/**
 * `meshwright status` (status.ts): the report over hand-written installations compared with golden
 * files (testdata/status/<fixture>.yaml → <fixture>.txt; `UPDATE_GOLDEN=1` rewrites them, a normal
 * run only compares), the progress bar and times, the exit codes, `-o json`, and what a person is
 * told when the cluster cannot be read — through the real KubeClient against a small HTTP server
 * that plays the API server (no CRD, forbidden, unreachable, a real list).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { assertGolden, updatingGoldens } from '../distributions/golden.ts';
import { kubeconfigStatusSource } from './meshwright.ts';
import {
  explainReadError, formatRelative, isReady, parseStatusArgs, progressBar, renderStatusJson, renderStatusReport, statusCommand, StatusUsageError, useColor,
  type StatusEnvironment, type StatusEvent, type StatusInstallation, type StatusSource,
} from './status.ts';

const TESTDATA = join(import.meta.dirname, 'testdata', 'status');
/** The clock of every golden file. */
const NOW = new Date('2026-11-27T19:00:00Z');
const WIDTH = 80;

interface Fixture {
  installations: StatusInstallation[];
  events?: StatusEvent[];
}

function fixture(name: string): Fixture {
  return parse(readFileSync(join(TESTDATA, `${name}.yaml`), 'utf8')) as Fixture;
}
const fixtureNames = readdirSync(TESTDATA).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, '')).sort();
const plain = (f: Fixture, width = WIDTH) => renderStatusReport(f.installations, { now: NOW, color: false, width, events: f.events });
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

test('every fixture renders exactly as its golden file (UPDATE_GOLDEN=1 rewrites them and fails, see ../distributions/golden.ts)', () => {
  assert.deepEqual(fixtureNames, [
    'complete-linkerd', 'halted-rollout', 'no-status', 'restarts-disabled', 'rollout-in-progress', 'stalled', 'upgrade-in-progress', 'upgrade-inplace-linkerd', 'upgrade-rolled-back',
  ]);
  const goldens = readdirSync(TESTDATA).filter((f) => f.endsWith('.txt')).map((f) => f.replace(/\.txt$/, '')).sort();
  if (!updatingGoldens()) assert.deepEqual(goldens, fixtureNames, 'one golden file per fixture, no stale ones');
  // Every fixture is compared (or rewritten) before the first failure is reported.
  const failures: string[] = [];
  for (const name of fixtureNames) {
    try {
      assertGolden(pathToFileURL(join(TESTDATA, `${name}.txt`)), plain(fixture(name)));
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('the report says what each fixture is about', () => {
  const rollout = plain(fixture('rollout-in-progress'));
  assert.match(rollout, /^mesh {2}istio 1\.31\.1 {2}Ready: False \(RolloutInProgress\)$/m);
  assert.match(rollout, /\[██████░{14}\] 12\/40 workloads {2}batch 3 \(5 restarting\)/);
  assert.match(rollout, /batch 3 started 1m ago \(7 workloads\)/);
  assert.match(rollout, /batch 2 passed the health gate 2m ago/);
  assert.match(rollout, /Events {9}1m ago Normal RolloutBatchStarted: batch 3/);

  const halted = plain(fixture('halted-rollout'));
  assert.match(halted, /Rollout {8}Halted {2}target 1\.31\.1-c4e19a07b2d3/);
  assert.match(halted, /failed the health gate \(6\):/);
  for (const workload of ['shop/cart: CrashLoop', 'shop/checkout: NotReady', 'shop/catalog: ProgressDeadlineExceeded']) assert.ok(halted.includes(`✗ Deployment ${workload}`), workload);
  assert.match(halted, /✗ Deployment shop\/checkout: NotReady\n\s+2 pods not Ready \(checkout-5c7d9b8f6-h2m8q,\n/, 'each failure carries its message, under it');
  assert.match(halted, /no further batch starts: fix these workloads/);
  assert.doesNotMatch(halted.split('  Events')[0]!, /batch 2 failed the health gate for/, 'the halted message (it is the event\'s note) is not repeated above the itemized failures');
  assert.equal(halted.match(/data-plane rollout halted/g), null, "DataPlaneReady's copy of the rollout message is not shown");
  assert.match(halted, /^ +and 1 more$/m, 'failures are capped');
  assert.doesNotMatch(halted, /payments\/vault: NotReady/);
  assert.match(halted, /pods without a controller, delete them to update:\s+batch\/debug-shell,[^]*and 2 more/);
  assert.match(halted, /Warning RolloutHalted: batch 2 failed the health gate\s+for 1\.31\.1-c4e19a07b2d3: Deployment shop\/cart \(CrashLoop: 1 pod\s+crash-looping…\n/, 'a long note is cut at a word, with an ellipsis');
  assert.match(halted, /Warning ReconcileFailed \(×3\): patching Deployment/, "a folded event shows its count");

  const disabled = plain(fixture('restarts-disabled'));
  assert.match(disabled, /Rollout {8}Disabled/);
  assert.match(disabled, /5 outdated {2}2 skipped/);
  assert.match(disabled, /skipped: Deployment orders\/reporting, StatefulSet inventory\/db/);
  assert.match(disabled, /issuer expires in 2d/);

  const upgrade = plain(fixture('upgrade-in-progress'));
  assert.match(upgrade, /^mesh {2}istio upgrading 1\.30\.4 → 1\.31\.1 /m);
  assert.match(upgrade, /Upgrade {8}1\.30\.4 → 1\.31\.1 {2}canary {2}DataPlane\n {17}\[█{9}░{11}\] 18\/40 workloads {2}step 2\/3\n {17}started 20m ago \(2026-11-27T18:40:00Z\)\n/);

  // Captured from real runs on the local cluster (the fixtures' comments say how).
  const inPlace = plain(fixture('upgrade-inplace-linkerd'));
  assert.match(inPlace, /^mesh {2}linkerd upgrading 2\.19 → 2\.20 /m);
  assert.match(inPlace, /Upgrade {8}2\.19 → 2\.20 {2}inplace {2}DataPlane\n {17}\[█{10}░{10}\] 2\/4 workloads {2}step 4\/5 Data plane\n {17}started 16s ago \(2026-11-27T18:59:44Z\)\n {17}restarting workloads onto the 2\.20 proxy: 2\/4\n/);
  assert.match(inPlace, /proxies 2\.19 ×2, 2\.20 ×2/);

  const rolledBack = plain(fixture('upgrade-rolled-back'));
  assert.match(rolledBack, /^mesh {2}linkerd 2\.20 → edge-26\.8\.3 {2}Ready: False \(UpgradeRolledBack\)$/m, 'running 2.20 while the spec asks edge-26.8.3, not "upgrading": the upgrade is over');
  assert.match(rolledBack, /Upgrade {8}2\.20 → edge-26\.8\.3 {2}inplace {2}RolledBack\n {17}\[█{20}\] 4\/4 workloads back on 2\.20\n {17}started 17s ago \(2026-11-27T18:59:43Z\), finished 3s ago\n {17}gate DataPlane failed: batch 1 failed the health gate/, 'the way back counted, no step of a finished upgrade');

  const fresh = plain(fixture('no-status'));
  assert.match(fresh, /fresh {2}istio installing 1\.31\.1 {2}Ready: not reported yet/);
  assert.match(fresh, /created 12s ago, no status yet/);
  assert.doesNotMatch(fresh, /Control plane/);

  const stalled = plain(fixture('stalled'));
  assert.ok(stalled.indexOf('core  linkerd') < stalled.indexOf('edge  istio'), 'sorted by name');
  assert.match(stalled, /Ready for generation 3, not yet for 4/);
  assert.match(stalled, /Stalled {8}✗ VersionNotInCatalog for 2h/);
  assert.match(stalled, /issuer expired 35h ago/);
  assert.match(stalled, /Conditions {5}\? example\.com\/BackupOk {2}Unknown \(NotChecked\) for 3h/);
  assert.doesNotMatch(stalled, /Reconciling/, 'Reconciling False is its good state');

  assert.match(plain(fixture('complete-linkerd')), /\[█{20}\] 22\/22 workloads {2}in 4 batches\n/);
});

test('rarer states: deletion, a root rotation under way, a finished upgrade, a rollout waiting without a batch yet', () => {
  const mi = structuredClone(fixture('upgrade-in-progress').installations[0]!);
  mi.metadata.deletionTimestamp = '2026-11-27T18:59:30Z';
  mi.status!.certificateAuthority!.rotation = { phase: 'RestartingForTrustBundle', startedAt: '2026-11-27T18:00:00Z', lastTrigger: '2026-11' };
  Object.assign(mi.status!.upgrade!, { phase: 'Succeeded', finishedAt: '2026-11-27T18:55:00Z' });
  mi.status!.version = '1.31.1';
  const rollout = mi.status!.dataPlane!.rollout!;
  delete rollout.batch;
  delete rollout.lastBatchCompletedAt;
  rollout.message = '22 workloads to restart for 1.31.1-7d41c09e5a2b@1-31-1, held: the root rotation restarts workloads first';
  const text = renderStatusReport([mi], { now: NOW, color: false, width: WIDTH });
  assert.match(text, /^mesh {2}istio 1\.31\.1 {2}Ready: False \(Upgrading\)\n {2}Deleting {7}since 30s ago: the operator is removing what it installed\n/);
  assert.match(text, /\n {17}root rotation: RestartingForTrustBundle, started 1h ago\n/);
  assert.match(text, /Upgrade {8}1\.30\.4 → 1\.31\.1 {2}canary {2}Succeeded\n {17}\[█{9}░{11}\] 18\/40 workloads\n {17}started 20m ago \(2026-11-27T18:40:00Z\), finished 5m ago\n/);
  assert.match(text, /\[█{9}░{11}\] 18\/40 workloads\n {17}22 outdated\n {17}22 workloads to restart for \S+, held:\s+the root rotation/, 'no batch line, the hold from the message');
});

test('a paused upgrade: the Upgrading condition\'s pause is said under the bar, in yellow', () => {
  const mi = structuredClone(fixture('upgrade-inplace-linkerd').installations[0]!);
  const upgrading = mi.status!.conditions!.find((c) => c.type === 'Upgrading')!;
  Object.assign(upgrading, { reason: 'UpgradePaused', message: 'paused in phase DataPlane (spec.paused); the upgrade continues from here once resumed' });
  const text = renderStatusReport([mi], { now: NOW, color: false, width: WIDTH });
  assert.match(text, /2\/4 workloads {2}step 4\/5 Data plane\n {17}started 16s ago \(2026-11-27T18:59:44Z\)\n {17}paused in phase DataPlane \(spec\.paused\); the upgrade continues\s+from here once resumed\n/);
  assert.match(renderStatusReport([mi], { now: NOW, color: true, width: WIDTH }), /\u001b\[33mpaused in phase DataPlane/);
  assert.doesNotMatch(plain(fixture('upgrade-inplace-linkerd')), /paused/, 'not said when not paused');
});

test('lines fit the width, except a single word longer than it', () => {
  for (const width of [60, 80, 120]) {
    for (const name of fixtureNames) {
      for (const line of plain(fixture(name), width).split('\n')) {
        // The header and the progress bar are never wrapped; everything else is.
        if (/^\S/.test(line) || line.includes('[')) continue;
        assert.ok(line.length <= width, `${name} at ${width}: ${JSON.stringify(line)} is ${line.length} long`);
      }
    }
  }
});

test('color: only escape codes differ, and they mark what is good, in progress and failed', () => {
  for (const name of fixtureNames) {
    const f = fixture(name);
    const colored = renderStatusReport(f.installations, { now: NOW, color: true, width: WIDTH, events: f.events });
    assert.equal(stripAnsi(colored), plain(f), name);
  }
  const halted = fixture('halted-rollout');
  const colored = renderStatusReport(halted.installations, { now: NOW, color: true, width: WIDTH, events: halted.events });
  assert.ok(colored.includes('\u001b[31mHalted\u001b[0m'));
  assert.ok(colored.includes('\u001b[31m█████\u001b[0m░'), 'the bar is filled in the phase color');
  assert.ok(colored.includes('\u001b[31mWarning\u001b[0m RolloutHalted'));
  assert.ok(colored.includes('\u001b[32m✓\u001b[0m ready (ComponentsAvailable)'));
  assert.equal(useColor({ noColor: false }, true, {}), true);
  assert.equal(useColor({ noColor: true }, true, {}), false, '--no-color');
  assert.equal(useColor({ noColor: false }, true, { NO_COLOR: '1' }), false, 'NO_COLOR');
  assert.equal(useColor({ noColor: false }, false, {}), false, 'not a terminal');
});

test('the progress bar is full only when done and shows any progress', () => {
  assert.equal(progressBar(0, 40), `[${'░'.repeat(20)}]`);
  assert.equal(progressBar(1, 40), `[█${'░'.repeat(19)}]`);
  assert.equal(progressBar(12, 40), `[${'█'.repeat(6)}${'░'.repeat(14)}]`);
  assert.equal(progressBar(39, 40), `[${'█'.repeat(19)}░]`);
  assert.equal(progressBar(40, 40), `[${'█'.repeat(20)}]`);
  assert.equal(progressBar(0, 0), `[${'░'.repeat(20)}]`);
});

test('times are relative to the clock given', () => {
  const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();
  assert.equal(formatRelative(at(-500), NOW), 'just now');
  assert.equal(formatRelative(at(-45_000), NOW), '45s ago');
  assert.equal(formatRelative(at(-3 * 60_000 - 59_000), NOW), '3m ago');
  assert.equal(formatRelative(at(-(2 * 60 + 5) * 60_000), NOW), '2h5m ago');
  assert.equal(formatRelative(at(12 * 86_400_000), NOW), 'in 12d');
  assert.equal(formatRelative(at(3650 * 86_400_000), NOW), 'in 10y');
  assert.equal(formatRelative(undefined, NOW), 'unknown time');
  assert.equal(formatRelative('not a time', NOW), 'unknown time');
});

/** A source over fixtures, counting its reads. */
function fakeSource(installations: StatusInstallation[], events: StatusEvent[] | Error = []): StatusSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    cluster: { context: 'kind-dev', server: 'https://127.0.0.1:6443' },
    installations: async () => {
      reads.push('installations');
      return installations;
    },
    events: async () => {
      reads.push('events');
      if (events instanceof Error) throw events;
      return events;
    },
  };
}
const environment = (source: StatusSource, overrides: Partial<StatusEnvironment> = {}): StatusEnvironment => ({
  connect: () => source, now: () => NOW, isTTY: false, columns: WIDTH, env: {}, ...overrides,
});
const ready = fixture('complete-linkerd').installations[0]!;
const notReady = fixture('rollout-in-progress').installations[0]!;

test('exit code: 0 when every installation shown is Ready for its generation, 1 otherwise, 2 for bad usage', async () => {
  assert.equal((await statusCommand([], environment(fakeSource([ready])))).code, 0);
  assert.equal((await statusCommand([], environment(fakeSource([ready, notReady])))).code, 1);
  assert.equal((await statusCommand(['linkerd'], environment(fakeSource([ready, notReady])))).code, 0, 'only the named one counts');
  assert.equal((await statusCommand(['mesh'], environment(fakeSource([ready, notReady])))).code, 1);
  const stale = { ...ready, metadata: { ...ready.metadata, generation: 4 } };
  assert.equal(isReady(stale), false, 'Ready=True for generation 3 says nothing about generation 4');
  assert.equal((await statusCommand([], environment(fakeSource([stale])))).code, 1);

  const none = await statusCommand([], environment(fakeSource([])));
  assert.deepEqual([none.code, none.stdout], [1, '']);
  assert.match(none.stderr, /no MeshInstallations on https:\/\/127\.0\.0\.1:6443 \(context "kind-dev"\)/);
  const noneJson = await statusCommand(['-o', 'json'], environment(fakeSource([])));
  assert.deepEqual([noneJson.code, JSON.parse(noneJson.stdout)], [1, { installations: [] }]);

  const missing = await statusCommand(['prod'], environment(fakeSource([ready, notReady])));
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'error: MeshInstallation "prod" not found on https://127.0.0.1:6443 (context "kind-dev")\n');

  for (const [args, message] of [[['-o', 'yaml'], /-o must be text or json, got "yaml"/], [['a', 'b'], /at most one installation name/], [['--follow'], /Unknown option '--follow'/]] as const) {
    const source = fakeSource([ready]);
    const result = await statusCommand([...args], environment(source));
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, message);
    assert.deepEqual(source.reads, [], 'bad usage reads nothing');
  }
  assert.throws(() => parseStatusArgs(['--bogus']), StatusUsageError);
  assert.deepEqual(parseStatusArgs(['mesh', '-o', 'json', '--no-color', '--context', 'prod']), { name: 'mesh', output: 'json', noColor: true, events: true, kubeconfig: undefined, context: 'prod', watch: false, interval: '2s' });
  assert.deepEqual([parseStatusArgs(['-w', '--interval', '1m']).watch, parseStatusArgs(['-w', '--interval', '1m']).interval], [true, '1m']);
});

test('--watch usage: text only, an interval of at least a second, and only with --watch', async () => {
  for (const [args, message] of [
    [['-w', '-o', 'json'], /--watch prints the text report/],
    [['-w', '--interval', '100ms'], /--interval must be at least 1s, got "100ms"/],
    [['-w', '--interval', 'soon'], /--interval must be a duration such as 2s or 1m, got "soon"/],
    [['--interval', '5s'], /--interval goes with --watch/],
  ] as const) {
    const result = await statusCommand([...args], environment(fakeSource([ready])));
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, message);
  }
});

/** The rollout of rollout-in-progress.yaml moved on by `step` (0: as in the fixture; 2: complete and Ready). */
function rolloutAt(step: number): StatusInstallation {
  const mi = structuredClone(notReady);
  const rollout = mi.status!.dataPlane!.rollout!;
  if (step === 2) {
    Object.assign(rollout, { phase: 'Complete', progress: '39/40', message: 'no workload left to restart' });
    Object.assign(rollout.workloads, { current: 39, outdated: 0, restarting: 0 });
    mi.status!.conditions = mi.status!.conditions!.map((c) => (['Ready', 'DataPlaneReady'].includes(c.type) ? { ...c, status: 'True' as const, reason: 'ProxiesCurrent', message: '' } : c));
  } else if (step === 3) {
    Object.assign(rollout, { phase: 'Halted', failures: [{ workload: 'Deployment shop/cart', reason: 'CrashLoop', message: '1 pod crash-looping' }] });
  }
  return mi;
}

/** A watch over `states` (one per read; the last repeats), on a clock the sleeps move. */
async function watchOver(states: Array<StatusInstallation | Error>, args: string[], isTTY: boolean) {
  let now = NOW.getTime();
  let read = 0;
  const writes: Array<[string, string]> = [];
  const sleeps: number[] = [];
  const source: StatusSource = {
    cluster: { context: 'kind-dev', server: 'https://127.0.0.1:6443' },
    installations: async () => {
      const state = states[Math.min(read++, states.length - 1)]!;
      if (state instanceof Error) throw state;
      return [state];
    },
    events: async () => [],
  };
  const result = await statusCommand(['-w', ...args], environment(source, {
    isTTY, now: () => new Date(now),
    write: (text, stream = 'stdout') => writes.push([stream, text]),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  }));
  return { result, writes, sleeps, reads: read };
}

test('--watch into a pipe: one block per change, until every installation is Ready (exit 0)', async () => {
  const { result, writes, sleeps, reads } = await watchOver([rolloutAt(0), rolloutAt(0), rolloutAt(0), rolloutAt(2)], ['--no-color'], false);
  assert.deepEqual(result, { stdout: '', stderr: 'every installation shown is Ready: stopped watching\n', code: 0 });
  assert.equal(reads, 4);
  assert.deepEqual(sleeps, [2000, 2000, 2000]);
  assert.equal(writes.length, 2, 'the two unchanged reads print nothing');
  assert.ok(writes.every(([stream]) => stream === 'stdout'));
  assert.match(writes[0]![1], /^meshwright status, every 2s: 2026-11-27T19:00:00Z \(Ctrl-C to stop\)\n\nmesh {2}istio 1\.31\.1 {2}Ready: False/);
  assert.match(writes[0]![1], /12\/40 workloads {2}batch 3 \(5 restarting\)/);
  assert.match(writes[1]![1], /^\nmeshwright status, every 2s: 2026-11-27T19:00:06Z\n\nmesh {2}istio 1\.31\.1 {2}Ready: True/);
  assert.match(writes[1]![1], /\[█{19}░\] 39\/40 workloads/);
  assert.doesNotMatch(writes.map(([, text]) => text).join(''), /\u001b/);
});

test('--watch on a terminal redraws every read; a halted rollout or a read error ends it with 1', async () => {
  const tty = await watchOver([rolloutAt(0), rolloutAt(0), rolloutAt(3)], ['--interval', '5s'], true);
  assert.deepEqual(tty.result, { stdout: '', stderr: 'the rollout of mesh halted: stopped watching\n', code: 1 });
  assert.equal(tty.writes.length, 3, 'redrawn every time: relative times move');
  assert.deepEqual(tty.sleeps, [5000, 5000]);
  for (const [, text] of tty.writes) assert.ok(text.startsWith('\u001b[H\u001b[2Jmeshwright status, every 5s: '), text.slice(0, 40));
  assert.match(tty.writes[2]![1], /Halted[^]*✗[^]*Deployment shop\/cart: CrashLoop/);

  const broken = await watchOver([rolloutAt(0), Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })], [], false);
  assert.equal(broken.result.code, 1);
  assert.match(broken.result.stderr, /^error: cannot reach the API server at https:\/\/127\.0\.0\.1:6443 \(context "kind-dev"\): ECONNREFUSED/);
  assert.equal(broken.writes.length, 1);
});

test('the report reads the installations once and the events once; events that cannot be read only leave a note', async () => {
  const f = fixture('rollout-in-progress');
  const source = fakeSource(f.installations, [...f.events!].reverse());
  const result = await statusCommand([], environment(source));
  assert.deepEqual(source.reads, ['installations', 'events']);
  assert.equal(result.stdout, plain(f), 'events sorted newest first, as in the golden file');
  assert.equal(result.stderr, '');

  const forbidden = await statusCommand([], environment(fakeSource(f.installations, new Error('GET /apis/events.k8s.io/v1/namespaces/default/events: 403 Forbidden'))));
  assert.equal(forbidden.code, 1);
  assert.match(forbidden.stderr, /^note: events not shown: .*403 Forbidden\n$/);
  assert.match(forbidden.stdout, /12\/40 workloads/);
  assert.doesNotMatch(forbidden.stdout, /Events/);

  const quiet = fakeSource(f.installations, f.events);
  assert.doesNotMatch((await statusCommand(['--no-events'], environment(quiet))).stdout, /Events/);
  assert.deepEqual(quiet.reads, ['installations']);

  const colored = await statusCommand([], environment(fakeSource(f.installations), { isTTY: true }));
  assert.match(colored.stdout, /\u001b\[/);
  assert.doesNotMatch((await statusCommand([], environment(fakeSource(f.installations), { isTTY: true, env: { NO_COLOR: '1' } }))).stdout, /\u001b\[/);
});

test('-o json: every installation with its status as read, sorted, stable for scripts', async () => {
  const stalled = fixture('stalled').installations;
  const result = await statusCommand(['-o', 'json'], environment(fakeSource([...stalled, ...fixture('no-status').installations])));
  assert.equal(result.code, 1);
  const json = JSON.parse(result.stdout) as { installations: Array<{ name: string; mesh: string; version: string; generation: number; ready: boolean; status: unknown }> };
  assert.deepEqual(json.installations.map((i) => [i.name, i.mesh, i.version, i.generation, i.ready]), [
    ['core', 'linkerd', '2.20.0', 4, false], ['edge', 'istio', '1.32.0', 2, false], ['fresh', 'istio', '1.31.1', 1, false],
  ]);
  assert.deepEqual(json.installations[1]!.status, stalled[0]!.status);
  assert.deepEqual(json.installations[2]!.status, {});
  assert.equal(result.stdout, renderStatusJson([...stalled].reverse().concat(fixture('no-status').installations)), 'the order read does not matter');
  assert.equal(JSON.parse(renderStatusJson([ready])).installations[0].ready, true);
});

// --- through the real client, against an HTTP server playing the API server ---------------------

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

async function withApiServer(handler: Handler, run: (server: string, requests: string[]) => Promise<void>): Promise<void> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? '');
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function kubeconfigFor(server: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'status-test-')), 'kubeconfig');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: Config', 'current-context: dev',
    // Plain HTTP with a token: client-node allows it only with insecure-skip-tls-verify.
    'clusters:', `- name: dev\n  cluster: {server: "${server}", insecure-skip-tls-verify: true}`, `- name: prod\n  cluster: {server: "${server}/prod", insecure-skip-tls-verify: true}`,
    'contexts:', '- name: dev\n  context: {cluster: dev, user: me}', '- name: prod\n  context: {cluster: prod, user: me}',
    'users:', '- name: me\n  user: {token: secret-token}', '',
  ].join('\n'));
  return file;
}

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
};
const DISCOVERY = { kind: 'APIResourceList', resources: [{ name: 'meshinstallations', kind: 'MeshInstallation', namespaced: false }] };
const EVENTS_DISCOVERY = { kind: 'APIResourceList', resources: [{ name: 'events', kind: 'Event', namespaced: true }] };

/** `status` as main() runs it, with the real kubeconfig source. */
const realStatus = (args: string[], kubeconfig: string) => statusCommand([...args, '--kubeconfig', kubeconfig], {
  connect: (flags) => kubeconfigStatusSource(flags, {}), now: () => NOW, isTTY: false, columns: WIDTH, env: {},
});

test('no CRD on the server: the message names the server and context and says how to install it', async () => {
  await withApiServer((_request, response) => json(response, 404, { kind: 'Status', reason: 'NotFound', message: 'the server could not find the requested resource' }), async (server, requests) => {
    const result = await realStatus([], kubeconfigFor(server));
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `error: the MeshInstallation CRD is not installed on ${server} (context "dev"): apply it with \`kubectl apply -f crds/\` or install the chart (\`helm install meshwright charts/meshwright\`)\n`);
    assert.deepEqual(requests, ['/apis/meshwright.dev/v1alpha1'], 'the group is not served: nothing else is asked');
  });
});

test('forbidden and unauthorized say what to ask for; an unreachable server says which one', async () => {
  for (const [status, message] of [[403, /your user may not list meshinstallations\.meshwright\.dev on .* \(403 Forbidden\): ask for read access/], [401, /did not accept the credentials \(401 Unauthorized\)/]] as const) {
    await withApiServer((request, response) => (request.url === '/apis/meshwright.dev/v1alpha1' ? json(response, 200, DISCOVERY) : json(response, status, { kind: 'Status', reason: 'x', message: 'no' })), async (server) => {
      const result = await realStatus([], kubeconfigFor(server));
      assert.equal(result.code, 1);
      assert.match(result.stderr, message);
    });
  }
  let closedPort = '';
  await withApiServer(() => undefined, async (server) => {
    closedPort = server;
  });
  const unreachable = await realStatus([], kubeconfigFor(closedPort));
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, new RegExp(`^error: cannot reach the API server at ${closedPort.replaceAll('.', '\\.')} \\(context "dev"\\): ECONNREFUSED\\. Is the cluster running`));
  const cluster = { context: 'dev', server: 'https://10.0.0.1:6443' };
  const fetchFailed = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
  assert.equal(explainReadError(fetchFailed('SELF_SIGNED_CERT_IN_CHAIN'), cluster), 'the API server at https://10.0.0.1:6443 (context "dev") presented a certificate the kubeconfig does not trust (SELF_SIGNED_CERT_IN_CHAIN): check the cluster\'s certificate-authority in the kubeconfig');
  assert.match(explainReadError(fetchFailed('ENOTFOUND'), cluster), /^cannot reach the API server at https:\/\/10\.0\.0\.1:6443 \(context "dev"\): ENOTFOUND\./);
  assert.equal(explainReadError(new Error('exec plugin: aws not found'), cluster), 'reading MeshInstallations from https://10.0.0.1:6443 (context "dev") failed: exec plugin: aws not found');
  const badContext = await realStatus(['--context', 'staging'], kubeconfigFor(closedPort));
  assert.equal(badContext.stderr, 'error: context "staging" is not in the kubeconfig; it has: dev, prod\n');
  assert.equal(badContext.code, 1);
});

test('a real list: one LIST of installations, one LIST of their events by field selector, the bearer token sent', async () => {
  const f = fixture('halted-rollout');
  const headers: string[] = [];
  const handler: Handler = (request, response) => {
    headers.push(`${request.headers.authorization} ${request.headers['user-agent']}`);
    const url = request.url ?? '';
    if (url === '/prod/apis/meshwright.dev/v1alpha1') return json(response, 200, DISCOVERY);
    if (url === '/prod/apis/events.k8s.io/v1') return json(response, 200, EVENTS_DISCOVERY);
    if (url === '/prod/apis/meshwright.dev/v1alpha1/meshinstallations') return json(response, 200, { kind: 'MeshInstallationList', metadata: { resourceVersion: '9' }, items: f.installations });
    if (url.startsWith('/prod/apis/events.k8s.io/v1/namespaces/default/events?')) {
      return json(response, 200, { metadata: { resourceVersion: '9' }, items: f.events!.map((e, i) => ({
        metadata: { name: `mesh.${i}`, namespace: 'default' }, regarding: { kind: 'MeshInstallation', name: e.installation }, type: e.type, reason: e.reason, note: e.note,
        eventTime: e.time, ...(e.count ? { series: { count: e.count, lastObservedTime: e.time } } : {}),
      })) });
    }
    json(response, 404, { kind: 'Status', reason: 'NotFound', message: url });
  };
  await withApiServer(handler, async (server, requests) => {
    const result = await realStatus(['mesh', '--context', 'prod'], kubeconfigFor(server));
    assert.equal(result.stderr, '');
    assert.equal(result.code, 1);
    assert.equal(result.stdout, plain(f));
    assert.deepEqual(requests.filter((r) => !r.endsWith('/v1alpha1') && !r.endsWith('/v1')), [
      '/prod/apis/meshwright.dev/v1alpha1/meshinstallations',
      `/prod/apis/events.k8s.io/v1/namespaces/default/events?${new URLSearchParams({ fieldSelector: 'regarding.kind=MeshInstallation,regarding.name=mesh' })}`,
    ]);
    assert.ok(headers.every((h) => h === 'Bearer secret-token meshwright-cli/0.1.0'), headers.join('; '));
  });
});

test('`meshwright status` from the package command: report on stdout, exit code 1 for an installation not Ready', async () => {
  const f = fixture('rollout-in-progress');
  const handler: Handler = (request, response) => {
    if (request.url === '/apis/meshwright.dev/v1alpha1') return json(response, 200, DISCOVERY);
    if (request.url === '/apis/meshwright.dev/v1alpha1/meshinstallations') return json(response, 200, { metadata: { resourceVersion: '1' }, items: f.installations });
    json(response, 403, { kind: 'Status', reason: 'Forbidden', message: 'events are not for you' });
  };
  await withApiServer(handler, async (server) => {
    // spawn, not spawnSync: this process serves the requests.
    const child = spawn('node', ['bin/meshwright.mjs', 'status'], { env: { ...process.env, KUBECONFIG: kubeconfigFor(server), NO_COLOR: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 1, stderr);
    assert.match(stdout, /^mesh {2}istio 1\.31\.1 {2}Ready: False \(RolloutInProgress\)\n/);
    assert.match(stdout, /\[██████░{14}\] 12\/40 workloads {2}batch 3 \(5 restarting\)/);
    assert.doesNotMatch(stdout, /\u001b\[/, 'no color into a pipe');
    assert.match(stderr, /^note: events not shown: .*403 Forbidden/);
  });
});

test('the README shows the report exactly as the code prints it', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const block = /<!-- status-example: (\S+) -->\n```\n\$ meshwright status\n([^]*?)```/.exec(readme);
  assert.ok(block, 'README.md has a `meshwright status` example marked <!-- status-example: <fixture> -->');
  assert.equal(block[2], plain(fixture(block[1]!)));
});

test('a canary step\'s pause: when the next step comes, while it lasts', () => {
  const mi = structuredClone(fixture('upgrade-in-progress').installations[0]!);
  Object.assign(mi.status!.upgrade!, { step: 4, totalSteps: 7, stepName: 'Canary step 2 of 2', pauseUntil: new Date(NOW.getTime() + 300_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
  const text = renderStatusReport([mi], { now: NOW, color: false, width: WIDTH });
  assert.match(text, /\n {17}canary pause: the next step in 5m \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\n/);
  Object.assign(mi.status!.upgrade!, { pauseUntil: new Date(NOW.getTime() - 1000).toISOString() });
  assert.doesNotMatch(renderStatusReport([mi], { now: NOW, color: false, width: WIDTH }), /canary pause/, 'a pause that ended is not shown');
});
