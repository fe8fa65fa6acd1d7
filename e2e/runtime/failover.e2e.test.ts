/**
 * Two operator processes, one lease: only the leader reconciles; when the leader is killed
 * outright (SIGKILL, no release), the standby takes over within the lease duration and reconciles
 * the next change. Deleting the installation drops its metrics series; lease requests carry our
 * user agent. Graceful shutdown releases the lease.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { isNotFound, KubeClient, userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { eventually, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';

const client = new KubeClient(testKubeConfig(), 'meshwright-e2e');
const run = randomBytes(3).toString('hex');
const leaseNamespace = `failover-${run}`;
const name = `failover-${run}`;
const meshNamespace = `test-mesh-failover-${run}`;
const miType = { apiVersion: API_VERSION, kind: KIND };
const leaseType = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
const processes = new Map<string, { child: ChildProcess; port: Promise<number> }>();

function startOperator(identity: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'operator-process.ts'),
    '--metrics-address=127.0.0.1:0', `--identity=${identity}`, `--leader-election-namespace=${leaseNamespace}`,
    `--installation-selector=meshwright.dev/test-run=${run}`, '--log-level=warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('{"port"')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on('exit', (code) => reject(new Error(`operator ${identity} exited with ${code}`)));
  });
  port.catch(() => undefined);
  processes.set(identity, { child, port });
}

async function holder(): Promise<string | undefined> {
  try {
    return (await client.get<KubeObject & { spec: { holderIdentity?: string } }>(leaseType, 'meshwright-operator', leaseNamespace)).spec.holderIdentity;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function metric(identity: string, pattern: RegExp): Promise<string | undefined> {
  const port = await processes.get(identity)!.port;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split('\n').find((line) => pattern.test(line));
}

before(async () => {
  await installMeshInstallationCrd(client);
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: leaseNamespace } });
  startOperator('operator-a');
  startOperator('operator-b');
});

after(async () => {
  for (const { child } of processes.values()) child.kill('SIGKILL');
  await client.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
  await client.delete(miType, name).catch(() => undefined);
  for (const ns of [leaseNamespace, meshNamespace]) await client.delete({ apiVersion: 'v1', kind: 'Namespace' }, ns).catch(() => undefined);
  for (const kind of ['ClusterRole', 'ClusterRoleBinding']) await client.delete({ apiVersion: 'rbac.authorization.k8s.io/v1', kind }, `test-mesh-${name}`).catch(() => undefined);
  await client.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' }, `test-mesh-${name}`).catch(() => undefined);
  await client.close();
});

test('two operator processes: one leads; kill the leader and the standby takes over', async () => {
  const since = new Date();
  const leader = await eventually('a leader', holder, 30_000);
  const standby = leader === 'operator-a' ? 'operator-b' : 'operator-a';
  assert.match(await metric(leader, /^meshwright_leader\{/) ?? '', / 1$/);
  assert.match(await metric(standby, /^meshwright_leader\{/) ?? '', / 0$/);
  const standbyPort = await processes.get(standby)!.port;
  await eventually('the standby to be ready once its caches synced', async () => (await fetch(`http://127.0.0.1:${standbyPort}/readyz`)).status === 200, 20_000);
  assert.equal((await fetch(`http://127.0.0.1:${standbyPort}/healthz`)).status, 200);

  await client.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec: { mesh: 'istio', version: '1.0.0', namespace: meshNamespace } });
  await eventually('the leader to install the mesh', async () => {
    const mi = await client.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(miType, name);
    return mi.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  }, 60_000);
  assert.match(await metric(leader, /^meshwright_reconcile_total\{.*result="success"/) ?? '', / [1-9]\d*$/, 'the leader reconciled');
  assert.equal(await metric(standby, /^meshwright_reconcile_total\{.*result="success"/), undefined, 'the standby did not');

  processes.get(leader)!.child.kill('SIGKILL');
  const killedAt = Date.now();
  await client.patch(miType, name, undefined, { spec: { profile: 'demo' } }, 'merge');
  await eventually('the standby to take the lease', async () => (await holder()) === standby, 20_000);
  await eventually('the new leader to reconcile the change', async () => {
    try {
      await client.get({ apiVersion: 'v1', kind: 'ConfigMap' }, 'demo-extras', meshNamespace);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }, 20_000);
  const takeover = Date.now() - killedAt;
  assert.ok(takeover < 15_000, `took over in ${takeover} ms (lease 3 s)`);
  assert.match(await metric(standby, /^meshwright_leader\{/) ?? '', / 1$/);

  // Deleting the installation drops its managed-objects series instead of leaving its last value.
  const managed = new RegExp(`^meshwright_managed_objects\\{installation="${name}"\\}`);
  assert.match(await metric(standby, managed) ?? '', / [1-9]\d*$/);
  await client.delete(miType, name);
  await eventually('the managed-objects series of the deleted installation to go', async () => (await metric(standby, managed)) === undefined, 30_000);

  // The operators' lease requests went through their KubeClient: our user agent, as on every request.
  const leaseWrites = auditEvents(since, (e) => e.objectRef?.resource === 'leases' && e.objectRef.namespace === leaseNamespace && writeVerbs.has(e.verb));
  assert.ok(leaseWrites.length >= 4, `creates, renewals and a takeover (${leaseWrites.length} writes)`);
  assert.deepEqual([...new Set(leaseWrites.map((e) => e.userAgent))], [userAgent]);

  // Graceful shutdown releases the lease at once instead of letting it expire.
  const survivor = processes.get(standby)!.child;
  survivor.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => survivor.on('exit', resolve));
  assert.equal(code, 0);
  assert.ok(!(await holder()), 'the lease was released');
});
