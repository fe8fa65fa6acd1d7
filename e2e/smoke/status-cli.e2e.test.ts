/**
 * `meshwright status` against the real API server: the installations' status as the status
 * subresource stores it (no operator runs here: the status is written as the operator would write
 * it), recent Events found by the events.k8s.io field selector on `regarding`, and the exit code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { kubeconfigStatusSource } from '../../operator/cli/meshwright.ts';
import type { StatusInstallation } from '../../operator/cli/status.ts';
import { KubeClient, microTime, type KubeObject } from '../../operator/runtime/kube.ts';
import { eventually, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';

const client = new KubeClient(testKubeConfig());
const suffix = randomBytes(3).toString('hex');
/** Not labelled for any test operator, so none reconciles them (see e2e/support/test-operator.ts). */
const rolling = `status-cli-rolling-${suffix}`;
const healthy = `status-cli-healthy-${suffix}`;
const TYPE = { apiVersion: API_VERSION, kind: KIND };
const EVENT = { apiVersion: 'events.k8s.io/v1', kind: 'Event' };
const fixture = (name: string) => (parse(readFileSync(join(import.meta.dirname, '..', '..', 'operator', 'cli', 'testdata', 'status', `${name}.yaml`), 'utf8')) as { installations: StatusInstallation[] }).installations[0]!;

async function createWithStatus(name: string, from: StatusInstallation): Promise<void> {
  const created = await client.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { ...from.spec, namespace: `${name.slice(0, 40)}-system` } });
  const generation = created.metadata.generation!;
  // Conditions carry the generation they were computed for: this object's, as the operator writes them.
  const status = { ...from.status!, observedGeneration: generation, conditions: from.status!.conditions!.map((c) => ({ ...c, observedGeneration: generation })) };
  await client.patch(TYPE, name, undefined, { status }, 'merge', 'status');
}

async function event(regarding: { kind: string; name: string; apiVersion: string }, reason: string, note: string): Promise<string> {
  const created = await client.create({
    ...EVENT, metadata: { name: `${regarding.name}.${randomBytes(4).toString('hex')}`, namespace: 'default' },
    eventTime: microTime(Date.now()), reportingController: 'meshwright.dev/e2e', reportingInstance: 'status-cli', action: 'Restart',
    reason, note, type: 'Normal', regarding,
  });
  return created.metadata.name;
}

const events: string[] = [];
before(async () => {
  await installMeshInstallationCrd(client);
  await createWithStatus(rolling, fixture('rollout-in-progress'));
  await createWithStatus(healthy, fixture('complete-linkerd'));
  events.push(
    await event({ apiVersion: API_VERSION, kind: KIND, name: rolling }, 'RolloutBatchStarted', 'batch 3: restarting 7 workloads'),
    await event({ apiVersion: API_VERSION, kind: KIND, name: healthy }, 'RolloutComplete', 'every workload runs the current proxy'),
    // The same name on another kind: the field selector on regarding.kind keeps it out.
    await event({ apiVersion: 'v1', kind: 'ConfigMap', name: rolling }, 'NotAMesh', 'about a ConfigMap'),
  );
});
after(async () => {
  for (const name of [rolling, healthy]) await client.delete(TYPE, name);
  for (const name of events) await client.delete(EVENT, name, 'default');
  await client.close();
});

test('the events of one installation come from one LIST filtered by regarding.kind and regarding.name on the server', async () => {
  const one = await kubeconfigStatusSource({ name: rolling });
  const all = await kubeconfigStatusSource({});
  try {
    assert.deepEqual((await one.events()).map((e) => [e.installation, e.reason]), [[rolling, 'RolloutBatchStarted']]);
    const every = await all.events();
    assert.ok(every.some((e) => e.installation === healthy && e.reason === 'RolloutComplete'));
    assert.ok(!every.some((e) => e.reason === 'NotAMesh'), 'an event about a ConfigMap of the same name is not one of ours');
  } finally {
    await Promise.all([one.close(), all.close()]);
  }
});

/** Runs the package command with the test cluster's kubeconfig. */
async function meshwright(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('node', ['bin/meshwright.mjs', ...args], { cwd: join(import.meta.dirname, '..', '..'), env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

test('`meshwright status NAME` prints the rollout from the stored status and exits 1 while it is not Ready, 0 once it is', async () => {
  const rollingReport = await meshwright(['status', rolling]);
  assert.equal(rollingReport.code, 1, rollingReport.stderr);
  assert.equal(rollingReport.stderr, '');
  assert.match(rollingReport.stdout, new RegExp(`^${rolling} {2}istio 1\\.31\\.1 {2}Ready: False \\(RolloutInProgress\\)\\n`));
  assert.match(rollingReport.stdout, /\[██████░{14}\] 12\/40 workloads {2}batch 3 \(5 restarting\)/);
  assert.match(rollingReport.stdout, /Events {9}(just now|\d+s ago) Normal RolloutBatchStarted: batch 3: restarting 7 workloads/);
  assert.doesNotMatch(rollingReport.stdout, new RegExp(healthy), 'only the one named');

  const healthyReport = await meshwright(['status', healthy]);
  assert.equal(healthyReport.code, 0, healthyReport.stdout + healthyReport.stderr);
  assert.match(healthyReport.stdout, /\[█{20}\] 22\/22 workloads/);

  const json = await meshwright(['status', healthy, '-o', 'json']);
  assert.equal(json.code, 0);
  const [item] = (JSON.parse(json.stdout) as { installations: Array<{ name: string; ready: boolean; status: { dataPlane: { rollout: { progress: string } } } }> }).installations;
  assert.deepEqual([item!.name, item!.ready, item!.status.dataPlane.rollout.progress], [healthy, true, '22/22']);

  const missing = await meshwright(['status', `absent-${suffix}`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`^error: MeshInstallation "absent-${suffix}" not found on https://\\S+ \\(context "[^"]+"\\)\\n$`));
});

test('`meshwright status NAME --watch` follows the stored status until the installation is Ready, then exits 0', async () => {
  const child = spawn('node', ['bin/meshwright.mjs', 'status', rolling, '--watch', '--interval', '1s', '--no-events'], { cwd: join(import.meta.dirname, '..', '..'), env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await eventually('the first frame', async () => stdout.includes('12/40 workloads'), 30_000);
    const mi = await client.get<StatusInstallation & KubeObject>(TYPE, rolling);
    const status = mi.status!;
    const rollout = { ...status.dataPlane!.rollout!, phase: 'Complete' as const, progress: '39/40', workloads: { ...status.dataPlane!.rollout!.workloads, current: 39, outdated: 0, restarting: 0 }, message: 'no workload left to restart' };
    const conditions = status.conditions!.map((c) => (c.type === 'Ready' || c.type === 'DataPlaneReady' ? { ...c, status: 'True' as const, reason: 'ProxiesCurrent', message: '' } : c));
    await client.patch(TYPE, rolling, undefined, { status: { conditions, dataPlane: { ...status.dataPlane, outdatedPods: 0, rollout } } }, 'merge', 'status');
    assert.equal(await exited, 0, stdout + stderr);
    assert.match(stdout, /^meshwright status, every 1s: \S+ \(Ctrl-C to stop\)\n\n/);
    assert.match(stdout, /\nmeshwright status, every 1s: \S+\n\n\S+ {2}istio 1\.31\.1 {2}Ready: True \(ProxiesCurrent\)\n[^]*39\/40 workloads/);
    assert.equal(stdout.match(/meshwright status, every/g)!.length, 2, 'into a pipe: one block per change');
    assert.equal(stderr, 'every installation shown is Ready: stopped watching\n');
  } finally {
    child.kill();
  }
});
